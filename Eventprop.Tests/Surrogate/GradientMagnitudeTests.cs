using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Losses;
using Xunit;
using Xunit.Abstractions;
using SurrogateFn = Eventprop.Core.Simulation.Surrogate.Surrogate;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// The per-layer gradient-magnitude report (seed 004 Fig. 3) and γ by bisection (§2.5): the report equals a plain loop over
/// the engine's own per-step adjoint, bisection finds known roots, the tuned γ of a 4-layer network meets the stated
/// tolerance, and bad input is a one-line error.
/// </summary>
public class GradientMagnitudeTests(ITestOutputHelper output)
{
    private const double Dt = 1, Duration = 30;

    /// <summary>in(8) → <paramref name="layers"/> LIF layers of 10 (feed-forward) → out(3).</summary>
    internal static Network DeepNetwork(int layers, int seed = 3, double weightMean = 0.9, double weightStd = 0.6)
    {
        var b = Network.Create(seed: seed).Input("in", 8);
        for (int l = 0; l < layers; l++) b = b.Lif($"h{l}", 10, tauMem: 10, tauSyn: 4);
        b = b.Readout("out", 3, tauMem: 10, tauSyn: 4);
        for (int l = 0; l < layers; l++) b = b.Connect(l == 0 ? "in" : $"h{l - 1}", $"h{l}", Init.Normal(weightMean, weightStd));
        return b.Connect($"h{layers - 1}", "out", Init.Normal(0, 0.5)).Build();
    }

    /// <summary><paramref name="count"/> random trials: 30 spikes over 8 channels in [0, 25) ms, labels 0…2.</summary>
    internal static SpikeSample[] Samples(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(i =>
        {
            var spikes = Enumerable.Range(0, 30).Select(_ => (T: Math.Round(rng.NextDouble() * 25, 3), C: rng.Next(8))).OrderBy(s => s.T).ToArray();
            return new SpikeSample(spikes.Select(s => s.T).ToArray(), spikes.Select(s => s.C).ToArray(), label: i % 3);
        }).ToArray();
    }

    private static SurrogateEngine Engine(double gamma, bool doublePrecision = true) =>
        new(Dt, Duration, new SurrogateOptions { Surrogate = SurrogateFn.SuperSpike(gamma), DoublePrecision = doublePrecision, Threads = 1 });

    /// <summary>Per hidden layer: mean |dL/dV_k| over neurons, k = 1…N and trials, from the trace, by a plain loop.</summary>
    private static double[] PlainLayerMeans(Network network, List<(int Sample, int K, double[] G)> trace, int trials, int steps)
    {
        // The plan orders the populations with dynamics as the network does: hidden layers first, then the readout.
        var dynamic = network.Populations.Where(p => p.HasDynamics).ToArray();
        var means = new double[network.Hidden.Count];
        int offset = 0;
        foreach (var p in dynamic)
        {
            int l = network.Hidden.ToList().IndexOf(p);
            if (l >= 0)
            {
                double sum = 0;
                int terms = 0;
                foreach (var (_, k, g) in trace)
                {
                    Assert.InRange(k, 1, steps);
                    for (int i = 0; i < p.Size; i++) sum += Math.Abs(g[offset + i]);
                }
                terms = p.Size * steps * trials;
                means[l] = sum / terms;
            }
            offset += p.Size;
        }
        Assert.Equal(trials * steps, trace.Count);
        Assert.Equal(trace.Count, trace.Select(t => (t.Sample, t.K)).Distinct().Count());
        return means;
    }

    [Fact]
    public void ReportedLayerMeansEqualAPlainLoopOverTheEnginesPerStepAdjoint()
    {
        var network = DeepNetwork(3);
        var batch = Samples(4, seed: 11);
        var engine = Engine(2);
        var trace = new List<(int, int, double[])>();
        engine.AdjointTrace = (b, k, g) => trace.Add((b, k, g));
        var (result, layers) = engine.GradientWithMagnitudes(network, batch, Loss.SumExp());
        engine.AdjointTrace = null;
        var expected = PlainLayerMeans(network, trace, batch.Length, engine.Steps);
        Assert.Equal(network.Hidden.Select(p => p.Name), layers.Select(l => l.Layer));
        for (int l = 0; l < expected.Length; l++)
        {
            Assert.True(expected[l] > 0, $"layer {l} receives no gradient; the case is too weak to test anything");
            Assert.Equal(expected[l], layers[l].MeanAbsVoltageAdjoint, 12);
        }
        // The readout's adjoint is nonzero in the trace's last slots (the loss drives it), so the offsets are the plan's.
        int ro = network.Hidden.Sum(p => p.Size);
        Assert.Contains(trace, t => t.Item3.Skip(ro).Any(v => v != 0));

        // Asking for magnitudes leaves the gradient unchanged.
        var plain = Engine(2).Gradient(network, batch, Loss.SumExp());
        Assert.Equal(plain.Loss, result.Loss);
        for (int p = 0; p < plain.Gradient.Count; p++) Assert.Equal(plain.Gradient[p].Values, result.Gradient[p].Values);
    }

