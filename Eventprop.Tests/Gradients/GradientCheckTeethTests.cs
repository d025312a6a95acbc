using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Gradients;

/// <summary>The finite-difference check can fail: deliberately wrong adjoints are caught, and discards happen for their stated reasons.</summary>
public class GradientCheckTeethTests(ITestOutputHelper output)
{
    /// <summary>
    /// Runs the check with a faulty adjoint. A fault can only be caught where it changes the gradient (e.g. flipping the
    /// reset term changes nothing at a neuron's last spike, where λ_V after the spike is still 0), so the claim is: every
    /// case where the faulty gradient differs from the correct one fails the check; and such cases are the majority.
    /// </summary>
    private void AssertFaultIsCaught(CaseKind kind, AdjointFault fault, int cases) =>
        AssertFaultIsCaught(kind.ToString(), GradientCase.Sample(kind, cases, seed: 42).Select(c => (c.ToString(), c.Duration, (Func<(Network, SpikeSample)>)c.Build)).ToArray(), fault);

    private void AssertFaultIsCaught(string kind, (string Description, double Duration, Func<(Network, SpikeSample)> Build)[] generated, AdjointFault fault)
    {
        int cases = generated.Length;
        int visible = 0, caught = 0, discarded = 0;
        var missed = new List<string>();
        foreach (var c in generated)
        {
            var (network, sample) = c.Build();
            var reference = new ExactEngine(c.Duration);
            var faulty = new ExactEngine(c.Duration) { Fault = fault };
            var report = GradientCheck.Run(faulty, reference, network, sample, Loss.Sum());
            if (report.Discarded)
            {
                discarded++;
                continue;
            }
            var right = reference.Gradient(network, sample, Loss.Sum()).Gradient;
            var wrong = faulty.Gradient(network, sample, Loss.Sum()).Gradient;
            bool differs = right.Zip(wrong).Any(pw => pw.First.Values.Zip(pw.Second.Values)
                .Any(v => Math.Abs(v.First - v.Second) > 1e-9 && Math.Abs(v.First - v.Second) > 1e-5 * Math.Abs(v.First)));
            if (!differs) continue;
            visible++;
            if (report.Outcome == GradientCheckOutcome.Failed) caught++;
            else missed.Add(c.Description);
        }
        output.WriteLine($"{fault} on {kind}: the fault changed the gradient in {visible} of {cases} cases ({discarded} discarded); the check caught {caught}");
        Assert.Empty(missed);
        Assert.True(visible >= cases / 2, $"the fault changed the gradient in only {visible} of {cases} cases");
    }

    [Fact]
    public void DroppingTheRecurrentTransportTermFailsTheCheck() =>
        AssertFaultIsCaught(CaseKind.RecurrentDriven, AdjointFault.DropRecurrentTransportTerm, 40);

    [Fact]
    public void FlippingTheResetTermFailsTheCheck() =>
        AssertFaultIsCaught(CaseKind.FeedForward, AdjointFault.FlipResetTerm, 40);

    [Fact]
    public void WaveOneResetTermOnOtherModelsFailsTheCheck() =>
        AssertFaultIsCaught(CaseKind.ThresholdsAndResets, AdjointFault.WaveOneResetTerm, 40);

    [Fact]
    public void LeakyAdjointOfIntegrateAndFireFailsTheCheck() =>
        AssertFaultIsCaught(CaseKind.IntegrateAndFire, AdjointFault.LeakyAdjoint, 40);

    [Fact]
    public void MisindexedSparseTransportFailsTheCheck() =>
        AssertFaultIsCaught(CaseKind.Sparse, AdjointFault.SparseTransportMisindexed, 40);

    [Fact]
    public void MirroredConvolutionTransportFailsTheCheck() =>
        AssertFaultIsCaught("Conv2d", ConvGradientCase.Sample(30, seed: 42).Select(c => (c.ToString(), c.Duration, (Func<(Network, SpikeSample)>)c.Build)).ToArray(),
            AdjointFault.ConvTransportMirrored);

    private void AssertDelayFaultIsCaught(CaseKind kind, DelayKind delays, AdjointFault fault) =>
        AssertFaultIsCaught($"{kind} with {delays} delays", GradientCase.Sample(kind, 40, seed: 42).Select(c => c with { Delays = delays })
            .Select(c => (c.ToString(), c.Duration, (Func<(Network, SpikeSample)>)c.Build)).ToArray(), fault);

    [Theory]
    [InlineData(DelayKind.Synaptic)]
    [InlineData(DelayKind.Axonal)]
    public void ADelayGradientWithoutTheWeightFailsTheCheck(DelayKind delays) =>
        AssertDelayFaultIsCaught(CaseKind.FeedForward, delays, AdjointFault.DelayGradientWithoutWeight);

    [Theory]
    [InlineData(CaseKind.Deep, DelayKind.Synaptic)]
    [InlineData(CaseKind.Recurrent, DelayKind.Axonal)]
    public void ATransportTermReadAtTheEmissionFailsTheCheck(CaseKind kind, DelayKind delays) =>
        AssertDelayFaultIsCaught(kind, delays, AdjointFault.DelayedTransportAtEmission);

    /// <summary>One neuron, one input spike of weight w: the peak of V is a known function of w, so w can put it just above or below ϑ.</summary>
    private static (Network Network, SpikeSample Sample) SingleNeuron(double w)
    {
        var net = Network.Create()
            .Input("in", 1)
            .Lif("h", 1, tauMem: 10, tauSyn: 5)
            .Readout("out", 2)
            .Connect("in", "h", Init.Constant(w))
            .Connect("h", "out", Init.Values(new double[,] { { 1.0, -1.0 } }))
            .Build();
        return (net, new SpikeSample([1.0], [0], label: 0));
    }

    /// <summary>w* such that the single neuron's V peaks exactly at ϑ (peak V ∝ w).</summary>
    private static double CriticalWeight()
    {
        // τm = 10, τs = 5: V(s) = w·(τs/(τm − τs))(e^{−s/τm} − e^{−s/τs}) peaks at s* = ln(τm/τs)·τmτs/(τm − τs).
        double tm = 10, ts = 5, s = Math.Log(tm / ts) * tm * ts / (tm - ts);
        double peakPerWeight = ts / (tm - ts) * (Math.Exp(-s / tm) - Math.Exp(-s / ts));
        return 1.0 / peakPerWeight;
    }

    [Fact]
    public void ASpikeThatGrazesTheThresholdIsDiscardedAsGrazing()
    {
        var (net, sample) = SingleNeuron(CriticalWeight() * (1 + 1e-9));
        var trial = new ExactEngine(40).Simulate(net, sample);
        Assert.Equal(1, trial.TotalSpikes);
        var report = GradientCheck.Run(new ExactEngine(40), net, sample, Loss.Sum());
        Assert.Equal(GradientCheckOutcome.DiscardedGrazingSpike, report.Outcome);
        Assert.Contains("τ_mem·V̇", report.Detail);
    }

    [Fact]
    public void APeakJustBelowThresholdIsDiscardedBecauseTheSpikeCountChanges()
    {
        var (net, sample) = SingleNeuron(CriticalWeight() * (1 - 1e-8));
        Assert.Equal(0, new ExactEngine(40).Simulate(net, sample).TotalSpikes);
        var report = GradientCheck.Run(new ExactEngine(40), net, sample, Loss.Sum(), new GradientCheckOptions { Step = 1e-6 });
        Assert.Equal(GradientCheckOutcome.DiscardedSpikeCountChanged, report.Outcome);
        Assert.Contains("in->h[0]", report.Detail);
    }
}
