using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;
using SurrogateFn = Eventprop.Core.Simulation.Surrogate.Surrogate;

namespace Eventprop.Tests.Surrogate;

/// <summary>One random BPTT check: a network case and the engine settings.</summary>
public sealed record SurrogateCase(IGradientCase Case, Discretisation Scheme, string LossName, bool Regularised, double Beta, double Dt,
    ResetGradient Reset = ResetGradient.Differentiable, bool Recurrent = true, string Shape = "sigmoid")
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Case} with {Scheme}, loss {LossName}, regularised {Regularised}, β {Beta}, dt {Dt}, reset {Reset}, recurrent gradient {Recurrent}, surrogate {Shape}";
}

/// <summary>
/// Correctness of the surrogate-gradient BPTT engine: (a) with a smooth sigmoid forward spike and the surrogate set to its
/// exact derivative, its gradients are the exact gradients of the smooth discrete network (finite differences, double
/// precision); (b) with the hard threshold its gradients equal a separate plain-loop reference (<see cref="ReferenceBptt"/>).
/// </summary>
public class SurrogateGradientTests(ITestOutputHelper output)
{
    private static readonly string[] SmoothLosses = ["sum", "sum_exp", "max", "entropy"];

    private static Arbitrary<SurrogateCase> SmoothCases(Discretisation scheme) => Arb.From(
        from c in GradientCase.AnyKind().Generator
        from loss in Gen.Elements(SmoothLosses)
        from reg in Gen.Elements(false, true)
        from beta in Gen.Elements(1.0, 2.0, 5.0)
        from dt in Gen.Elements(0.5, 1.0)
        select new SurrogateCase(c, scheme, loss, reg, beta, dt));

    internal static SpikeCountRegularization Regulariser => new(LowerStrength: 0.3, LowerTarget: 2, UpperStrength: 0.05, UpperTarget: 0.5, UpperExponent: 2);

    /// <summary>The smooth-forward check mode: sigmoid forward spike, its exact derivative as the surrogate, a
    /// differentiable reset, double precision, one thread (and the case's scheme and regulariser).</summary>
    internal static SurrogateOptions SmoothOptions(SurrogateCase sc) => new()
    {
        Surrogate = SurrogateFn.SigmoidDerivative(sc.Beta, height: sc.Beta),
        ForwardSpike = ForwardSpike.Sigmoid,
        Reset = ResetGradient.Differentiable,
        Discretisation = sc.Scheme,
        DoublePrecision = true,
        Regularization = sc.Regularised ? Regulariser : null,
        Threads = 1,
    };

    /// <summary>
    /// Runs <see cref="CheckSmooth"/> as a property over <paramref name="cases"/> generated cases (CI's fixed replay seed),
    /// reports the counts under <paramref name="label"/>, and fails if more than 2 % of the comparisons were skipped.
    /// </summary>
    internal static void AssertSmoothProperty(Arbitrary<SurrogateCase> generator, int cases, string label, ITestOutputHelper output)
    {
        int compared = 0, skipped = 0, evaluated = 0;
        var property = Prop.ForAll(generator, sc =>
        {
            var (c, k, failure) = CheckSmooth(sc);
            Interlocked.Add(ref compared, c);
            Interlocked.Add(ref skipped, k);
            Interlocked.Increment(ref evaluated);
            return (failure is null).Label(failure ?? "passed");
        });
        var config = Config.QuickThrowOnFailure.WithMaxTest(cases).WithReplay(GradientProperties.Seed, 0x5DEECE66DUL);
        try
        {
            Check.One(config, property);
        }
        finally
        {
            output.WriteLine($"{label}: {evaluated} cases, {compared} gradients compared, {skipped} skipped (non-smooth within ±h)");
        }
        Assert.True(skipped <= 0.02 * (compared + skipped), $"{skipped} of {compared + skipped} comparisons were skipped");
    }

