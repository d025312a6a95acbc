using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation;

/// <summary>
/// Dropout before the last layer (seed 004 §3.1): in a training step, each spike a hidden neuron sends into the readout is
/// multiplied by that neuron's keep factor — 0 with probability <see cref="Rate"/>, else 1/(1 − <see cref="Rate"/>)
/// (inverted dropout, so evaluation runs the network unchanged). One mask per trial: the same neuron is dropped for the
/// whole trial, in the forward pass and in the backward pass (the gradient is that of the thinned network). The mask is
/// a pure function of (<see cref="Seed"/>, trial index in the batch, neuron), so it does not depend on threads.
/// </summary>
/// <param name="Rate">The dropout probability p, 0 ≤ p &lt; 1.</param>
/// <param name="Seed">The batch's seed (the trainer draws one per minibatch from its seeded generator).</param>
public readonly record struct ReadoutDropout(double Rate, ulong Seed)
{
    /// <summary>Checks <see cref="Rate"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">p is not in [0, 1).</exception>
    public void Validate()
    {
        if (!(Rate >= 0 && Rate < 1))
            throw new ArgumentOutOfRangeException(nameof(Rate), Rate, $"The dropout rate must be in [0, 1); {Rate} is not (0.5 drops half the spikes into the readout).");
    }

    /// <summary>The keep factor of <paramref name="neuron"/> (the engine's neuron index) in trial <paramref name="trial"/>: 0 or 1/(1 − p).</summary>
    public double Keep(int trial, int neuron)
    {
        if (Rate == 0) return 1;
        ulong x = Seed ^ (0x9E3779B97F4A7C15UL * (ulong)(uint)trial) ^ (0xD1B54A32D192ED03UL * ((ulong)(uint)neuron + 1));
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        double u = (x >> 11) * (1.0 / (1UL << 53));
        return u < Rate ? 0 : 1 / (1 - Rate);
    }
}

/// <summary>An engine that can take a gradient with <see cref="ReadoutDropout"/> applied to the spikes into the readout.</summary>
public interface IReadoutDropoutEngine : IGradientEngine
{
    /// <summary>
    /// As <see cref="IGradientEngine.Gradient"/>, with the spikes of every population connected to the readout multiplied
    /// by their trial's keep factors (<see cref="ReadoutDropout.Keep"/>) on those connections only, forward and backward.
    /// </summary>
    GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization, ReadoutDropout dropout);
}
