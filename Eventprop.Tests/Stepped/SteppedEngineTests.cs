using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Xunit;

namespace Eventprop.Tests.Stepped;

public class SteppedEngineTests
{
    private static (Network Net, SpikeSample[] Batch) RecurrentBatch(int trials = 5)
    {
        var cases = SteppedTestCases.Cases(CaseKind.Recurrent, 1);
        var net = cases[0].Network;
        var rng = new Random(5);
        var batch = Enumerable.Range(0, trials).Select(b =>
        {
            var times = Enumerable.Range(0, 30).Select(_ => 32 * rng.NextDouble()).ToArray();
            var channels = Enumerable.Range(0, 30).Select(_ => rng.Next(net.Input.Size)).ToArray();
            return new SpikeSample(times, channels, label: b % net.Readout.Size);
        }).ToArray();
        return (net, batch);
    }

    [Fact]
    public void Gradient_is_bit_identical_from_run_to_run()
    {
        var (net, batch) = RecurrentBatch();
        var a = new SteppedEngine(0.5, 40, threads: 2).Gradient(net, batch, Loss.Sum(), new ActivityRegularization(0.01, 2));
        var engine = new SteppedEngine(0.5, 40, threads: 2);
        for (int run = 0; run < 3; run++)
        {
            var b = engine.Gradient(net, batch, Loss.Sum(), new ActivityRegularization(0.01, 2));
            Assert.Equal(a.Loss, b.Loss);
            for (int p = 0; p < a.Gradient.Count; p++) Assert.Equal(a.Gradient[p].Values, b.Gradient[p].Values);
        }
    }

    [Fact]
    public void Batch_gradient_is_the_mean_of_the_trial_gradients()
    {
        var (net, batch) = RecurrentBatch();
        var engine = new SteppedEngine(0.5, 40, threads: 2);
        var whole = engine.Gradient(net, batch, Loss.Sum());
        var mean = net.Parameters.ZerosLike();
        double loss = 0;
        foreach (var s in batch)
        {
            var g = engine.Gradient(net, [s], Loss.Sum());
            mean.AddScaled(g.Gradient, 1.0 / batch.Length);
            loss += g.Loss / batch.Length;
        }
        Assert.Equal(loss, whole.Loss, 12);
        Assert.True(SteppedTestCases.RelativeError(whole.Gradient, mean) < 1e-5);
        Assert.True(whole.Gradient.Sum(p => p.Values.Sum(Math.Abs)) > 0);
        var eval = engine.Evaluate(net, batch, Loss.Sum());
        Assert.Equal(whole.Loss, eval.Loss);
        Assert.Equal(whole.Predictions, eval.Predictions);
        Assert.Equal(whole.HiddenSpikeCounts["h0"], eval.HiddenSpikeCounts["h0"]);
    }

    [Fact]
    public void Trace_integrates_by_the_trapezoidal_rule_and_takes_the_maximum_over_the_grid()
    {
        var (net, batch) = RecurrentBatch(1);
        double previous = double.NaN;
        foreach (double dt in new[] { 0.1, 0.01 })
        {
            var trace = (SteppedReadoutTrace)new SteppedEngine(dt, 40, threads: 1).Simulate(net, batch[0]).Readout;
            int steps = (int)Math.Round(40 / dt);
            Assert.Equal(40, trace.Integrate((_, _) => 1), 9);
            double error = 0;
            for (int k = 0; k < trace.Size; k++)
            {
                int neuron = k;
                // ∫V by the trapezoidal rule against the closed form over each step: second order in dt.
                double trapezoid = trace.Integrate((_, v) => v[neuron]);
                error = Math.Max(error, Math.Abs(trapezoid - trace.IntegrateVoltage(k)) / Math.Abs(trace.IntegrateVoltage(k)));
                var max = trace.Maximum(k);
                int n = (int)max.Piece;
                Assert.Equal(n * dt, max.Time);
                Assert.Equal(trace.VoltageAtStep(k, n), max.Value);
                for (int i = 0; i <= steps; i++)
                    Assert.True(trace.VoltageAtStep(k, i) < max.Value || (trace.VoltageAtStep(k, i) == max.Value && i >= n));
            }
            Assert.True(error < 1e-2, $"dt = {dt}: {error:E2}");
            if (!double.IsNaN(previous)) Assert.True(error < previous / 30, $"{previous:E2} → {error:E2}: not second order");
            previous = error;
        }
    }