    /// <summary>
    /// The report's per-layer mean |∂L/∂U| equals the same mean over the adjoint of <see cref="ReferenceBptt"/> (plain loops,
    /// no code shared with the engine), for random 3-layer networks, both discretisations and both surrogate shapes
    /// (1e-9 relative; both double precision). Cases with a thresholded voltage within 1e-9 of ϑ are discarded and counted.
    /// </summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator)]
    [InlineData(Discretisation.ZenkeVogels)]
    public void LayerMeansEqualThoseOfThePlainLoopReference(Discretisation scheme)
    {
        var (compared, discarded, failure) = CompareWithReference(scheme, SurrogateFault.None);
        output.WriteLine($"{scheme}: {compared} cases compared with the reference, {discarded} discarded (knife-edge threshold)");
        Assert.True(failure is null, failure);
        Assert.True(discarded <= 2, $"{discarded} of 12 discarded");
    }

    /// <summary>Teeth: summing the adjoint one grid point early (0…N−1) is caught by the reference comparison.</summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator)]
    [InlineData(Discretisation.ZenkeVogels)]
    public void TheReferenceComparisonCatchesAnOffByOneStepSum(Discretisation scheme)
    {
        var (_, _, failure) = CompareWithReference(scheme, SurrogateFault.MagnitudesOneStepEarly);
        Assert.NotNull(failure);
        output.WriteLine($"caught: {failure}");
    }

    private static (int Compared, int Discarded, string? Failure) CompareWithReference(Discretisation scheme, SurrogateFault fault)
    {
        int compared = 0, discarded = 0;
        for (int seed = 1; seed <= 12; seed++)
        {
            var network = DeepNetwork(3, seed: seed, weightMean: 0.6 + 0.05 * seed);
            var sample = Samples(1, seed: 100 + seed)[0];
            string shape = seed % 2 == 0 ? "superspike" : "esser";
            double beta = seed % 3 == 0 ? 1 : 4;
            var sums = new double[network.Hidden.Count];
            var sizes = network.Hidden.Select(p => p.Size).ToArray();
            int calls = 0;
            var reference = new ReferenceBptt
            {
                Exact = scheme == Discretisation.ExactPropagator, DifferentiableReset = false, Recurrent = true, Shape = shape, Beta = beta, Loss = "sum",
                AdjointTrace = (k, g) =>
                {
                    calls++;
                    int o = 0;
                    for (int l = 0; l < sizes.Length; l++)
                    {
                        for (int i = 0; i < sizes[l]; i++) sums[l] += Math.Abs(g[o + i]);
                        o += sizes[l];
                    }
                },
            };
            reference.Run(network, sample, Dt, Duration);
            if (reference.Margin < 1e-9)
            {
                discarded++;
                continue;
            }
            var engine = new SurrogateEngine(Dt, Duration, new SurrogateOptions { Surrogate = SurrogateFn.FromName(shape, beta), Discretisation = scheme, DoublePrecision = true, Threads = 1 })
            {
                Fault = fault,
            };
            var (_, layers) = engine.GradientWithMagnitudes(network, [sample], Loss.Sum());
            if (calls != engine.Steps) return (compared, discarded, $"seed {seed}: the reference traced {calls} steps, the engine has {engine.Steps}");
            for (int l = 0; l < sums.Length; l++)
            {
                double expected = sums[l] / (sizes[l] * engine.Steps);
                if (!(expected > 0)) return (compared, discarded, $"seed {seed}: layer {l} gets no gradient; the case tests nothing");
                if (!(Math.Abs(layers[l].MeanAbsVoltageAdjoint - expected) <= 1e-9 * expected + 1e-15))
                    return (compared, discarded, $"seed {seed}, layer {l}: engine {layers[l].MeanAbsVoltageAdjoint:E10}, reference {expected:E10}");
            }
            compared++;
        }
        return (compared, discarded, null);
    }

