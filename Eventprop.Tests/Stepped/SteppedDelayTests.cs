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
/// Learned delays in the CPU time-stepped engine (ring buffers; arrival step = spike step + round(d/dt)). Oracles that do not
/// use the delay code: delays of whole steps on the input equal moving the input spikes; zero delays equal no delays; and the
/// grid gradients (delays, weights, τ's) approach the exact engine's as dt shrinks, which two fault-injected adjoints break.
/// </summary>
public class SteppedDelayTests(ITestOutputHelper output)
{
    private static readonly double[] Steps = [1.0, 0.1, 0.01];

    /// <summary>Well-conditioned generated cases with learned delays on every connection into a hidden layer (uniform in
    /// [0.5, 12] ms, <see cref="GradientCase.Delays"/>) whose exact delay gradient is not zero.</summary>
    private static List<(GradientCase Case, Network Network, SpikeSample Sample)> DelayCases(CaseKind kind, DelayKind delays, int count, ILoss loss)
    {
        var result = new List<(GradientCase, Network, SpikeSample)>();
        for (int seed = 1; result.Count < count && seed < 300; seed++)
        {
            var c = new GradientCase(kind, seed, Inputs: 4, Hidden: kind == CaseKind.FeedForward ? [5, 4] : [6],
                Recurrent: kind == CaseKind.FeedForward ? [false, false] : [true], Readout: 3, InputSpikes: 30, Duration: 40) { Delays = delays };
            var (net, sample) = c.Build();
            if (!SteppedTestCases.WellConditioned(net, sample, c.Duration)) continue;
            var g = new ExactEngine(c.Duration).Gradient(net, [sample], loss).Gradient;
            if (g.Where(IsDelay).All(p => p.Values.All(x => Math.Abs(x) < 1e-6))) continue;
            result.Add((c, net, sample));
        }
        return result;
    }

    private static bool IsDelay(Parameter p) => p.Kind == ParameterKind.Delay || p.Kind == ParameterKind.AxonalDelay;

    public static TheoryData<string, CaseKind, DelayKind> ConvergenceCases
    {
        get
        {
            var data = new TheoryData<string, CaseKind, DelayKind>();
            foreach (var kind in new[] { CaseKind.FeedForward, CaseKind.Recurrent })
                foreach (var delays in new[] { DelayKind.Synaptic, DelayKind.Axonal })
                    data.Add(kind == CaseKind.FeedForward ? "sum_exp" : "sum", kind, delays);
            return data;
        }
    }

    /// <summary>Relative errors ‖g_stepped − g_exact‖/‖g_exact‖ of the delays and of the whole gradient at each dt of <see cref="Steps"/>.</summary>
    private static (double[] Delays, double[] All) Errors(Network net, SpikeSample sample, ILoss loss, double duration, ParameterSet exact,
        Func<double, SteppedEngine>? engine = null)
    {
        var delays = new double[Steps.Length];
        var all = new double[Steps.Length];
        for (int i = 0; i < Steps.Length; i++)
        {
            var e = engine?.Invoke(Steps[i]) ?? new SteppedEngine(Steps[i], duration, threads: 1);
            var g = e.Gradient(net, [sample], loss).Gradient;
            delays[i] = SteppedTestCases.RelativeError(g, exact, IsDelay);
            all[i] = SteppedTestCases.RelativeError(g, exact);
        }
        return (delays, all);
    }

    [Theory]
    [MemberData(nameof(ConvergenceCases))]
    public void Delay_gradients_converge_to_the_exact_ones(string lossName, CaseKind kind, DelayKind delays)
    {
        var loss = Loss.FromName(lossName);
        var cases = DelayCases(kind, delays, 2, loss);
        Assert.Equal(2, cases.Count);
        foreach (var (c, net, sample) in cases)
        {
            var exact = new ExactEngine(c.Duration).Gradient(net, [sample], loss).Gradient;
            var (d, all) = Errors(net, sample, loss, c.Duration, exact);
            output.WriteLine($"{lossName} {kind} {delays} seed {c.Seed}: delay-gradient error at dt = 1, 0.1, 0.01 ms: "
                + $"{string.Join(", ", d.Select(x => x.ToString("E2")))}; whole gradient: {string.Join(", ", all.Select(x => x.ToString("E2")))}");
            Assert.True(d[2] < d[0] && d[2] < d[1], $"{c}: delay error did not shrink: {string.Join(", ", d)}");
            Assert.True(d[2] <= 0.02, $"{c}: delay error {d[2]:E2} at dt = 0.01 ms exceeds 2 %");
            Assert.True(all[2] <= 0.02, $"{c}: whole-gradient error {all[2]:E2} at dt = 0.01 ms exceeds 2 %");
        }
    }

