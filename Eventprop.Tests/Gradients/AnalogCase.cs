using System.Globalization;
using Eventprop.Core.Data;
using Eventprop.Core.Model;

namespace Eventprop.Tests.Gradients;

/// <summary>
/// A gradient case with analog input (seed 004's constant input current): the network of <see cref="Inner"/> with its
/// input weights rescaled so that the constant drive is about as strong as the inner case's spikes were, and an analog
/// sample drawn from <see cref="Seed"/>: each channel 0 with probability <see cref="ZeroFraction"/> (the engine skips those),
/// else uniform in [0, 1]; the inner sample's label.
/// </summary>
public sealed record AnalogCase(IGradientCase Inner, int Seed, double ZeroFraction = 0.3) : IGradientCase
{
    /// <inheritdoc />
    public double Duration => Inner.Duration;

    /// <summary>Builds the network and the analog sample.</summary>
    public (Network Network, SpikeSample Sample) Build()
    {
        var (network, spikes) = Inner.Build();
        var rng = new Random(Seed);
        int inputs = network.Input.Size;
        var x = new double[inputs];
        for (int c = 0; c < inputs; c++) x[c] = rng.NextDouble() < ZeroFraction ? 0 : rng.NextDouble();
        double sum = x.Sum();
        if (sum == 0) x[rng.Next(inputs)] = sum = 0.5;
        // A spike train of rate ρ (spikes/ms over all channels) drives I ≈ w ρ τs; x delivered every step (dt ≈ 1 ms) drives
        // I ≈ w Σx τs/dt: scale w by ρ/Σx for a comparable drive.
        double rate = Math.Max(1, spikes.Count) / (0.8 * Duration);
        foreach (var c in network.Connections.Where(c => c.Pre == network.Input))
        {
            var w = network.Parameters[c.Name].Values;
            for (int i = 0; i < w.Length; i++) w[i] *= rate / sum;
        }
        return (network, SpikeSample.FromCurrents(x, spikes.Label));
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"new AnalogCase({Inner}, {Seed}, {ZeroFraction})");
}
