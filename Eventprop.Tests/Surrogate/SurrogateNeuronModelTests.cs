using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// The surrogate engine on the neuron models other than wave 1's LIF (integrate-and-fire, subtractive reset, per-population
/// thresholds and resets, 3–4 hidden layers) and on sparse connectivity: the smooth-forward finite-difference property, fault injections that prove
/// it bites, and the forward model checked against hand-computed steps.
/// </summary>
public class SurrogateNeuronModelTests(ITestOutputHelper output)
{
    private static readonly CaseKind[] ModelKinds = [CaseKind.IntegrateAndFire, CaseKind.SubtractiveReset, CaseKind.ThresholdsAndResets, CaseKind.Deep, CaseKind.Sparse];

    private static Arbitrary<SurrogateCase> ModelCases(Discretisation scheme) => Arb.From(
        from kind in Gen.Elements(ModelKinds)
        from c in GradientCase.Arbitrary(kind).Generator
        from loss in Gen.Elements("sum", "sum_exp", "max", "entropy")
        from reg in Gen.Elements(false, true)
        from beta in Gen.Elements(1.0, 2.0, 5.0)
        from dt in Gen.Elements(0.5, 1.0)
        select new SurrogateCase(c, scheme, loss, reg, beta, dt));

    /// <summary>
    /// The smooth-forward property of <see cref="SurrogateGradientTests.SmoothForwardGradientsMatchFiniteDifferences"/>
    /// (same tolerance, same skip rule) on the other neuron models: with S = s(β(U − ϑ)) and the reset weighted by S, the
    /// network is smooth, so BPTT with the exact sigmoid derivative is its exact gradient.
    /// </summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator, 40)]
    [InlineData(Discretisation.ZenkeVogels, 40)]
    public void SmoothForwardGradientsOfOtherModelsMatchFiniteDifferences(Discretisation scheme, int cases) =>
        SurrogateGradientTests.AssertSmoothProperty(ModelCases(scheme), cases, scheme.ToString(), output);

    /// <summary>
    /// A fault can only be caught where it changes the gradient; the claim: every case where the faulty gradient differs
    /// from the correct one fails the smooth check, and such cases are the majority.
    /// </summary>
    private void AssertFaultIsCaught(CaseKind kind, SurrogateFault fault, int cases)
    {
        int visible = 0, caught = 0;
        var missed = new List<string>();
        foreach (var c in GradientCase.Sample(kind, cases, seed: 42))
        {
            var sc = new SurrogateCase(c, Discretisation.ExactPropagator, "sum", Regularised: false, Beta: 2.0, Dt: 0.5);
            var (_, _, right) = SurrogateGradientTests.CheckSmooth(sc);
            Assert.Null(right); // the correct engine passes on the same case
            var (compared, _, wrong) = SurrogateGradientTests.CheckSmooth(sc, fault);
            if (compared == 0) continue;
            if (!FaultChangesGradient(sc, fault)) continue;
            visible++;
            if (wrong is not null) caught++;
            else missed.Add(c.ToString());
        }
        output.WriteLine($"{fault} on {kind}: the fault changed the gradient in {visible} of {cases} cases; the check caught {caught}");
        Assert.Empty(missed);
        Assert.True(visible >= cases / 2, $"the fault changed the gradient in only {visible} of {cases} cases");
    }

    internal static bool FaultChangesGradient(SurrogateCase sc, SurrogateFault fault)
    {
        var (net, sample) = sc.Case.Build();
        var options = SurrogateGradientTests.SmoothOptions(sc);
        var right = new SurrogateEngine(sc.Dt, sc.Case.Duration, options).Gradient(net, [sample], Loss.Sum()).Gradient;
        var wrong = new SurrogateEngine(sc.Dt, sc.Case.Duration, options) { Fault = fault }.Gradient(net, [sample], Loss.Sum()).Gradient;
        return right.Zip(wrong).Any(pw => pw.First.Values.Zip(pw.Second.Values)
            .Any(v => Math.Abs(v.First - v.Second) > 1e-9 && Math.Abs(v.First - v.Second) > 1e-5 * Math.Abs(v.First)));
    }

    [Fact]
    public void TreatingASubtractiveResetAsAResetToValueFailsTheCheck() =>
        AssertFaultIsCaught(CaseKind.SubtractiveReset, SurrogateFault.ResetModeIgnored, 20);

    [Fact]
    public void TheSurrogateAtTheWaveOneThresholdFailsTheCheck() =>
        AssertFaultIsCaught(CaseKind.ThresholdsAndResets, SurrogateFault.ThresholdIgnored, 20);

