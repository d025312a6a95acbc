using Eventprop.Augment;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Training;
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
        Compare(net, SteppedTestCases.Batch(net, 3, 32, 7), Loss.FromName(lossName), 0.5, 40, new ActivityRegularization(0.01, 2));
    }

    public static TheoryData<CaseKind> ModelFamilies => [CaseKind.IntegrateAndFire, CaseKind.SubtractiveReset, CaseKind.ThresholdsAndResets];

    /// <summary>Integrate-and-fire, subtractive reset, and per-population thresholds and reset values (the step face of the models).</summary>
    [Theory]
    [MemberData(nameof(ModelFamilies))]
    public void Neuron_models_thresholds_and_resets_match_the_cpu_engine(CaseKind kind)
    {
        var net = SteppedTestCases.ModelCases(kind, 1)[0].Network;
        Compare(net, SteppedTestCases.Batch(net, 2, 32, 5), Loss.SumExp(), 0.5, 40, new ActivityRegularization(0.01, 2));
    }

    /// <summary>Sparse masks on every connection: the device's binary search over a row's targets (delivery, weight gradient) and
    /// its row-wise transport; <c>max</c> also exercises the corner search over a sparse row.</summary>
    [Theory]
    [InlineData("sum_exp")]
    [InlineData("max")]
    public void Sparse_masks_match_the_cpu_engine(string lossName)
    {
        var net = SteppedTestCases.Cases(CaseKind.Sparse, 1)[0].Network;
        Assert.Contains(net.Connections, c => c.Connectivity is Eventprop.Core.Model.Connectivities.SparseConnectivity);
        Compare(net, SteppedTestCases.Batch(net, 3, 32, 11), Loss.FromName(lossName), 0.5, 40, new ActivityRegularization(0.01, 2));
    }

    /// <summary>Three hidden layers with mixed models and constants, and the grid-point slope option on an IF network.</summary>
    [Fact]
    public void Deep_mixed_models_and_the_grid_point_slope_match_the_cpu_engine()
    {
        var c = new GradientCase(CaseKind.Deep, 3, Inputs: 4, Hidden: [5, 5, 4], Recurrent: [false, true, false], Readout: 3, InputSpikes: 30, Duration: 40);
        var (net, _) = c.Build();
        Compare(net, SteppedTestCases.Batch(net, 2, 32, 9), Loss.Sum(), 0.5, 40);
        var ifNet = SteppedTestCases.ModelCases(CaseKind.IntegrateAndFire, 1)[0].Network;
        var batch = SteppedTestCases.Batch(ifNet, 2, 32, 3);
        var cpu = new SteppedEngine(0.5, 40, threads: 1, slopeAtGridPoint: true).Gradient(ifNet, batch, Loss.Sum());
        using var engine = new GpuSteppedEngine(GpuDevice.IlgpuCpu, 0.5, 40, slopeAtGridPoint: true);
        var gpu = engine.Gradient(ifNet, batch, Loss.Sum());
        Assert.Equal(cpu.HiddenSpikeCounts["h0"], gpu.HiddenSpikeCounts["h0"]);
        double e = SteppedTestCases.RelativeError(gpu.Gradient, cpu.Gradient);
        output.WriteLine($"IF, slope at grid point: relative error {e:E2}");
        Assert.True(e <= Tolerance, $"relative error {e:E2}");
    }

    /// <summary>Weights and per-trial gradients take each connection's own weights: B·Σ pre×post floats, not B·(inputs + n)·n.</summary>
    [Fact]
    public void Gradient_buffers_are_sized_by_the_connections_weights()
    {
        var net = Network.Create(3).Input("in", 5).Lif("a", 4).Lif("b", 3).Readout("out", 2)
            .Connect("in", "a", Init.Normal(1.0, 0.5)).Connect("a", "a", Init.Normal(0, 0.2))
            .Connect("a", "b", Init.Normal(1.0, 0.5)).Connect("b", "out", Init.Normal(0.5, 0.3)).Build();
        using var engine = new GpuSteppedEngine(GpuDevice.IlgpuCpu, 1, 20);
        engine.Gradient(net, SteppedTestCases.Batch(net, 3, 15, 1), Loss.Sum());
        long weights = 5 * 4 + 4 * 4 + 4 * 3 + 3 * 2; // 54, against (5 + 9)·9 = 126 for the dense layout
        Assert.Equal(4 * weights, engine.BufferBytes("Weights"));
        Assert.Equal(3 * 4 * weights, engine.BufferBytes("TrialGradient"));
        Assert.Equal(4 * weights, engine.BufferBytes("Gradient"));

        // A sparse mask stores only its nonzeros: a → b keeps 5 of its 12 synapses.
        var mask = Eventprop.Core.Model.Connectivities.SparseConnectivity.FromMask(new bool[,]
            { { true, false, false }, { false, true, true }, { false, false, true }, { true, false, false } });
        var sparse = Network.Create(3).Input("in", 5).Lif("a", 4).Lif("b", 3).Readout("out", 2)
            .Connect("in", "a", Init.Normal(1.0, 0.5)).Connect("a", "a", Init.Normal(0, 0.2))
            .Connect("a", "b", Init.Normal(1.0, 0.5), mask).Connect("b", "out", Init.Normal(0.5, 0.3)).Build();
        using var sparseEngine = new GpuSteppedEngine(GpuDevice.IlgpuCpu, 1, 20);
        sparseEngine.Gradient(sparse, SteppedTestCases.Batch(sparse, 3, 15, 1), Loss.Sum());
        long stored = 5 * 4 + 4 * 4 + 5 + 3 * 2;
        Assert.Equal(3 * 4 * stored, sparseEngine.BufferBytes("TrialGradient"));
        Assert.Equal(4 * (4 + 1), sparseEngine.BufferBytes("SparseRowStarts"));
        Assert.Equal(4 * 5, sparseEngine.BufferBytes("SparseTargets"));
    }

    [Fact]
    public void Equal_time_constants_and_the_grid_point_slope_option_match_the_cpu_engine()
    {
        var net = SteppedTestCases.Cases(CaseKind.EqualTau, 1)[0].Network;
        var batch = SteppedTestCases.Batch(net, 2, 32, 13);
        Compare(net, batch, Loss.SumExp(), 0.5, 40);
        var cpu = new SteppedEngine(0.5, 40, threads: 1, slopeAtGridPoint: true).Gradient(net, batch, Loss.Sum());
        using var engine = new GpuSteppedEngine(GpuDevice.IlgpuCpu, 0.5, 40, slopeAtGridPoint: true);
        var gpu = engine.Gradient(net, batch, Loss.Sum());
        double e = SteppedTestCases.RelativeError(gpu.Gradient, cpu.Gradient);
        output.WriteLine($"slope at grid point: relative error {e:E2}");
        Assert.True(e <= Tolerance, $"relative error {e:E2}");
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
        var batch = SteppedTestCases.Batch(net, 3, 32, 11);
        Compare(net, batch, CustomLoss.MeanSquaredError(40, net.Readout.Size), 0.5, 40);
        Compare(net, batch, new TestLosses.SquaredVoltage(), 0.5, 40);
    }

    [Fact]
    public void Delay_line_inputs_and_no_tau_gradients_match_the_cpu_engine()
    {
        var baseNet = SteppedTestCases.Cases(CaseKind.FeedForward, 1)[0].Network;
        var delay = new DelayedInputCopies(40, copies: 3, delayMs: 6, inputChannelCount: baseNet.Input.Size);
        int channels = delay.OutputChannelCount(baseNet.Input.Size);
        var rng = new Random(3);
        var net = Network.Create(3).Input("in", channels)
            .Lif("h0", Enumerable.Range(0, 8).Select(_ => 15 + 10 * rng.NextDouble()).ToArray(), Enumerable.Range(0, 8).Select(_ => 4 + 4 * rng.NextDouble()).ToArray())
            .Readout("out", [20, 25, 30], [5, 6, 7])
            .Connect("in", "h0", Init.Normal(0.5, 0.3))
            .Connect("h0", "h0", Init.Normal(0, 0.2))
            .Connect("h0", "out", Init.Normal(0.3, 0.5))
            .Build();
        var raw = SteppedTestCases.Batch(baseNet, 3, 25, 5, spikes: 20);
        var batch = raw.Select(s => delay.Apply(s, new Random(0))).ToArray();
        Assert.Contains(batch, s => s.MaxChannel >= baseNet.Input.Size);
        Compare(net, batch, Loss.SumExp(), 1.0, 40);
        Compare(net, batch, Loss.SumExp(), 1.0, 40, tau: false);
    }
}

