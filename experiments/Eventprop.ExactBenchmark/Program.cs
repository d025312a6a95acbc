// Benchmark of the exact event-driven engine (issue 2): forward + Eventprop backward of one trial of a
// 100-input → 100-hidden (recurrent) → 10-readout network over 1 s with 5,000 input spikes, on one core.
// Run: dotnet run -c Release --project experiments/Eventprop.ExactBenchmark [-- --repeats N]
using System.Diagnostics;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Losses;

int repeats = 20;
for (int a = 0; a < args.Length; a++)
    if (args[a] == "--repeats" && a + 1 < args.Length && int.TryParse(args[a + 1], out int r) && r > 0) repeats = r;
    else if (args[a] is "-h" or "--help")
    {
        Console.WriteLine("usage: Eventprop.ExactBenchmark [--repeats N]");
        return 0;
    }
    else if (args[a] != "--repeats" && !int.TryParse(args[a], out _))
    {
        Console.Error.WriteLine($"error: unknown argument '{args[a]}'; usage: Eventprop.ExactBenchmark [--repeats N]");
        return 2;
    }

const int inputs = 100, hidden = 100, readout = 10, inputSpikes = 5000;
const double duration = 1000;
// Pin to one core for the one-core figure where the OS allows it.
if (OperatingSystem.IsLinux() || OperatingSystem.IsWindows()) Process.GetCurrentProcess().ProcessorAffinity = 1;
Console.WriteLine($"Exact engine, {inputs}-{hidden}r-{readout}, T = {duration} ms, {inputSpikes} input spikes, one core, {repeats} repeats");
Console.WriteLine("forward = forward pass + loss (Evaluate); fwd+bwd = IGradientEngine.Gradient, as training calls it");
Console.WriteLine("activity            hidden spikes   forward (median/min)   fwd+bwd (median/min)   CPU fwd+bwd   target");
// Two activity levels: near the paper's regularisation target (ν = 14 spikes per neuron per trial: ~16 here), and a busy network (~45).
foreach (double inputWeight in new[] { 0.042, 0.06 })
{
    var net = Network.Create(seed: 1)
        .Input("in", inputs)
        .Lif("hidden", hidden, tauMem: 20, tauSyn: 5)
        .Readout("out", readout, tauMem: 20, tauSyn: 5)
        .Connect("in", "hidden", Init.Normal(inputWeight, inputWeight / 2))
        .Connect("hidden", "hidden", Init.Normal(0, 0.02))
        .Connect("hidden", "out", Init.Normal(0, 0.1))
        .Build();
    var rng = new Random(2);
    var times = new double[inputSpikes];
    var channels = new int[inputSpikes];
    for (int i = 0; i < inputSpikes; i++)
    {
        times[i] = rng.NextDouble() * duration;
        channels[i] = rng.Next(inputs);
    }
    var sample = new SpikeSample(times, channels, label: 3);
    var engine = new ExactEngine(duration);
    var loss = Loss.Sum();

    IGradientEngine training = engine; // the path training takes: records go back to the engine's pool after each trial
    var warm = engine.Gradient(net, sample, loss);
    // Warm-up to steady state: the JIT re-compiles hot methods with profile data only after ~30 calls and some loops.
    for (int i = 0; i < 60; i++)
    {
        engine.Evaluate(net, sample, loss);
        training.Gradient(net, [sample], loss);
    }
    var forwardTimes = new List<double>();
    var totalTimes = new List<double>();
    var process = Process.GetCurrentProcess();
    double cpuTotal = 0;
    for (int i = 0; i < repeats; i++)
    {
        var sw = Stopwatch.StartNew();
        engine.Evaluate(net, sample, loss);
        forwardTimes.Add(sw.Elapsed.TotalMilliseconds);
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        sw.Restart();
        training.Gradient(net, [sample], loss);
        totalTimes.Add(sw.Elapsed.TotalMilliseconds);
        process.Refresh();
        cpuTotal += (process.TotalProcessorTime - cpu0).TotalMilliseconds;
    }
    forwardTimes.Sort();
    totalTimes.Sort();
    int spikes = warm.Trials[0].TotalSpikes;
    Console.WriteLine($"{spikes / (double)hidden,5:0.0} spikes/neuron  {spikes,13}   {forwardTimes[repeats / 2],8:0.0} / {forwardTimes[0],5:0.0} ms     {totalTimes[repeats / 2],8:0.0} / {totalTimes[0],5:0.0} ms     {cpuTotal / repeats,7:0.0} ms   ≤ 50 ms");
}
Console.WriteLine($"peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0):0} MiB. CPU = process CPU time per forward+backward (robust to other load; includes GC).");
return 0;
