using System.Diagnostics;
using System.Globalization;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Training;
using Eventprop.Gpu;

namespace Eventprop.Benchmarks;

/// <summary>What one GPU benchmark case measured.</summary>
/// <param name="Case">The case name.</param>
/// <param name="Device">The accelerator's name.</param>
/// <param name="Inputs">Input channels.</param>
/// <param name="Hidden">Hidden neurons.</param>
/// <param name="Steps">Steps per trial.</param>
/// <param name="BatchSize">Trials per minibatch.</param>
/// <param name="MillisecondsPerTrial">Forward + backward + Adam update per trial (wall clock, mean over the measured minibatches; the engine
/// synchronises with the device at the end of each minibatch).</param>
/// <param name="BestMillisecondsPerTrial">The fastest measured minibatch, per trial.</param>
/// <param name="HiddenSpikesPerTrial">Mean hidden spikes per trial.</param>
/// <param name="DeviceMegabytes">Device memory held by the engine's buffers after the run (MiB).</param>
public sealed record GpuBenchmarkResult(string Case, string Device, int Inputs, int Hidden, int Steps, int BatchSize, double MillisecondsPerTrial,
    double BestMillisecondsPerTrial, double HiddenSpikesPerTrial, double DeviceMegabytes)
{
    /// <summary>One line of <see cref="GpuBenchmark.TableHeader"/>.</summary>
    public string ToTableRow() => string.Create(CultureInfo.InvariantCulture,
        $"| {Case,-11} | {Device,-24} | {Inputs,6} | {Hidden,6} | {Steps,6} | {BatchSize,5} | {MillisecondsPerTrial,8:F3} | {BestMillisecondsPerTrial,8:F3} | {HiddenSpikesPerTrial,9:F0} | {DeviceMegabytes,10:F1} |");
}

/// <summary>
/// Measures <see cref="GpuSteppedEngine"/> on the networks of <see cref="SteppedBenchmark"/> (700 → N recurrent LIF → 20 LI readout,
/// Poisson inputs, dt 1 ms): time per trial for forward + backward + Adam update, and the device memory of the engine.
/// </summary>
public static class GpuBenchmark
{
    /// <summary>A small case for exercising the path on ILGPU's (slow) CPU accelerator: 700 → 16 → 20, 50 steps, 2,000 input spikes per trial.</summary>
    public static SteppedBenchmarkCase Tiny { get; } = new("tiny", 16, false, 50, InputSpikesPerTrial: 2000);

    /// <summary>Header of the Markdown table printed by the benchmark.</summary>
    public const string TableHeader =
        "| case        | device                   | inputs | hidden |  steps | batch | ms/trial | best ms  | hid spk/tr | device MiB |\n" +
        "|-------------|--------------------------|--------|--------|--------|-------|----------|----------|-----------|------------|";

    /// <summary>Measures one case.</summary>
    /// <param name="c">The case.</param>
    /// <param name="loss">The loss.</param>
    /// <param name="device">Where the kernels run.</param>
    /// <param name="batches">Minibatches measured after two warm-up minibatches (kernel compilation, buffer allocation).</param>
    /// <param name="batchSize">Trials per minibatch.</param>
    /// <exception cref="InvalidOperationException">CUDA was asked for and is absent (<see cref="GpuSteppedEngine.NoCudaMessage"/>).</exception>
    public static GpuBenchmarkResult Run(SteppedBenchmarkCase c, ILoss loss, GpuDevice device, int batches = 5, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(loss);
        if (batches < 1) throw new ArgumentOutOfRangeException(nameof(batches), batches, "Measure at least one minibatch.");
        if (device == GpuDevice.Cuda && !GpuSteppedEngine.CudaAvailable()) throw new InvalidOperationException(GpuSteppedEngine.NoCudaMessage);
        var network = SteppedBenchmark.BuildNetwork(c);
        var samples = SteppedBenchmark.BuildSamples(c, 2 * batchSize);
        using var engine = new GpuSteppedEngine(device, c.Dt, c.Duration);
        var adam = new Adam();
        var batchA = samples[..batchSize];
        var batchB = samples[batchSize..];
        for (int w = 0; w < 2; w++) Step(w % 2 == 0 ? batchA : batchB);
        double hidden = 0, best = double.PositiveInfinity;
        var total = Stopwatch.StartNew();
        for (int b = 0; b < batches; b++)
        {
            var one = Stopwatch.StartNew();
            var r = Step(b % 2 == 0 ? batchB : batchA);
            best = Math.Min(best, one.Elapsed.TotalMilliseconds / batchSize);
            hidden += r.HiddenSpikeCounts.Values.Sum(x => x.Sum());
        }
        total.Stop();
        int trials = batches * batchSize;
        return new GpuBenchmarkResult(c.Name, engine.DeviceName, network.Input.Size, c.Hidden, c.Steps, batchSize,
            total.Elapsed.TotalMilliseconds / trials, best, hidden / trials, engine.DeviceMemoryBytes / 1048576.0);

        Core.Simulation.GradientResult Step(SpikeSample[] batch)
        {
            var r = engine.Gradient(network, batch, loss);
            adam.Update(network.Parameters, r.Gradient, 1e-3);
            return r;
        }
    }
}
