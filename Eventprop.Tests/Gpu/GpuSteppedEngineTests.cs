using Eventprop.Augment;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Gpu;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Eventprop.Tests.Stepped;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Gpu;

/// <summary>One ILGPU CPU-accelerator engine per (dt, duration, τ) for the whole test class: contexts and kernels load once.</summary>
public sealed class GpuEngineFixture : IDisposable
{
    private readonly Dictionary<(double, double, bool), GpuSteppedEngine> _engines = [];

    /// <summary>The shared engine for these settings.</summary>
    public GpuSteppedEngine Engine(double dt, double duration, bool tau = true)
    {
        lock (_engines)
        {
            if (!_engines.TryGetValue((dt, duration, tau), out var e))
                _engines[(dt, duration, tau)] = e = new GpuSteppedEngine(GpuDevice.IlgpuCpu, dt, duration, timeConstantGradients: tau);
            return e;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var e in _engines.Values) e.Dispose();
    }
}

/// <summary>
/// The ILGPU kernels (run on ILGPU's CPU accelerator, as CI has no GPU) against the CPU <see cref="SteppedEngine"/>: same
/// losses, predictions, spike counts, and gradients within 1e-4 relative error (‖g_gpu − g_cpu‖/‖g_cpu‖ per parameter kind)
/// for every built-in loss, a custom loss, with and without recurrence, delay lines, regularisation and τ learning.
/// </summary>
public class GpuSteppedEngineTests(GpuEngineFixture fixture, ITestOutputHelper output) : IClassFixture<GpuEngineFixture>
{
    private const double Tolerance = 1e-4;

    private static SpikeSample[] Batch(Network net, int trials, double span, int seed, int spikes = 30)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, trials).Select(b =>
        {
            var times = Enumerable.Range(0, spikes).Select(_ => span * rng.NextDouble()).ToArray();
            var channels = Enumerable.Range(0, spikes).Select(_ => rng.Next(net.Input.Size)).ToArray();
            return new SpikeSample(times, channels, label: b % net.Readout.Size);
        }).ToArray();
    }

    private void Compare(Network net, SpikeSample[] batch, ILoss loss, double dt, double duration, ActivityRegularization? reg = null, bool tau = true)
    {
        var cpu = new SteppedEngine(dt, duration, threads: 1, timeConstantGradients: tau).Gradient(net, batch, loss, reg);
        var gpu = fixture.Engine(dt, duration, tau).Gradient(net, batch, loss, reg);
        Assert.Equal(cpu.Predictions, gpu.Predictions);
        foreach (var (name, counts) in cpu.HiddenSpikeCounts) Assert.Equal(counts, gpu.HiddenSpikeCounts[name]);
        Assert.True(cpu.HiddenSpikeCounts.Values.Sum(c => c.Sum()) > 0, "no hidden spikes: the case compares nothing");
        Assert.True(Math.Abs(gpu.Loss - cpu.Loss) <= Tolerance * Math.Abs(cpu.Loss), $"{loss.Name}: loss {gpu.Loss} vs {cpu.Loss}");
        foreach (var kind in new[] { ParameterKind.Weight, ParameterKind.TauMem, ParameterKind.TauSyn })
        {
            double e = SteppedTestCases.RelativeError(gpu.Gradient, cpu.Gradient, p => p.Kind == kind);
            double norm = cpu.Gradient.Where(p => p.Kind == kind).Sum(p => p.Values.Sum(x => x * x));
            output.WriteLine($"{loss.Name} {kind}: relative error {e:E2} (‖g‖² = {norm:E2})");
            if (kind != ParameterKind.Weight && !tau) Assert.True(gpu.Gradient.Where(p => p.Kind == kind).All(p => p.Values.All(x => x == 0)));
            else Assert.True(norm > 0, $"{loss.Name} {kind}: zero gradient compares nothing");
            Assert.True(e <= Tolerance, $"{loss.Name} {kind}: relative error {e:E2} > {Tolerance:E0}");
        }
        var eval = fixture.Engine(dt, duration, tau).Evaluate(net, batch, loss);
        Assert.Equal(gpu.Loss, eval.Loss);
        Assert.Equal(gpu.Predictions, eval.Predictions);
    }

    public static TheoryData<string, CaseKind> LeakyLosses
    {
        get
        {
            var data = new TheoryData<string, CaseKind>();
            foreach (var loss in new[] { "sum", "sum_exp", "max", "entropy" })
                foreach (var kind in new[] { CaseKind.FeedForward, CaseKind.Recurrent })
                    data.Add(loss, kind);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(LeakyLosses))]
    public void Leaky_readout_losses_match_the_cpu_engine(string lossName, CaseKind kind)
    {
        var net = SteppedTestCases.Cases(kind, 1)[0].Network;
        Compare(net, Batch(net, 3, 32, 7), Loss.FromName(lossName), 0.5, 40, new ActivityRegularization(0.01, 2));
    }

    [Fact]
    public void First_spike_loss_on_a_spiking_readout_matches_the_cpu_engine()
    {
        var (net, sample) = SteppedConvergenceTests.SpikingReadoutCase(trial => trial.SpikeCounts("out").Any(x => x > 0));
        var batch = Enumerable.Range(0, net.Readout.Size)
            .Select(label => new SpikeSample(sample.Times.ToArray(), sample.Channels.ToArray(), label)).ToArray();
        Compare(net, batch, Loss.FirstSpike(), 0.5, 40);
    }

    [Fact]
    public void Custom_loss_and_voltage_dependent_drive_match_the_cpu_engine()
    {
        var net = SteppedTestCases.Cases(CaseKind.Recurrent, 1)[0].Network;
        var batch = Batch(net, 3, 32, 11);
        Compare(net, batch, CustomLoss.MeanSquaredError(40, net.Readout.Size), 0.5, 40);
        Compare(net, batch, new TestLosses.SquaredVoltage(), 0.5, 40);
    }

    [Fact]
    public void Delay_line_inputs_and_no_tau_gradients_match_the_cpu_engine()
    {
        var baseNet = SteppedTestCases.Cases(CaseKind.FeedForward, 1)[0].Network;
        var delay = new DelayLine(40, copies: 3, delayMs: 6, inputChannelCount: baseNet.Input.Size);
        int channels = delay.OutputChannelCount(baseNet.Input.Size);
        var rng = new Random(3);
        var net = Network.Create(3).Input("in", channels)
            .Lif("h0", Enumerable.Range(0, 8).Select(_ => 15 + 10 * rng.NextDouble()).ToArray(), Enumerable.Range(0, 8).Select(_ => 4 + 4 * rng.NextDouble()).ToArray())
            .Readout("out", [20, 25, 30], [5, 6, 7])
            .Connect("in", "h0", Init.Normal(0.5, 0.3))
            .Connect("h0", "h0", Init.Normal(0, 0.2))
            .Connect("h0", "out", Init.Normal(0.3, 0.5))
            .Build();
        var raw = Batch(baseNet, 3, 25, 5, spikes: 20);
        var batch = raw.Select(s => delay.Apply(s, new Random(0))).ToArray();
        Assert.Contains(batch, s => s.MaxChannel >= baseNet.Input.Size);
        Compare(net, batch, Loss.SumExp(), 1.0, 40);
        Compare(net, batch, Loss.SumExp(), 1.0, 40, tau: false);
    }
}
