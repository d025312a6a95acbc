using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Gpu;
using Eventprop.Losses;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Gpu;

/// <summary>
/// Convolutions in the ILGPU kernels (on ILGPU's CPU accelerator) against the CPU <see cref="SteppedEngine"/>, whose conv
/// loops are checked against a dense twin and the exact engine (<c>SteppedConvTests</c>): same loss, predictions and spike
/// counts, and every gradient element within 1e-4 of its parameter's gradient norm, on conv → pooled conv → dense after
/// pooling networks with stride 2, padding 1 and several channels, LIF and IF with reset to a value and by subtraction, a
/// recurrent dense layer after a convolution, and a spiking readout; both the persistent and the per-step kernels.
/// </summary>
public class GpuConvolutionTests(GpuEngineFixture fixture, ITestOutputHelper output) : IClassFixture<GpuEngineFixture>
{
    private const double Tolerance = 1e-4;
    private const double Dt = 0.5, Duration = 20;

    /// <summary>The conv networks of the tests.</summary>
    public enum ConvCase
    {
        /// <summary>2×8×8 → conv 3×3 stride 2 padding 1 (3 channels, LIF, reset to 0) → pool 2 + conv 3×3 padding 1 (4 channels,
        /// LIF, subtractive reset) → pool 2, flatten, dense → leaky readout.</summary>
        PooledConvLif,
        /// <summary>2×8×8 → conv 3×3 stride 2 padding 1 (3 channels, IF, subtractive reset) → pool 2, flatten, dense → a
        /// recurrent dense IF layer (reset to 0) → leaky readout.</summary>
        ConvThenRecurrentIf,
        /// <summary><see cref="PooledConvLif"/> with a spiking LIF readout (for <c>first_spike</c>).</summary>
        SpikingReadout,
    }

