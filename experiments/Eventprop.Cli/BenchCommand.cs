using Eventprop.Benchmarks;

namespace Eventprop.Cli;

/// <summary><c>eventprop bench</c>: the time-stepped engine's speed/memory benchmark (experiments/Eventprop.Benchmarks), in this process.</summary>
public static class BenchCommand
{
    internal static readonly string Help = $"""
        eventprop bench [--cases a,b] [--batches N] [--batch N] [--threads N] [--loss NAME] [--device cpu|cuda|ilgpu-cpu|auto]

        Forward + backward of the batched time-stepped engine on SHD-sized networks (random Poisson input), one table row
        per case. Cases: {string.Join(", ", SteppedBenchmarkCase.Standard.Select(c => c.Name))} (default: shd-256), and
        Eventprop against surrogate-gradient BPTT: {string.Join(", ", SteppedBenchmarkCase.BpttComparison.Select(c => c.Name))}.
        Runs in this process, so the peak-memory columns include earlier cases; for per-case peaks use
        'dotnet run -c Release --project experiments/Eventprop.Benchmarks -- stepped'.
        --device cuda runs the ILGPU kernels on the GPU (ms per trial and device memory; fails with one line without CUDA);
        --device ilgpu-cpu runs them on ILGPU's CPU accelerator (slow: default case 'tiny', 700 → 16 → 20, 50 steps, batch 4).
        """;

    /// <summary>Runs <c>bench</c>.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "bench", ["cases", "batches", "batch", "threads", "loss", "device"], []);
        a.RequireAtMostPositional(0, "bench");
        string device = a.Value("device") ?? "cpu";
        if (!Gpu.SteppedEngines.DeviceNames.Contains(device))
            throw new UserError($"--device must be one of {string.Join(", ", Gpu.SteppedEngines.DeviceNames)}, got '{device}'.");
        device = Gpu.SteppedEngines.Resolve(device);
        if (device != "cpu") return RunGpu(a, device, output);
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

    private static int RunGpu(Arguments a, string device, TextWriter output)
    {
        var gpu = device == "cuda" ? Gpu.GpuDevice.Cuda : Gpu.GpuDevice.IlgpuCpu;
        if (gpu == Gpu.GpuDevice.Cuda && !Gpu.GpuSteppedEngine.CudaAvailable()) throw new UserError(Gpu.GpuSteppedEngine.NoCudaMessage);
        var known = SteppedBenchmarkCase.Standard.Append(GpuBenchmark.Tiny).ToArray();
        var cases = (a.Value("cases") ?? (gpu == Gpu.GpuDevice.Cuda ? "shd-256,shd-1024" : "tiny"))
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(n => known.FirstOrDefault(c => c.Name == n)
                ?? throw new UserError($"Unknown case '{n}'; choose from {string.Join(", ", known.Select(c => c.Name))}."))
            .ToArray();
        bool small = gpu == Gpu.GpuDevice.IlgpuCpu;
        int batches = a.Int("batches") ?? (small ? 2 : 10), batch = a.Int("batch") ?? (small ? 4 : 32);
        if (batches < 1 || batch < 1) throw new UserError("--batches and --batch must be ≥ 1.");
        string lossName = a.Value("loss") ?? "sum_exp";
        if (!Losses.Loss.Names.Contains(lossName)) throw new UserError($"Unknown loss '{lossName}'; choose one of: {string.Join(", ", Losses.Loss.Names)}.");
        output.WriteLine(GpuBenchmark.TableHeader);
        foreach (var c in cases)
            output.WriteLine(GpuBenchmark.Run(c, Losses.Loss.FromName(lossName), gpu, batches, batch).ToTableRow());
        return 0;
    }
}
