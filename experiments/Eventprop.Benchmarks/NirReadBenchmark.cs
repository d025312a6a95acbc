using System.Diagnostics;
using System.Globalization;
using Eventprop.Core.Nir;

namespace Eventprop.Benchmarks;

/// <summary>
/// How long <see cref="NirImport.Read"/> takes on the SHD-sized graph 700 → 1024 (recurrent) → 20 (issue 18's acceptance:
/// ≤ 0.5 s in-process): exports the shd-1024 network once, reads it once to warm up, then <c>reads</c> times.
/// </summary>
public static class NirReadBenchmark
{
    /// <summary>Runs the benchmark and returns one line: file size, every read time and the median.</summary>
    public static string Run(int reads = 7)
    {
        var network = SteppedBenchmark.BuildNetwork(SteppedBenchmarkCase.Find("shd-1024")!);
        string folder = Directory.CreateTempSubdirectory("eventprop-nir-bench-").FullName;
        try
        {
            string path = Path.Combine(folder, "shd-1024.nir");
            var write = Stopwatch.StartNew();
            NirExport.Write(network, path);
            double writeMs = write.Elapsed.TotalMilliseconds;
            NirImport.Read(path); // warm-up (JIT)
            var times = new double[reads];
            for (int i = 0; i < reads; i++)
            {
                var clock = Stopwatch.StartNew();
                var back = NirImport.Read(path);
                times[i] = clock.Elapsed.TotalMilliseconds;
                if (back.Parameters.TotalLength != network.Parameters.TotalLength) throw new InvalidOperationException("the graph read back differs");
            }
            double median = times.Order().ElementAt(reads / 2);
            return string.Create(CultureInfo.InvariantCulture,
                $"nir-read 700 → 1024r → 20 ({network.Parameters.TotalLength} parameters, {new FileInfo(path).Length / 1048576.0:F1} MiB): write {writeMs:F0} ms; reads {string.Join(", ", times.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))} ms; median {median:F0} ms");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
