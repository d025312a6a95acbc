using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Simulation;
using Eventprop.Core.Training;
using Eventprop.Losses;
using Eventprop.Tests.Data;
using Eventprop.Tests.Training;
using Xunit;

namespace Eventprop.Tests.Model;

/// <summary>
/// The convolution connectivity against a plain-loop definition written here (PyTorch's Conv2d and AvgPool2d semantics,
/// not the library's index arithmetic), through a dense twin: the same network with every synapse expanded into a dense
/// matrix. The exact engine must give the same spikes and loss, and the kernel gradient must be the dense gradient summed
/// over the synapses that share each kernel weight.
/// </summary>
public class Conv2dConnectivityTests
{
    [Theory]
    [InlineData(1, 5, 5, 1, 2, 3, 1, 0)]
    [InlineData(2, 5, 4, 1, 2, 2, 2, 1)]
    [InlineData(2, 6, 6, 2, 3, 2, 1, 1)]
    [InlineData(1, 7, 7, 2, 2, 3, 2, 0)] // 7 is not a multiple of the pool: the last row and column reach nothing
    public void AConvolutionEqualsItsDenseTwinFromThePlainLoopDefinition(int c, int h, int w, int pool, int outC, int k, int stride, int pad)
    {
        var conv = Conv2dConnectivity.Create(c, h, w, outC, k, stride, pad, pool);
        var g = conv.Geometry;
        var rng = new Random(7);
        var kernel = Enumerable.Range(0, g.WeightCount).Select(_ => 0.6 + 0.8 * rng.NextDouble()).ToArray();
        var (dense, tap) = ConvReference.Expand(c, h, w, pool, outC, k, k, stride, pad, kernel);
        Assert.Equal(dense.GetLength(1), g.PostSize);
        var kernelMatrix = new double[g.OutChannels, g.FanIn];
        for (int i = 0; i < kernel.Length; i++) kernelMatrix[i / g.FanIn, i % g.FanIn] = kernel[i];
        var readout = new double[g.PostSize, 2];
        for (int j = 0; j < g.PostSize; j++) { readout[j, 0] = 0.5 - 0.1 * (j % 3); readout[j, 1] = 0.1 * (j % 4) - 0.2; }

        Network Build(Connectivity first, double[,] weights) => Network.Create(3)
            .Input("in", g.PreSize)
            .Lif("h", g.PostSize, tauMem: 12, tauSyn: 4)
            .Readout("out", 2)
            .Connect("in", "h", Init.Values(weights), first)
            .Connect("h", "out", Init.Values(readout))
            .Build();
        var sample = InputSpikes(g.PreSize, 120, 20, seed: 5);
        var engine = new ExactEngine(25);
        var viaConv = engine.Gradient(Build(conv, kernelMatrix), sample, Loss.SumExp());
        var twin = engine.Gradient(Build(Connectivity.Dense, dense), sample, Loss.SumExp());

        int spikes = Enumerable.Range(0, g.PostSize).Sum(j => twin.Trials[0].SpikeTimes("h", j).Length);
        Assert.True(spikes > g.PostSize / 2, $"the twin spiked only {spikes} times");
        for (int j = 0; j < g.PostSize; j++)
            Assert.Equal(twin.Trials[0].SpikeTimes("h", j).ToArray(), viaConv.Trials[0].SpikeTimes("h", j).ToArray(), new ToleranceComparer(1e-12));
        Assert.Equal(twin.Loss, viaConv.Loss, 12);
        var denseGradient = twin.Gradient.Weights("in", "h");
        var expected = new double[g.WeightCount];
        for (int i = 0; i < g.PreSize; i++)
            for (int j = 0; j < g.PostSize; j++)
                if (tap[i, j] >= 0) expected[tap[i, j]] += denseGradient[i, j] / (pool * pool);
        var got = viaConv.Gradient[ParameterSet.WeightName("in", "h")].Values;
        double scale = expected.Max(Math.Abs);
        Assert.True(scale > 0);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-10 * scale, $"kernel weight {i}: {got[i]} vs {expected[i]}");
        foreach (var p in twin.Gradient.Where(p => p.Kind != ParameterKind.Weight))
            Assert.Equal(p.Values, viaConv.Gradient[p.Name].Values, new ToleranceComparer(1e-10 * Math.Max(1, p.Values.Max(Math.Abs))));
    }

    /// <summary>Over 300 random geometries: the footprint enumeration yields every synapse of the plain-loop definition
    /// exactly once, with its kernel tap, and nothing else; the O(1) lookup agrees on every pair, and the inverse lookup
    /// (<see cref="Conv2dGeometry.Target"/>) on every (presynaptic neuron, kernel weight).</summary>
    [Fact]
    public void TheFootprintEnumeratesExactlyTheSynapsesOfTheDefinition()
    {
        var rng = new Random(11);
        int checkedGeometries = 0;
        while (checkedGeometries < 300)
        {
            int c = rng.Next(1, 3), h = rng.Next(1, 9), w = rng.Next(1, 9), pool = rng.Next(1, 4), outC = rng.Next(1, 3);
            int kh = rng.Next(1, 5), kw = rng.Next(1, 5), stride = rng.Next(1, 4), pad = rng.Next(0, 3);
            Conv2dConnectivity conv;
            try { conv = Conv2dConnectivity.Create(c, h, w, outC, kh, kw, stride, pad, pool); }
            catch (ArgumentException) { continue; }
            checkedGeometries++;
            var g = conv.Geometry;
            var (_, tap) = ConvReference.Expand(c, h, w, pool, outC, kh, kw, stride, pad, new double[g.WeightCount]);
            var seen = new int[g.PreSize, g.PostSize];
            for (int pre = 0; pre < g.PreSize; pre++)
            {
                if (!g.Footprint(pre, out var fp)) continue;
                for (int o = 0; o < g.OutChannels; o++)
                    for (int a = 0; a < fp.Rows; a++)
                        for (int b = 0; b < fp.Columns; b++)
                        {
                            int post = fp.Post(o, a) + b;
                            Assert.Equal(tap[pre, post], fp.Weight(o, a) - b * fp.Stride);
                            seen[pre, post]++;
                        }
            }
            for (int pre = 0; pre < g.PreSize; pre++)
                for (int post = 0; post < g.PostSize; post++)
                {
                    Assert.True(seen[pre, post] == (tap[pre, post] >= 0 ? 1 : 0), $"{g}: pair ({pre}, {post}) enumerated {seen[pre, post]} times");
                    Assert.Equal(tap[pre, post], g.WeightIndex(pre, post));
                }
            // The inverse lookup (the GPU engine's one-thread-per-kernel-weight gradient): each (pre, weight) reaches the one
            // neuron whose synapse the definition gives that weight, or none.
            var target = new int[g.PreSize, g.WeightCount];
            for (int pre = 0; pre < g.PreSize; pre++)
            {
                for (int k = 0; k < g.WeightCount; k++) target[pre, k] = -1;
                for (int post = 0; post < g.PostSize; post++)
                {
                    if (tap[pre, post] < 0) continue;
                    Assert.True(target[pre, tap[pre, post]] < 0, $"{g}: neuron {pre} reaches two neurons through weight {tap[pre, post]}");
                    target[pre, tap[pre, post]] = post;
                }
                for (int k = 0; k < g.WeightCount; k++) Assert.Equal(target[pre, k], g.Target(pre, k));
            }
        }
    }

    [Fact]
    public void APooledDenseLayerEqualsADenseLayerOverThePooledMap()
    {
        var pd = Conv2dConnectivity.PooledDense(2, 4, 4, 2, 5);
        var g = pd.Geometry;
        Assert.Equal((2, 2, 2), (g.InChannels, g.PooledHeight, g.PooledWidth));
        Assert.Equal((5, 1, 1), (g.OutChannels, g.OutHeight, g.OutWidth));
        Assert.Equal(5 * 8, g.WeightCount);
        // Input (c=1, y=3, x=2) pools into (1, 1, 1): flattened pooled index 1·4 + 1·2 + 1 = 7; weight [o, 7].
        int pre = (1 * 4 + 3) * 4 + 2;
        for (int o = 0; o < 5; o++) Assert.Equal(o * 8 + 7, g.WeightIndex(pre, o));
    }

    [Theory]
    [InlineData(1, 3, 3, 2, 4, 1, 0, 1, "kernel 4×4 is larger than its input 3×3")]
    [InlineData(1, 5, 5, 2, 3, 0, 0, 1, "stride must be at least 1, not 0")]
    [InlineData(1, 5, 5, 2, 3, 1, -1, 1, "padding must be ≥ 0")]
    [InlineData(1, 4, 4, 2, 3, 1, 0, 2, "kernel 3×3 is larger than its input 2×2 (after pooling)")]
    [InlineData(1, 4, 4, 2, 3, 1, 0, 5, "pooling window 5×5 is larger than its input 4×4")]
    [InlineData(0, 4, 4, 2, 3, 1, 0, 1, "input shape must be positive")]
    public void BadGeometryIsAOneLineError(int c, int h, int w, int outC, int k, int stride, int pad, int pool, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => Conv2dConnectivity.Create(c, h, w, outC, k, stride, pad, pool));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ShapesThatDoNotChainNameTheConnection()
    {
        var conv = Conv2dConnectivity.Create(1, 4, 4, 2, 3); // 16 → 2×2×2 = 8
        var wrongIn = Assert.Throws<ArgumentException>(() => Network.Create().Input("in", 15).Lif("h", 8).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1), conv).Connect("h", "out", Init.Constant(1)).Build());
        Assert.Contains("Connection in->h", wrongIn.Message);
        Assert.Contains("1×4×4 = 16 neurons but the presynaptic population has 15", wrongIn.Message);
        var wrongOut = Assert.Throws<ArgumentException>(() => Network.Create().Input("in", 16).Lif("h", 9).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1), conv).Connect("h", "out", Init.Constant(1)).Build());
        Assert.Contains("give it 8 neurons", wrongOut.Message);
    }

    [Fact]
    public void KernelsAreDrawnAsOutByFanInAndStoredThatWay()
    {
        var conv = Conv2dConnectivity.Create(2, 4, 4, 3, 2);
        var net = Network.Create(9).Input("in", 32).Lif("h", conv.Geometry.PostSize).Readout("out", 2)
            .Connect("in", "h", Init.Normal(0, 1), conv).Connect("h", "out", Init.Constant(1)).Build();
        var w = net.Weights("in", "h");
        Assert.Equal((3, 8), (w.Rows, w.Columns));
        var again = new double[24];
        Init.Normal(0, 1).Fill(again, 3, 8, new Random(NetworkBuilder.StreamSeed(9, "in->h")));
        Assert.Equal(again, w.Values);
    }

    [Fact]
    public void CheckpointsStoreTheGeometryAndRefuseAnotherOne()
    {
        using var dir = new TempDirectory();
        var path = dir.File("run.h5");
        // Two geometries with the same sizes and kernel shape (1×4×5 → 2×2×3, 2 kernels of 3×3): stride 1 vs stride 2, padding 1.
        Network Build(int stride, int padding) => Network.Create(1).Input("in", 20).Lif("h", 12).Readout("out", 2)
            .Connect("in", "h", Init.Normal(0.8, 0.2), Conv2dConnectivity.Create(1, 4, 5, 2, 3, stride, padding))
            .Connect("h", "out", Init.Normal(0, 1)).Build();
        var trainer = new Trainer(Build(1, 0), new ExactEngine(30), Loss.Sum(), new TrainingOptions { Epochs = 1, BatchSize = 2 });
        trainer.Fit(TrainingTestData.TwoClassTask(4, 1));
        trainer.SaveCheckpoint(path);
        var same = new Trainer(Build(1, 0), new ExactEngine(30), Loss.Sum());
        same.LoadCheckpoint(path);
        Assert.Equal(trainer.Network.Weights("in", "h").Values, same.Network.Weights("in", "h").Values);
        var other = new Trainer(Build(2, 1), new ExactEngine(30), Loss.Sum());
        var e = Assert.ThrowsAny<Exception>(() => other.LoadCheckpoint(path));
        Assert.Contains("another convolution", e.Message);
    }

    private static SpikeSample InputSpikes(int channels, int count, double span, int seed)
    {
        var rng = new Random(seed);
        var times = new double[count];
        var ch = new int[count];
        for (int s = 0; s < count; s++)
        {
            times[s] = span * rng.NextDouble();
            ch[s] = rng.Next(channels);
        }
        return new SpikeSample(times, ch, label: 1);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }
}
