using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Eventprop.Cli;

/// <summary>What a Slurm study folder records about itself (<c>slurm_study.json</c>): the study, the common --set options, the resources and the submitted jobs.</summary>
/// <param name="Study">The study file's content after --seeds/--values/--series.</param>
/// <param name="Common">The --set options (and --data, --device) every task gets.</param>
/// <param name="Resources">What the tasks ask Slurm for.</param>
/// <param name="Eventprop">The command line that runs eventprop on a compute node.</param>
/// <param name="Jobs">The job ids of every submission, oldest first.</param>
/// <param name="Cv">For <c>train --cv speaker --slurm</c>: the folds (then <paramref name="Study"/> is the run config, not a study file).</param>
public sealed record SlurmStudyRecord(string Study, List<string> Common, SlurmResources Resources, string Eventprop, List<string> Jobs, SlurmCvRecord? Cv = null);

/// <summary>
/// <c>eventprop study --slurm</c> and <c>study status|resume|collect DIR</c>: a study as one Slurm job array, one task
/// (and run directory) per <see cref="StudyTask"/>, its state from <see cref="TaskMarkers"/> and <c>squeue</c>.
/// </summary>
public static class SlurmStudy
{
    /// <summary>The record's file name in the study folder.</summary>
    public const string RecordFile = "slurm_study.json";

    /// <summary>The value options only a Slurm submission takes.</summary>
    public static readonly string[] ValueOptions = ["partition", "time", "cpus-per-task", "max-parallel", "sbatch-arg"];

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Writes the study folder, its run directories and the batch script, and submits it with sbatch.</summary>
    public static int Submit(Arguments a, StudyConfig study, List<string> common, TextWriter output)
    {
        if (study.Sweep is { EvaluationOnly: true })
            throw new UserError("study --slurm does not run an evaluation-only sweep (sweep.evaluation_only) yet; run the study here, without --slurm.");
        bool gpu = common.Any(s => s.Replace(" ", "", StringComparison.Ordinal) is "engine.device=cuda" or "engine.device=\"cuda\"");
        var tasks = StudyTask.All(study, common);
        string shown = a.Value("out") ?? Path.Combine("runs", $"{study.Name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        var record = new SlurmStudyRecord(StudyCommand.Serialize(study), common, Resources(a, null, gpu), EventpropCommand(), []);
        string job = SubmitNew(a, shown, study.Name, record, tasks, dir => StudyCommand.WriteBase(dir, study), "study");
        output.WriteLine($"study {study.Name}: submitted {tasks.Count} tasks as Slurm job {job}; 'eventprop study status {shown}' shows them, 'eventprop study collect {shown}' writes the table.");
        return ExitCodes.Success;
    }

    /// <summary>
    /// Writes a new Slurm folder (<paramref name="shown"/>, as the user wrote it): refuses one that already holds a
    /// submission (the same one: status/resume; a different one: another --out), needs sbatch, writes the record, the
    /// files of <paramref name="writeBase"/> and one folder per task, and submits every task; a folder it created is
    /// removed again when Slurm refuses the submission. Returns the job id.
    /// </summary>
    internal static string SubmitNew(Arguments a, string shown, string name, SlurmStudyRecord record, List<StudyTask> tasks, Action<string> writeBase, string what)
    {
        string outDir = Path.GetFullPath(shown);
        RefuseOccupied(a, shown, record.Study, record.Common, record.Cv is not null);
        string sbatch = Sbatch(what);
        bool existed = Directory.Exists(outDir);
        using (RunDirectory.Acquire(outDir, a.Flag("overwrite") ? RunDirectoryMode.Overwrite : RunDirectoryMode.New, canResume: false))
        {
            writeBase(outDir);
            Directory.CreateDirectory(Path.Combine(outDir, SlurmScript.LogFolder));
            foreach (var t in tasks) Directory.CreateDirectory(Path.Combine(outDir, t.RunName));
            WriteRecord(outDir, record);
        }
        try { return SubmitScript(sbatch, outDir, name, record, tasks, tasks.Select(t => t.Index).ToList()); }
        catch (UserError) when (!existed) { Directory.Delete(outDir, recursive: true); throw; }
    }

    /// <summary><c>study status DIR</c>: one line per task and a count per state.</summary>
    public static int Status(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "study status", [], []);
        var (dir, record, name, tasks) = Open(a, "status");
        var states = States(dir, record, tasks);
        foreach (var t in tasks)
        {
            string runDir = Path.Combine(dir, t.RunName);
            string detail = states[t.Index] == TaskState.Failed && File.Exists(Path.Combine(runDir, TaskMarkers.Error))
                ? ": " + File.ReadAllText(Path.Combine(runDir, TaskMarkers.Error)).Trim() : "";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{t.Index,4}  {t.RunName}  {TaskMarkers.Word(states[t.Index])}{detail}"));
        }
        output.WriteLine($"{Kind(record)} {name}: {tasks.Count} tasks: " + string.Join(", ", Enum.GetValues<TaskState>()
            .Select(s => (s, n: states.Count(x => x == s))).Where(p => p.n > 0).Select(p => $"{p.n} {TaskMarkers.Word(p.s)}")));
        return ExitCodes.Success;
    }

