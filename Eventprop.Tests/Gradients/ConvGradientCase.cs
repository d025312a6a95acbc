using System.Globalization;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;
using FsCheck;
using FsCheck.Fluent;

namespace Eventprop.Tests.Gradients;

/// <summary>
/// A replayable random convolutional case: an input of <see cref="InChannels"/> × <see cref="Size"/> × <see cref="Size"/>
/// channels → conv (kernel, stride, padding drawn from <see cref="Seed"/>) → hidden conv layer h0 → optionally a second
/// conv layer h1 reached through average pooling (pool 1 or 2) → average pooling, flatten and dense into a leaky
/// readout. Hidden layers are LIF or integrate-and-fire, with reset to a value or by subtraction, drawn per layer.
/// <see cref="ToString"/> prints a C# expression that rebuilds it.
/// </summary>
public sealed record ConvGradientCase(int Seed, int InChannels, int Size, bool TwoConvLayers, int InputSpikes, double Duration) : IGradientCase
{
    /// <summary>The layers' connectivities, drawn from <see cref="Seed"/> (a stream of its own).</summary>
    public (Conv2dConnectivity First, Conv2dConnectivity? Second, Conv2dConnectivity ToReadout) Layout(int readout)
    {
        var rng = new Random(unchecked(Seed * 41 + 3));
        var first = DrawConv(rng, InChannels, Size, Size, pool: 1);
        var g = first.Geometry;
        Conv2dConnectivity? second = null;
        if (TwoConvLayers)
        {
            int pool = g.OutHeight >= 4 && rng.Next(2) == 0 ? 2 : 1;
            second = DrawConv(rng, g.OutChannels, g.OutHeight, g.OutWidth, pool);
            g = second.Geometry;
        }
        int lastPool = Math.Min(g.OutHeight, g.OutWidth) >= 2 && rng.Next(2) == 0 ? 2 : 1;
        return (first, second, Conv2dConnectivity.PooledDense(g.OutChannels, g.OutHeight, g.OutWidth, lastPool, readout));
    }

    private static Conv2dConnectivity DrawConv(Random rng, int channels, int height, int width, int pool)
    {
        int ph = height / pool, pw = width / pool;
        int kernel = rng.Next(1, Math.Min(3, Math.Min(ph, pw)) + 1);
        int padding = kernel > 1 && rng.Next(3) == 0 ? 1 : 0;
        int stride = Math.Min(ph, pw) + 2 * padding - kernel >= 2 && rng.Next(3) == 0 ? 2 : 1;
        int outChannels = rng.Next(1, 3);
        return Conv2dConnectivity.Create(channels, height, width, outChannels, kernel, stride, padding, pool);
    }

