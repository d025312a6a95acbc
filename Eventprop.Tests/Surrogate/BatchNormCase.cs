using System.Globalization;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;
using FsCheck;
using FsCheck.Fluent;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// A random small network with batch norm of hidden input currents and a batch of ≥ 3 trials (so the coupling of the trials
/// matters): dense (h0 with batch norm, optionally h1 with or without it) or convolutional (a conv layer h0 with per-channel
/// batch norm, then a dense h1 with batch norm); LIF or IF, either reset mode; γ and β drawn away from their initial 1 and 0.
/// </summary>
public sealed record BatchNormCase(int Seed, bool Conv, bool Deep, bool SecondNormalised, int Trials, double Duration = 8)
{
    /// <summary>Random cases.</summary>
    public static Arbitrary<BatchNormCase> Arbitrary(bool conv) => Arb.From(
        from seed in Gen.Choose(1, 1_000_000)
        from deep in Gen.Elements(false, true)
        from second in Gen.Elements(false, true)
        from trials in Gen.Choose(3, 4)
        select new BatchNormCase(seed, conv, deep || conv, second || conv, trials));

    /// <summary>Builds the network and the batch.</summary>
    public (Network Network, SpikeSample[] Batch) Build()
    {
        var rng = new Random(Seed);
        NeuronModel Model()
        {
            var mode = rng.Next(2) == 0 ? ResetMode.ToValue : ResetMode.Subtract;
            return rng.Next(2) == 0 ? new IntegrateAndFire(resetMode: mode) : new Lif(resetMode: mode);
        }
        double[] Taus(int n, double low, double span) => Enumerable.Range(0, n).Select(_ => low + span * rng.NextDouble()).ToArray();
        double[,] Matrix(int rows, int cols, double std)
        {
            var m = new double[rows, cols];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) m[r, c] = std * (2 * rng.NextDouble() - 1) + 0.2 * std;
            return m;
        }
        int inputs = Conv ? 16 : 5;
        var builder = Network.Create(Seed).Input("in", inputs);
        int h0Size;
        if (Conv)
        {
            var conv = Conv2dConnectivity.Create(1, 4, 4, 2, 3); // 2 channels of 2×2 positions
            h0Size = conv.Geometry.PostSize;
            builder.Hidden("h0", Model(), Taus(h0Size, 5, 20), Taus(h0Size, 2, 8));
            builder.Connect("in", "h0", Init.Values(Matrix(conv.Geometry.OutChannels, conv.Geometry.FanIn, 1.0)), conv);
        }
        else
        {
            h0Size = 4;
            builder.Hidden("h0", Model(), Taus(h0Size, 5, 20), Taus(h0Size, 2, 8));
            builder.Connect("in", "h0", Init.Values(Matrix(inputs, h0Size, 1.0)));
        }
        builder.BatchNorm("h0");
        string last = "h0";
        int lastSize = h0Size;
        if (Deep)
        {
            builder.Hidden("h1", Model(), Taus(3, 5, 20), Taus(3, 2, 8));
            builder.Connect("h0", "h1", Init.Values(Matrix(h0Size, 3, 1.0)));
            if (SecondNormalised) builder.BatchNorm("h1");
            last = "h1";
            lastSize = 3;
        }
        builder.Readout("out", Taus(3, 5, 20), Taus(3, 2, 8));
        builder.Connect(last, "out", Init.Values(Matrix(lastSize, 3, 1.5)));
        var net = builder.Build();
        foreach (var p in net.Parameters)
        {
            if (p.Kind == ParameterKind.BatchNormScale) for (int i = 0; i < p.Length; i++) p.Values[i] = 0.5 + rng.NextDouble();
            if (p.Kind == ParameterKind.BatchNormBias) for (int i = 0; i < p.Length; i++) p.Values[i] = 0.6 * (rng.NextDouble() - 0.5);
        }
        var batch = Enumerable.Range(0, Trials).Select(b =>
        {
            int spikes = 10 + rng.Next(15);
            var times = Enumerable.Range(0, spikes).Select(_ => 0.8 * Duration * rng.NextDouble()).Order().ToArray();
            var channels = Enumerable.Range(0, spikes).Select(_ => rng.Next(inputs)).ToArray();
            return new SpikeSample(times, channels, label: rng.Next(3));
        }).ToArray();
        return (net, batch);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"BatchNormCase(seed {Seed}, {(Conv ? "conv" : "dense")}, {(Deep ? SecondNormalised ? "two normalised layers" : "normalised h0 + plain h1" : "one layer")}, {Trials} trials)");
}
