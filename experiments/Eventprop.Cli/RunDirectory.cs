using System.Diagnostics;
using System.Globalization;

namespace Eventprop.Cli;

/// <summary>How a command means to use its output directory.</summary>
public enum RunDirectoryMode
{
    /// <summary>A new run: the directory must not exist or be empty.</summary>
    New,

    /// <summary><c>--overwrite</c>: an earlier eventprop directory is emptied first (anything else is refused).</summary>
    Overwrite,

    /// <summary><c>--resume</c>: the directory holds the run to continue; nothing is removed.</summary>
    Resume,
}

/// <summary>
/// A run directory (of <c>train</c>, <c>study</c> or <c>train --cv</c>) held by this process for writing. Two guards keep a
/// second writer out:
/// <list type="bullet">
/// <item>an operating-system lock on <see cref="LockFileName"/> (opened with <see cref="FileShare.None"/>), which the
/// system releases when the process ends in any way, kill -9 included;</item>
/// <item>the owner file <see cref="OwnerFileName"/> naming host, process id and start time, for network file systems whose
/// locks may not hold across machines. Disposing removes it. A process killed on this host leaves it behind, and the next
/// writer here finds that process gone and takes over; one left by another host is refused with the command that clears it
/// (delete the file once that run is known to have stopped).</item>
/// </list>
/// </summary>
public sealed class RunDirectory : IDisposable
{
    /// <summary>The file the operating-system lock is held on (empty; it stays in the directory).</summary>
    public const string LockFileName = ".eventprop.lock";

    /// <summary>The file naming the writing process (<c>host</c>, <c>pid</c>, <c>started</c>); removed when the writer ends.</summary>
    public const string OwnerFileName = ".eventprop.owner";

    private static readonly string[] RunFiles =
        ["config.json", "checkpoint.h5", "summary.json", "metrics.json", "base_config.json", "results.csv", "cv_summary.json", LockFileName];

    private FileStream? _lock;

    /// <summary>The directory (full path).</summary>
    public string FullPath { get; }

    /// <summary>What a stale owner file said when this process took over (null when there was none), for a note.</summary>
    public string? TookOverFrom { get; }

    private RunDirectory(string fullPath, FileStream lockStream, string? tookOverFrom)
    {
        FullPath = fullPath;
        _lock = lockStream;
        TookOverFrom = tookOverFrom;
    }

    /// <summary>
    /// Takes <paramref name="path"/> for writing: creates it, locks it and, with <see cref="RunDirectoryMode.Overwrite"/>,
    /// empties it. One-line <see cref="UserError"/>s when it is in use, not empty for a new run, or not an eventprop directory.
    /// </summary>
    /// <param name="path">The directory as the user wrote it (for messages).</param>
    /// <param name="mode">New, overwrite or resume.</param>
    /// <param name="option">The option that named it (<c>--out</c>, <c>--resume</c>), for messages.</param>
    /// <param name="canResume">Whether the command has <c>--resume</c> (train does; study and --cv do not), for the hint.</param>
    public static RunDirectory Acquire(string path, RunDirectoryMode mode, string option = "--out", bool canResume = true)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (File.Exists(full)) throw new UserError($"{option} '{path}' is a file; give a directory.");
        if (mode == RunDirectoryMode.New) RequireEmpty(path, full, option, canResume);
        if (mode == RunDirectoryMode.Overwrite && Directory.Exists(full) && Entries(full).Any() && !RunFiles.Any(f => File.Exists(System.IO.Path.Combine(full, f))))
            throw new UserError($"'{path}' holds files but no eventprop run; --overwrite only replaces a run directory. Choose another {option}.");
        Directory.CreateDirectory(full);

