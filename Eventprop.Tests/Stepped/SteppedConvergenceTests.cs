using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Stepped;

/// <summary>
/// The time-stepped gradients approach the exact event-driven ones as dt shrinks.
/// </summary>
/// <remarks>
/// Cases are the gradient-check families (random τ's, feed-forward with two hidden layers, recurrent, τm = τs), kept only
/// when they are well-conditioned for a grid (<see cref="SteppedTestCases.WellConditioned"/>): every exact spike crosses
/// the threshold with τm·V̇ ≥ 0.05 and none lies in the last 0.5 ms, so moving spikes by less than a step cannot create or
/// remove one, and the exact gradient of the hidden weights is non-zero. Errors are ‖g_stepped − g_exact‖/‖g_exact‖ over the
/// whole gradient vector (weights and both τ's) and per parameter kind.
/// </remarks>
public class SteppedConvergenceTests(ITestOutputHelper output)
{
    private static readonly double[] Steps = [1.0, 0.1, 0.01];

    public static TheoryData<CaseKind> Families => [CaseKind.FeedForward, CaseKind.Recurrent, CaseKind.EqualTau];

    [Theory]
    [MemberData(nameof(Families))]
    public void Sum_loss_gradients_converge_to_the_exact_ones(CaseKind kind)
    {
        var cases = SteppedTestCases.Cases(kind, 2);
        Assert.Equal(2, cases.Count);
        var mean = new double[Steps.Length];
        foreach (var (c, net, sample) in cases)
        {
            var exact = new ExactEngine(c.Duration).Gradient(net, [sample], Loss.Sum()).Gradient;
            var errors = Errors(net, [sample], Loss.Sum(), c.Duration, exact, null, c.ToString());
            for (int i = 0; i < Steps.Length; i++) mean[i] += errors[i] / cases.Count;
            Assert.True(errors[2] < errors[1] && errors[2] < errors[0], $"{c}: error did not shrink: {string.Join(", ", errors)}");
            Assert.True(errors[2] <= 0.02, $"{c}: error {errors[2]:E2} at dt = 0.01 ms exceeds 2 %");
            var stepped = new SteppedEngine(0.01, c.Duration, threads: 1).Gradient(net, [sample], Loss.Sum()).Gradient;
            foreach (var k in new[] { ParameterKind.Weight, ParameterKind.TauMem, ParameterKind.TauSyn })
            {
                double e = SteppedTestCases.RelativeError(stepped, exact, p => p.Kind == k);
                Assert.True(e <= 0.02, $"{c}: {k} error {e:E2} at dt = 0.01 ms exceeds 2 %");
            }
        }
        output.WriteLine($"{kind}: mean relative error at dt = 1, 0.1, 0.01 ms: {string.Join(", ", mean.Select(e => e.ToString("E2")))}");
        Assert.True(mean[0] > mean[1] && mean[1] > mean[2], $"mean errors not decreasing: {string.Join(", ", mean)}");
    }

    [Fact]
    public void Batch_of_trials_with_regularisation_converges_to_the_exact_gradient()
    {
        var cases = SteppedTestCases.Cases(CaseKind.Recurrent, 3, firstSeed: 20);
        // The same network for every trial: use the first case's network with the inputs of all three.
        var net = cases[0].Network;
        var batch = cases.Select(c => c.Sample).Where(s => SteppedTestCases.WellConditioned(net, s, 40) && s.MaxChannel < net.Input.Size).ToArray();
        Assert.NotEmpty(batch);
        var reg = new ActivityRegularization(0.05, 1.0);
        var exact = new ExactEngine(40).Gradient(net, batch, Loss.Sum(), reg).Gradient;
        var errors = Errors(net, batch, Loss.Sum(), 40, exact, reg, "regularised batch");
        Assert.True(errors[2] < errors[0] && errors[2] <= 0.02, string.Join(", ", errors));
    }

    [Fact]
    public void Exponential_drive_with_a_rate_converges()
    {
        var (c, net, sample) = SteppedTestCases.Cases(CaseKind.Recurrent, 1)[0];
        var loss = new TestLosses.DecayingSum();
        var exact = new ExactEngine(c.Duration).Gradient(net, [sample], loss).Gradient;
        var errors = Errors(net, [sample], loss, c.Duration, exact, null, "decaying sum");
        Assert.True(errors[2] < errors[0] && errors[2] <= 0.02, string.Join(", ", errors));
    }