    [Fact]
    public void ReportAveragesBatchesAndWeightGradientsByPlainLoops()
    {
        var network = DeepNetwork(2);
        var batches = new[] { Samples(3, seed: 5), Samples(2, seed: 6) };
        var report = GradientMagnitudeReport.Measure(Engine(3), network, batches, Loss.SumExp());
        Assert.Equal(2, report.Batches);
        Assert.Equal(5, report.Trials);
        var layerSums = new double[2];
        var weightSums = new Dictionary<string, double>();
        foreach (var batch in batches)
        {
            var engine = Engine(3);
            var trace = new List<(int, int, double[])>();
            engine.AdjointTrace = (b, k, g) => trace.Add((b, k, g));
            var r = engine.Gradient(network, batch, Loss.SumExp());
            var means = PlainLayerMeans(network, trace, batch.Length, engine.Steps);
            for (int l = 0; l < 2; l++) layerSums[l] += means[l] / 2;
            foreach (var p in r.Gradient.Where(p => p.Kind == ParameterKind.Weight))
                weightSums[p.Name] = weightSums.GetValueOrDefault(p.Name) + p.Values.Select(Math.Abs).Average() / 2;
        }
        for (int l = 0; l < 2; l++) Assert.Equal(layerSums[l], report.Layers[l].MeanAbsVoltageAdjoint, 12);
        Assert.Equal(weightSums.Keys.Order(), report.Connections.Select(c => c.Connection).Order());
        foreach (var c in report.Connections) Assert.Equal(weightSums[c.Connection], c.MeanAbsWeightGradient, 12);
    }

    [Fact]
    public void LogRatioComparesTheFirstAndLastHalf()
    {
        Assert.Equal(Math.Log(2.5), SurrogateWidthTuner.LogRatio([4, 1, 1, 1]), 14);
        Assert.Equal(Math.Log(2), SurrogateWidthTuner.LogRatio([2, 9, 1]), 14); // the middle of an odd count is in neither half
        Assert.Equal(0, SurrogateWidthTuner.LogRatio([3, 3]), 14);
    }

    [Theory]
    [InlineData(0.0, 3.0)] // f(x) = x³ − 2, increasing: root 2^(1/3)
    [InlineData(-1.0, 10.0)]
    public void BisectionFindsTheKnownRootOfAnIncreasingFunction(double lower, double upper)
    {
        var r = Bisection.FindRoot(x => x * x * x - 2, lower, upper, tolerance: 1e-10, xTolerance: 0, maxIterations: 200);
        Assert.True(r.Converged);
        Assert.Equal(Math.Cbrt(2), r.Root, 9);
        Assert.True(Math.Abs(r.Value) <= 1e-10);
        Assert.Equal(r.Steps.Count, r.Steps.Select(s => s.Index).Distinct().Count());
        foreach (var s in r.Steps) Assert.InRange(Math.Cbrt(2), s.Lower, s.Upper); // every bracket holds the root
    }

    [Fact]
    public void BisectionFindsTheKnownRootOfADecreasingFunctionAndStopsAtItsCap()
    {
        var r = Bisection.FindRoot(x => Math.Exp(-x) - 0.5, 0, 5, tolerance: 1e-12, xTolerance: 0, maxIterations: 100);
        Assert.True(r.Converged);
        Assert.Equal(Math.Log(2), r.Root, 10);
        var capped = Bisection.FindRoot(x => Math.Exp(-x) - 0.5, 0, 5, tolerance: 1e-12, xTolerance: 0, maxIterations: 3);
        Assert.False(capped.Converged);
        Assert.Equal(5, capped.Steps.Count); // two ends and three midpoints
        Assert.InRange(capped.Steps[^1].Upper - capped.Steps[^1].Lower, 5 / 8.0 - 1e-12, 5 / 8.0 + 1e-12);
    }