    [Theory]
    [InlineData(0.6237)] // between grid points
    [InlineData(1.0)]    // at T, where first_spike puts its phantom spike
    public void Adjoint_jump_acts_as_the_impulse_minus_tau_m_times_its_size(double fraction)
    {
        var (net, sample) = SteppedConvergenceTests.SpikingReadoutCase();
        var engine = new SteppedEngine(0.1, 40, threads: 1);
        for (int k = 0; k < net.Readout.Size; k++)
        {
            double tauMem = net.TauMem(net.Readout.Name).Values[k];
            var jump = engine.Gradient(net, [sample], new TestLosses.AdjointJumpAt(k, fraction, ReadoutKind.Spiking)).Gradient;
            var impulse = engine.Gradient(net, [sample], new TestLosses.AdjointJumpAt(k, fraction, ReadoutKind.Spiking, asImpulse: true, tauMem: tauMem)).Gradient;
            Assert.True(jump.Sum(p => p.Values.Sum(Math.Abs)) > 0);
            Assert.True(SteppedTestCases.RelativeError(jump, impulse) < 1e-6, $"neuron {k}: {SteppedTestCases.RelativeError(jump, impulse):E2}");
        }
    }

    [Fact]
    public void Thread_count_changes_only_rounding()
    {
        var (net, batch) = RecurrentBatch(7);
        var one = new SteppedEngine(0.5, 40, threads: 1).Gradient(net, batch, Loss.Sum());
        var three = new SteppedEngine(0.5, 40, threads: 3).Gradient(net, batch, Loss.Sum());
        Assert.True(SteppedTestCases.RelativeError(three.Gradient, one.Gradient) < 1e-5);
    }

    [Fact]
    public void Inputs_rounding_to_T_have_no_effect_and_inputs_at_or_after_T_are_rejected()
    {
        var (net, batch) = RecurrentBatch(1);
        var s = batch[0];
        var times = s.Times.ToArray().Append(39.8).ToArray(); // 39.8 < T rounds to the grid point T with dt = 0.5
        var channels = s.Channels.ToArray().Append(0).ToArray();
        var padded = new SpikeSample(times, channels, s.Label);
        var engine = new SteppedEngine(0.5, 40);
        var a = engine.Gradient(net, [s], Loss.Sum());
        var b = engine.Gradient(net, [padded], Loss.Sum());
        for (int p = 0; p < a.Gradient.Count; p++) Assert.Equal(a.Gradient[p].Values, b.Gradient[p].Values);
        Assert.Equal(s.Count, engine.Simulate(net, padded).InputSpikeCount);
        foreach (double late in new[] { 40.0, 55.0 })
        {
            var outside = new SpikeSample(s.Times.ToArray().Append(late).ToArray(), s.Channels.ToArray().Append(1).ToArray(), s.Label);
            var e = Assert.Throws<ArgumentException>(() => engine.Gradient(net, [s, outside], Loss.Sum()));
            Assert.Contains($"Sample 1 of the batch has an input spike on channel 1 at {late} ms, outside the trial [0, 40) ms", e.Message);
            Assert.Contains("crop", e.Message);
            Assert.Throws<ArgumentException>(() => engine.Simulate(net, outside));
        }
    }

