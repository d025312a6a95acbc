using System.Diagnostics;
using Xunit;

namespace Eventprop.Tests.Cli.Slurm;

/// <summary>
/// A test that needs a running Slurm cluster (<c>sbatch</c> on PATH and <c>sinfo</c> answering, e.g. after
/// <c>.ci/slurm-up.sh</c>); decided once at discovery, and skipped with the reason otherwise.
/// </summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    private static readonly string? Missing = FindMissing();

    /// <summary>Sets <see cref="FactAttribute.Skip"/> when there is no usable Slurm.</summary>
    public SlurmFactAttribute()
    {
        if (Missing is not null) Skip = Missing;
    }

    private static string? FindMissing()
    {
        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        if (!path.Any(d => File.Exists(Path.Combine(d, "sbatch"))))
            return "no Slurm: 'sbatch' is not on PATH (start a local test cluster with .ci/slurm-up.sh, as root)";
        try
        {
            using var sinfo = Process.Start(new ProcessStartInfo("sinfo", ["-h", "-o", "%a"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            string up = sinfo.StandardOutput.ReadToEnd();
            if (!sinfo.WaitForExit(10_000)) { sinfo.Kill(); return "no Slurm: 'sinfo' did not answer within 10 s"; }
            return sinfo.ExitCode == 0 && up.Contains("up", StringComparison.Ordinal) ? null
                : "no Slurm: 'sinfo' finds no running controller with a partition up (start one with .ci/slurm-up.sh, as root)";
        }
        catch (System.ComponentModel.Win32Exception e) { return $"no Slurm: 'sinfo' did not start ({e.Message})"; }
    }
}