    /// <summary>Builds the network and the sample.</summary>
    public (Network Network, SpikeSample Sample) Build()
    {
        var rng = new Random(Seed);
        const int readout = 3;
        var (first, second, toReadout) = Layout(readout);
        var modelRng = new Random(unchecked(Seed * 31 + 17));
        NeuronModel Model()
        {
            var mode = modelRng.Next(2) == 0 ? ResetMode.ToValue : ResetMode.Subtract;
            return modelRng.Next(2) == 0 ? new IntegrateAndFire(resetMode: mode) : new Lif(resetMode: mode);
        }
        int inputs = InChannels * Size * Size;
        var builder = Network.Create(Seed).Input("in", inputs);
        var h0 = first.Geometry;
        var (tm0, ts0) = DrawTaus(rng, h0.PostSize);
        builder.Hidden("h0", Model(), tm0, ts0);
        double inputRate = InputSpikes / (0.8 * Duration);
        // Each h0 neuron sees about fanIn/inputs of the input spikes: size the kernel for a drive a few times threshold.
        double target = 1.5 + 2.5 * rng.NextDouble();
        double wIn = target / (ts0.Average() * inputRate * h0.FanIn / inputs);
        builder.Connect("in", "h0", Init.Values(GradientCase.Matrix(rng, h0.OutChannels, h0.FanIn, wIn, 0.6 * wIn)), first);
        string last = "h0";
        if (second is not null)
        {
            var h1 = second.Geometry;
            var (tm1, ts1) = DrawTaus(rng, h1.PostSize);
            builder.Hidden("h1", Model(), tm1, ts1);
            double w = (2.0 + 2.0 * rng.NextDouble()) / (h1.FanIn * h1.Scale);
            builder.Connect("h0", "h1", Init.Values(GradientCase.Matrix(rng, h1.OutChannels, h1.FanIn, w, 0.8 * w)), second);
            last = "h1";
        }
        var (rtm, rts) = DrawTaus(rng, readout);
        builder.Readout("out", rtm, rts);
        builder.Connect(last, "out", Init.Values(GradientCase.Matrix(rng, readout, toReadout.Geometry.FanIn, 0.0, 1.0)), toReadout);
        var network = builder.Build();
        double zTarget = 0.5 + 2.5 * rng.NextDouble();
        var times = new double[InputSpikes];
        var channels = new int[InputSpikes];
        for (int s = 0; s < InputSpikes; s++)
        {
            times[s] = 0.8 * Duration * rng.NextDouble();
            channels[s] = rng.Next(inputs);
        }
        var sample = new SpikeSample(times, channels, label: rng.Next(readout));
        GradientCase.ScaleReadout(network, sample, Duration, zTarget);
        return (network, sample);
    }

    private static (double[] Tm, double[] Ts) DrawTaus(Random rng, int n)
    {
        var tm = new double[n];
        var ts = new double[n];
        for (int i = 0; i < n; i++)
        {
            tm[i] = 5 + 25 * rng.NextDouble();
            ts[i] = 2 + 18 * rng.NextDouble();
        }
        return (tm, ts);
    }

    /// <summary>Hidden neurons of the case (for the spikes-per-neuron statistic).</summary>
    public int HiddenNeurons
    {
        get
        {
            var (first, second, _) = Layout(3);
            return first.Geometry.PostSize + (second?.Geometry.PostSize ?? 0);
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"new ConvGradientCase(Seed: {Seed}, InChannels: {InChannels}, Size: {Size}, TwoConvLayers: {(TwoConvLayers ? "true" : "false")}, InputSpikes: {InputSpikes}, Duration: {Duration})");

    /// <summary>FsCheck generator and shrinker.</summary>
    public static Arbitrary<ConvGradientCase> Arbitrary()
    {
        var gen =
            from seed in Gen.Choose(0, int.MaxValue - 1)
            from inChannels in Gen.Choose(1, 2)
            from size in Gen.Choose(3, 5)
            from two in Gen.Elements(false, true)
            from spikes in Gen.Choose(10, 60)
            from duration in Gen.Choose(20, 40)
            select new ConvGradientCase(seed, inChannels, size, two, spikes, duration);
        return Arb.From(gen, Shrink);
    }

    /// <summary><paramref name="count"/> cases drawn deterministically from <paramref name="seed"/> (the ranges of <see cref="Arbitrary"/>).</summary>
    public static ConvGradientCase[] Sample(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => new ConvGradientCase(rng.Next(int.MaxValue), rng.Next(1, 3), rng.Next(3, 6), rng.Next(2) == 1, rng.Next(10, 61), rng.Next(20, 41)))
            .ToArray();
    }

    /// <summary>Smaller cases: one conv layer, fewer channels, smaller images, fewer input spikes.</summary>
    public static IEnumerable<ConvGradientCase> Shrink(ConvGradientCase c)
    {
        if (c.TwoConvLayers) yield return c with { TwoConvLayers = false };
        if (c.InChannels > 1) yield return c with { InChannels = c.InChannels - 1 };
        if (c.Size > 3) yield return c with { Size = c.Size - 1 };
        if (c.InputSpikes > 1) yield return c with { InputSpikes = c.InputSpikes / 2 };
        if (c.InputSpikes > 1) yield return c with { InputSpikes = c.InputSpikes - 1 };
    }
}