    [Fact]
    public void Spike_buffers_grow_and_never_drop_spikes()
    {
        // 20 neurons driven hard for a second fire thousands of spikes; the counts match the exact engine's.
        var net = Network.Create(3).Input("in", 10).Lif("h", 40, tauMem: 10, tauSyn: 3).Readout("out", 2)
            .Connect("in", "h", Init.Uniform(0.08, 0.2)).Connect("h", "out", Init.Normal(0, 0.1)).Build();
        var rng = new Random(4);
        var times = Enumerable.Range(0, 6000).Select(_ => 1000 * rng.NextDouble()).ToArray();
        var sample = new SpikeSample(times, times.Select(_ => rng.Next(10)).ToArray(), label: 0);
        var stepped = new SteppedEngine(0.01, 1000).Simulate(net, sample);
        var exact = new ExactEngine(1000).Simulate(net, sample);
        Assert.True(stepped.TotalSpikes > 1500, $"only {stepped.TotalSpikes} spikes");
        var a = stepped.SpikeCounts("h");
        var b = exact.SpikeCounts("h");
        for (int i = 0; i < a.Length; i++) Assert.InRange(a[i] - b[i], -2, 2);
        Assert.Equal(stepped.TotalSpikes, a.Sum());
    }

    [Fact]
    public void Optional_spike_cap_names_the_population_and_trial()
    {
        var (net, batch) = RecurrentBatch(3);
        var hot = new SpikeSample(Enumerable.Range(0, 400).Select(i => i * 0.08).ToArray(), Enumerable.Range(0, 400).Select(i => i % net.Input.Size).ToArray(), label: 0);
        var engine = new SteppedEngine(0.5, 40, maxSpikesPerNeuron: 2);
        var e = Assert.Throws<SpikeBufferLimitException>(() => engine.Gradient(net, [batch[0], hot, batch[1]], Loss.Sum()));
        Assert.Equal("h0", e.Population);
        Assert.Contains("'h0'", e.Message);
        Assert.Contains("trial 1", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Time_constant_gradients_can_be_switched_off()
    {
        var (net, batch) = RecurrentBatch(2);
        var with = new SteppedEngine(0.5, 40).Gradient(net, batch, Loss.Sum());
        var without = new SteppedEngine(0.5, 40, timeConstantGradients: false).Gradient(net, batch, Loss.Sum());
        foreach (var p in without.Gradient)
        {
            if (p.Kind == ParameterKind.Weight) Assert.Equal(with.Gradient[p.Name].Values, p.Values);
            else Assert.All(p.Values, x => Assert.Equal(0, x));
        }
    }

    [Fact]
    public void Grid_point_slope_option_is_what_GeNN_records()
    {
        var (net, batch) = RecurrentBatch(2);
        var a = new SteppedEngine(0.5, 40).Gradient(net, batch, Loss.Sum());
        var b = new SteppedEngine(0.5, 40, slopeAtGridPoint: true).Gradient(net, batch, Loss.Sum());
        Assert.Equal(a.Loss, b.Loss); // same forward pass
        Assert.NotEqual(a.Gradient["h0->h0"].Values, b.Gradient["h0->h0"].Values);
    }

    public static TheoryData<string> BadSettings => ["dt0", "dtNeg", "dtNaN", "dtLong", "notWhole", "threads", "cap", "slope", "T0"];

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void Bad_settings_give_one_line_errors(string which)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => which switch
        {
            "dt0" => new SteppedEngine(0, 10),
            "dtNeg" => new SteppedEngine(-1, 10),
            "dtNaN" => new SteppedEngine(double.NaN, 10),
            "dtLong" => new SteppedEngine(20, 10),
            "notWhole" => new SteppedEngine(0.3, 1),
            "threads" => new SteppedEngine(1, 10, threads: 0),
            "cap" => new SteppedEngine(1, 10, maxSpikesPerNeuron: 0),
            "slope" => new SteppedEngine(1, 10, minimumThresholdSlope: 0),
            _ => new SteppedEngine(1, 0),
        });
        Assert.DoesNotContain('\n', e.Message.Split(" (Parameter")[0]);
    }

