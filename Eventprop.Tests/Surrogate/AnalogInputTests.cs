using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Eventprop.Tests.Model;
using Eventprop.Tests.Stepped;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;
using SurrogateFn = Eventprop.Core.Simulation.Surrogate.Surrogate;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// Analog input (seed 004 §2.1: the image as a constant input current) in the surrogate-gradient engine: the smooth-forward
/// finite-difference property (dense, sparse, recurrent and conv first layers), the hard-threshold engine against the
/// plain-loop <see cref="ReferenceBptt"/>, analog 0/1 input against the equivalent spike trains, a hand-computed spike count
/// of one IF neuron under constant drive, and two injected faults that the checks catch.
/// </summary>
public class AnalogInputTests(ITestOutputHelper output)
{
    private static Arbitrary<SurrogateCase> SmoothDense(Discretisation scheme) => Arb.From(
        from c in GradientCase.AnyKind().Generator
        from seed in Gen.Choose(0, 100_000)
        from loss in Gen.Elements("sum", "sum_exp", "max", "entropy")
        from beta in Gen.Elements(1.0, 2.0, 5.0)
        from dt in Gen.Elements(0.5, 1.0)
        select new SurrogateCase(new AnalogCase(c, seed), scheme, loss, false, beta, dt));

    private static Arbitrary<SurrogateCase> SmoothConv(Discretisation scheme) => Arb.From(
        from c in ConvGradientCase.Arbitrary().Generator
        from seed in Gen.Choose(0, 100_000)
        from loss in Gen.Elements("sum", "sum_exp", "max", "entropy")
        from beta in Gen.Elements(1.0, 2.0, 5.0)
        from dt in Gen.Elements(0.5, 1.0)
        select new SurrogateCase(new AnalogCase(c, seed), scheme, loss, false, beta, dt));

    /// <summary>The smooth-forward property with analog input: every weight (the input weights' Σ_t δ(t)·x_j included) and
    /// time constant against Richardson-extrapolated finite differences of the engine's own loss, |g − fd| ≤ 1e-5|fd| + 1e-7.</summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator, 60)]
    [InlineData(Discretisation.ZenkeVogels, 60)]
    public void SmoothForwardGradientsWithAnalogInputMatchFiniteDifferences(Discretisation scheme, int cases) =>
        SurrogateGradientTests.AssertSmoothProperty(SmoothDense(scheme), cases, "analog " + scheme, output);

    /// <summary>The same through a conv first layer: the constant drive goes through the convolution's own delivery.</summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator, 20)]
    [InlineData(Discretisation.ZenkeVogels, 20)]
    public void SmoothForwardGradientsWithAnalogInputThroughConvolutionsMatchFiniteDifferences(Discretisation scheme, int cases) =>
        SurrogateGradientTests.AssertSmoothProperty(SmoothConv(scheme), cases, "analog conv " + scheme, output);

    private static Arbitrary<SurrogateCase> HardDense(Discretisation scheme) => Arb.From(
        from kind in Gen.Elements(CaseKind.FeedForward, CaseKind.Recurrent)
        from c in GradientCase.Arbitrary(kind).Generator
        from seed in Gen.Choose(0, 100_000)
        from loss in Gen.Elements("sum", "max")
        from beta in Gen.Elements(1.0, 5.0, 10.0)
        from dt in Gen.Elements(0.5, 1.0)
        from reset in Gen.Elements(ResetGradient.Detached, ResetGradient.Differentiable)
        from shape in Gen.Elements("superspike", "esser")
        select new SurrogateCase(new AnalogCase(c, seed), scheme, loss, false, beta, dt, reset, true, shape));

