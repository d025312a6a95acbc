using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;
using SurrogateFn = Eventprop.Core.Simulation.Surrogate.Surrogate;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// Batch norm of hidden input currents in the surrogate engine, on the smooth relaxation (sigmoid forward spike, its exact
/// derivative as the surrogate, differentiable reset, double precision): every gradient — γ, β, and the weights and τ's
/// upstream and downstream of the batch norm — against Richardson-extrapolated central differences of the engine's own
/// training loss (batch statistics), on batches of 3–4 trials; and a fault that drops the covariance term of the
/// batch-coupled backward, which the check must catch.
/// </summary>
public class BatchNormGradientTests(ITestOutputHelper output)
{
    internal static SurrogateOptions Smooth(Discretisation scheme, double beta, int threads = 1) => new()
    {
        Surrogate = SurrogateFn.SigmoidDerivative(beta, height: beta),
        ForwardSpike = ForwardSpike.Sigmoid,
        Reset = ResetGradient.Differentiable,
        Discretisation = scheme,
        DoublePrecision = true,
        Threads = threads,
    };

    /// <summary>
    /// The check of one case: every parameter except the running statistics (which the training loss does not read), the same
    /// tolerance as the engine's other smooth properties, |g − fd| ≤ 1e-5·|fd| + 1e-7, and comparisons skipped (counted) where
    /// the two step sizes disagree with each other. The loss is the training loss (<see cref="SurrogateEngine.Gradient(Network, IReadOnlyList{SpikeSample}, Core.Losses.ILoss, Core.Simulation.ActivityRegularization?)"/>'s),
    /// always from a correct engine.
    /// </summary>
    internal static (int Compared, int Skipped, string? Failure, double MaxBatchNormError) Check(BatchNormCase bc, Discretisation scheme, string lossName, double beta, double dt,
        SurrogateFault fault = SurrogateFault.None)
    {
        var (net, batch) = bc.Build();
        var options = Smooth(scheme, beta);
        var engine = new SurrogateEngine(dt, bc.Duration, options);
        var loss = Loss.FromName(lossName);
        var checkedEngine = fault == SurrogateFault.None ? engine : new SurrogateEngine(dt, bc.Duration, options) { Fault = fault };
        var grad = checkedEngine.Gradient(net, batch, loss).Gradient;
        double L(Network n) => engine.Gradient(n, batch, loss).Loss;
        var probe = net.Clone();
        string? failure = null;
        int compared = 0, skipped = 0;
        double maxBn = 0;
        foreach (var p in probe.Parameters)
        {
            if (p.Kind == ParameterKind.BatchNormRunningMean || p.Kind == ParameterKind.BatchNormRunningVariance) continue;
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
                if (p.Kind == ParameterKind.BatchNormScale || p.Kind == ParameterKind.BatchNormBias)
                    maxBn = Math.Max(maxBn, Math.Abs(g - fd) / (Math.Abs(fd) + 1e-7));
                if (Math.Abs(g - fd) > tol)
                    failure ??= $"{p.Name}[{i}]: BPTT {g:E6}, finite differences {fd:E6}";
            }
        }
        return (compared, skipped, failure, maxBn);
    }

    private sealed record Setting(BatchNormCase Case, string Loss, double Beta, double Dt)
    {
        public override string ToString() => $"{Case}, loss {Loss}, β {Beta}, dt {Dt}";
    }

    private static Arbitrary<Setting> Settings(bool conv) => Arb.From(
        from c in BatchNormCase.Arbitrary(conv).Generator
        from loss in Gen.Elements("sum", "sum_exp", "entropy")
        from beta in Gen.Elements(1.0, 2.0, 5.0)
        from dt in Gen.Elements(0.5, 1.0)
        select new Setting(c, loss, beta, dt));

    /// <summary>
    /// (a) Gradients of γ, β and every weight and τ of batch-normalised networks equal finite differences of the training
    /// loss, dense and convolutional (per-channel statistics over trials × steps × positions), both schemes.
    /// </summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator, false, 30)]
    [InlineData(Discretisation.ZenkeVogels, false, 30)]
    [InlineData(Discretisation.ExactPropagator, true, 12)]
    [InlineData(Discretisation.ZenkeVogels, true, 12)]
    public void BatchNormGradientsMatchFiniteDifferences(Discretisation scheme, bool conv, int cases)
    {
        int compared = 0, skipped = 0, evaluated = 0;
        double maxBn = 0;
        var property = Prop.ForAll(Settings(conv), s =>
        {
            var (c, k, failure, bn) = Check(s.Case, scheme, s.Loss, s.Beta, s.Dt);
            Interlocked.Add(ref compared, c);
            Interlocked.Add(ref skipped, k);
            Interlocked.Increment(ref evaluated);
            lock (output) maxBn = Math.Max(maxBn, bn);
            return (failure is null).Label(failure ?? "passed");
        });
        var config = Config.QuickThrowOnFailure.WithMaxTest(cases).WithReplay(GradientProperties.Seed, 0xB47C4E0A11UL);
        try
        {
            FsCheck.Check.One(config, property);
        }
        finally
        {
            output.WriteLine($"batch norm {(conv ? "conv" : "dense")} {scheme}: {evaluated} cases, {compared} gradients compared, {skipped} skipped (the two step sizes disagree), max relative error of γ/β {maxBn:E2}");
        }
        Assert.True(skipped <= 0.02 * (compared + skipped), $"{skipped} of {compared + skipped} comparisons were skipped");
    }

    /// <summary>(c) Dropping the −x̂·mean(dy·x̂) term of the batch-norm backward fails the check in every case it changes the gradient.</summary>
    [Fact]
    public void DroppingTheCovarianceTermFailsTheCheck()
    {
        int visible = 0, caught = 0;
        var missed = new List<string>();
        for (int seed = 1; seed <= 8; seed++)
        {
            var bc = new BatchNormCase(1000 + seed, Conv: seed % 4 == 0, Deep: seed % 2 == 0, SecondNormalised: seed % 3 != 0, Trials: 3);
            var (_, _, okFailure, _) = Check(bc, Discretisation.ExactPropagator, "sum_exp", 2.0, 1.0);
            Assert.Null(okFailure);
            var (compared, _, wrong, _) = Check(bc, Discretisation.ExactPropagator, "sum_exp", 2.0, 1.0, SurrogateFault.BatchNormCovarianceTermDropped);
            if (compared == 0) continue;
            visible++;
            if (wrong is not null) caught++;
            else missed.Add(bc.ToString());
        }
        output.WriteLine($"batch-norm covariance term dropped: {visible} cases, the check caught {caught}");
        Assert.Empty(missed);
        Assert.Equal(8, visible);
    }

    /// <summary>
    /// (b) With the hard threshold, the engine's loss and every gradient entry (weights, τ's, γ, β) equal the layer-major
    /// plain-loop <see cref="ReferenceBatchNormBptt"/>'s within 1e-9 of the largest entry of the parameter (both double;
    /// they differ only in summation order), on random dense LIF networks with one or two batch-normalised layers, batches
    /// of 3–5 trials, both schemes, both reset gradients. Cases with a thresholded voltage within 1e-9 of ϑ or τm within 1 %
    /// of τs are skipped and counted.
    /// </summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator)]
    [InlineData(Discretisation.ZenkeVogels)]
    public void HardThresholdGradientsMatchTheLayerMajorReference(Discretisation scheme)
    {
        int compared = 0, skipped = 0, withSpikes = 0;
        double maxError = 0;
        for (int seed = 1; seed <= 24; seed++)
        {
            var rng = new Random(seed * 7919);
            double[] Taus(int n, bool syn) => Enumerable.Range(0, n).Select(_ => syn ? 2 + 4 * rng.NextDouble() : 5 + 8 * rng.NextDouble()).ToArray();
            double[,] M(int r, int c, double std)
            {
                var m = new double[r, c];
                for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) m[i, j] = std * (2 * rng.NextDouble() - 1) + 0.3 * std;
                return m;
            }
            bool second = seed % 2 == 0;
            var builder = Network.Create(seed).Input("in", 5)
                .Lif("h0", Taus(4, false), Taus(4, true)).Lif("h1", Taus(3, false), Taus(3, true)).Readout("out", Taus(3, false), Taus(3, true))
                .Connect("in", "h0", Init.Values(M(5, 4, 1))).Connect("h0", "h1", Init.Values(M(4, 3, 2.5))).Connect("h1", "out", Init.Values(M(3, 3, 1.5)))
                .BatchNorm("h0");
            if (second) builder.BatchNorm("h1");
            var net = builder.Build();
            foreach (var p in net.Parameters)
            {
                if (p.Kind == ParameterKind.BatchNormScale) for (int i = 0; i < p.Length; i++) p.Values[i] = 0.8 + 0.8 * rng.NextDouble();
                if (p.Kind == ParameterKind.BatchNormBias) for (int i = 0; i < p.Length; i++) p.Values[i] = 0.5 + rng.NextDouble();
            }
            var batch = Enumerable.Range(0, 3 + seed % 3).Select(_ =>
            {
                int k = 8 + rng.Next(12);
                return new SpikeSample(Enumerable.Range(0, k).Select(_ => 8 * rng.NextDouble()).Order().ToArray(), Enumerable.Range(0, k).Select(_ => rng.Next(5)).ToArray(), rng.Next(3));
            }).ToArray();
            double dt = seed % 3 == 0 ? 0.5 : 1.0;
            bool differentiable = seed % 4 < 2;
            if (net.Populations.Where(p => p.HasDynamics).Any(p => net.TauMem(p.Name).Values.Zip(net.TauSyn(p.Name).Values).Any(t => Math.Abs(t.First - t.Second) < 0.01 * t.First)))
            {
                skipped++;
                continue;
            }
            var reference = new ReferenceBatchNormBptt { Exact = scheme == Discretisation.ExactPropagator, DifferentiableReset = differentiable, Beta = 5 };
            var (refLoss, refGrad) = reference.Run(net, batch, dt, 10);
            if (reference.Margin < 1e-9)
            {
                skipped++;
                continue;
            }
            var options = new SurrogateOptions
            {
                Surrogate = SurrogateFn.FromName("superspike", 5),
                Discretisation = scheme,
                Reset = differentiable ? ResetGradient.Differentiable : ResetGradient.Detached,
                DoublePrecision = true,
                Threads = 2,
            };
            var result = new SurrogateEngine(dt, 10, options).Gradient(net, batch, Loss.Sum());
            compared++;
            if (result.HiddenSpikeCounts.Values.All(c => c.Sum() > 0)) withSpikes++;
            Assert.True(Math.Abs(result.Loss - refLoss) <= 1e-10 * Math.Max(1, Math.Abs(refLoss)), $"seed {seed}: loss {result.Loss:R} vs reference {refLoss:R}");
            foreach (var p in result.Gradient)
            {
                var expected = refGrad[p.Name];
                double scale = expected.Max(Math.Abs);
                for (int i = 0; i < p.Length; i++)
                {
                    double e = Math.Abs(p.Values[i] - expected[i]);
                    maxError = Math.Max(maxError, scale > 0 ? e / scale : e);
                    Assert.True(e <= 1e-9 * scale + 1e-14, $"seed {seed}, {p.Name}[{i}]: engine {p.Values[i]:E10}, reference {expected[i]:E10}");
                }
            }
        }
        output.WriteLine($"batch norm vs layer-major reference, {scheme}: {compared} cases compared ({withSpikes} with spikes in every hidden layer), {skipped} skipped, max error {maxError:E2} of the parameter's largest entry");
        Assert.True(compared >= 20, $"only {compared} of 24 cases compared");
        Assert.True(withSpikes >= compared / 2, $"only {withSpikes} of {compared} cases had spikes in every hidden layer");
    }

    /// <summary>Gradient runs are bit-identical run to run for a fixed thread count (statistics reduced in order, in double), in float32 too.</summary>
    [Fact]
    public void GradientsAreBitIdenticalRunToRun()
    {
        var (net, batch) = new BatchNormCase(77, Conv: false, Deep: true, SecondNormalised: true, Trials: 7).Build();
        foreach (bool dbl in new[] { false, true })
        {
            var options = new SurrogateOptions { Threads = 3, DoublePrecision = dbl };
            var a = new SurrogateEngine(0.5, 8, options).Gradient(net, batch, Loss.SumExp());
            var b = new SurrogateEngine(0.5, 8, options).Gradient(net, batch, Loss.SumExp());
            Assert.Equal(a.Loss, b.Loss);
            for (int p = 0; p < a.Gradient.Count; p++) Assert.Equal(a.Gradient[p].Values, b.Gradient[p].Values);
            Assert.Equal(a.BatchNorm!["h0"].Mean, b.BatchNorm!["h0"].Mean);
            Assert.Equal(a.BatchNorm!["h1"].Variance, b.BatchNorm!["h1"].Variance);
        }
    }
}