    /// <summary>Each fault makes the dt = 0.01 ms comparison fail in every case where it changes the gradient (teeth).</summary>
    [Theory]
    [InlineData("unweighted", DelayKind.Synaptic)]
    [InlineData("unweighted", DelayKind.Axonal)]
    [InlineData("at_emission", DelayKind.Synaptic)]
    [InlineData("at_emission", DelayKind.Axonal)]
    public void Faulty_delay_adjoints_fail_the_convergence_check(string fault, DelayKind delays)
    {
        var loss = Loss.Sum();
        var cases = DelayCases(CaseKind.Recurrent, delays, 3, loss);
        Assert.Equal(3, cases.Count);
        int caught = 0;
        foreach (var (c, net, sample) in cases)
        {
            var exact = new ExactEngine(c.Duration).Gradient(net, [sample], loss).Gradient;
            var bad = new SteppedEngine(0.01, c.Duration, threads: 1)
            {
                DelayGradientUnweighted = fault == "unweighted",
                DelayedAdjointAtEmission = fault == "at_emission",
            }.Gradient(net, [sample], loss).Gradient;
            double e = SteppedTestCases.RelativeError(bad, exact, IsDelay);
            output.WriteLine($"{fault} {delays} seed {c.Seed}: delay-gradient error at dt = 0.01 ms with the fault {e:E2}");
            if (e > 0.02) caught++;
        }
        Assert.Equal(cases.Count, caught);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Zero_delays_give_the_undelayed_result(bool recurrent)
    {
        var (c, plain, sample) = SteppedTestCases.Cases(recurrent ? CaseKind.Recurrent : CaseKind.FeedForward, 1)[0];
        var (zero, _) = (c with { Delays = DelayKind.Synaptic }).Build();
        // The generator rescales the readout from a simulation, which the delays change: take the plain network's values.
        foreach (var p in plain.Parameters) p.Values.CopyTo(zero.Parameters[p.Name].Values, 0);
        foreach (var d in zero.Delayed) Array.Clear(zero.DelaysOf(d)!.Value.Delays.Values);
        var engine = new SteppedEngine(0.1, c.Duration, threads: 1);
        var expected = engine.Gradient(plain, [sample], Loss.SumExp());
        var actual = engine.Gradient(zero, [sample], Loss.SumExp());
        Assert.True(expected.HiddenSpikeCounts.Values.Sum(x => x.Sum()) >= 4, "too few hidden spikes to exercise the transport");
        Assert.Equal(expected.HiddenSpikeCounts.Values.Select(x => x.Sum()), actual.HiddenSpikeCounts.Values.Select(x => x.Sum()));
        output.WriteLine($"loss {expected.Loss} vs {actual.Loss}; delays: {string.Join(" ", actual.Gradient.Where(IsDelay).SelectMany(p => p.Values).Select(x => x.ToString("E2")))}");
        Assert.Equal(expected.Loss, actual.Loss, 5);
        SteppedTestCases.AssertClose(expected.Gradient, actual.Gradient, plain.Parameters, 1e-5, 1e-9);
        Assert.Contains(actual.Gradient.Where(IsDelay).SelectMany(p => p.Values), g => Math.Abs(g) > 1e-6);
    }

    /// <summary>
    /// Input delays of whole steps equal moving the input spikes by them (forward and weight and τ gradients), for synaptic
    /// delays that differ per channel — and across the snapshots of the backward pass's replay (a long trial, so the ring is
    /// rebuilt mid-trial).
    /// </summary>
    [Fact]
    public void Whole_step_input_delays_equal_moved_input_spikes()
    {
        const double dt = 0.5, duration = 400;
        double[] channelDelay = [3.0, 0, 7.5, 12.0];
        var b = Network.Create(11).Input("in", 4).Lif("h", 5, tauMem: 10, tauSyn: 5).Lif("g", 3).Readout("out", 2)
            .Connect("in", "h", Init.Normal(1.5, 0.5)).Connect("h", "g", Init.Normal(1.0, 0.4)).Connect("g", "out", Init.Normal(0.3, 0.5))
            .Connect("h", "h", Init.Normal(0, 0.2));
        var plain = b.Build();
        var delayed = b.LearnedDelays("in", "h", Init.Constant(0)).Build();
        var d = delayed.Parameters["in->h.delay"];
        for (int r = 0; r < d.Rows; r++)
            for (int j = 0; j < d.Columns; j++) d.Values[r * d.Columns + j] = channelDelay[r];
        var rng = new Random(4);
        var spikes = Enumerable.Range(0, 200).Select(_ => (Step: rng.Next(0, (int)(duration / dt) - 30), Channel: rng.Next(4)))
            .OrderBy(x => x.Step).ToArray();
        var sample = new SpikeSample(spikes.Select(s => s.Step * dt + 0.1).ToArray(), spikes.Select(s => s.Channel).ToArray(), 1);
        var moved = spikes.Select(s => (Time: s.Step * dt + 0.1 + channelDelay[s.Channel], s.Channel)).OrderBy(x => x.Time).ToArray();
        var shifted = new SpikeSample(moved.Select(x => x.Time).ToArray(), moved.Select(x => x.Channel).ToArray(), 1);
        var engine = new SteppedEngine(dt, duration, threads: 1);
        var expected = engine.Gradient(plain, [shifted], Loss.SumExp());
        var actual = engine.Gradient(delayed, [sample], Loss.SumExp());
        Assert.True(expected.HiddenSpikeCounts["h"].Sum() >= 20, $"only {expected.HiddenSpikeCounts["h"].Sum()} spikes in h");
        Assert.Equal(expected.HiddenSpikeCounts["h"], actual.HiddenSpikeCounts["h"]);
        Assert.Equal(expected.HiddenSpikeCounts["g"], actual.HiddenSpikeCounts["g"]);
        Assert.Equal(expected.Loss, actual.Loss, 5);
        SteppedTestCases.AssertClose(expected.Gradient, actual.Gradient, plain.Parameters, 1e-4, 1e-9);
    }

    [Fact]
    public void Batches_on_two_threads_equal_one_thread()
    {
        var c = new GradientCase(CaseKind.Recurrent, 3, Inputs: 4, Hidden: [6], Recurrent: [true], Readout: 3, InputSpikes: 30, Duration: 40)
        { Delays = DelayKind.Synaptic };
        var (net, _) = c.Build();
        var batch = SteppedTestCases.Batch(net, 6, 30, seed: 2);
        var one = new SteppedEngine(0.1, 40, threads: 1).Gradient(net, batch, Loss.Sum()).Gradient;
        var two = new SteppedEngine(0.1, 40, threads: 2).Gradient(net, batch, Loss.Sum()).Gradient;
        var again = new SteppedEngine(0.1, 40, threads: 2).Gradient(net, batch, Loss.Sum()).Gradient;
        Assert.True(SteppedTestCases.RelativeError(two, one) <= 1e-6);
        foreach (var p in two) Assert.Equal(p.Values, again[p.Name].Values);
    }

    [Fact]
    public void Analog_input_through_delays_is_refused_in_one_line()
    {
        var net = Network.Create().Input("in", 2).Lif("h", 2).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1))
            .LearnedDelays("in", "h", Init.Constant(1)).Build();
        var analog = SpikeSample.FromCurrents([0.5, 0.2], 0);
        var e = Assert.Throws<ArgumentException>(() => new SteppedEngine(1, 10, threads: 1).Gradient(net, [analog], Loss.Sum()));
        Assert.Contains("in->h has learned delays, but the input is analog", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
