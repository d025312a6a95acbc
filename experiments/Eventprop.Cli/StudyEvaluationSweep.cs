using System.Globalization;
using Eventprop.Core.Training;

namespace Eventprop.Cli;

/// <summary>
/// An evaluation-only sweep (<see cref="StudySweep.EvaluationOnly"/>): the final model of one trained study run, evaluated
/// on its test set at every sweep value (e.g. <c>engine.evaluation_duration_ms</c> 5 … 40 ms: seed 004 Fig. 6), one table
/// row per value. The run's config.json (thresholds and γ as trained) is loaded with the swept key set; its checkpoint
/// supplies the parameters (the best epoch's when early stopping restored them, as in the run's summary).
/// </summary>
internal static class StudyEvaluationSweep
{
    /// <summary>
    /// One row per sweep value: the trained run's row with the test accuracy at that value; a run that was skipped or has
    /// no checkpoint repeats its note at every value.
    /// </summary>
    public static List<StudyCommand.Row> Evaluate(StudySweep sweep, StudyCommand.Row trained, string runDir, CancellationToken stop)
    {
        string checkpoint = Path.Combine(runDir, "checkpoint.h5");
        if (trained.Note is null && !File.Exists(checkpoint)) trained = trained with { Note = "skipped: the run finished no epoch, so there is no model to evaluate" };
        if (trained.Note is not null) return sweep.Values.Select(v => trained with { Value = v }).ToList();
        var rows = new List<StudyCommand.Row>();
        foreach (double value in sweep.Values)
        {
            if (stop.IsCancellationRequested) break;
            try { rows.Add(trained with { Value = value, TestAccuracy = TestAccuracy(runDir, checkpoint, sweep.SetsAt(value).ToList()), TestCurve = [] }); }
            catch (UserError e) { rows.Add(trained with { Value = value, TestAccuracy = null, TestCurve = [], Note = $"skipped: {e.Message}" }); }
        }
        return rows;
    }

    /// <summary>The test accuracy of the run's final model with <paramref name="sets"/> applied to its config.json.</summary>
    private static double TestAccuracy(string runDir, string checkpoint, List<string> sets)
    {
        var config = RunConfig.Load(Path.Combine(runDir, "config.json"), sets);
        using var p = TrainCommand.Prepare(config);
        if (p.Test is not { Count: > 0 })
            throw new UserError($"An evaluation-only sweep evaluates on the test set, but the run in '{runDir}' has none (dataset.test_fraction).");
        var trainer = new Trainer(p.Network, p.Engine, p.Loss, p.Options) { EvaluationEngine = p.Evaluator };
        trainer.LoadCheckpoint(checkpoint);
        if (p.Options.EarlyStopping is { RestoreBest: true } && trainer.BestParameters is { } best)
            for (int i = 0; i < best.Count; i++) best[i].Values.CopyTo(p.Network.Parameters[i].Values, 0);
        return trainer.Evaluate(p.Test).Accuracy;
    }

    /// <summary>The progress line of one evaluated value.</summary>
    public static string Describe(StudySweep sweep, StudyCommand.Row row) => row.Note is not null
        ? string.Create(CultureInfo.InvariantCulture, $"    {sweep.Name} = {row.Value}: {row.Note}")
        : string.Create(CultureInfo.InvariantCulture, $"    {sweep.Name} = {row.Value}: test {100 * row.TestAccuracy:F1} %");
}