    [Fact]
    public void Bad_batches_give_one_line_errors_naming_the_problem()
    {
        var (net, batch) = RecurrentBatch(2);
        var engine = new SteppedEngine(1, 40);
        Check(() => engine.Gradient(net, [], Loss.Sum()), "empty");
        Check(() => engine.Gradient(net, [batch[0], new SpikeSample([1.0], [0], label: 7)], Loss.Sum()), "label 7");
        Check(() => engine.Gradient(net, [new SpikeSample([1.0], [net.Input.Size + 3], label: 0)], Loss.Sum()), $"channel {net.Input.Size + 3}");
        Check(() => engine.Gradient(net, [batch[0], new SpikeSample([1.0], [0], label: -1)], Loss.Sum()), "label -1");
        Check(() => engine.Gradient(net, batch, new TestLosses.FirstSpikeTimes()), "spiking readout");
        var bad = net.Clone();
        bad.Parameters["h0->out"].Values[1] = double.NaN;
        Check(() => engine.Gradient(bad, batch, Loss.Sum()), "NaN");
        var badTau = net.Clone();
        badTau.TauSyn("h0").Values[0] = -1;
        Check(() => engine.Evaluate(badTau, batch, Loss.Sum()), "h0.tau_syn");

        static void Check(Action act, string expected)
        {
            var e = Assert.ThrowsAny<ArgumentException>(act);
            string message = e.Message.Split(" (Parameter")[0];
            Assert.Contains(expected, message);
            Assert.DoesNotContain('\n', message);
        }
    }

    [Fact]
    public void Readout_trace_integrals_match_the_exact_engine_at_small_dt()
    {
        var (c, net, sample) = SteppedTestCases.Cases(CaseKind.Recurrent, 1)[0];
        var stepped = new SteppedEngine(0.01, c.Duration).Simulate(net, sample).Readout;
        var exact = new ExactEngine(c.Duration).Simulate(net, sample).Readout;
        // Errors are measured against the largest readout's scale: a readout whose integral nearly cancels has a large relative error.
        foreach (double rate in new[] { 0, 0.05 })
        {
            double scale = Enumerable.Range(0, exact.Size).Max(k => Math.Abs(exact.IntegrateVoltage(k, rate)));
            for (int k = 0; k < exact.Size; k++)
                Assert.Equal(exact.IntegrateVoltage(k, rate), stepped.IntegrateVoltage(k, rate), 0.005 * scale);
        }
        for (int k = 0; k < exact.Size; k++)
            foreach (double t in new[] { 0, 17.3, 23.456, c.Duration })
                Assert.Equal(exact.Voltage(k, t), stepped.Voltage(k, t), 0.005);
        Assert.Throws<ArgumentOutOfRangeException>(() => stepped.Voltage(0, c.Duration + 1));
    }

    [Fact]
    public void A_network_without_hidden_layers_matches_the_exact_engine()
    {
        var net = Network.Create(2).Input("in", 5).Readout("out", 3, tauMem: 12, tauSyn: 12).Connect("in", "out", Init.Normal(0.2, 0.5)).Build();
        var rng = new Random(3);
        var times = Enumerable.Range(0, 20).Select(_ => 25 * rng.NextDouble()).ToArray();
        var sample = new SpikeSample(times, times.Select(_ => rng.Next(5)).ToArray(), label: 1);
        var exact = new ExactEngine(30).Gradient(net, [sample], Loss.Sum());
        var stepped = new SteppedEngine(0.01, 30).Gradient(net, [sample], Loss.Sum());
        Assert.Empty(stepped.HiddenSpikeCounts);
        Assert.Equal(exact.Loss, stepped.Loss, 3);
        Assert.True(SteppedTestCases.RelativeError(stepped.Gradient, exact.Gradient) < 2e-3);
    }
}