    [Fact]
    public void Voltage_impulses_off_the_grid_converge()
    {
        var (c, net, sample) = SteppedTestCases.Cases(CaseKind.FeedForward, 1)[0];
        var loss = new TestLosses.VoltageAtTime(0.6237);
        var exact = new ExactEngine(c.Duration).Gradient(net, [sample], loss).Gradient;
        var errors = Errors(net, [sample], loss, c.Duration, exact, null, "impulse");
        Assert.True(errors[2] < errors[0] && errors[2] <= 0.02, string.Join(", ", errors));
    }

    [Fact]
    public void Spike_time_terms_of_a_spiking_readout_converge()
    {
        var (net, sample) = SpikingReadoutCase();
        var loss = new TestLosses.FirstSpikeTimes();
        var exact = new ExactEngine(40).Gradient(net, [sample], loss);
        Assert.True(exact.Trials[0].SpikeCounts("out").Count(x => x > 0) >= 2, "the readout should spike");
        var errors = Errors(net, [sample], loss, 40, exact.Gradient, null, "first spike times");
        Assert.True(errors[2] < errors[0] && errors[2] <= 0.02, string.Join(", ", errors));
    }

    [Fact]
    public void Voltage_dependent_drive_matches_finite_differences_of_the_exact_loss()
    {
        var (c, net, sample) = SteppedTestCases.Cases(CaseKind.Recurrent, 1)[0];
        var loss = new TestLosses.SquaredVoltage();
        var engine = new ExactEngine(c.Duration);
        var fd = net.Parameters.ZerosLike();
        for (int p = 0; p < net.Parameters.Count; p++)
        {
            var values = net.Parameters[p].Values;
            for (int i = 0; i < values.Length; i++)
            {
                double x = values[i], h = 1e-6 * Math.Max(1, Math.Abs(x));
                values[i] = x + h;
                double up = engine.Evaluate(net, sample, loss).Value;
                values[i] = x - h;
                double down = engine.Evaluate(net, sample, loss).Value;
                values[i] = x;
                fd[p].Values[i] = (up - down) / (2 * h);
            }
        }
        var errors = Errors(net, [sample], loss, c.Duration, fd, null, "squared voltage vs FD");
        Assert.True(errors[2] < errors[0] && errors[2] <= 0.02, string.Join(", ", errors));
    }

    private double[] Errors(Network net, SpikeSample[] batch, ILoss loss, double duration, ParameterSet reference, ActivityRegularization? reg, string label)
    {
        var errors = Steps.Select(dt =>
            SteppedTestCases.RelativeError(new SteppedEngine(dt, duration, threads: 2).Gradient(net, batch, loss, reg).Gradient, reference)).ToArray();
        output.WriteLine($"{label}: {string.Join(", ", errors.Select(e => e.ToString("E2")))}");
        return errors;
    }

    /// <summary>4 inputs → 6 recurrent hidden → 3 spiking readout neurons driven strongly enough to spike a few times.</summary>
    internal static (Network, SpikeSample) SpikingReadoutCase()
    {
        for (int seed = 1; seed < 200; seed++)
        {
            var rng = new Random(seed);
            double[,] M(int r, int k, double mean, double sd)
            {
                var m = new double[r, k];
                for (int i = 0; i < r; i++)
                    for (int j = 0; j < k; j++) m[i, j] = mean + sd * Init.StandardNormal(rng);
                return m;
            }
            var net = Network.Create(seed).Input("in", 4)
                .Lif("h", [12, 18, 25, 9, 15, 21], [4, 6, 3, 8, 5, 7])
                .Readout("out", [14, 22, 17], [5, 3, 6], spiking: true)
                .Connect("in", "h", Init.Values(M(4, 6, 1.2, 0.5)))
                .Connect("h", "h", Init.Values(M(6, 6, 0, 0.2)))
                .Connect("h", "out", Init.Values(M(6, 3, 0.4, 0.2)))
                .Build();
            var times = Enumerable.Range(0, 24).Select(_ => 30 * rng.NextDouble()).ToArray();
            var channels = Enumerable.Range(0, 24).Select(_ => rng.Next(4)).ToArray();
            var sample = new SpikeSample(times, channels, label: rng.Next(3));
            var trial = new ExactEngine(40).Simulate(net, sample);
            if (trial.TotalSpikes > 0 && trial.MinThresholdSlope >= 0.05 && trial.SpikeCounts("out").Count(x => x > 0) >= 2
                && trial.SpikeCounts("out").Sum() <= 30 && SteppedTestCases.WellConditioned(net, sample, 40))
            {
                bool late = false;
                for (int k = 0; k < 3; k++)
                    foreach (double t in trial.SpikeTimes("out", k)) late |= t > 39.5;
                if (!late) return (net, sample);
            }
        }
        throw new InvalidOperationException("no spiking-readout case found");
    }
}