    /// <summary>
    /// The outcome of one hard-threshold comparison with the plain-loop reference: null when it agrees (every entry within
    /// 1e-9 of its parameter's largest, the loss within 1e-10), "skip: …" when the case is at a knife's edge (a thresholded
    /// voltage within 1e-9 of ϑ) or has τm within 1 % of τs (where the reference's plain closed forms cancel), else the mismatch.
    /// </summary>
    internal static string? CompareWithReference(SurrogateCase sc, out bool spikes, SurrogateFault fault = SurrogateFault.None)
    {
        spikes = false;
        var (net, sample) = sc.Case.Build();
        if (net.Populations.Where(p => p.HasDynamics).Any(p => Enumerable.Range(0, p.Size).Any(i =>
                Math.Abs(net.TauMem(p.Name).Values[i] - net.TauSyn(p.Name).Values[i]) < 1e-2 * net.TauMem(p.Name).Values[i])))
            return "skip: τm ≈ τs";
        var reference = new ReferenceBptt
        {
            Exact = sc.Scheme == Discretisation.ExactPropagator,
            DifferentiableReset = sc.Reset == ResetGradient.Differentiable,
            Recurrent = sc.Recurrent,
            Shape = sc.Shape,
            Beta = sc.Beta,
            Loss = sc.LossName,
        };
        var (refLoss, refGrad) = reference.Run(net, sample, sc.Dt, sc.Case.Duration);
        if (reference.Margin < 1e-9) return "skip: knife-edge threshold";
        var options = new SurrogateOptions
        {
            Surrogate = SurrogateFn.FromName(sc.Shape, sc.Beta),
            Discretisation = sc.Scheme,
            Reset = sc.Reset,
            RecurrentGradient = sc.Recurrent,
            DoublePrecision = true,
            Threads = 1,
        };
        var result = new SurrogateEngine(sc.Dt, sc.Case.Duration, options) { Fault = fault }.Gradient(net, [sample], Loss.FromName(sc.LossName));
        spikes = result.HiddenSpikeCounts.Values.Any(c => c.Sum() > 0);
        if (Math.Abs(result.Loss - refLoss) > 1e-10 * Math.Max(1, Math.Abs(refLoss)))
            return $"loss {result.Loss:R} vs reference {refLoss:R}";
        foreach (var p in result.Gradient)
        {
            var expected = refGrad[p.Name];
            double scale = expected.Max(Math.Abs);
            for (int i = 0; i < p.Length; i++)
                if (Math.Abs(p.Values[i] - expected[i]) > 1e-9 * scale + 1e-14)
                    return $"{p.Name}[{i}]: engine {p.Values[i]:E10}, reference {expected[i]:E10}";
        }
        return null;
    }

    /// <summary>With the hard threshold, the engine's gradient with analog input equals the plain-loop reference's, in which
    /// x_j enters every input bin as written in the equations.</summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator, 150)]
    [InlineData(Discretisation.ZenkeVogels, 150)]
    public void HardThresholdGradientsWithAnalogInputMatchReference(Discretisation scheme, int cases)
    {
        int evaluated = 0, skipped = 0, withSpikes = 0;
        var property = Prop.ForAll(HardDense(scheme), sc =>
        {
            string? outcome = CompareWithReference(sc, out bool spikes);
            if (outcome is not null && outcome.StartsWith("skip", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref skipped);
                return true.Label(outcome);
            }
            Interlocked.Increment(ref evaluated);
            if (spikes) Interlocked.Increment(ref withSpikes);
            return (outcome is null).Label(outcome ?? "passed");
        });
        var config = Config.QuickThrowOnFailure.WithMaxTest(cases).WithReplay(GradientProperties.Seed, 0x9E3779B97F4A7C15UL);
        try
        {
            Check.One(config, property);
        }
        finally
        {
            output.WriteLine($"analog {scheme}: {evaluated} cases compared ({withSpikes} with hidden spikes), {skipped} skipped (knife-edge or τm ≈ τs)");
        }
        Assert.True(skipped <= 0.1 * cases, $"{skipped} of {cases} cases skipped");
        Assert.True(withSpikes >= 0.7 * evaluated, $"only {withSpikes} of {evaluated} cases had hidden spikes");
    }

    /// <summary>The fault "the input weight gradient ignores x" (Σ_t δ(t) instead of Σ_t δ(t)·x_j) fails the reference
    /// comparison wherever it changes the gradient (x ≠ 1 almost surely), and the finite-difference check.</summary>
    [Fact]
    public void IgnoringTheInputValueInTheWeightGradientIsCaught()
    {
        int compared = 0, caughtByReference = 0, caughtByFd = 0, visible = 0;
        var missed = new List<string>();
        foreach (var (c, i) in GradientCase.Sample(CaseKind.FeedForward, 12, seed: 31).Select((c, i) => (c, i)))
        {
            var sc = new SurrogateCase(new AnalogCase(c, 100 + i), Discretisation.ZenkeVogels, "sum", false, 5.0, 1.0,
                ResetGradient.Detached, true, "superspike");
            if (CompareWithReference(sc, out _) is { } healthy)
            {
                Assert.StartsWith("skip", healthy);
                continue;
            }
            compared++;
            if (CompareWithReference(sc, out _, SurrogateFault.AnalogValueIgnoredInGradient) is not null) caughtByReference++;
            else missed.Add(sc.ToString());
            var smooth = sc with { Reset = ResetGradient.Differentiable, Shape = "sigmoid", Beta = 2.0 };
            Assert.Null(SurrogateGradientTests.CheckSmooth(smooth).Failure);
            if (!SurrogateNeuronModelTests.FaultChangesGradient(smooth, SurrogateFault.AnalogValueIgnoredInGradient)) continue;
            visible++;
            if (SurrogateGradientTests.CheckSmooth(smooth, SurrogateFault.AnalogValueIgnoredInGradient).Failure is not null) caughtByFd++;
            else missed.Add("finite differences: " + smooth);
        }
        output.WriteLine($"x ignored in dW_in: {compared} cases, reference caught {caughtByReference}; the fault changed the smooth gradient in {visible}, finite differences caught {caughtByFd}");
        Assert.Empty(missed);
        Assert.True(compared >= 10, $"only {compared} of 12 cases compared");
        Assert.True(visible >= 8, $"the fault changed the smooth gradient in only {visible} cases");
    }