/// <summary>Spike buffers, caps, determinism, training and the CLI's device choice on the ILGPU CPU accelerator.</summary>
public class GpuSteppedEngineBehaviourTests(GpuEngineFixture fixture, ITestOutputHelper output) : IClassFixture<GpuEngineFixture>
{
    private static (Network Net, SpikeSample[] Batch) RecurrentBatch(int trials = 4)
    {
        var net = SteppedTestCases.Cases(CaseKind.Recurrent, 1)[0].Network;
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
    public void Overflowing_spike_lists_grow_and_rerun_without_dropping_a_spike()
    {
        var (net, batch) = RecurrentBatch();
        var engine = fixture.Engine(0.5, 40);
        engine.SpikeSlots = 1000;
        var ample = engine.Gradient(net, batch, Loss.SumExp());
        long spikes = ample.HiddenSpikeCounts.Values.Sum(c => c.Sum());
        Assert.True(spikes > 4 * batch.Length, $"only {spikes} spikes: the overflow would not be exercised");
        engine.SpikeSlots = 2;
        var grown = engine.Gradient(net, batch, Loss.SumExp());
        Assert.True(engine.SpikeSlots > 2);
        Assert.Equal(ample.Loss, grown.Loss);
        Assert.Equal(ample.HiddenSpikeCounts["h0"], grown.HiddenSpikeCounts["h0"]);
        for (int p = 0; p < ample.Gradient.Count; p++) Assert.Equal(ample.Gradient[p].Values, grown.Gradient[p].Values);
    }

    [Fact]
    public void One_launch_per_pass_and_one_launch_per_phase_give_identical_results()
    {
        var (net, batch) = RecurrentBatch();
        using var perPhase = new GpuSteppedEngine(GpuDevice.IlgpuCpu, 0.5, 40, persistentKernels: false);
        var engine = fixture.Engine(0.5, 40);
        Assert.True(engine.PersistentKernels);
        int threads = engine.GroupSize(net.Populations.Where(p => p.HasDynamics).Sum(p => p.Size));
        output.WriteLine($"threads per trial group: {threads}");
        Assert.True(threads > 1, "one thread per group would not exercise the scan and the barriers");
        var reg = new ActivityRegularization(0.01, 2);
        var a = engine.Gradient(net, batch, Loss.Max(), reg);
        var b = perPhase.Gradient(net, batch, Loss.Max(), reg);
        Assert.Equal(a.Loss, b.Loss);
        Assert.Equal(a.HiddenSpikeCounts["h0"], b.HiddenSpikeCounts["h0"]);
        for (int p = 0; p < a.Gradient.Count; p++) Assert.Equal(a.Gradient[p].Values, b.Gradient[p].Values);
        var (spiking, sample) = SteppedConvergenceTests.SpikingReadoutCase(trial => trial.SpikeCounts("out").Any(x => x > 0));
        var c = engine.Gradient(spiking, [sample], Loss.FirstSpike());
        var d = perPhase.Gradient(spiking, [sample], Loss.FirstSpike());
        for (int p = 0; p < c.Gradient.Count; p++) Assert.Equal(c.Gradient[p].Values, d.Gradient[p].Values);
    }

    [Fact]
    public void Device_memory_for_neuron_state_grows_with_the_square_root_of_the_steps()
    {
        const int hidden = 40, trials = 2;
        var net = Network.Create(1).Input("in", 10).Lif("h", hidden).Readout("out", 2)
            .Connect("in", "h", Init.Normal(1.0, 0.5)).Connect("h", "h", Init.Normal(0, 0.05)).Connect("h", "out", Init.Normal(0, 0.5)).Build();
        long Bytes(int steps)
        {
            using var engine = new GpuSteppedEngine(GpuDevice.IlgpuCpu, 1, steps);
            var rng = new Random(1);
            var batch = Enumerable.Range(0, trials).Select(b => new SpikeSample(
                Enumerable.Range(0, 40).Select(_ => 90 * rng.NextDouble()).ToArray(), Enumerable.Range(0, 40).Select(_ => rng.Next(10)).ToArray(), b % 2)).ToArray();
            engine.SpikeSlots = 4096; // the same spike slots for both lengths, so only the steps differ
            engine.Gradient(net, batch, Loss.SumExp());
            return engine.DeviceMemoryBytes;
        }
        long shortRun = Bytes(100), longRun = Bytes(400);
        long everyStep = 2L * trials * (hidden + 2) * 300 * sizeof(float); // what keeping V and I of every step would add
        output.WriteLine($"device bytes at 100 steps {shortRun}, at 400 steps {longRun}; every-step state would add {everyStep}");
        Assert.True(longRun - shortRun < everyStep / 2, $"memory grew by {longRun - shortRun} bytes from 100 to 400 steps");
    }

    [Theory]
    [InlineData("sum")]
    [InlineData("sum_exp")]
    public void Losses_on_the_device_agree_with_losses_on_the_host(string lossName)
    {
        var (net, batch) = RecurrentBatch();
        var loss = Loss.FromName(lossName);
        var reg = new ActivityRegularization(0.01, 2);
        var device = fixture.Engine(0.5, 40);
        Assert.True(device.DeviceLosses);
        using var host = new GpuSteppedEngine(GpuDevice.IlgpuCpu, 0.5, 40, deviceLosses: false);
        var a = device.Gradient(net, batch, loss, reg);
        var b = host.Gradient(net, batch, loss, reg);
        var cpu = new SteppedEngine(0.5, 40, threads: 1).Gradient(net, batch, loss, reg);
        Assert.Equal(b.Predictions, a.Predictions);
        Assert.Equal(cpu.Predictions, a.Predictions);
        Assert.True(Math.Abs(a.Loss - b.Loss) <= 1e-12 * Math.Abs(b.Loss), $"loss {a.Loss} vs {b.Loss}");
        double e = SteppedTestCases.RelativeError(a.Gradient, b.Gradient), eCpu = SteppedTestCases.RelativeError(a.Gradient, cpu.Gradient);
        output.WriteLine($"{lossName}: device vs host loss relative gradient error {e:E2}, vs CPU engine {eCpu:E2}");
        Assert.True(e <= 1e-6, $"device vs host loss: {e:E2}");
        Assert.True(eCpu <= 1e-4, $"vs CPU engine: {eCpu:E2}");
        using var perPhase = new GpuSteppedEngine(GpuDevice.IlgpuCpu, 0.5, 40, persistentKernels: false);
        var c = perPhase.Gradient(net, batch, loss, reg);
        for (int p = 0; p < a.Gradient.Count; p++) Assert.Equal(a.Gradient[p].Values, c.Gradient[p].Values);
        Assert.Equal(a.Loss, device.Evaluate(net, batch, loss).Loss);
    }

    [Fact]
    public void Exceeding_the_spike_cap_throws_like_the_cpu_engine()
    {
        var (net, batch) = RecurrentBatch();
        var cpu = Assert.Throws<SpikeBufferLimitException>(() => new SteppedEngine(0.5, 40, threads: 1, maxSpikesPerNeuron: 1).Gradient(net, batch, Loss.Sum()));
        foreach (bool persistent in new[] { true, false })
        {
            using var engine = new GpuSteppedEngine(GpuDevice.IlgpuCpu, 0.5, 40, maxSpikesPerNeuron: 1, persistentKernels: persistent);
            var gpu = Assert.Throws<SpikeBufferLimitException>(() => engine.Gradient(net, batch, Loss.Sum()));
            Assert.Equal((cpu.Population, cpu.Trial), (gpu.Population, gpu.Trial));
            Assert.Equal(cpu.Message, gpu.Message);
        }
    }

    [Fact]
    public void Results_are_bit_identical_from_run_to_run()
    {
        var (net, batch) = RecurrentBatch();
        var engine = fixture.Engine(0.5, 40);
        var reg = new ActivityRegularization(0.01, 2);
        var a = engine.Gradient(net, batch, Loss.Entropy(), reg);
        var b = engine.Gradient(net, batch, Loss.Entropy(), reg);
        Assert.Equal(a.Loss, b.Loss);
        for (int p = 0; p < a.Gradient.Count; p++) Assert.Equal(a.Gradient[p].Values, b.Gradient[p].Values);
    }

    [Fact]
    public void Bad_input_gives_the_cpu_engines_errors()
    {
        var (net, batch) = RecurrentBatch(1);
        var engine = fixture.Engine(0.5, 40);
        var wrongChannel = new SpikeSample([1.0], [net.Input.Size], 0);
        Assert.Contains("input channel", Assert.Throws<ArgumentException>(() => engine.Gradient(net, [wrongChannel], Loss.Sum())).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => engine.Evaluate(net, [], Loss.Sum())).Message);
        Assert.Contains("spiking readout", Assert.Throws<ArgumentException>(() => engine.Gradient(net, batch, Loss.FirstSpike())).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GpuSteppedEngine(GpuDevice.IlgpuCpu, 0.3, 1));
    }

