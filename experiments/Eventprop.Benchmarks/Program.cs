using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Eventprop.Benchmarks;
using Eventprop.Losses;

// Usage: dotnet run -c Release --project experiments/Eventprop.Benchmarks -- stepped [--cases shd-256,long-256] [--batches 5]
//        [--batch 32] [--threads N] [--loss sum_exp] [--in-process]
// Each case runs in a fresh child process (so the peak memory is that case's own) and the results are printed as a table.
//        dotnet run -c Release --project experiments/Eventprop.Benchmarks -- bptt [same options]
// 'bptt' runs Eventprop against surrogate-gradient BPTT on the same network at T = 250, 500, 1,000 (issue 7).
//        dotnet run -c Release --project experiments/Eventprop.Benchmarks -- nir-read
//        dotnet run -c Release --project experiments/Eventprop.Benchmarks -- surrogate-conv [--data DIR] [--batches 2] [--batch 64] [--threads N]
// 'surrogate-conv' times BPTT training of mnist_conv_surrogate.json's network per trial (forward + backward + AdamW update).
// 'nir-read' times NirImport.Read on a 700 → 1024 (recurrent) → 20 graph: median of 7 reads after one warm-up (issue 18).
if (args.Length >= 1 && args[0] == "surrogate-conv")
{
    // surrogate-conv [--data DIR] [--batches N] [--batch N] [--threads N]: mnist_conv_surrogate.json's training speed (issue: BPTT conv MNIST).
    string? data = null;
    int convBatches = 2, convBatch = 64;
    int? convThreads = null;
    for (int i = 1; i + 1 < args.Length; i += 2)
    {
        switch (args[i])
        {
            case "--data": data = args[i + 1]; break;
            case "--batches": convBatches = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
            case "--batch": convBatch = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
            case "--threads": convThreads = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
            default: Console.Error.WriteLine($"Unknown argument '{args[i]}'."); return 2;
        }
    }
    Console.WriteLine(SurrogateConvBenchmark.Run(data, convBatches, convBatch, convThreads));
    return 0;
}
if (args.Length == 1 && args[0] == "nir-read")
{
    Console.WriteLine(NirReadBenchmark.Run());
    return 0;
}
if (args.Length == 0 || (args[0] != "stepped" && args[0] != "bptt"))
{
    Console.Error.WriteLine("usage: Eventprop.Benchmarks stepped|bptt [--cases a,b] [--batches N] [--batch N] [--threads N] [--loss NAME] [--in-process] | nir-read | surrogate-conv [--data DIR] [--batches N] [--batch N] [--threads N]");
    return 2;
}
var options = new Dictionary<string, string>(StringComparer.Ordinal);
bool inProcess = false;
for (int i = 1; i < args.Length; i++)
{
    if (args[i] == "--in-process") inProcess = true;
    else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length) options[args[i][2..]] = args[++i];
    else
    {
        Console.Error.WriteLine($"Unknown argument '{args[i]}'.");
        return 2;
    }
}
bool compare = args[0] == "bptt";
var names = options.TryGetValue("cases", out var cs) ? cs.Split(',')
    : (compare ? SteppedBenchmarkCase.BpttComparison : SteppedBenchmarkCase.Standard).Select(c => c.Name).ToArray();
int batches = options.TryGetValue("batches", out var bs) ? int.Parse(bs, CultureInfo.InvariantCulture) : 5;
int batch = options.TryGetValue("batch", out var b1) ? int.Parse(b1, CultureInfo.InvariantCulture) : 32;
int? threads = options.TryGetValue("threads", out var th) ? int.Parse(th, CultureInfo.InvariantCulture) : null;
string lossName = options.GetValueOrDefault("loss", "sum_exp"); // the issue's benchmark is specified with sum_exp
try
{
    Loss.FromName(lossName);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

var results = new List<SteppedBenchmarkResult>();
foreach (var name in names)
{
    var c = SteppedBenchmarkCase.Find(name);
    if (c is null)
    {
        Console.Error.WriteLine($"Unknown case '{name}'; choose from {string.Join(", ", SteppedBenchmarkCase.Standard.Concat(SteppedBenchmarkCase.BpttComparison).Concat(SteppedBenchmarkCase.LearnedDelayComparison).Select(x => x.Name))}.");
        return 2;
    }
    if (inProcess)
    {
        var r = SteppedBenchmark.Run(c, Loss.FromName(lossName), batches, batch, threads);
        Console.WriteLine("RESULT " + JsonSerializer.Serialize(r));
        results.Add(r);
        continue;
    }
    // A child process per case: its peak working set is the case's own.
    string exe = Environment.ProcessPath!;
    var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
    foreach (var a in new[] { "stepped", "--in-process", "--cases", name, "--batches", batches.ToString(CultureInfo.InvariantCulture),
                 "--batch", batch.ToString(CultureInfo.InvariantCulture), "--loss", lossName })
        psi.ArgumentList.Add(a);
    if (threads is int t)
    {
        psi.ArgumentList.Add("--threads");
        psi.ArgumentList.Add(t.ToString(CultureInfo.InvariantCulture));
    }
    using var child = Process.Start(psi)!;
    string output = child.StandardOutput.ReadToEnd();
    child.WaitForExit();
    var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
    if (child.ExitCode != 0 || line is null)
    {
        Console.Error.WriteLine($"Case {name} failed (exit {child.ExitCode}).");
        return 1;
    }
    var result = JsonSerializer.Deserialize<SteppedBenchmarkResult>(line["RESULT ".Length..])!;
    Console.Error.WriteLine(result.ToTableRow());
    results.Add(result);
}
if (!inProcess)
{
    Console.WriteLine($"{(compare ? "Eventprop (time-stepped engine) and surrogate-gradient BPTT" : "Time-stepped engine")}, loss '{lossName}', batch {batch}, {batches} measured minibatches, {Environment.ProcessorCount} cores:");
    Console.WriteLine(SteppedBenchmark.TableHeader);
    foreach (var r in results) Console.WriteLine(r.ToTableRow());
    var shortRun = results.FirstOrDefault(r => r.Case == "shd-256");
    var longRun = results.FirstOrDefault(r => r.Case == "long-256");
    if (shortRun is not null && longRun is not null)
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Peak RSS at T = {longRun.Steps} steps / T = {shortRun.Steps} steps (same input spikes): {longRun.PeakWorkingSetMegabytes / shortRun.PeakWorkingSetMegabytes:F2}×"));
    foreach (var steps in new[] { 250, 500, 1000 })
    {
        var ep = results.FirstOrDefault(r => r.Case == $"ep-{steps}");
        var bp = results.FirstOrDefault(r => r.Case == $"bptt-{steps}");
        if (ep is null || bp is null) continue;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"T = {steps}: BPTT / Eventprop  cpu time {bp.CpuMillisecondsPerTrial / ep.CpuMillisecondsPerTrial:F1}×, peak RSS {bp.PeakWorkingSetMegabytes / ep.PeakWorkingSetMegabytes:F2}×, peak heap {bp.PeakManagedMegabytes / ep.PeakManagedMegabytes:F2}×, stored state per trial {bp.StoredKilobytesPerTrial / ep.StoredKilobytesPerTrial:F1}×"));
    }
}
return 0;