    /// <summary>The forward fault "drive only in the first input bin" (a single spike of size x instead of a constant
    /// current) is caught by the finite-difference check, whose losses come from the correct engine.</summary>
    [Fact]
    public void DrivingOnlyTheFirstStepIsCaught()
    {
        int compared = 0, visible = 0, caught = 0;
        var missed = new List<string>();
        foreach (var (c, i) in GradientCase.Sample(CaseKind.FeedForward, 8, seed: 32).Select((c, i) => (c, i)))
        {
            foreach (var scheme in new[] { Discretisation.ExactPropagator, Discretisation.ZenkeVogels })
            {
                var sc = new SurrogateCase(new AnalogCase(c, 200 + i), scheme, "sum", false, 2.0, 1.0);
                compared++;
                if (!SurrogateNeuronModelTests.FaultChangesGradient(sc, SurrogateFault.AnalogDriveOnlyAtFirstStep)) continue;
                visible++;
                if (SurrogateGradientTests.CheckSmooth(sc, SurrogateFault.AnalogDriveOnlyAtFirstStep).Failure is not null) caught++;
                else missed.Add(sc.ToString());
            }
        }
        output.WriteLine($"drive at step 0 only: changed the gradient in {visible} of {compared}, caught {caught}");
        foreach (var m in missed) output.WriteLine("missed: " + m);
        Assert.Empty(missed);
        Assert.True(visible >= 12, $"the fault changed the gradient in only {visible} of {compared} cases");
    }

    /// <summary>
    /// Analog input with every value 0 or 1 is the spike train with one spike per step on each channel of value 1 (at
    /// t = k·dt, k = 0…N−1): the same loss and gradient through different code (one drive vector per trial vs per-spike
    /// delivery), dense and conv, both schemes, float64 and float32.
    /// </summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator, true)]
    [InlineData(Discretisation.ZenkeVogels, true)]
    [InlineData(Discretisation.ExactPropagator, false)]
    [InlineData(Discretisation.ZenkeVogels, false)]
    public void BinaryAnalogInputEqualsOneSpikePerStep(Discretisation scheme, bool doublePrecision)
    {
        IGradientCase[] cases = [.. GradientCase.Sample(CaseKind.Recurrent, 4, seed: 41), .. ConvGradientCase.Sample(4, seed: 42)];
        const double dt = 1.0;
        foreach (var (c, i) in cases.Select((c, i) => (c, i)))
        {
            var (net, analog) = new AnalogCase(c, 300 + i, ZeroFraction: 0.5).Build();
            var x = analog.Currents.ToArray().Select(v => v > 0 ? 1.0 : 0.0).ToArray();
            var binary = SpikeSample.FromCurrents(x, analog.Label);
            int steps = (int)Math.Round(c.Duration / dt);
            var times = new List<double>();
            var channels = new List<int>();
            for (int k = 0; k < steps; k++)
                for (int ch = 0; ch < x.Length; ch++)
                    if (x[ch] == 1) { times.Add(k * dt); channels.Add(ch); }
            var spikes = new SpikeSample(times.ToArray(), channels.ToArray(), analog.Label);
            var engine = new SurrogateEngine(dt, c.Duration, new SurrogateOptions { Discretisation = scheme, DoublePrecision = doublePrecision, Threads = 1 });
            var a = engine.Gradient(net, [binary], Loss.SumExp());
            var s = engine.Gradient(net, [spikes], Loss.SumExp());
            foreach (var (name, counts) in s.HiddenSpikeCounts) Assert.Equal(counts, a.HiddenSpikeCounts[name]);
            double tol = doublePrecision ? 1e-12 : 1e-4;
            Assert.Equal(s.Loss, a.Loss, tol * Math.Max(1, Math.Abs(s.Loss)));
            double e = SteppedTestCases.RelativeError(a.Gradient, s.Gradient);
            output.WriteLine($"{c}: relative difference {e:E2}, {s.HiddenSpikeCounts.Values.Sum(v => v.Sum())} hidden spikes");
            Assert.True(e <= tol, $"{c}: analog vs spikes {e:E2}");
        }
    }