    /// <summary><c>study resume DIR --slurm</c>: resubmits the tasks that are neither done nor queued nor running.</summary>
    public static int Resume(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "study resume", ValueOptions, ["slurm"]);
        if (!a.Flag("slurm")) throw new UserError("study resume continues a Slurm study: add --slurm (a local study is rerun with 'eventprop study --overwrite').");
        string sbatch = FindTool("sbatch") ?? throw new UserError("--slurm needs Slurm's 'sbatch' on PATH, and it is not there; run on a cluster's login node (or load its Slurm module).");
        var (dir, record, name, tasks) = Open(a, "resume");
        var states = States(dir, record, tasks);
        var again = tasks.Where(t => states[t.Index] is TaskState.Failed or TaskState.Interrupted or TaskState.NotSubmitted).ToList();
        if (again.Count == 0)
        {
            output.WriteLine($"{Kind(record)} {name}: nothing to resubmit ({states.Count(s => s == TaskState.Done)} done, {states.Count(s => s is TaskState.Pending or TaskState.Running)} queued or running).");
            return ExitCodes.Success;
        }
        foreach (var t in again)
        {
            // A task with a checkpoint continues from it (bit-identical); one without starts again in an emptied directory.
            string runDir = Path.Combine(dir, t.RunName);
            if (!File.Exists(Path.Combine(runDir, "checkpoint.h5")) && Directory.Exists(runDir)) { Directory.Delete(runDir, recursive: true); Directory.CreateDirectory(runDir); }
        }
        record = record with { Resources = Resources(a, record.Resources, record.Resources.Gpu) };
        string job = SubmitScript(sbatch, dir, name, record, tasks, again.Select(t => t.Index).ToList());
        output.WriteLine($"{Kind(record)} {name}: resubmitted {again.Count} of {tasks.Count} tasks ({string.Join(", ", again.Select(t => t.Index))}) as Slurm job {job}.");
        return ExitCodes.Success;
    }

    /// <summary><c>study collect DIR</c>: the results table, CSV and plot of the finished tasks; the missing ones are named, not averaged away.</summary>
    public static int Collect(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "study collect", [], []);
        var (dir, record, name, tasks) = Open(a, "collect");
        var states = States(dir, record, tasks);
        if (record.Cv is not null) return SlurmCrossValidation.Collect(dir, record, tasks, states, output);
        var study = StudyCommand.Parse(record.Study, Path.Combine(a.Positional[0], RecordFile));
        var rows = tasks.Select(t => states[t.Index] == TaskState.Done
            ? StudyCommand.ReadRow(t, Path.Combine(dir, t.RunName), 0)
            : new StudyCommand.Row(t.Series, t.Value, t.Seed, null, null, 0, 0, $"{StudyCommand.MissingNote} seed {t.Seed} {TaskMarkers.Word(states[t.Index])}", [])).ToList();
        StudyCommand.WriteResults(dir, study, rows, output);
        var missing = tasks.Where(t => states[t.Index] != TaskState.Done).ToList();
        string table = Path.Combine(dir, "results.md");
        output.WriteLine(missing.Count == 0
            ? $"study {study.Name}: {tasks.Count} runs; table in {table}"
            : $"study {study.Name}: {tasks.Count - missing.Count} of {tasks.Count} runs finished; missing {string.Join(", ", missing.Select(t => $"{t.RunName} ({TaskMarkers.Word(states[t.Index])})"))}; table (without means for those rows) in {table}");
        return ExitCodes.Success;
    }

    /// <summary>The state of every task (by index) from its markers and <c>squeue</c>.</summary>
    private static TaskState[] States(string dir, SlurmStudyRecord record, List<StudyTask> tasks)
    {
        var queued = Squeue(record.Jobs);
        return tasks.Select(t => TaskMarkers.Derive(TaskMarkers.Present(Path.Combine(dir, t.RunName)), queued.GetValueOrDefault(t.Index))).ToArray();
    }

    /// <summary>
    /// The squeue state code of each array index of <paramref name="jobs"/> (a later submission wins); empty when squeue
    /// is missing or knows none of them (finished jobs leave squeue after a few minutes).
    /// </summary>
    internal static Dictionary<int, string> Squeue(List<string> jobs)
    {
        var states = new Dictionary<int, string>();
        if (jobs.Count == 0 || FindTool("squeue") is not string squeue) return states;
        foreach (string job in jobs)
        {
            var (code, stdout, _) = RunTool(squeue, ["-h", "-r", "-j", job, "-o", "%i %t"]);
            if (code != 0) continue;
            foreach (var (index, state) in ParseSqueue(stdout)) states[index] = state;
        }
        return states;
    }

    /// <summary>Parses <c>squeue -h -r -o "%i %t"</c> lines (<c>12_3 R</c>) into array index and state code.</summary>
    public static IEnumerable<(int Index, string State)> ParseSqueue(string text)
    {
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2) continue;
            int underscore = parts[0].IndexOf('_');
            if (underscore < 0 || !int.TryParse(parts[0][(underscore + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int index)) continue;
            yield return (index, parts[1]);
        }
    }

    /// <summary>What a folder holds, in messages: "study" or "cross-validation".</summary>
    private static string Kind(SlurmStudyRecord record) => record.Cv is null ? "study" : "cross-validation";

    private static (string Dir, SlurmStudyRecord Record, string Name, List<StudyTask> Tasks) Open(Arguments a, string verb)
    {
        if (a.Positional.Count != 1) throw new UserError($"study {verb} takes the study folder: eventprop study {verb} DIR.");
        string dir = Path.GetFullPath(a.Positional[0]);
        if (!File.Exists(Path.Combine(dir, RecordFile)))
            throw new UserError($"'{a.Positional[0]}' is not a Slurm study folder (no {RecordFile}); pass the --out folder of 'eventprop study --slurm' or 'eventprop train --cv speaker --slurm'.");
        var record = ReadRecord(dir);
        if (record.Cv is { } cv) return (dir, record, cv.Name, SlurmCrossValidation.Tasks(cv));
        var study = StudyCommand.Parse(record.Study, Path.Combine(a.Positional[0], RecordFile));
        return (dir, record, study.Name, StudyTask.All(study, record.Common));
    }

    /// <summary>The resources from the flags, each falling back to <paramref name="earlier"/> (on resume) or the default.</summary>
    internal static SlurmResources Resources(Arguments a, SlurmResources? earlier, bool gpu)
    {
        int? Positive(string option, int? fallback)
        {
            if (a.Value(option) is not string v) return fallback;
            if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1) throw new UserError($"--{option} takes a whole number of at least 1, e.g. --{option} 2.");
            return n;
        }
        return new SlurmResources(a.Value("partition") ?? earlier?.Partition, a.Value("time") ?? earlier?.Time, Positive("cpus-per-task", earlier?.CpusPerTask ?? 1)!.Value,
            Positive("max-parallel", earlier?.MaxParallel), gpu, a.Values("sbatch-arg").Count > 0 ? [.. a.Values("sbatch-arg")] : earlier?.ExtraArgs ?? []);
    }

    private static string SubmitScript(string sbatch, string dir, string name, SlurmStudyRecord record, List<StudyTask> tasks, List<int> indices)
    {
        string script = SlurmScript.Generate(name, dir, record.Eventprop, tasks, indices, record.Resources,
            record.Cv is null ? null : $"cross-validation '{name}': {tasks.Count} folds (leave one speaker out), one Slurm array task each.");
        string path = Path.Combine(dir, SlurmScript.FileName);
        TrainCommand.WriteAtomic(path, script);
        var (code, stdout, stderr) = RunTool(sbatch, ["--parsable", path]);
        string refusal = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"exit code {code}";
        if (code != 0) throw new UserError($"Slurm refused the {Kind(record)} ({refusal}); fix the option it names (--partition, --time, --cpus-per-task, --sbatch-arg) and submit again.");
        string job = stdout.Trim().Split(';')[0];
        record.Jobs.Add(job);
        WriteRecord(dir, record);
        return job;
    }

    /// <summary>The command line that runs this eventprop on a compute node: $EVENTPROP_COMMAND, or dotnet with this build's eventprop.dll.</summary>
    internal static string EventpropCommand() =>
        Environment.GetEnvironmentVariable("EVENTPROP_COMMAND") is { Length: > 0 } command ? command
            : $"dotnet {SlurmScript.Quote(typeof(SlurmStudy).Assembly.Location)}";

    private static SlurmStudyRecord ReadRecord(string dir)
    {
        try { return JsonSerializer.Deserialize<SlurmStudyRecord>(File.ReadAllText(Path.Combine(dir, RecordFile)), Json) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new UserError($"'{Path.Combine(dir, RecordFile)}' is damaged ({RunConfig.OneLine(e.Message)}); submit the study again into a new --out."); }
    }

    private static void WriteRecord(string dir, SlurmStudyRecord record) =>
        TrainCommand.WriteAtomic(Path.Combine(dir, RecordFile), JsonSerializer.Serialize(record, Json));

    /// <summary>
    /// Refuses (one line) a folder that already holds a Slurm submission, unless --overwrite: the same one (then status
    /// and resume are the way on) or a different study or cross-validation (then another --out).
    /// </summary>
    internal static void RefuseOccupied(Arguments a, string shown, string study, List<string> common, bool cv)
    {
        string outDir = Path.GetFullPath(shown);
        if (!File.Exists(Path.Combine(outDir, RecordFile)) || a.Flag("overwrite")) return;
        var earlier = ReadRecord(outDir);
        throw new UserError(earlier.Study == study && earlier.Common.SequenceEqual(common) && (earlier.Cv is not null) == cv
            ? $"'{shown}' already holds this {(cv ? "cross-validation" : "study")}; 'eventprop study status {shown}' shows its tasks and 'eventprop study resume {shown} --slurm' resubmits the unfinished ones."
            : $"'{shown}' already holds a different {(earlier.Cv is null ? "study" : "cross-validation")}; choose another --out (or --overwrite to replace it).");
    }

    /// <summary>The full path of sbatch; a one-line error when it is not on PATH (<paramref name="what"/>: "study" or "cross-validation").</summary>
    internal static string Sbatch(string what) =>
        FindTool("sbatch") ?? throw new UserError($"--slurm needs Slurm's 'sbatch' on PATH, and it is not there; run on a cluster's login node (or load its Slurm module), or leave out --slurm to run the {what} here.");

    /// <summary>The full path of <paramref name="tool"/> on PATH, or null.</summary>
    internal static string? FindTool(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    private static (int Code, string Out, string Err) RunTool(string tool, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string x in args) info.ArgumentList.Add(x);
        using var p = Process.Start(info) ?? throw new UserError($"'{tool}' did not start.");
        var err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(60_000)) { p.Kill(); throw new UserError($"'{tool}' did not answer within 60 s; check the Slurm controller (sinfo)."); }
        return (p.ExitCode, stdout, err.Result);
    }
}