    /// <summary>
    /// One integrate-and-fire neuron (τm = 4, τs = 2, ϑ = 0.5, V_r = 0.1), hard threshold, one input spike of weight 6 at
    /// t = 0, Zenke–Vogels scheme with dt = 1: the engine's spike count equals that of the scheme's recursion written out by
    /// hand, for both reset modes.
    /// </summary>
    [Theory]
    [InlineData(ResetMode.Subtract)]
    [InlineData(ResetMode.ToValue)]
    public void IntegrateAndFireSpikeCountsMatchAHandWrittenRecursion(ResetMode mode)
    {
        const double tauMem = 4, tauSyn = 2, theta = 0.5, reset = 0.1, w = 6, duration = 40;
        var net = Network.Create()
            .Input("in", 1)
            .IntegrateAndFire("h", 1, tauMem: tauMem, tauSyn: tauSyn, threshold: theta, reset: reset, resetMode: mode)
            .Readout("out", 2)
            .Connect("in", "h", Init.Constant(w))
            .Connect("h", "out", Init.Constant(0.5))
            .Build();
        var sample = new SpikeSample([0.0], [0], label: 0);
        var engine = new SurrogateEngine(1.0, duration, new SurrogateOptions { Discretisation = Discretisation.ZenkeVogels, DoublePrecision = true, Threads = 1 });
        long engineSpikes = engine.Evaluate(net, [sample], Loss.Sum()).HiddenSpikeCounts["h"][0];

        // Zenke–Vogels (eq. 4.1): S_k = Θ(U_k − ϑ); U_{k+1} = U_k + (dt/τm) I_k, reset by S_k; I_{k+1} = β_s I_k + inputs of bin k.
        double u = 0, i = 0, decay = Math.Exp(-1.0 / tauSyn);
        int expected = 0;
        for (int k = 0; k < (int)duration; k++)
        {
            bool spike = u >= theta;
            double next = u + i / tauMem;
            if (spike)
            {
                expected++;
                next = mode == ResetMode.Subtract ? next - (theta - reset) : reset;
            }
            i = decay * i + (k == 0 ? w : 0);
            u = next;
        }
        Assert.True(expected >= 3, $"the hand recursion gives only {expected} spikes; choose stronger input");
        Assert.Equal(expected, engineSpikes);
    }

    [Fact]
    public void MisindexedSparseTransportFailsTheCheck() =>
        AssertFaultIsCaught(CaseKind.Sparse, SurrogateFault.SparseTransportMisindexed, 20);

    /// <summary>A sparse mask with every synapse present gives the dense connection's loss and gradient bit for bit.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFullSparseMaskEqualsDense(bool smooth)
    {
        var all = new bool[4, 3];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++) all[i, j] = true;
        var weights = new double[,] { { 3.6, -0.8, 2.8 }, { 1.6, 4.4, -1.2 }, { 3.2, 2.4, 2.0 }, { -0.4, 1.2, 4.8 } };
        var recurrent = new double[,] { { 0, 0.3, -0.2 }, { 0.1, 0, 0.4 }, { -0.3, 0.2, 0 } };
        Network Build(bool sparse)
        {
            var b = Network.Create().Input("in", 4).Lif("h", 3, tauMem: 10, tauSyn: 5, threshold: 0.8, reset: 0.1, resetMode: ResetMode.Subtract).Readout("out", 2);
            b = sparse ? b.Connect("in", "h", Init.Values(weights), SparseConnectivity.FromMask(all)) : b.Connect("in", "h", Init.Values(weights));
            return b.Connect("h", "h", Init.Values(recurrent)).Connect("h", "out", Init.Values(new double[,] { { 0.5, -0.4 }, { 0.3, 0.6 }, { -0.2, 0.7 } })).Build();
        }
        var sample = new SpikeSample([1.0, 2.5, 3.0, 6.0, 9.5], [0, 2, 1, 3, 0], label: 1);
        var options = new SurrogateOptions
        {
            ForwardSpike = smooth ? ForwardSpike.Sigmoid : ForwardSpike.Heaviside,
            Reset = ResetGradient.Differentiable,
            DoublePrecision = true,
            Threads = 1,
        };
        var engine = new SurrogateEngine(0.5, 30, options);
        var dense = engine.Gradient(Build(false), [sample], Loss.Sum());
        var sparse = engine.Gradient(Build(true), [sample], Loss.Sum());
        Assert.True(dense.HiddenSpikeCounts["h"].Sum() > 0, "the test network should spike");
        Assert.Equal(dense.Loss, sparse.Loss);
        foreach (var p in dense.Gradient)
            Assert.Equal(p.Values, sparse.Gradient[p.Name].Values);
    }
}