    [Fact]
    public void BisectionRejectsBadBracketsInOneLine()
    {
        foreach (var (lower, upper, f) in new (double, double, Func<double, double>)[]
        {
            (1, 1, x => x), (2, 1, x => x), (double.NaN, 1, x => x), (1, 2, x => x), (-1, 1, x => double.NaN),
        })
        {
            var e = Assert.ThrowsAny<ArgumentException>(() => Bisection.FindRoot(f, lower, upper, 1e-6, 0, 10));
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Fact]
    public void TunedGammaOfAFourLayerNetworkMeetsTheToleranceAndIsDeterministic()
    {
        var network = DeepNetwork(4);
        IReadOnlyList<SpikeSample>[] batches = [Samples(4, seed: 21), Samples(4, seed: 22)];
        var settings = new SurrogateWidthTuning(MinGamma: 0.05, MaxGamma: 500, Tolerance: 0.01, MaxIterations: 40);
        var engine = Engine(10, doublePrecision: false);
        var result = SurrogateWidthTuner.Tune(engine, network, batches, Loss.SumExp(), settings);
        foreach (var it in result.Iterations)
            output.WriteLine($"{it.Index,3}  γ {it.Gamma,12:G6}  log-ratio {it.LogRatio,10:G4}  layers {string.Join(" ", it.Report.Layers.Select(l => l.MeanAbsVoltageAdjoint.ToString("E3")))}");
        Assert.True(result.Converged);
        Assert.Equal(2, result.HalfLayers);
        Assert.True(Math.Abs(result.LogRatio) <= settings.Tolerance, $"log-ratio {result.LogRatio}");
        Assert.True(result.Iterations[0].LogRatio > 0 && result.Iterations[1].LogRatio < 0, "wide surrogate: explodes towards the input; narrow: vanishes");
        Assert.True(result.Iterations.Count <= settings.MaxIterations + 2);

        // An independent recomputation at the chosen γ: the engine's per-step adjoint summed by plain loops.
        var first = new double[4];
        foreach (var batch in batches)
        {
            var check = new SurrogateEngine(Dt, Duration, new SurrogateOptions { Surrogate = SurrogateFn.SuperSpike(result.Gamma), Threads = 1 });
            var trace = new List<(int, int, double[])>();
            check.AdjointTrace = (b, k, g) => trace.Add((b, k, g));
            check.Gradient(network, batch, Loss.SumExp());
            var means = PlainLayerMeans(network, trace, batch.Count, check.Steps);
            for (int l = 0; l < 4; l++) first[l] += means[l] / batches.Length;
        }
        double ratio = Math.Log((first[0] + first[1]) / (first[2] + first[3]));
        Assert.True(Math.Abs(ratio) <= settings.Tolerance + 1e-9, $"recomputed log-ratio {ratio}");

        var again = SurrogateWidthTuner.Tune(Engine(10, doublePrecision: false), network, batches, Loss.SumExp(), settings);
        Assert.Equal(result.Gamma, again.Gamma);
        Assert.Equal(result.Iterations.Select(i => i.LogRatio), again.Iterations.Select(i => i.LogRatio));
    }

    [Fact]
    public void BadTuningInputIsAOneLineError()
    {
        var network = DeepNetwork(4);
        IReadOnlyList<SpikeSample>[] batches = [Samples(2, seed: 1)];
        void OneLine(Action a, string expected)
        {
            var e = Assert.ThrowsAny<ArgumentException>(a);
            Assert.DoesNotContain('\n', e.Message);
            Assert.Contains(expected, e.Message);
        }
        OneLine(() => SurrogateWidthTuner.Tune(Engine(10), network, batches, Loss.SumExp(), new SurrogateWidthTuning(MinGamma: 0)), "0 < min < max");
        OneLine(() => SurrogateWidthTuner.Tune(Engine(10), network, batches, Loss.SumExp(), new SurrogateWidthTuning(MinGamma: 5, MaxGamma: 5)), "0 < min < max");
        OneLine(() => SurrogateWidthTuner.Tune(Engine(10), network, batches, Loss.SumExp(), new SurrogateWidthTuning(MinGamma: 1, MaxGamma: 2)), "widen the γ bracket");
        OneLine(() => SurrogateWidthTuner.Tune(Engine(10), DeepNetwork(1), batches, Loss.SumExp()), "at least 2 hidden layers");
        OneLine(() => SurrogateWidthTuner.Tune(new SteppedEngine(Dt, Duration), network, batches, Loss.SumExp()), "surrogate-gradient engine");
        OneLine(() => GradientMagnitudeReport.Measure(new SteppedEngine(Dt, Duration), network, batches, Loss.SumExp()), "surrogate-gradient engine");
    }
}
