using Eventprop.Core.Data;
using Eventprop.Core.Network;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Gradients;

/// <summary>The finite-difference check can fail: deliberately wrong adjoints are caught, and discards happen for their stated reasons.</summary>
public class GradientCheckTeethTests(ITestOutputHelper output)
{
    private (int Failed, int Evaluated) RunWithFault(CaseKind kind, AdjointFault fault, int cases)
    {
        var generated = Gen.Sample(GradientCase.Arbitrary(kind).Generator, cases, 50);
        int failed = 0, evaluated = 0;
        foreach (var c in generated.Take(cases))
        {
            var (network, sample) = c.Build();
            var reference = new ExactEngine(c.Duration);
            var faulty = new ExactEngine(c.Duration) { Fault = fault };
            var report = GradientCheck.Run(faulty, reference, network, sample, Loss.Sum());
            if (report.Discarded) continue;
            if (reference.Simulate(network, sample).TotalSpikes == 0) continue; // no spike, no jump: nothing to catch
            evaluated++;
            if (report.Outcome == GradientCheckOutcome.Failed) failed++;
        }
        output.WriteLine($"{fault} on {kind}: {failed} of {evaluated} evaluated cases failed");
        return (failed, evaluated);
    }

    [Fact]
    public void DroppingTheRecurrentTransportTermFailsTheCheck()
    {
        var (failed, evaluated) = RunWithFault(CaseKind.RecurrentDriven, AdjointFault.DropRecurrentTransportTerm, 40);
        Assert.True(evaluated >= 30, $"only {evaluated} cases evaluated");
        Assert.True(failed >= 0.9 * evaluated, $"the faulty adjoint passed {evaluated - failed} of {evaluated} cases");
    }

    [Fact]
    public void FlippingTheResetTermFailsTheCheck()
    {
        var (failed, evaluated) = RunWithFault(CaseKind.FeedForward, AdjointFault.FlipResetTerm, 40);
        Assert.True(evaluated >= 30, $"only {evaluated} cases evaluated");
        Assert.True(failed >= 0.9 * evaluated, $"the faulty adjoint passed {evaluated - failed} of {evaluated} cases");
    }

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
