using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Stepped;

/// <summary>
/// The step face of the neuron models in the CPU time-stepped engine: integrate-and-fire, per-population thresholds and
/// reset values, and subtractive reset converge to the exact engine's gradients as dt → 0, and the two reset modes differ
/// on a grid (subtraction keeps the overshoot).
/// </summary>
public class SteppedNeuronModelTests(ITestOutputHelper output)
{
    private static readonly double[] Steps = [1.0, 0.1, 0.01];

    public static TheoryData<string, CaseKind> ModelFamilies
    {
        get
        {
            var data = new TheoryData<string, CaseKind>();
            foreach (var kind in new[] { CaseKind.IntegrateAndFire, CaseKind.SubtractiveReset, CaseKind.ThresholdsAndResets })
                foreach (var loss in new[] { "sum", "sum_exp" })
                    data.Add(loss, kind);
            return data;
        }
    }

    /// <summary>Same checks as <see cref="SteppedConvergenceTests"/>: the error shrinks with dt and is ≤ 2 % at 0.01 ms, per kind too.</summary>
    [Theory]
    [MemberData(nameof(ModelFamilies))]
    public void Gradients_converge_to_the_exact_ones(string lossName, CaseKind kind)
    {
        var loss = Loss.FromName(lossName);
        var cases = SteppedTestCases.ModelCases(kind, 2);
        Assert.Equal(2, cases.Count);
        foreach (var (c, net, sample) in cases)
        {
            CheckConvergence(net, sample, loss, c.Duration, $"{lossName} {c}");
        }
    }

    /// <summary>Three hidden layers with mixed models, thresholds, resets and reset modes.</summary>
    [Fact]
    public void Deep_networks_with_mixed_models_converge()
    {
        int found = 0;
        for (int seed = 1; found < 2 && seed < 300; seed++)
        {
            var c = new GradientCase(CaseKind.Deep, seed, Inputs: 4, Hidden: [5, 5, 4], Recurrent: [false, true, false], Readout: 3,
                InputSpikes: 30, Duration: 40);
            var (net, sample) = c.Build();
            if (!SteppedTestCases.WellConditioned(net, sample, c.Duration)) continue;
            var exact = new ExactEngine(c.Duration).Gradient(net, [sample], Loss.Sum());
            // Every layer must spike, or the deep part compares nothing.
            if (net.Hidden.Any(p => exact.Trials[0].SpikeCounts(p.Name).Sum() == 0)) continue;
            found++;
            CheckConvergence(net, sample, Loss.Sum(), c.Duration, $"deep {c}");
        }
        Assert.Equal(2, found);
    }

    private void CheckConvergence(Network net, SpikeSample sample, ILoss loss, double duration, string label)
    {
        var exact = new ExactEngine(duration).Gradient(net, [sample], loss).Gradient;
        var errors = Steps.Select(dt =>
            SteppedTestCases.RelativeError(new SteppedEngine(dt, duration, threads: 1).Gradient(net, [sample], loss).Gradient, exact)).ToArray();
        output.WriteLine($"{label}: {string.Join(", ", errors.Select(e => e.ToString("E2")))}");
        Assert.True(errors[2] < errors[1] && errors[2] < errors[0], $"{label}: error did not shrink: {string.Join(", ", errors)}");
        Assert.True(errors[2] <= 0.02, $"{label}: error {errors[2]:E2} at dt = 0.01 ms exceeds 2 %");
        var fine = new SteppedEngine(0.01, duration, threads: 1).Gradient(net, [sample], loss).Gradient;
        foreach (var k in new[] { ParameterKind.Weight, ParameterKind.TauMem, ParameterKind.TauSyn })
        {
            double e = SteppedTestCases.RelativeError(fine, exact, p => p.Kind == k);
            Assert.True(e <= 0.02, $"{label}: {k} error {e:E2} at dt = 0.01 ms exceeds 2 %");
        }
    }

    /// <summary>
    /// One IF neuron (τm = 10, τs = 5 ms, ϑ = 1, V_r = 0) kicked by a single input spike of weight 10 at t = 0: without
    /// resets V(t) = 5(1 − e^{−t/5}), so on the 1 ms grid V_k = 0.906, 1.648, 2.256, 2.753, 3.161, 3.494, 3.767, 3.991, 4.174…
    /// Subtracting ϑ − V_r at each detected spike keeps the overshoot, so spikes come when V_k passes 1, 2, 3, 4: steps 2, 3,
    /// 5, 9. Resetting to 0 loses it: after the spike at step 2 (V = 1.648) the next needs V_k ≥ 2.648 (step 4), then ≥ 3.753
    /// (step 7), then ≥ 4.767 (step 16, after T = 12 ms).
    /// </summary>
    [Fact]
    public void Subtractive_and_to_value_reset_differ_on_the_grid()
    {
        double[] Spikes(ResetMode mode, double threshold = 1, double reset = 0)
        {
            var net = Network.Create(1).Input("in", 1)
                .IntegrateAndFire("h", 1, tauMem: 10, tauSyn: 5, threshold: threshold, reset: reset, resetMode: mode)
                .Readout("out", 1)
                .Connect("in", "h", Init.Values(new double[,] { { 10 } }))
                .Connect("h", "out", Init.Values(new double[,] { { 1 } }))
                .Build();
            var sim = new SteppedEngine(1, 12, threads: 1).Simulate(net, new SpikeSample([0.0], [0], 0));
            return sim.SpikeTimes("h", 0).ToArray();
        }
        Assert.Equal([2.0, 3, 5, 9], Spikes(ResetMode.Subtract));
        Assert.Equal([2.0, 4, 7], Spikes(ResetMode.ToValue));
        // With ϑ = 0.8 and V_r = −0.2 subtraction spikes when V_k passes 0.8, 1.8, 2.8, 3.8: steps 1, 3, 5, 8; resetting to
        // −0.2 after step 1 (V = 0.906) needs V_k ≥ 1.906 (step 3, 2.256), then ≥ 3.256 (step 6, 3.494), then ≥ 4.494 (step 12 = T).
        Assert.Equal([1.0, 3, 5, 8], Spikes(ResetMode.Subtract, 0.8, -0.2));
        Assert.Equal([1.0, 3, 6], Spikes(ResetMode.ToValue, 0.8, -0.2));
    }
}