        string lockPath = System.IO.Path.Combine(full, LockFileName), ownerPath = System.IO.Path.Combine(full, OwnerFileName);
        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            string owner = ReadOwner(ownerPath) ?? "another process";
            throw new UserError($"'{path}' is in use by {owner}; one process writes a run directory at a time: wait for that run to end or stop it, or choose another {option}.");
        }
        catch (UnauthorizedAccessException)
        {
            throw new UserError($"'{path}' is not writable; choose another {option}.");
        }

        string? previous = null;
        try
        {
            if (ReadOwner(ownerPath) is { } owner)
            {
                var (host, pid, started) = ParseOwner(ownerPath);
                bool here = string.Equals(host, Environment.MachineName, StringComparison.OrdinalIgnoreCase);
                if (!here)
                    throw new UserError($"'{path}' is claimed by {owner} (a lock file; file locks may not reach across machines); if that run has stopped, delete '{ownerPath}' and retry.");
                if (pid is int p && p != Environment.ProcessId && IsRunning(p, started))
                    throw new UserError($"'{path}' is in use by {owner}; wait for that run to end or stop it, or choose another {option}.");
                previous = owner;
            }
            if (mode == RunDirectoryMode.New) RequireEmpty(path, full, option, canResume); // again, now that we hold the lock
            if (mode == RunDirectoryMode.Overwrite)
                foreach (string entry in Entries(full))
                {
                    if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
                    else File.Delete(entry);
                }
            string started0 = Process.GetCurrentProcess().StartTime.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
            TrainCommand.WriteAtomic(ownerPath, $"host {Environment.MachineName}\npid {Environment.ProcessId}\nstarted {started0}\n");
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return new RunDirectory(full, stream, previous);
    }

    /// <summary>Removes the owner file and releases the lock.</summary>
    public void Dispose()
    {
        if (_lock is null) return;
        try { File.Delete(System.IO.Path.Combine(FullPath, OwnerFileName)); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        _lock.Dispose();
        _lock = null;
    }

    /// <summary>Whether <paramref name="fullPath"/> holds anything besides the lock and owner files and a Slurm task's markers.</summary>
    public static bool HasContent(string fullPath) => Directory.Exists(fullPath) && Entries(fullPath).Any();

    private static IEnumerable<string> Entries(string full) =>
        Directory.EnumerateFileSystemEntries(full).Where(e => System.IO.Path.GetFileName(e) is string name
            && name is not (LockFileName or OwnerFileName) && !TaskMarkers.IsMarkerFile(name));

    private static void RequireEmpty(string path, string full, string option, bool canResume)
    {
        if (!HasContent(full)) return;
        string what = File.Exists(System.IO.Path.Combine(full, "config.json")) ? "a run" : "files";
        throw new UserError(canResume
            ? $"'{path}' already holds {what}; pass --resume {path} to continue it, --overwrite to replace it, or choose another {option}."
            : $"'{path}' already holds {what}; pass --overwrite to replace it, or choose another {option}.");
    }

    private static string? ReadOwner(string ownerPath)
    {
        try
        {
            if (!File.Exists(ownerPath)) return null;
            var (host, pid, started) = ParseOwner(ownerPath);
            if (host is null && pid is null) return null;
            return $"process {pid?.ToString(CultureInfo.InvariantCulture) ?? "?"} on host {host ?? "?"}{(started is null ? "" : $" (started {started})")}";
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static (string? Host, int? Pid, string? Started) ParseOwner(string ownerPath)
    {
        string? host = null, started = null;
        int? pid = null;
        foreach (string line in File.ReadAllLines(ownerPath))
        {
            int space = line.IndexOf(' ');
            if (space <= 0) continue;
            string key = line[..space], value = line[(space + 1)..].Trim();
            if (key == "host") host = value;
            else if (key == "started") started = value;
            else if (key == "pid" && int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int p)) pid = p;
        }
        return (host, pid, started);
    }

    /// <summary>Whether process <paramref name="pid"/> runs and is the one that started at <paramref name="started"/> (not a reused id).</summary>
    private static bool IsRunning(int pid, string? started)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            if (process.HasExited) return false;
            if (started is null || !DateTime.TryParse(started, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var then)) return true;
            return Math.Abs((process.StartTime.ToUniversalTime() - then.ToUniversalTime()).TotalSeconds) < 2;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
        catch (System.ComponentModel.Win32Exception) { return true; }
    }
}
