namespace Eventprop.Cli;

/// <summary>The state of one task of a Slurm study, as <c>eventprop study status</c> shows it.</summary>
public enum TaskState
{
    /// <summary>Queued in Slurm, not started.</summary>
    Pending,
    /// <summary>Started (marker or <c>squeue</c>) and not finished.</summary>
    Running,
    /// <summary>Finished; its summary is in the run directory.</summary>
    Done,
    /// <summary>Ended with an error (the message is in its <c>task.error</c> marker), or stopped without leaving a marker.</summary>
    Failed,
    /// <summary>Stopped by a signal (time limit, <c>scancel</c>) after writing a checkpoint; <c>study resume</c> continues it.</summary>
    Interrupted,
    /// <summary>Neither queued nor started (e.g. the submission was cancelled before it ran).</summary>
    NotSubmitted,
}

/// <summary>
/// The marker files each task of a Slurm study writes atomically into its run directory (<c>task.started</c>,
/// <c>task.done</c>, <c>task.error</c> with the message, <c>task.interrupted</c>), and the state derived from them and
/// from <c>squeue</c>. The markers do not count as content of the run directory (see <see cref="RunDirectory"/>).
/// </summary>
public static class TaskMarkers
{
    /// <summary>Written when the task starts (its content: host and UTC time).</summary>
    public const string Started = "task.started";
    /// <summary>Written when <c>eventprop train</c> exited 0.</summary>
    public const string Done = "task.done";
    /// <summary>Written when it failed; holds the last line of its error output and the exit code.</summary>
    public const string Error = "task.error";
    /// <summary>Written when it was stopped by SIGTERM/SIGINT (exit 130 or 143).</summary>
    public const string Interrupted = "task.interrupted";

    /// <summary>All marker names.</summary>
    public static readonly string[] Names = [Started, Done, Error, Interrupted];

    /// <summary>
    /// The state of a task from the markers present in its run directory and its <c>squeue</c> state code
    /// (<c>PD</c>, <c>R</c>, <c>CG</c>, …; null when squeue does not list it). A later marker wins over an earlier one:
    /// done, error and interrupted over started; a task Slurm still lists as pending is pending even if an earlier
    /// attempt left an interrupted marker.
    /// </summary>
    public static TaskState Derive(IReadOnlySet<string> markers, string? squeueState)
    {
        if (markers.Contains(Done)) return TaskState.Done;
        if (squeueState is "PD") return TaskState.Pending;
        if (squeueState is not null && !markers.Contains(Error) && !markers.Contains(Interrupted)) return TaskState.Running;
        if (markers.Contains(Error)) return TaskState.Failed;
        if (markers.Contains(Interrupted)) return TaskState.Interrupted;
        if (markers.Contains(Started)) return squeueState is null ? TaskState.Failed : TaskState.Running; // gone without a marker: killed
        return squeueState is null ? TaskState.NotSubmitted : TaskState.Pending;
    }

    /// <summary>The task's error output (kept beside the markers).</summary>
    public const string ErrorOutput = "task.stderr";

    /// <summary>Whether <paramref name="fileName"/> is a marker, a marker being written, or the task's error output.</summary>
    public static bool IsMarkerFile(string fileName) =>
        Names.Contains(fileName) || fileName == ErrorOutput || (fileName.StartsWith(".task.", StringComparison.Ordinal) && fileName.EndsWith(".tmp", StringComparison.Ordinal));

    /// <summary>The markers present in <paramref name="runDir"/>.</summary>
    public static HashSet<string> Present(string runDir) =>
        Names.Where(n => File.Exists(Path.Combine(runDir, n))).ToHashSet();

    /// <summary>The state's word in <c>study status</c>.</summary>
    public static string Word(TaskState state) => state switch
    {
        TaskState.NotSubmitted => "not submitted",
        _ => state.ToString().ToLowerInvariant(),
    };
}
