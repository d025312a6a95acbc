using System.Text.Json;

namespace Eventprop.Cli;

/// <summary>The folds of a Slurm cross-validation, as <c>slurm_study.json</c> records them.</summary>
/// <param name="Name">The run config's name.</param>
/// <param name="Folds">One per held-out speaker, in the order a local <c>train --cv speaker</c> runs them.</param>
public sealed record SlurmCvRecord(string Name, List<SlurmCvFold> Folds);

/// <summary>One fold of a Slurm cross-validation.</summary>
/// <param name="Speaker">The held-out speaker.</param>
/// <param name="TrainTrials">Trials of the other speakers (the fold's training set).</param>
/// <param name="ValidationTrials">Trials of the held-out speaker (its validation set).</param>
public sealed record SlurmCvFold(int Speaker, int TrainTrials, int ValidationTrials);

/// <summary>
/// <c>eventprop train --cv speaker ... --slurm</c>: leave-one-speaker-out cross-validation as one Slurm job array, one
/// array task and run directory (<c>speaker-&lt;id&gt;</c>) per fold, each running the fold's ordinary
/// <c>eventprop train</c> (the run config plus <c>dataset.hold_out_speaker</c>). <c>study status|resume</c> follow it
/// like a study; <c>study collect</c> writes the same cv_summary.json/.csv as the local <c>train --cv speaker</c>.
/// </summary>
public static class SlurmCrossValidation
{
    /// <summary>Writes the folder (config.json, base_config.json, one directory per fold, the script) and submits it.</summary>
    internal static int Submit(Arguments a, RunConfig config, TextWriter output)
    {
        // Tasks run in another working directory on a real cluster (and the record is read from anywhere): an absolute data path.
        if (config.Dataset.Path is string data) config = config with { Dataset = config.Dataset with { Path = Path.GetFullPath(data) } };
        string configText = JsonSerializer.Serialize(config, RunConfig.Json);
        string shown = a.Value("out") ?? Path.Combine("runs", $"{config.Name}-cv-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        // Before reading the data: a folder already in use, or no Slurm here, fails at once.
        SlurmStudy.RefuseOccupied(a, shown, configText, [], cv: true);
        SlurmStudy.Sbatch("cross-validation");
        var (train, _, _) = TrainCommand.LoadData(config with { Dataset = config.Dataset with { ValidationFraction = 0 } });
        var folds = CrossValidation.Folds(train, config.Dataset.Kind);
        var cv = new SlurmCvRecord(config.Name, folds.Select(f => new SlurmCvFold(f.HeldOutSpeaker, f.Train.Count, f.Validation.Count)).ToList());
        var tasks = Tasks(cv);
        var record = new SlurmStudyRecord(configText, [], SlurmStudy.Resources(a, null, config.Engine.Device == "cuda"), SlurmStudy.EventpropCommand(), [], cv);
        string job = SlurmStudy.SubmitNew(a, shown, config.Name, record, tasks, dir =>
        {
            TrainCommand.WriteAtomic(Path.Combine(dir, "config.json"), configText);
            TrainCommand.WriteAtomic(Path.Combine(dir, "base_config.json"), configText);
        }, "cross-validation");
        output.WriteLine($"{config.Name}: submitted {tasks.Count} folds of leave-one-speaker-out cross-validation (speakers {string.Join(", ", cv.Folds.Select(f => f.Speaker))}) as Slurm job {job}; "
            + $"'eventprop study status {shown}' shows them, 'eventprop study collect {shown}' writes cv_summary.json.");
        return ExitCodes.Success;
    }

    /// <summary>One task per fold: run directory <c>speaker-&lt;id&gt;</c>, holding that speaker out.</summary>
    internal static List<StudyTask> Tasks(SlurmCvRecord cv) =>
        cv.Folds.Select((f, i) => new StudyTask(i, "speaker", f.Speaker, 0, $"speaker-{f.Speaker}", [$"dataset.hold_out_speaker={f.Speaker}"])).ToList();

    /// <summary><c>study collect DIR</c> of a cross-validation: cv_summary.json/.csv of the finished folds; the mean ± sd only when every fold is done.</summary>
    internal static int Collect(string dir, SlurmStudyRecord record, List<StudyTask> tasks, TaskState[] states, TextWriter output)
    {
        var cv = record.Cv!;
        var results = new List<CrossValidation.FoldResult>();
        var missing = new List<string>();
        double seconds = 0;
        foreach (var t in tasks)
        {
            var fold = cv.Folds[t.Index];
            string foldDir = Path.Combine(dir, t.RunName);
            if (states[t.Index] != TaskState.Done) { missing.Add($"{t.RunName} ({TaskMarkers.Word(states[t.Index])})"); continue; }
            results.Add(CrossValidation.ReadFold(foldDir, fold.Speaker, fold.TrainTrials, fold.ValidationTrials));
            var summary = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(foldDir, "summary.json")))!;
            seconds += summary["seconds"]?.GetValue<double>() ?? 0;
        }
        // "seconds" is the sum of the folds' training times (they ran in parallel, so not the wall-clock time).
        output.WriteLine(CrossValidation.Summarize(dir, cv.Name, results, tasks.Count, interrupted: false, missing, seconds));
        return ExitCodes.Success;
    }
}