    /// <summary>
    /// The smooth-forward check of one case (see <see cref="SmoothForwardGradientsMatchFiniteDifferences"/>): every weight and
    /// time constant's BPTT gradient against Richardson-extrapolated central differences of the engine's own loss,
    /// |g − fd| ≤ 1e-5·|fd| + 1e-7. Returns the comparisons made, those skipped because the two step sizes disagree (the
    /// loss is not smooth within ±h there), and the first failure (null if none). <paramref name="fault"/> injects a
    /// deliberate backward-pass error into the engine whose gradient is checked (the losses always come from a correct one).
    /// </summary>
    internal static (int Compared, int Skipped, string? Failure) CheckSmooth(SurrogateCase sc, SurrogateFault fault = SurrogateFault.None)
    {
        var (net, sample) = sc.Case.Build();
        var options = SmoothOptions(sc);
        var engine = new SurrogateEngine(sc.Dt, sc.Case.Duration, options);
        var loss = Loss.FromName(sc.LossName);
        var gradientEngine = fault == SurrogateFault.None ? engine : new SurrogateEngine(sc.Dt, sc.Case.Duration, options) { Fault = fault };
        var grad = gradientEngine.Gradient(net, [sample], loss).Gradient;
        double L(Network n) => engine.Evaluate(n, [sample], loss).Loss;
        var probe = net.Clone();
        string? failure = null;
        int compared = 0, skipped = 0;
        foreach (var p in probe.Parameters)
        {
            for (int i = 0; i < p.Length; i++)
            {
                double x = p.Values[i], h = 1e-5 * Math.Max(1, Math.Abs(x));
                double D(double step)
                {
                    p.Values[i] = x + step;
                    double up = L(probe);
                    p.Values[i] = x - step;
                    double down = L(probe);
                    p.Values[i] = x;
                    return (up - down) / (2 * step);
                }
                double d1 = D(h), d2 = D(h / 2);
                double fd = (4 * d2 - d1) / 3;
                double tol = 1e-5 * Math.Abs(fd) + 1e-7;
                if (Math.Abs(d1 - d2) > tol)
                {
                    skipped++;
                    continue;
                }
                compared++;
                double g = grad[p.Name].Values[i];
                if (Math.Abs(g - fd) > tol)
                    failure ??= $"{p.Name}[{i}]: BPTT {g:E6}, finite differences {fd:E6}";
            }
        }
        return (compared, skipped, failure);
    }

    /// <summary>
    /// (a) Gradients of every weight and time constant equal central finite differences of the engine's own loss
    /// (Richardson-extrapolated, double precision): |g − fd| ≤ 1e-5·|fd| + 1e-7. The smooth network is C∞, so the
    /// difference quotient's error is far below that (h = 1e-5·max(1, |θ|): truncation O(h⁴) after extrapolation,
    /// rounding ~1e-16/h ≈ 1e-11); comparisons where the two step sizes disagree with each other (the <c>max</c> loss's
    /// argmax over the grid switching within ±h) are skipped and counted. β ≤ 5 here: with a steeper sigmoid the strongly
    /// recurrent cases become so ill-conditioned that double-precision rounding, amplified through the dynamics, spoils the
    /// finite differences themselves (they stop converging in h); the hard-threshold check below covers β = 10.
    /// </summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator, 60)]
    [InlineData(Discretisation.ZenkeVogels, 60)]
    public void SmoothForwardGradientsMatchFiniteDifferences(Discretisation scheme, int cases) =>
        AssertSmoothProperty(SmoothCases(scheme), cases, scheme.ToString(), output);

    private static Arbitrary<SurrogateCase> HardCases(Discretisation scheme) => Arb.From(
        from kind in Gen.Elements(CaseKind.FeedForward, CaseKind.Recurrent, CaseKind.RecurrentDriven)
        from c in GradientCase.Arbitrary(kind).Generator
        from loss in Gen.Elements("sum", "max")
        from reg in Gen.Elements(false, true)
        from beta in Gen.Elements(1.0, 5.0, 10.0)
        from dt in Gen.Elements(0.5, 1.0)
        from reset in Gen.Elements(ResetGradient.Detached, ResetGradient.Differentiable)
        from recurrent in Gen.Elements(true, false)
        from shape in Gen.Elements("superspike", "esser")
        select new SurrogateCase(c, scheme, loss, reg, beta, dt, reset, recurrent, shape));

