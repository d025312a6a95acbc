using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Readout;

/// <summary>
/// The non-leaky integrator readout (τm V̇ = I, seed 004 §2.1) in the exact engine: finite-difference properties of every
/// parameter (weights, τ_syn and the not-trainable τ_mem) with the <c>last_voltage</c> loss and with the voltage losses of
/// the leaky readout, fault injections that prove they bite, and V(T) against the hand-computed closed form.
/// </summary>
public class NonLeakyIntegratorTests(ITestOutputHelper output)
{
    internal static Arbitrary<GradientCase> WithIntegrator(Arbitrary<GradientCase> cases) =>
        Arb.From(cases.Generator.Select(c => c with { IntegratorReadout = true }), c => GradientCase.Shrink(c).Select(s => s with { IntegratorReadout = true }));

    /// <summary>Runs the FD property on <paramref name="cases"/> cases; prints cases, discards and the worst errors.</summary>
    internal static void RunProperty(ITestOutputHelper output, string name, Arbitrary<GradientCase> arbitrary, ILoss loss, int cases)
    {
        var stats = new PropertyStatistics();
        double worstRelative = 0, worstAbsolute = 0;
        var gate = new object();
        var property = Prop.ForAll(arbitrary, c =>
        {
            var (network, sample) = c.Build();
            var report = GradientCheck.Run(new ExactEngine(c.Duration), network, sample, loss);
            stats.Add(report, c.Hidden.Sum());
            if (report.Outcome == GradientCheckOutcome.Passed)
                lock (gate)
                    foreach (var (_, rel, abs) in report.ByParameter())
                    {
                        if (abs > 1e-9) worstRelative = Math.Max(worstRelative, rel); // relative error is meaningful above the absolute floor
                        worstAbsolute = Math.Max(worstAbsolute, abs);
                    }
            return (report.Outcome != GradientCheckOutcome.Failed).Label(report.Detail ?? "passed");
        });
        try
        {
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(cases).WithReplay(GradientProperties.Seed, 0x9E3779B97F4A7C15UL), property);
        }
        finally
        {
            output.WriteLine($"seed {GradientProperties.Seed}: " + stats.Summary(name) + $"; worst relative error {worstRelative:E2} (where |error| > 1e-9), worst absolute {worstAbsolute:E2}");
        }
        Assert.True(stats.Evaluated >= 0.9 * cases, $"only {stats.Evaluated} of {cases} cases were evaluated: {stats.Summary(name)}");
    }

    [Fact]
    public void LastVoltageOnTheIntegratorFeedForward() =>
        RunProperty(output, "last_voltage, integrator readout, feed-forward", WithIntegrator(GradientCase.Arbitrary(CaseKind.FeedForward)), Loss.LastVoltage(), 100);

    [Fact]
    public void LastVoltageOnTheIntegratorRecurrent() =>
        RunProperty(output, "last_voltage, integrator readout, recurrent", WithIntegrator(GradientCase.Arbitrary(CaseKind.Recurrent)), Loss.LastVoltage(), 100);

    [Fact]
    public void LastVoltageOnTheIntegratorAfterIntegrateAndFireLayers() =>
        RunProperty(output, "last_voltage, integrator readout, IF/LIF hidden", WithIntegrator(GradientCase.Arbitrary(CaseKind.IntegrateAndFire)), Loss.LastVoltage(), 60);

    [Fact]
    public void LastVoltageOnTheLeakyReadout() =>
        RunProperty(output, "last_voltage, li readout", GradientCase.AnyKind(false, 0.8, 1.3), Loss.LastVoltage(), 100);

    [Fact]
    public void SumOnTheIntegrator() =>
        RunProperty(output, "sum, integrator readout", WithIntegrator(GradientCase.AnyKind()), Loss.Sum(), 100);

    [Fact]
    public void SumExpOnTheIntegrator() =>
        RunProperty(output, "sum_exp, integrator readout", WithIntegrator(GradientCase.AnyKind()), Loss.SumExp(), 60);

    [Fact]
    public void MaxOnTheIntegrator() =>
        RunProperty(output, "max, integrator readout", WithIntegrator(GradientCase.AnyKind(false, 0.6, 1.3)), Loss.Max(), 60);

    [Fact]
    public void EntropyOnTheIntegrator() =>
        RunProperty(output, "entropy, integrator readout", WithIntegrator(GradientCase.AnyKind()), Loss.Entropy(), 30);

    // ------------------------------------------------------------------ faults

    /// <summary>
    /// A fault can only be caught where it changes the gradient; the claim: every case where the faulty gradient differs
    /// from the correct one fails the check, and such cases are the majority.
    /// </summary>
    private void AssertFaultIsCaught(string label, CaseKind kind, int cases, ILoss loss, ILoss? faultyLoss = null, AdjointFault fault = AdjointFault.None)
    {
        int visible = 0, caught = 0, discarded = 0;
        var missed = new List<string>();
        foreach (var c in GradientCase.Sample(kind, cases, seed: 42).Select(c => c with { IntegratorReadout = true }))
        {
            var (network, sample) = c.Build();
            var reference = new ExactEngine(c.Duration);
            var faulty = new ExactEngine(c.Duration) { Fault = fault };
            var gradientLoss = faultyLoss ?? loss;
            var report = GradientCheck.Run(faulty, reference, network, sample, gradientLoss); // its value is the true loss, its drive the fault
            if (report.Discarded)
            {
                discarded++;
                continue;
            }
            var right = reference.Gradient(network, sample, loss).Gradient;
            var wrong = faulty.Gradient(network, sample, gradientLoss).Gradient;
            bool differs = right.Zip(wrong).Any(pw => pw.First.Values.Zip(pw.Second.Values)
                .Any(v => Math.Abs(v.First - v.Second) > 1e-9 && Math.Abs(v.First - v.Second) > 1e-5 * Math.Abs(v.First)));
            if (!differs) continue;
            visible++;
            if (report.Outcome == GradientCheckOutcome.Failed) caught++;
            else missed.Add(c.ToString());
        }
        output.WriteLine($"{label} on {kind}: the fault changed the gradient in {visible} of {cases} cases ({discarded} discarded); the check caught {caught}");
        Assert.Empty(missed);
        Assert.True(visible >= cases / 2, $"the fault changed the gradient in only {visible} of {cases} cases");
    }

    [Fact]
    public void AReadoutAdjointDecayingAsIfLeakyFailsTheCheck() =>
        AssertFaultIsCaught("leaky readout adjoint", CaseKind.FeedForward, 30, Loss.LastVoltage(), fault: AdjointFault.LeakyAdjoint);

    [Fact]
    public void ATerminalImpulseWithTheWrongSignFailsTheCheck() =>
        AssertFaultIsCaught("terminal impulse sign flipped", CaseKind.Recurrent, 30, Loss.LastVoltage(), new FaultyLastVoltage(sign: -1, at: 1));

    [Fact]
    public void ATerminalImpulseAppliedAtNineTenthsOfTFailsTheCheck() =>
        AssertFaultIsCaught("terminal impulse at 0.9 T", CaseKind.Recurrent, 30, Loss.LastVoltage(), new FaultyLastVoltage(sign: 1, at: 0.9));

    [Fact]
    public void TheSumLossWithAReadoutAdjointDecayingAsIfLeakyFailsTheCheck() =>
        AssertFaultIsCaught("leaky readout adjoint, sum", CaseKind.FeedForward, 30, Loss.Sum(), fault: AdjointFault.LeakyAdjoint);

    [Theory]
    [InlineData("sum")]
    [InlineData("sum_exp")]
    public void TheLeakyParticularSolutionOfTheDriveOnTheIntegratorFailsTheCheck(string loss) =>
        // The drive's closed form of the leaky readout (−c/(1 + ρτm)·e^{−ρt}, relaxing at 1/τm) used on the integrator.
        AssertFaultIsCaught($"leaky particular solution, {loss}", CaseKind.Recurrent, 30, Loss.FromName(loss), fault: AdjointFault.LeakyReadoutDrive);

    /// <summary><c>last_voltage</c>'s value with a deliberately wrong drive (for fault injection only).</summary>
    private sealed class FaultyLastVoltage(double sign, double at) : ILoss
    {
        public string Name => "last_voltage";

        public ReadoutKind Readout => ReadoutKind.LeakyIntegrator;

        public LossEvaluation Evaluate(ReadoutTrace trace, int label)
        {
            var e = new LastVoltageLoss().Evaluate(trace, label);
            var drive = new AdjointDrive();
            foreach (var imp in e.Drive.Impulses) drive.AddImpulse(imp.Neuron, imp.Time * at, sign * imp.DLossdV);
            return new LossEvaluation(e.Value, e.Outputs, drive);
        }
    }

    // ------------------------------------------------------------------ closed forms and plumbing

    /// <summary>V(T) = Σ_spikes W·τs/τm·(1 − e^{−(T − t)/τs}), computed by hand, equals the engine's, for both readout neurons.</summary>
    [Fact]
    public void TheFinalVoltageIsTheHandComputedIntegralOfTheCurrent()
    {
        double tm = 7, ts = 3, T = 30;
        double[] times = [1.0, 4.5, 12.0, 29.0];
        // One hidden LIF neuron per input channel, driven hard enough to fire exactly once per input spike is not needed:
        // the readout is fed straight from hidden spikes, whose times the engine reports.
        var net = Network.Create().Input("in", 1).Lif("h", 2, tauMem: 10, tauSyn: 2)
            .Readout("out", NonLeakyIntegrator.Instance, [tm, tm * 2], [ts, ts / 2])
            .Connect("in", "h", Init.Values(new double[,] { { 6.0, 9.0 } }))
            .Connect("h", "out", Init.Values(new double[,] { { 0.7, -1.3 }, { 0.4, 2.1 } }))
            .Build();
        var sample = new SpikeSample(times, new int[times.Length], 0);
        var trial = new ExactEngine(T).Simulate(net, sample);
        Assert.True(trial.TotalSpikes >= 4, $"only {trial.TotalSpikes} hidden spikes");
        var w = new[,] { { 0.7, -1.3 }, { 0.4, 2.1 } };
        double[] tauMem = [tm, tm * 2], tauSyn = [ts, ts / 2];
        for (int k = 0; k < 2; k++)
        {
            double expected = 0, integral = 0;
            for (int h = 0; h < 2; h++)
                foreach (double t in trial.SpikeTimes("h", h))
                {
                    double s = T - t;
                    expected += w[h, k] * tauSyn[k] / tauMem[k] * (1 - Math.Exp(-s / tauSyn[k]));
                    // ∫₀ᵀ V dt = Σ W·τs/τm·(s − τs(1 − e^{−s/τs}))
                    integral += w[h, k] * tauSyn[k] / tauMem[k] * (s - tauSyn[k] * (1 - Math.Exp(-s / tauSyn[k])));
                }
            Assert.Equal(expected, trial.Readout.Voltage(k, T), 12);
            Assert.Equal(integral, trial.Readout.IntegrateVoltage(k), 11);
            var e = Loss.LastVoltage().Evaluate(trial.Readout, 0);
            Assert.Equal(expected, e.Outputs[k], 12);
        }
        // The leaky readout with the same weights gives a different V(T): the model is not silently the LI.
        var leaky = Network.Create().Input("in", 1).Lif("h", 2, tauMem: 10, tauSyn: 2).Readout("out", [tm, tm * 2], [ts, ts / 2])
            .Connect("in", "h", Init.Values(new double[,] { { 6.0, 9.0 } })).Connect("h", "out", Init.Values(w)).Build();
        Assert.NotEqual(trial.Readout.Voltage(0, T), new ExactEngine(T).Simulate(leaky, sample).Readout.Voltage(0, T), 6);
    }

    [Fact]
    public void TauMemOfTheIntegratorIsNotTrainableByDefaultAndTauSynIs()
    {
        Assert.Equal("integrator", NonLeakyIntegrator.Instance.Name);
        Assert.False(NonLeakyIntegrator.Instance.IsSpiking);
        Assert.Equal(0, NonLeakyIntegrator.Instance.Leak);
        Assert.False(NonLeakyIntegrator.Instance.Parameters.Single(p => p.Kind == ParameterKind.TauMem).Trainable);
        Assert.True(NonLeakyIntegrator.Instance.Parameters.Single(p => p.Kind == ParameterKind.TauSyn).Trainable);
        Assert.True(new NonLeakyIntegrator(trainTauMem: true).Parameters.Single(p => p.Kind == ParameterKind.TauMem).Trainable);
    }

    [Fact]
    public void TheTimeSteppedEventpropEngineRefusesTheIntegratorReadoutWithOneLine()
    {
        var (net, sample) = new GradientCase(CaseKind.FeedForward, 3, 3, [4], [false], 2, 20, 30) { IntegratorReadout = true }.Build();
        var e = Assert.Throws<ArgumentException>(() => new SteppedEngine(0.5, 30).Evaluate(net, [sample], Loss.LastVoltage()));
        Assert.Contains("integrator", e.Message);
        Assert.Contains("engine.kind = exact", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void NirExportRefusesTheIntegratorReadoutWithOneLine()
    {
        var (net, _) = new GradientCase(CaseKind.FeedForward, 3, 3, [4], [false], 2, 20, 30) { IntegratorReadout = true }.Build();
        using var dir = new Data.TempDirectory();
        var e = Assert.Throws<ArgumentException>(() => Core.Nir.NirExport.Write(net, dir.File("x.nir")));
        Assert.Contains("integrator readout", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
