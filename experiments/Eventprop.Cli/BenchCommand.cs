using Eventprop.Benchmarks;

namespace Eventprop.Cli;

/// <summary><c>eventprop bench</c>: the time-stepped engine's speed/memory benchmark (experiments/Eventprop.Benchmarks), in this process.</summary>
public static class BenchCommand
{
    internal static readonly string Help = $"""
        eventprop bench [--cases a,b] [--batches N] [--batch N] [--threads N] [--loss NAME]

        Forward + backward of the batched time-stepped engine on SHD-sized networks (random Poisson input), one table row
        per case. Cases: {string.Join(", ", SteppedBenchmarkCase.Standard.Select(c => c.Name))} (default: shd-256), and
        Eventprop against surrogate-gradient BPTT: {string.Join(", ", SteppedBenchmarkCase.BpttComparison.Select(c => c.Name))}.
        Runs in this process, so the peak-memory columns include earlier cases; for per-case peaks use
        'dotnet run -c Release --project experiments/Eventprop.Benchmarks -- stepped'.
        """;

    /// <summary>Runs <c>bench</c>.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "bench", ["cases", "batches", "batch", "threads", "loss"], []);
        a.RequireAtMostPositional(0, "bench");
        var cases = (a.Value("cases") ?? "shd-256").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(n => SteppedBenchmarkCase.Find(n)
                ?? throw new UserError($"Unknown case '{n}'; choose from {string.Join(", ", SteppedBenchmarkCase.Standard.Concat(SteppedBenchmarkCase.BpttComparison).Select(c => c.Name))}."))
            .ToArray();
        int batches = a.Int("batches") ?? 5, batch = a.Int("batch") ?? 32;
        int? threads = a.Int("threads");
        if (batches < 1 || batch < 1 || threads is < 1) throw new UserError("--batches, --batch and --threads must be ≥ 1.");
        string lossName = a.Value("loss") ?? "sum_exp";
        if (!Losses.Loss.Names.Contains(lossName)) throw new UserError($"Unknown loss '{lossName}'; choose one of: {string.Join(", ", Losses.Loss.Names)}.");
        output.WriteLine(SteppedBenchmark.TableHeader);
        foreach (var c in cases)
            output.WriteLine(SteppedBenchmark.Run(c, Losses.Loss.FromName(lossName), batches, batch, threads).ToTableRow());
        return 0;
    }
}