    /// <summary>
    /// (b) With the hard threshold, every gradient entry equals the plain-loop reference's within 1e-9 of the largest entry
    /// of its parameter (both double precision; they differ only in summation order). Cases where some thresholded
    /// voltage lies within 1e-9 of ϑ (where summation order could flip a spike), or where some τm is within 1 % of τs (where the
    /// reference's plain closed forms cancel), are skipped and counted.
    /// </summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator, 150)]
    [InlineData(Discretisation.ZenkeVogels, 150)]
    public void HardThresholdGradientsMatchReference(Discretisation scheme, int cases)
    {
        int evaluated = 0, skipped = 0, withSpikes = 0;
        var property = Prop.ForAll(HardCases(scheme), sc =>
        {
            var (net, sample) = sc.Case.Build();
            // The reference writes τs/(τm − τs)(e^{−dt/τm} − e^{−dt/τs}) plainly, which cancels when τm ≈ τs.
            if (net.Populations.Where(p => p.HasDynamics).Any(p => Enumerable.Range(0, p.Size).Any(i =>
                    Math.Abs(net.TauMem(p.Name).Values[i] - net.TauSyn(p.Name).Values[i]) < 1e-2 * net.TauMem(p.Name).Values[i])))
            {
                Interlocked.Increment(ref skipped);
                return true.Label("skipped: τm ≈ τs");
            }
            var reference = new ReferenceBptt
            {
                Exact = scheme == Discretisation.ExactPropagator,
                DifferentiableReset = sc.Reset == ResetGradient.Differentiable,
                Recurrent = sc.Recurrent,
                Shape = sc.Shape,
                Beta = sc.Beta,
                Loss = sc.LossName,
                LowerStrength = sc.Regularised ? Regulariser.LowerStrength : 0,
                LowerTarget = Regulariser.LowerTarget,
                UpperStrength = sc.Regularised ? Regulariser.UpperStrength : 0,
                UpperTarget = Regulariser.UpperTarget,
                UpperExponent = Regulariser.UpperExponent,
            };
            var (refLoss, refGrad) = reference.Run(net, sample, sc.Dt, sc.Case.Duration);
            if (reference.Margin < 1e-9)
            {
                Interlocked.Increment(ref skipped);
                return true.Label("skipped: knife-edge threshold");
            }
            var options = new SurrogateOptions
            {
                Surrogate = SurrogateFn.FromName(sc.Shape, sc.Beta),
                Discretisation = scheme,
                Reset = sc.Reset,
                RecurrentGradient = sc.Recurrent,
                DoublePrecision = true,
                Regularization = sc.Regularised ? Regulariser : null,
                Threads = 1,
            };
            var result = new SurrogateEngine(sc.Dt, sc.Case.Duration, options).Gradient(net, [sample], Loss.FromName(sc.LossName));
            Interlocked.Increment(ref evaluated);
            if (result.HiddenSpikeCounts.Values.Any(c => c.Sum() > 0)) Interlocked.Increment(ref withSpikes);
            if (Math.Abs(result.Loss - refLoss) > 1e-10 * Math.Max(1, Math.Abs(refLoss)))
                return false.Label($"loss {result.Loss:R} vs reference {refLoss:R}");
            foreach (var p in result.Gradient)
            {
                var expected = refGrad[p.Name];
                double scale = expected.Max(Math.Abs);
                for (int i = 0; i < p.Length; i++)
                    if (Math.Abs(p.Values[i] - expected[i]) > 1e-9 * scale + 1e-14)
                        return false.Label($"{p.Name}[{i}]: engine {p.Values[i]:E10}, reference {expected[i]:E10}");
            }
            return true.Label("passed");
        });
        var config = Config.QuickThrowOnFailure.WithMaxTest(cases).WithReplay(GradientProperties.Seed, 0x2545F4914F6CDD1DUL);
        try
        {
            Check.One(config, property);
        }
        finally
        {
            output.WriteLine($"{scheme}: {evaluated} cases compared ({withSpikes} with hidden spikes), {skipped} skipped (knife-edge or τm ≈ τs)");
        }
        Assert.True(skipped <= 0.1 * cases, $"{skipped} of {cases} cases skipped");
        Assert.True(withSpikes >= 0.7 * evaluated, $"only {withSpikes} of {evaluated} cases had hidden spikes");
    }

    /// <summary>The float32 engine agrees with the double one (same spikes: gradients within 1e-3 in norm).</summary>
    [Fact]
    public void SinglePrecisionAgreesWithDouble()
    {
        int compared = 0;
        foreach (var c in GradientCase.Sample(CaseKind.Recurrent, 12, seed: 11))
        {
            var (net, sample) = c.Build();
            foreach (var scheme in new[] { Discretisation.ExactPropagator, Discretisation.ZenkeVogels })
            {
                var o = new SurrogateOptions { Discretisation = scheme, Threads = 1 };
                var single = new SurrogateEngine(1, c.Duration, o).Gradient(net, [sample], Loss.Sum());
                var dbl = new SurrogateEngine(1, c.Duration, o with { DoublePrecision = true }).Gradient(net, [sample], Loss.Sum());
                if (!single.HiddenSpikeCounts.All(kv => kv.Value.SequenceEqual(dbl.HiddenSpikeCounts[kv.Key]))) continue;
                compared++;
                Assert.Equal(dbl.Loss, single.Loss, 1e-4);
                double err = Stepped.SteppedTestCases.RelativeError(single.Gradient, dbl.Gradient);
                Assert.True(err < 1e-3, $"{c}, {scheme}: relative error {err:E2}");
            }
        }
        Assert.True(compared >= 18, $"only {compared} cases had identical spikes");
    }

