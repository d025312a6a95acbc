using System.Globalization;
using System.Text;

namespace Eventprop.Cli;

/// <summary>What a Slurm study asks the scheduler for (flags of <c>eventprop study --slurm</c>).</summary>
/// <param name="Partition">--partition (null: the cluster's default).</param>
/// <param name="Time">--time (Slurm's format, e.g. 2:00:00; null: the partition's default).</param>
/// <param name="CpusPerTask">--cpus-per-task.</param>
/// <param name="MaxParallel">The array's %N (null: no limit).</param>
/// <param name="Gpu">Ask for --gres=gpu:1 (set when --device cuda).</param>
/// <param name="ExtraArgs">Further #SBATCH lines, passed through as written (--sbatch-arg).</param>
public sealed record SlurmResources(string? Partition, string? Time, int CpusPerTask, int? MaxParallel, bool Gpu, IReadOnlyList<string> ExtraArgs);

/// <summary>
/// The batch script of a Slurm study: one array task per <see cref="StudyTask"/>, each running the same
/// <c>eventprop train</c> a user would run by hand (or <c>train --resume</c> when its run directory holds a checkpoint),
/// forwarding SIGTERM to it and writing the <see cref="TaskMarkers"/> atomically (temp file + rename).
/// </summary>
public static class SlurmScript
{
    /// <summary>The script's file name in the study folder.</summary>
    public const string FileName = "study.sbatch";

    /// <summary>The folder (in the study folder) of Slurm's output files, one per task.</summary>
    public const string LogFolder = "slurm-logs";

    /// <summary>The script for <paramref name="tasks"/> of the study in <paramref name="studyDir"/> (absolute), running <paramref name="eventprop"/> (a shell command line).</summary>
    /// <param name="name">The study's name (the job name).</param>
    /// <param name="studyDir">The study folder (absolute: the tasks run elsewhere).</param>
    /// <param name="eventprop">The command line that runs eventprop on a compute node.</param>
    /// <param name="tasks">Every task of the study.</param>
    /// <param name="indices">The array indices to submit (all tasks, or the unfinished ones on resume).</param>
    /// <param name="r">The resources.</param>
    /// <param name="description">The script's first comment line (default: a study's).</param>
    public static string Generate(string name, string studyDir, string eventprop, IReadOnlyList<StudyTask> tasks, IReadOnlyList<int> indices, SlurmResources r,
        string? description = null)
    {
        var s = new StringBuilder("#!/bin/bash\n");
        s.AppendLine(CultureInfo.InvariantCulture, $"# eventprop {description ?? $"study '{name}': {tasks.Count} tasks (series × sweep value × seed), one Slurm array task each."}");
        s.AppendLine("# Resubmit the unfinished ones with 'eventprop study resume DIR --slurm'; 'eventprop study status DIR' shows where they are.");
        s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --job-name={Quote(name)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --array={ArraySpec(indices)}{(r.MaxParallel is int m ? $"%{m}" : "")}");
        if (r.Partition is not null) s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --partition={r.Partition}");
        if (r.Time is not null) s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --time={r.Time}");
        s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --cpus-per-task={r.CpusPerTask}");
        if (r.Gpu) s.AppendLine("#SBATCH --gres=gpu:1");
        s.AppendLine("#SBATCH --signal=B:TERM@60");
        s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --output={Quote(Path.Combine(studyDir, LogFolder, "%a.out"))}");
        foreach (string extra in r.ExtraArgs) s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH {extra}");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"study={Quote(studyDir)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"eventprop=({eventprop})");
        s.AppendLine("case \"$SLURM_ARRAY_TASK_ID\" in");
        foreach (var t in tasks)
        {
            s.Append(CultureInfo.InvariantCulture, $"  {t.Index}) run={Quote(t.RunName)}; sets=(");
            s.Append(string.Join(' ', t.Sets.Select(x => $"--set {Quote(x)}")));
            s.AppendLine(") ;;");
        }
        s.AppendLine("  *) echo \"no task $SLURM_ARRAY_TASK_ID in this study\" >&2; exit 2 ;;");
        s.AppendLine("esac");
        s.Append("""
dir="$study/$run"
mkdir -p "$dir"
mark() { printf '%s\n' "$2" > "$dir/.$1.tmp" && mv -f "$dir/.$1.tmp" "$dir/$1"; }
rm -f "$dir/task.done" "$dir/task.error" "$dir/task.interrupted"
mark task.started "host $(hostname -s) job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} at $(date -u +%FT%TZ)"
if [ -f "$dir/checkpoint.h5" ]; then
  "${eventprop[@]}" train --resume "$dir" --quiet 2> "$dir/task.stderr" &
else
  "${eventprop[@]}" train --config "$study/base_config.json" --out "$dir" --quiet "${sets[@]}" 2> "$dir/task.stderr" &
fi
pid=$!
# Slurm's SIGTERM (scancel, or --signal before the time limit) goes to this shell: hand it to train, which then
# finishes or abandons the epoch, writes a checkpoint and exits 130.
trap 'kill -TERM "$pid" 2> /dev/null' TERM INT
# A wait that the trap interrupts returns 143: wait while train still runs, then once more for its own exit status
# (bash keeps it for a child that has ended).
wait "$pid"
while kill -0 "$pid" 2> /dev/null; do wait "$pid"; done
wait "$pid"; code=$?
cat "$dir/task.stderr" >&2
case "$code" in
  0) mark task.done "exit 0" ;;
  130|143) mark task.interrupted "exit $code" ;;
  *) mark task.error "$(grep -v '^ *$' "$dir/task.stderr" | tail -n 1) (exit $code)" ;;
esac
exit "$code"

""");
        return s.ToString();
    }

    /// <summary>Slurm's array list for <paramref name="indices"/>: runs of consecutive indices as ranges (<c>0-2,5,7-8</c>).</summary>
    public static string ArraySpec(IReadOnlyList<int> indices)
    {
        var sorted = indices.Distinct().Order().ToList();
        var parts = new List<string>();
        for (int i = 0; i < sorted.Count;)
        {
            int j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1) j++;
            parts.Add(j == i ? sorted[i].ToString(CultureInfo.InvariantCulture) : $"{sorted[i].ToString(CultureInfo.InvariantCulture)}-{sorted[j].ToString(CultureInfo.InvariantCulture)}");
            i = j + 1;
        }
        return string.Join(',', parts);
    }

    /// <summary>A word for bash in single quotes.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