    /// <summary>Builds <paramref name="kind"/> with weights drawn from <paramref name="seed"/>, optionally with kernel weight 0 of
    /// the first convolution scaled by 1 + <paramref name="perturbation"/>.</summary>
    internal static Network Build(ConvCase kind, int seed = 1, double perturbation = 0)
    {
        var rng = new Random(seed);
        double[] Taus(int n, double low, double high) => Enumerable.Range(0, n).Select(_ => low + (high - low) * rng.NextDouble()).ToArray();
        double[,] Kernels(int rows, int columns, double mean, double sd)
        {
            var m = new double[rows, columns];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < columns; j++) m[i, j] = mean + sd * Init.StandardNormal(rng);
            return m;
        }
        var first = Conv2dConnectivity.Create(2, 8, 8, 3, kernel: 3, stride: 2, padding: 1);
        var g0 = first.Geometry;
        var k0 = Kernels(g0.OutChannels, g0.FanIn, 0.55, 0.35);
        k0[0, 0] *= 1 + perturbation;
        var builder = Network.Create(seed).Input("in", g0.PreSize);
        if (kind == ConvCase.ConvThenRecurrentIf)
        {
            var toDense = Conv2dConnectivity.PooledDense(g0.OutChannels, g0.OutHeight, g0.OutWidth, pool: 2, outputs: 6);
            return builder
                .Hidden("h0", new IntegrateAndFire(resetMode: ResetMode.Subtract), Taus(g0.PostSize, 10, 30), Taus(g0.PostSize, 3, 8))
                .Hidden("h1", new IntegrateAndFire(), Taus(6, 10, 30), Taus(6, 3, 8))
                .Readout("out", Taus(3, 10, 25), Taus(3, 3, 8))
                .Connect("in", "h0", Init.Values(k0), first)
                .Connect("h0", "h1", Init.Values(Kernels(6, toDense.Geometry.FanIn, 1.4, 0.8)), toDense)
                .Connect("h1", "h1", Init.Values(Kernels(6, 6, 0, 0.3)))
                .Connect("h1", "out", Init.Values(Kernels(6, 3, 0.5, 0.6)))
                .Build();
        }
        var second = Conv2dConnectivity.Create(g0.OutChannels, g0.OutHeight, g0.OutWidth, 4, kernel: 3, stride: 1, padding: 1, pool: 2);
        var g1 = second.Geometry;
        var toReadout = Conv2dConnectivity.PooledDense(g1.OutChannels, g1.OutHeight, g1.OutWidth, pool: 2, outputs: 3);
        builder
            .Hidden("h0", new Lif(), Taus(g0.PostSize, 10, 30), Taus(g0.PostSize, 3, 8))
            .Hidden("h1", new Lif(resetMode: ResetMode.Subtract), Taus(g1.PostSize, 10, 30), Taus(g1.PostSize, 3, 8));
        if (kind == ConvCase.SpikingReadout) builder.Readout("out", Taus(3, 10, 25), Taus(3, 3, 8), spiking: true);
        else builder.Readout("out", Taus(3, 10, 25), Taus(3, 3, 8));
        return builder
            .Connect("in", "h0", Init.Values(k0), first)
            .Connect("h0", "h1", Init.Values(Kernels(g1.OutChannels, g1.FanIn, 0.9, 0.6)), second)
            .Connect("h1", "out", Init.Values(Kernels(3, toReadout.Geometry.FanIn, kind == ConvCase.SpikingReadout ? 2.0 : 0.6, 0.8)), toReadout)
            .Build();
    }

    /// <summary>Four trials of 2×8×8 input spikes in the first 80 % of the trial.</summary>
    internal static SpikeSample[] Batch(Network net, int seed = 5, int spikes = 200)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, 4).Select(b =>
        {
            var times = Enumerable.Range(0, spikes).Select(_ => 0.8 * Duration * rng.NextDouble()).ToArray();
            var channels = Enumerable.Range(0, spikes).Select(_ => rng.Next(net.Input.Size)).ToArray();
            return new SpikeSample(times, channels, label: b % net.Readout.Size);
        }).ToArray();
    }

    /// <summary>Worst max_i |g_i − r_i| / ‖r‖ over the parameters (r: the reference) with a nonzero reference gradient.</summary>
    internal static double WorstElementError(ParameterSet gradient, ParameterSet reference, out string where)
    {
        double worst = 0;
        where = "";
        for (int p = 0; p < reference.Count; p++)
        {
            var r = reference[p].Values;
            double norm = Math.Sqrt(r.Sum(x => x * x));
            double max = r.Select((x, i) => Math.Abs(gradient[p].Values[i] - x)).Max();
            double e = norm > 0 ? max / norm : max;
            if (e <= worst) continue;
            worst = e;
            where = reference[p].Name;
        }
        return worst;
    }

    private GradientResult CompareWithCpu(Network net, SpikeSample[] batch, ILoss loss, IGradientEngine gpuEngine, string label)
    {
        var cpu = new SteppedEngine(Dt, Duration, threads: 1).Gradient(net, batch, loss);
        var gpu = gpuEngine.Gradient(net, batch, loss);
        foreach (var (name, counts) in cpu.HiddenSpikeCounts)
        {
            Assert.True(counts.Sum() > 0, $"{label}: {name} is silent, the case compares little");
            Assert.Equal(counts, gpu.HiddenSpikeCounts[name]);
        }
        Assert.Equal(cpu.Predictions, gpu.Predictions);
        Assert.True(Math.Abs(gpu.Loss - cpu.Loss) <= Tolerance * Math.Abs(cpu.Loss), $"{label}: loss {gpu.Loss} vs {cpu.Loss}");
        foreach (var p in cpu.Gradient.Where(p => p.Kind == ParameterKind.Weight))
            Assert.True(p.Values.Any(x => x != 0), $"{label}: the gradient of {p.Name} is zero and compares nothing");
        double worst = WorstElementError(gpu.Gradient, cpu.Gradient, out string where);
        output.WriteLine($"{label}: spikes {string.Join(", ", cpu.HiddenSpikeCounts.Select(kv => $"{kv.Key} {kv.Value.Sum()}"))}; loss {cpu.Loss:F5}; max |Δg|/‖g‖ = {worst:E2} ({where})");
        Assert.True(worst <= Tolerance, $"{label}: max |Δg|/‖g‖ = {worst:E2} at {where} > {Tolerance:E0}");
        return gpu;
    }

    public static TheoryData<ConvCase, string> Cases => new()
    {
        { ConvCase.PooledConvLif, "sum_exp" },
        { ConvCase.PooledConvLif, "max" },
        { ConvCase.ConvThenRecurrentIf, "sum_exp" },
        { ConvCase.ConvThenRecurrentIf, "max" },
        { ConvCase.SpikingReadout, "first_spike" },
    };

    /// <summary>Loss, spike counts and every gradient element (kernels, dense weights, τ's) agree with the CPU engine.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Conv_networks_match_the_cpu_engine(ConvCase kind, string lossName)
    {
        var net = Build(kind);
        var batch = Batch(net);
        if (kind == ConvCase.SpikingReadout)
        {
            int readoutSpikes = batch.Sum(s => new SteppedEngine(Dt, Duration, threads: 1).Simulate(net, s).SpikeCounts("out").Sum());
            output.WriteLine($"readout spikes over the batch: {readoutSpikes}");
            Assert.True(readoutSpikes > 0, "the spiking readout is silent: first_spike would see only phantom spikes");
        }
        var gpu = CompareWithCpu(net, batch, Loss.FromName(lossName), fixture.Engine(Dt, Duration), $"{kind} {lossName}");
        // Bit-identical run to run.
        var again = fixture.Engine(Dt, Duration).Gradient(net, batch, Loss.FromName(lossName));
        Assert.Equal(gpu.Loss, again.Loss);
        for (int p = 0; p < gpu.Gradient.Count; p++) Assert.Equal(gpu.Gradient[p].Values, again.Gradient[p].Values);
    }

    /// <summary>The per-step kernels (one launch per phase and grid point, host-side loss) have the same convolution phases as
    /// the persistent ones: they match the CPU engine and give the persistent kernels' gradient bit for bit.</summary>
    [Fact]
    public void Per_step_kernels_match_the_cpu_engine_on_a_conv_network()
    {
        using var engine = new GpuSteppedEngine(GpuDevice.IlgpuCpu, Dt, Duration, persistentKernels: false, deviceLosses: false);
        var net = Build(ConvCase.PooledConvLif);
        var batch = Batch(net);
        var perStep = CompareWithCpu(net, batch, Loss.SumExp(), engine, "per-step kernels");
        var persistent = fixture.Engine(Dt, Duration).Gradient(net, batch, Loss.SumExp());
        for (int p = 0; p < persistent.Gradient.Count; p++) Assert.Equal(persistent.Gradient[p].Values, perStep.Gradient[p].Values);
    }

    /// <summary>
    /// The comparison bites: a CPU run whose conv transport pairs each synapse with the mirrored kernel tap (the CPU engine's
    /// fault switch), and a CPU run on the network with one kernel weight changed by 1 %, both differ from the GPU run by
    /// more than the tolerance.
    /// </summary>
    [Fact]
    public void The_comparison_catches_a_mirrored_tap_and_a_perturbed_kernel_weight()
    {
        var net = Build(ConvCase.PooledConvLif);
        var batch = Batch(net);
        var gpu = fixture.Engine(Dt, Duration).Gradient(net, batch, Loss.SumExp());
        var mirrored = new SteppedEngine(Dt, Duration, threads: 1) { TransportMisindexed = true }.Gradient(net, batch, Loss.SumExp());
        double mirroredError = WorstElementError(gpu.Gradient, mirrored.Gradient, out string mirroredAt);
        var perturbed = new SteppedEngine(Dt, Duration, threads: 1).Gradient(Build(ConvCase.PooledConvLif, perturbation: 1e-2), batch, Loss.SumExp());
        double perturbedError = WorstElementError(gpu.Gradient, perturbed.Gradient, out string perturbedAt);
        output.WriteLine($"mirrored tap: {mirroredError:E2} ({mirroredAt}); kernel weight × 1.01: {perturbedError:E2} ({perturbedAt})");
        Assert.True(mirroredError > 10 * Tolerance, $"a mirrored conv transport went unnoticed: {mirroredError:E2}");
        Assert.True(perturbedError > Tolerance, $"a 1 % change of one kernel weight went unnoticed: {perturbedError:E2}");
    }
}