    /// <summary>The exact-propagator forward pass is the stepped engine's: same hidden spike counts and loss values.</summary>
    [Fact]
    public void ExactPropagatorForwardMatchesSteppedEngine()
    {
        int same = 0, total = 0;
        foreach (var kind in new[] { CaseKind.FeedForward, CaseKind.Recurrent })
            foreach (var c in GradientCase.Sample(kind, 10, seed: 5))
            {
                var (net, sample) = c.Build();
                foreach (var loss in new[] { Loss.Sum(), Loss.Max(), Loss.Entropy() })
                {
                    total++;
                    var stepped = new SteppedEngine(1, c.Duration, threads: 1).Evaluate(net, [sample], loss);
                    var bptt = new SurrogateEngine(1, c.Duration, new SurrogateOptions { Threads = 1 }).Evaluate(net, [sample], loss);
                    if (!stepped.HiddenSpikeCounts.All(kv => kv.Value.SequenceEqual(bptt.HiddenSpikeCounts[kv.Key]))) continue;
                    same++;
                    Assert.Equal(stepped.Loss, bptt.Loss, 1e-4 * Math.Max(1, Math.Abs(stepped.Loss)));
                }
            }
        Assert.True(same >= 0.9 * total, $"spike counts differed in {total - same} of {total} cases");
    }

    /// <summary>Switching the recurrent gradient off changes nothing without recurrence and something with it.</summary>
    [Fact]
    public void RecurrentGradientSwitch()
    {
        var ffCase = GradientCase.Sample(CaseKind.FeedForward, 1, seed: 3)[0];
        var ff = ffCase.Build();
        var on = new SurrogateOptions { Threads = 1, DoublePrecision = true };
        var off = on with { RecurrentGradient = false };
        Assert.Equal(0, Stepped.SteppedTestCases.RelativeError(
            new SurrogateEngine(1, ffCase.Duration, off).Gradient(ff.Network, [ff.Sample], Loss.Sum()).Gradient,
            new SurrogateEngine(1, ffCase.Duration, on).Gradient(ff.Network, [ff.Sample], Loss.Sum()).Gradient));
        var rec = new GradientCase(CaseKind.RecurrentDriven, 7, 4, [6], [true], 3, 40, 40).Build();
        var gOn = new SurrogateEngine(1, 40, on).Gradient(rec.Network, [rec.Sample], Loss.Sum()).Gradient;
        var gOff = new SurrogateEngine(1, 40, off).Gradient(rec.Network, [rec.Sample], Loss.Sum()).Gradient;
        Assert.True(Stepped.SteppedTestCases.RelativeError(gOff, gOn) > 1e-6);
    }

    /// <summary>Runs with the same settings are bit-identical; a batch gradient is the mean of the trials'.</summary>
    [Fact]
    public void DeterministicAndBatchMean()
    {
        var cases = GradientCase.Sample(CaseKind.Recurrent, 4, seed: 21).Select(c => c with { Duration = 40, Readout = 3, Inputs = 4 }).ToArray();
        var (net, _) = cases[0].Build();
        var samples = cases.Select(c => c.Build().Sample).ToArray();
        var engine = new SurrogateEngine(1, 40, new SurrogateOptions { Threads = 3, DoublePrecision = true });
        var a = engine.Gradient(net, samples, Loss.Sum());
        var b = engine.Gradient(net, samples, Loss.Sum());
        Assert.Equal(a.Loss, b.Loss);
        foreach (var p in a.Gradient) Assert.Equal(p.Values, b.Gradient[p.Name].Values);
        var mean = net.Parameters.ZerosLike();
        foreach (var s in samples) mean.AddScaled(engine.Gradient(net, [s], Loss.Sum()).Gradient, 1.0 / samples.Length);
        Assert.True(Stepped.SteppedTestCases.RelativeError(a.Gradient, mean) < 1e-12);
    }
}
