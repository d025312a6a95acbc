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
public sealed record SlurmStudyRecord(string Study, List<string> Common, SlurmResources Resources, string Eventprop, List<string> Jobs);

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
        var resources = Resources(a, null, common);
        var tasks = StudyTask.All(study, common);
        string outDir = Path.GetFullPath(a.Value("out") ?? Path.Combine("runs", $"{study.Name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        string studyText = StudyCommand.Serialize(study);
        string recordPath = Path.Combine(outDir, RecordFile);
        if (File.Exists(recordPath) && !a.Flag("overwrite"))
        {
            var earlier = ReadRecord(outDir);
            string shown = a.Value("out") ?? outDir;
            throw new UserError(earlier.Study == studyText && earlier.Common.SequenceEqual(common)
                ? $"'{shown}' already holds this study; 'eventprop study status {shown}' shows its tasks and 'eventprop study resume {shown} --slurm' resubmits the unfinished ones."
                : $"'{shown}' already holds a different study; choose another --out (or --overwrite to replace it).");
        }
        string sbatch = FindTool("sbatch") ?? throw new UserError("--slurm needs Slurm's 'sbatch' on PATH, and it is not there; run on a cluster's login node (or load its Slurm module), or leave out --slurm to run the study here.");
        bool existed = Directory.Exists(outDir);
        var record = new SlurmStudyRecord(studyText, common, resources, EventpropCommand(), []);
        using (RunDirectory.Acquire(outDir, a.Flag("overwrite") ? RunDirectoryMode.Overwrite : RunDirectoryMode.New, canResume: false))
        {
            StudyCommand.WriteBase(outDir, study);
            Directory.CreateDirectory(Path.Combine(outDir, SlurmScript.LogFolder));
            foreach (var t in tasks) Directory.CreateDirectory(Path.Combine(outDir, t.RunName));
            WriteRecord(outDir, record);
        }
        string job;
        try { job = SubmitScript(sbatch, outDir, study.Name, record, tasks, tasks.Select(t => t.Index).ToList()); }
        catch (UserError) when (!existed) { Directory.Delete(outDir, recursive: true); throw; }
        output.WriteLine($"study {study.Name}: submitted {tasks.Count} tasks as Slurm job {job}; 'eventprop study status {a.Value("out") ?? outDir}' shows them, 'eventprop study collect {a.Value("out") ?? outDir}' writes the table.");
        return ExitCodes.Success;
    }

    /// <summary><c>study status DIR</c>: one line per task and a count per state.</summary>
    public static int Status(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "study status", [], []);
        var (dir, record, study, tasks) = Open(a, "status");
        var states = States(dir, record, tasks);
        foreach (var t in tasks)
        {
            string runDir = Path.Combine(dir, t.RunName);
            string detail = states[t.Index] == TaskState.Failed && File.Exists(Path.Combine(runDir, TaskMarkers.Error))
                ? ": " + File.ReadAllText(Path.Combine(runDir, TaskMarkers.Error)).Trim() : "";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{t.Index,4}  {t.RunName}  {TaskMarkers.Word(states[t.Index])}{detail}"));
        }
        output.WriteLine($"study {study.Name}: {tasks.Count} tasks: " + string.Join(", ", Enum.GetValues<TaskState>()
            .Select(s => (s, n: states.Count(x => x == s))).Where(p => p.n > 0).Select(p => $"{p.n} {TaskMarkers.Word(p.s)}")));
        return ExitCodes.Success;
    }

    /// <summary><c>study resume DIR --slurm</c>: resubmits the tasks that are neither done nor queued nor running.</summary>
    public static int Resume(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "study resume", ValueOptions, ["slurm"]);
        if (!a.Flag("slurm")) throw new UserError("study resume continues a Slurm study: add --slurm (a local study is rerun with 'eventprop study --overwrite').");
        string sbatch = FindTool("sbatch") ?? throw new UserError("--slurm needs Slurm's 'sbatch' on PATH, and it is not there; run on a cluster's login node (or load its Slurm module).");
        var (dir, record, study, tasks) = Open(a, "resume");
        var states = States(dir, record, tasks);
        var again = tasks.Where(t => states[t.Index] is TaskState.Failed or TaskState.Interrupted or TaskState.NotSubmitted).ToList();
        if (again.Count == 0)
        {
            output.WriteLine($"study {study.Name}: nothing to resubmit ({states.Count(s => s == TaskState.Done)} done, {states.Count(s => s is TaskState.Pending or TaskState.Running)} queued or running).");
            return ExitCodes.Success;
        }
        foreach (var t in again)
        {
            // A task with a checkpoint continues from it (bit-identical); one without starts again in an emptied directory.
            string runDir = Path.Combine(dir, t.RunName);
            if (!File.Exists(Path.Combine(runDir, "checkpoint.h5")) && Directory.Exists(runDir)) { Directory.Delete(runDir, recursive: true); Directory.CreateDirectory(runDir); }
        }
        record = record with { Resources = Resources(a, record.Resources, record.Common) };
        string job = SubmitScript(sbatch, dir, study.Name, record, tasks, again.Select(t => t.Index).ToList());
        output.WriteLine($"study {study.Name}: resubmitted {again.Count} of {tasks.Count} tasks ({string.Join(", ", again.Select(t => t.Index))}) as Slurm job {job}.");
        return ExitCodes.Success;
    }

    /// <summary><c>study collect DIR</c>: the results table, CSV and plot of the finished tasks; the missing ones are named, not averaged away.</summary>
    public static int Collect(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "study collect", [], []);
        var (dir, record, study, tasks) = Open(a, "collect");
        var states = States(dir, record, tasks);
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

    private static (string Dir, SlurmStudyRecord Record, StudyConfig Study, List<StudyTask> Tasks) Open(Arguments a, string verb)
    {
        if (a.Positional.Count != 1) throw new UserError($"study {verb} takes the study folder: eventprop study {verb} DIR.");
        string dir = Path.GetFullPath(a.Positional[0]);
        if (!File.Exists(Path.Combine(dir, RecordFile)))
            throw new UserError($"'{a.Positional[0]}' is not a Slurm study folder (no {RecordFile}); pass the --out folder of 'eventprop study --slurm'.");
        var record = ReadRecord(dir);
        var study = StudyCommand.Parse(record.Study, Path.Combine(a.Positional[0], RecordFile));
        return (dir, record, study, StudyTask.All(study, record.Common));
    }

    private static SlurmResources Resources(Arguments a, SlurmResources? earlier, List<string> common)
    {
        int? Positive(string option, int? fallback)
        {
            if (a.Value(option) is not string v) return fallback;
            if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1) throw new UserError($"--{option} takes a whole number of at least 1, e.g. --{option} 2.");
            return n;
        }
        bool gpu = common.Any(s => s.Replace(" ", "", StringComparison.Ordinal) is "engine.device=cuda" or "engine.device=\"cuda\"");
        return new SlurmResources(a.Value("partition") ?? earlier?.Partition, a.Value("time") ?? earlier?.Time, Positive("cpus-per-task", earlier?.CpusPerTask ?? 1)!.Value,
            Positive("max-parallel", earlier?.MaxParallel), gpu, a.Values("sbatch-arg").Count > 0 ? [.. a.Values("sbatch-arg")] : earlier?.ExtraArgs ?? []);
    }

    private static string SubmitScript(string sbatch, string dir, string name, SlurmStudyRecord record, List<StudyTask> tasks, List<int> indices)
    {
        string script = SlurmScript.Generate(name, dir, record.Eventprop, tasks, indices, record.Resources);
        string path = Path.Combine(dir, SlurmScript.FileName);
        TrainCommand.WriteAtomic(path, script);
        var (code, stdout, stderr) = RunTool(sbatch, ["--parsable", path]);
        string refusal = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"exit code {code}";
        if (code != 0) throw new UserError($"Slurm refused the study ({refusal}); fix the option it names (--partition, --time, --cpus-per-task, --sbatch-arg) and submit again.");
        string job = stdout.Trim().Split(';')[0];
        record.Jobs.Add(job);
        WriteRecord(dir, record);
        return job;
    }

    /// <summary>The command line that runs this eventprop on a compute node: $EVENTPROP_COMMAND, or dotnet with this build's eventprop.dll.</summary>
    private static string EventpropCommand() =>
        Environment.GetEnvironmentVariable("EVENTPROP_COMMAND") is { Length: > 0 } command ? command
            : $"dotnet {SlurmScript.Quote(typeof(SlurmStudy).Assembly.Location)}";

    private static SlurmStudyRecord ReadRecord(string dir)
    {
        try { return JsonSerializer.Deserialize<SlurmStudyRecord>(File.ReadAllText(Path.Combine(dir, RecordFile)), Json) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new UserError($"'{Path.Combine(dir, RecordFile)}' is damaged ({RunConfig.OneLine(e.Message)}); submit the study again into a new --out."); }
    }

    private static void WriteRecord(string dir, SlurmStudyRecord record) =>
        TrainCommand.WriteAtomic(Path.Combine(dir, RecordFile), JsonSerializer.Serialize(record, Json));

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
