using System.Diagnostics;
using System.Globalization;
using Eventprop.Augment;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Training;

namespace Eventprop.Benchmarks;

/// <summary>One benchmark configuration of the time-stepped engine.</summary>
/// <param name="Name">Short name (used on the command line).</param>
/// <param name="Hidden">Hidden (recurrent LIF) neurons.</param>
/// <param name="DelayedInputCopies">Whether the 700 channels go through a 10 × 30 ms delay line (7,000 inputs).</param>
/// <param name="Steps">Trial length in steps of <paramref name="Dt"/>.</param>
/// <param name="Dt">Step (ms).</param>
/// <param name="InputSpikesPerTrial">Poisson input spikes per trial before the delay line (700 channels × 10 Hz × 1 s = 7,000).</param>
/// <param name="Bptt">Whether the case runs surrogate-gradient BPTT (<see cref="Core.Simulation.Surrogate.SurrogateEngine"/>, SuperSpike β = 10,
/// exact-propagator scheme, detached reset) instead of Eventprop.</param>
/// <param name="LearnedDelays">Learned delays on in → hidden and hidden → hidden (issue 17), initially uniform in
/// [0, <see cref="MaxDelay"/>] ms and clipped to it after each update; null: none.</param>
public sealed record SteppedBenchmarkCase(string Name, int Hidden, bool DelayedInputCopies, int Steps, double Dt = 1.0, int InputSpikesPerTrial = 7000, bool Bptt = false,
    DelayKind? LearnedDelays = null)
{
    /// <summary>d_max of the learned-delay cases (ms), as in the delay paper's SHD setting.</summary>
    public const double MaxDelay = 150;

    /// <summary>Trial duration (ms).</summary>
    public double Duration => Steps * Dt;

    /// <summary>The cases of issue 4: SHD-sized at 256 and 1,024 hidden, with the delay line, and T = 10,000 steps with the same input spikes.</summary>
    public static IReadOnlyList<SteppedBenchmarkCase> Standard { get; } =
    [
        new("shd-256", 256, false, 1000),
        new("shd-1024", 1024, false, 1000),
        new("delay-256", 256, true, 1000),
        new("delay-1024", 1024, true, 1000),
        new("long-256", 256, false, 10000),
    ];

    /// <summary>
    /// Eventprop against surrogate-gradient BPTT (issue 7) on the same SHD-sized network (700 → 256 recurrent → 20, dt 1 ms) at
    /// T = 250, 500 and 1,000 steps, with Poisson input at the same rate (7 spikes per ms over the 700 channels).
    /// </summary>
    public static IReadOnlyList<SteppedBenchmarkCase> BpttComparison { get; } =
    [
        new("ep-250", 256, false, 250, InputSpikesPerTrial: 1750),
        new("ep-500", 256, false, 500, InputSpikesPerTrial: 3500),
        new("ep-1000", 256, false, 1000),
        new("bptt-250", 256, false, 250, InputSpikesPerTrial: 1750, Bptt: true),
        new("bptt-500", 256, false, 500, InputSpikesPerTrial: 3500, Bptt: true),
        new("bptt-1000", 256, false, 1000, Bptt: true),
    ];

    /// <summary>The learned-delay cases of issue 17 (700 → 256 recurrent → 20, d_max = 150 ms, T = 1,000), to compare with shd-256.</summary>
    public static IReadOnlyList<SteppedBenchmarkCase> LearnedDelayComparison { get; } =
    [
        new("learned-256", 256, false, 1000, LearnedDelays: DelayKind.Synaptic),
        new("axonal-256", 256, false, 1000, LearnedDelays: DelayKind.Axonal),
    ];

    /// <summary>Every case by name (<see cref="Standard"/>, <see cref="BpttComparison"/>, <see cref="LearnedDelayComparison"/>), or null.</summary>
    public static SteppedBenchmarkCase? Find(string name) =>
        Standard.Concat(BpttComparison).Concat(LearnedDelayComparison).FirstOrDefault(c => c.Name == name);
}