    /// <summary>Conv first layer with analog input (hard threshold) equals its dense twin (every convolution expanded by
    /// the plain-loop definition of <see cref="ConvReference"/>).</summary>
    [Fact]
    public void HardThresholdAnalogConvolutionsEqualTheirDenseTwin()
    {
        int compared = 0;
        foreach (var (c, i) in ConvGradientCase.Sample(10, seed: 43).Select((c, i) => (c, i)))
        {
            var (net, sample) = new AnalogCase(c, 400 + i).Build();
            foreach (var scheme in new[] { Discretisation.ExactPropagator, Discretisation.ZenkeVogels })
            {
                var engine = new SurrogateEngine(1.0, c.Duration, new SurrogateOptions { Discretisation = scheme, DoublePrecision = true, Threads = 1 });
                var conv = engine.Gradient(net, [sample], Loss.SumExp());
                var dense = engine.Gradient(ConvReference.DenseTwin(net), [sample], Loss.SumExp());
                if (dense.HiddenSpikeCounts["h0"].Sum() == 0) continue;
                compared++;
                foreach (var (name, counts) in dense.HiddenSpikeCounts) Assert.Equal(counts, conv.HiddenSpikeCounts[name]);
                Assert.Equal(dense.Loss, conv.Loss, 1e-10);
                double e = SteppedTestCases.RelativeError(conv.Gradient, ConvReference.Fold(net, dense.Gradient));
                Assert.True(e <= 1e-10, $"{c}, {scheme}: conv vs dense twin {e:E2}");
            }
        }
        output.WriteLine($"{compared} of 20 (case, scheme) pairs had spikes in h0");
        Assert.True(compared >= 10, $"only {compared} of 20 had spikes in h0");
    }

    /// <summary>
    /// One IF neuron (τs → 0, so I = J after the first bin), constant drive J = w·x, hard or subtractive reset to 0 at ϑ = 1,
    /// Zenke–Vogels steps of dt = 1 ms with τm = 4 ms: V climbs by u = J·dt/τm per step from V[2] = u. With u = 1/m it
    /// reaches ϑ after m steps; a hard reset spends one more step at 0, so over N steps it fires ⌊(N − 1)/(m + 1)⌋ times,
    /// a subtractive one ⌊(N − 2)/m⌋ times.
    /// </summary>
    [Theory]
    [InlineData(0.5, 4, false)]
    [InlineData(1.0, 2, false)]
    [InlineData(0.25, 8, false)]
    [InlineData(0.5, 4, true)]
    [InlineData(1.0, 2, true)]
    [InlineData(0.25, 8, true)]
    public void ConstantDriveSpikeCountOfOneIntegrateAndFireNeuron(double x, int m, bool subtractive)
    {
        const int n = 41;
        var net = Network.Create(1).Input("in", 1)
            .Hidden("h", new IntegrateAndFire(resetMode: subtractive ? ResetMode.Subtract : ResetMode.ToValue), [4.0], [1e-3])
            .Readout("out", 2)
            .Connect("in", "h", Init.Constant(2.0))
            .Connect("h", "out", Init.Constant(1.0))
            .Build();
        Assert.Equal(1.0 / m, 2.0 * x * 1.0 / 4.0); // u = w·x·dt/τm
        long expected = subtractive ? (n - 2) / m : (n - 1) / (m + 1);
        foreach (bool dbl in new[] { true, false })
        {
            var engine = new SurrogateEngine(1.0, n, new SurrogateOptions { Discretisation = Discretisation.ZenkeVogels, DoublePrecision = dbl, Threads = 1 });
            var r = engine.Evaluate(net, [SpikeSample.FromCurrents([x], label: 0)], Loss.Sum());
            Assert.Equal(expected, r.HiddenSpikeCounts["h"][0]);
        }
    }
}