    [Fact]
    public void A_short_training_run_follows_the_cpu_engines_accuracy_curve()
    {
        var data = Randman.Generate(new RandmanOptions { ClassCount = 3, UnitCount = 20, SamplesPerClass = 12, DurationMs = 30, Seed = 4 });
        var train = Enumerable.Range(0, data.Count).Select(i => data[i]).ToArray();
        Network Build() => Network.Create(2).Input("in", data.ChannelCount).Lif("h", 16).Readout("out", 3)
            .Connect("in", "h", Init.Normal(1.5, 0.75)).Connect("h", "h", Init.Normal(0, 0.02)).Connect("h", "out", Init.Normal(0, 1.0)).Build();
        var options = new TrainingOptions { Epochs = 4, BatchSize = 12, LearningRate = 5e-2, Seed = 3, HalvingSchedule = false, EaseIn = false };
        var cpu = new Trainer(Build(), new SteppedEngine(1, 30, threads: 1), Loss.SumExp(), options);
        var gpu = new Trainer(Build(), fixture.Engine(1, 30), Loss.SumExp(), options);
        for (int e = 0; e < options.Epochs; e++)
        {
            var c = cpu.TrainEpoch(train);
            var g = gpu.TrainEpoch(train);
            output.WriteLine($"epoch {e + 1}: accuracy cpu {c.TrainingAccuracy:F3} gpu {g.TrainingAccuracy:F3}, loss cpu {c.TrainingLoss:F5} gpu {g.TrainingLoss:F5}");
            Assert.True(Math.Abs(c.TrainingAccuracy - g.TrainingAccuracy) <= 1.0 / 36 + 1e-12, $"epoch {e + 1}: accuracy {g.TrainingAccuracy} vs {c.TrainingAccuracy}");
            Assert.True(Math.Abs(c.TrainingLoss - g.TrainingLoss) <= 1e-3 * Math.Abs(c.TrainingLoss), $"epoch {e + 1}: loss {g.TrainingLoss} vs {c.TrainingLoss}");
        }
        Assert.True(cpu.History[^1].TrainingLoss < 0.95 * cpu.History[0].TrainingLoss, "the run did not learn: the comparison is empty");
    }