/// <summary>What one benchmark case measured.</summary>
/// <param name="Case">The case name.</param>
/// <param name="Inputs">Input channels.</param>
/// <param name="Hidden">Hidden neurons.</param>
/// <param name="Steps">Steps per trial.</param>
/// <param name="BatchSize">Trials per minibatch.</param>
/// <param name="Threads">Engine threads.</param>
/// <param name="MillisecondsPerTrial">Forward + backward + Adam update, per trial (wall clock, mean over the measured minibatches).</param>
/// <param name="CpuMillisecondsPerTrial">Processor time of the whole process per trial (all threads); less sensitive than the wall clock to other load on the machine.</param>
/// <param name="InputSpikesPerTrial">Mean delivered input spikes per trial.</param>
/// <param name="HiddenSpikesPerTrial">Mean hidden spikes per trial.</param>
/// <param name="PeakWorkingSetMegabytes">Peak resident memory of the process (MiB); meaningful when the process ran only this case.</param>
/// <param name="PeakManagedMegabytes">Largest managed heap seen by a sampler during the measurement (MiB).</param>
/// <param name="StoredKilobytesPerTrial">State the engine stores per trial for its backward pass (KiB): Eventprop's spikes and snapshots, BPTT's every step.</param>
public sealed record SteppedBenchmarkResult(string Case, int Inputs, int Hidden, int Steps, int BatchSize, int Threads, double MillisecondsPerTrial, double CpuMillisecondsPerTrial,
    double InputSpikesPerTrial, double HiddenSpikesPerTrial, double PeakWorkingSetMegabytes, double PeakManagedMegabytes, double StoredKilobytesPerTrial = 0)
{
    /// <summary>One line of <see cref="SteppedBenchmark.TableHeader"/>.</summary>
    public string ToTableRow() => string.Create(CultureInfo.InvariantCulture,
        $"| {Case,-11} | {Inputs,6} | {Hidden,6} | {Steps,6} | {BatchSize,5} | {Threads,7} | {MillisecondsPerTrial,8:F2} | {CpuMillisecondsPerTrial,12:F2} | {InputSpikesPerTrial,9:F0} | {HiddenSpikesPerTrial,9:F0} | {PeakWorkingSetMegabytes,9:F0} | {PeakManagedMegabytes,11:F0} | {StoredKilobytesPerTrial,15:F0} |");
}

/// <summary>
/// Measures the time-stepped engine on SHD-sized networks (700 → N recurrent LIF → 20 LI readout, Poisson inputs): time per trial
/// for forward + backward + Adam update at batch 32, and peak memory. Used by <c>Eventprop.Benchmarks stepped</c> and reusable
/// from the CLI's <c>bench</c> command. Run each case in a fresh process for a meaningful peak working set.
/// </summary>
public static class SteppedBenchmark
{
    /// <summary>Header of the Markdown table printed by the benchmark.</summary>
    public const string TableHeader =
        "| case        | inputs | hidden |  steps | batch | threads | ms/trial | cpu ms/trial | in spk/tr | hid spk/tr | peak RSS MiB | peak heap MiB | stored KiB/trial |\n" +
        "|-------------|--------|--------|--------|-------|---------|----------|--------------|-----------|-----------|-----------|-------------|-----------------|";

    /// <summary>Builds the network of a case (seeded).</summary>
    public static Network BuildNetwork(SteppedBenchmarkCase c, int seed = 1)
    {
        int inputs = c.DelayedInputCopies ? 7000 : 700;
        double inScale = c.DelayedInputCopies ? 0.1 : 1.0;
        var builder = Network.Create(seed)
            .Input("in", inputs)
            .Lif("hidden", c.Hidden, tauMem: 20, tauSyn: 5)
            .Readout("out", 20, tauMem: 20, tauSyn: 5)
            .Connect("in", "hidden", Init.Normal(0.03 * inScale, 0.01 * inScale))
            .Connect("hidden", "hidden", Init.Normal(0, 0.02))
            .Connect("hidden", "out", Init.Normal(0, 0.03));
        if (c.LearnedDelays is { } kind)
            builder.LearnedDelays("in", "hidden", Init.Uniform(0, SteppedBenchmarkCase.MaxDelay), kind)
                .LearnedDelays("hidden", "hidden", Init.Uniform(0, SteppedBenchmarkCase.MaxDelay), kind);
        return builder.Build();
    }

    /// <summary>Poisson-like input trials: <see cref="SteppedBenchmarkCase.InputSpikesPerTrial"/> spikes uniformly over 700 channels and the first 1,000 ms
    /// (the SHD duration; ~10 Hz per channel), then the delay line if the case has one. Longer trials get the same spikes in their
    /// first 1,000 ms followed by silence, so they differ from the 1,000-step case only in the number of steps.</summary>
    public static SpikeSample[] BuildSamples(SteppedBenchmarkCase c, int count, int seed = 2)
    {
        var random = new TrainingRandom(seed);
        double span = Math.Min(1000.0, c.Duration);
        var delay = c.DelayedInputCopies ? new DelayedInputCopies(c.Duration, 10, 30, 700) : null;
        var samples = new SpikeSample[count];
        for (int s = 0; s < count; s++)
        {
            int n = c.InputSpikesPerTrial;
            var times = new double[n];
            var channels = new int[n];
            for (int i = 0; i < n; i++)
            {
                times[i] = span * random.NextDouble();
                channels[i] = random.NextInt(700);
            }
            var sample = new SpikeSample(times, channels, label: random.NextInt(20));
            samples[s] = delay is null ? sample : delay.Apply(sample);
        }
        return samples;
    }

    /// <summary>Measures one case in this process.</summary>
    /// <param name="c">The case.</param>
    /// <param name="loss">The loss (e.g. <c>Loss.SumExp()</c>, the benchmark's default).</param>
    /// <param name="batches">Minibatches measured after one warm-up minibatch.</param>
    /// <param name="batchSize">Trials per minibatch.</param>
    /// <param name="threads">Engine threads (null: processor count).</param>
    public static SteppedBenchmarkResult Run(SteppedBenchmarkCase c, ILoss loss, int batches = 5, int batchSize = 32, int? threads = null)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(loss);
        if (batches < 1) throw new ArgumentOutOfRangeException(nameof(batches), batches, "Measure at least one minibatch.");
        var network = BuildNetwork(c);
        var samples = BuildSamples(c, 2 * batchSize);
        Core.Simulation.IGradientEngine engine = c.Bptt
            ? new Core.Simulation.Surrogate.SurrogateEngine(c.Dt, c.Duration, new Core.Simulation.Surrogate.SurrogateOptions { Threads = threads })
            : new SteppedEngine(c.Dt, c.Duration, threads);
        int engineThreads = engine is SteppedEngine se ? se.Threads : ((Core.Simulation.Surrogate.SurrogateEngine)engine).Threads;
        var adam = new Adam();
        var batchA = samples[..batchSize];
        var batchB = samples[batchSize..];

        using var sampler = new PeakHeapSampler(2);

        for (int w = 0; w < 3; w++) Step(w % 2 == 0 ? batchA : batchB); // warm-up: JIT tiers, buffers
        double inputs = 0, hidden = 0;
        using var self = Process.GetCurrentProcess();
        var cpuStart = self.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (int b = 0; b < batches; b++)
        {
            var r = Step(b % 2 == 0 ? batchB : batchA);
            hidden += r.HiddenSpikeCounts.Values.Sum(x => x.Sum());
        }
        watch.Stop();
        self.Refresh();
        var cpu = self.TotalProcessorTime - cpuStart;
        long peakManaged = sampler.Stop();
        foreach (var s in samples) inputs += s.Times.ToArray().Count(t => t < c.Duration);
        int trials = batches * batchSize;
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return new SteppedBenchmarkResult(c.Name, network.Input.Size, c.Hidden, c.Steps, batchSize, engineThreads,
            watch.Elapsed.TotalMilliseconds / trials, cpu.TotalMilliseconds / trials, inputs / samples.Length, hidden / trials,
            process.PeakWorkingSet64 / 1048576.0, peakManaged / 1048576.0,
            (engine is SteppedEngine st ? st.StoredStateBytesPerTrial : ((Core.Simulation.Surrogate.SurrogateEngine)engine).StoredStateBytesPerTrial) / 1024.0);

        Core.Simulation.GradientResult Step(SpikeSample[] batch)
        {
            var r = engine.Gradient(network, batch, loss);
            adam.Update(network.Parameters, r.Gradient, 1e-3);
            foreach (var p in network.Parameters)
                if (p.Kind == ParameterKind.Delay || p.Kind == ParameterKind.AxonalDelay)
                    for (int i = 0; i < p.Values.Length; i++) p.Values[i] = Math.Clamp(p.Values[i], 0, SteppedBenchmarkCase.MaxDelay);
            return r;
        }
    }
}