    [Fact]
    public void Device_choice_resolves_and_cuda_without_a_gpu_is_a_one_line_error()
    {
        Assert.IsType<SteppedEngine>(SteppedEngines.Create("cpu", 1, 10));
        using (var e = (GpuSteppedEngine)SteppedEngines.Create("ilgpu-cpu", 1, 10)) Assert.Equal(GpuDevice.IlgpuCpu, e.Device);
        Assert.Throws<ArgumentException>(() => SteppedEngines.Create("gpu", 1, 10));
        if (GpuSteppedEngine.CudaAvailable()) return; // the rest describes a machine without CUDA
        Assert.Equal("cpu", SteppedEngines.Resolve("auto"));
        var error = Assert.Throws<InvalidOperationException>(() => SteppedEngines.Create("cuda", 1, 10));
        Assert.DoesNotContain('\n', error.Message);
        var o = new StringWriter();
        var err = new StringWriter();
        Assert.Equal(2, Eventprop.Cli.Program.Run(["bench", "--device", "cuda"], o, err));
        Assert.Equal($"error: {GpuSteppedEngine.NoCudaMessage}", err.ToString().Trim());
    }

    [Fact]
    public void Cli_trains_on_the_ilgpu_cpu_device_like_on_the_cpu()
    {
        string dir = Directory.CreateTempSubdirectory("eventprop-gpu-cli-").FullName;
        try
        {
            string[] common = ["--epochs", "1", "--seed", "3", "--set", "dataset.samples_per_class=6", "--set", "dataset.classes=3",
                "--set", "network.hidden=8", "--set", "training.batch_size=9", "--quiet"];
            var results = new List<string>();
            foreach (var device in new[] { "cpu", "ilgpu-cpu" })
            {
                var o = new StringWriter();
                var e = new StringWriter();
                int code = Eventprop.Cli.Program.Run(["train", "--out", Path.Combine(dir, device), "--device", device, .. common], o, e);
                Assert.True(code == 0, e.ToString());
                var config = Eventprop.Cli.RunConfig.Load(Path.Combine(dir, device, "config.json"), []);
                Assert.Equal(device, config.Engine.Device);
                results.Add(File.ReadAllLines(Path.Combine(dir, device, "metrics.csv"))[1]);
            }
            output.WriteLine(string.Join("\n", results));
            var e2 = new StringWriter();
            Assert.Equal(2, Eventprop.Cli.Program.Run(["train", "--device", "gpu"], new StringWriter(), e2));
            Assert.Contains("engine.device", e2.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
