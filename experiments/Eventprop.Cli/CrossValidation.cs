using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Eventprop.Core.Data;

namespace Eventprop.Cli;

/// <summary>
/// <c>eventprop train --cv speaker</c>: leave-one-speaker-out cross-validation as in Nowotny et al. (§2.2, §4.10): one
/// fold per speaker of the training file, trained on the other speakers and validated on the held-out one. Each fold
/// is an ordinary training run (with <c>dataset.hold_out_speaker</c> set) in its own subfolder <c>speaker-&lt;id&gt;</c>;
/// <c>cv_summary.json</c> and <c>cv_summary.csv</c> collect the per-fold validation accuracy with its mean and standard
/// deviation across folds.
/// </summary>
public static class CrossValidation
{
    /// <summary>Runs every fold, then writes the summary; returns the exit code.</summary>
    /// <param name="args">The <c>train</c> arguments as given (each fold reruns them with its own --out and hold-out speaker).</param>
    /// <param name="a">The parsed arguments.</param>
    /// <param name="kind">The value of --cv (only <c>speaker</c>).</param>
    /// <param name="output">Progress and the final line.</param>
    /// <param name="stop">Ctrl-C: the fold in progress stops after its epoch and no further fold starts.</param>
    internal static int Run(IReadOnlyList<string> args, Arguments a, string kind, TextWriter output, CancellationToken stop)
    {
        if (kind != "speaker") throw new UserError($"--cv must be 'speaker' (leave-one-speaker-out cross-validation), got '{kind}'.");
        if (a.Value("resume") is not null)
            throw new UserError("--cv cannot be combined with --resume; resume one fold with 'eventprop train --resume RUN_DIR/speaker-<id>'.");

        var overrides = new List<string>(a.Values("set"));
        if (a.Int("seed") is int seed) overrides.Add($"seed={seed}");
        if (a.Int("epochs") is int epochs) overrides.Add($"training.epochs={epochs}");
        if (a.Value("data") is string data) overrides.Add($"dataset.path={JsonSerializer.Serialize(data)}");
        if (a.Value("device") is string device) overrides.Add($"engine.device={JsonSerializer.Serialize(device)}");
        if (a.Value("method") is string method) overrides.Add($"method={JsonSerializer.Serialize(method)}");
        var config = RunConfig.Load(a.Value("config"), overrides);
        if (config.Dataset.Kind is not ("shd" or "ssc" or "fsdd"))
            throw new UserError($"--cv speaker needs speaker ids, and dataset.kind '{config.Dataset.Kind}' has none; use an SHD (or SSC, FSDD) config, e.g. --config experiments/configs/shd_sum_exp.json --data DIR.");
        if (config.Dataset.HoldOutSpeaker is not null)
            throw new UserError("--cv speaker chooses the held-out speaker of each fold itself; drop dataset.hold_out_speaker.");
        if (a.Flag("slurm")) return SlurmCrossValidation.Submit(a, config, output);
        if (SlurmStudy.ValueOptions.FirstOrDefault(o => a.Value(o) is not null) is string slurmOnly)
            throw new UserError($"--{slurmOnly} is a Slurm resource; add --slurm to submit the folds to Slurm, or leave it out to run them here.");

        string runDir = a.Value("out") ?? Path.Combine("runs", $"{config.Name}-cv-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        using var directory = RunDirectory.Acquire(runDir, a.Flag("overwrite") ? RunDirectoryMode.Overwrite : RunDirectoryMode.New, canResume: false);
        var (train, _, _) = TrainCommand.LoadData(config with { Dataset = config.Dataset with { ValidationFraction = 0 } });
        var folds = Folds(train, config.Dataset.Kind);
        TrainCommand.WriteAtomic(Path.Combine(runDir, "config.json"), JsonSerializer.Serialize(config, RunConfig.Json));
        output.WriteLine($"{config.Name}: leave-one-speaker-out cross-validation, {folds.Count} folds (speakers {string.Join(", ", folds.Select(f => f.HeldOutSpeaker))}); results in {Path.GetFullPath(runDir)}");

        var clock = Stopwatch.StartNew();
        string[] common = WithoutOptions(args, "cv", "out");
        var results = new List<FoldResult>();
        bool interrupted = false;
        foreach (var fold in folds)
        {
            if (stop.IsCancellationRequested) { interrupted = true; break; }
            int s = fold.HeldOutSpeaker;
            string foldDir = Path.Combine(runDir, $"speaker-{s}");
            output.WriteLine(TrainCommand.Inv($"fold {results.Count + 1}/{folds.Count}: speaker {s} held out ({fold.Train.Count} training, {fold.Validation.Count} validation trials)"));
            TrainCommand.Run([.. common, "--out", foldDir, "--set", $"dataset.hold_out_speaker={s}"], output, stop); // 130 when stopped: read below
            results.Add(ReadFold(foldDir, s, fold.Train.Count, fold.Validation.Count));
            if (results[^1].Interrupted) { interrupted = true; break; }
        }

        output.WriteLine(Summarize(runDir, config.Name, results, folds.Count, interrupted, [], clock.Elapsed.TotalSeconds));
        return interrupted ? ExitCodes.Interrupted : ExitCodes.Success;
    }

    /// <summary>
    /// Writes cv_summary.json/.csv of the finished <paramref name="results"/> and returns the final line: the mean ± sd
    /// across folds, or (with <paramref name="missing"/> folds, a Slurm cross-validation collected early) no mean, the
    /// missing folds named instead.
    /// </summary>
    internal static string Summarize(string runDir, string name, List<FoldResult> results, int totalFolds, bool interrupted, IReadOnlyList<string> missing, double seconds)
    {
        (double? Mean, double? Sd) best = missing.Count > 0 ? (null, null) : Stats(results.Select(r => r.BestValidationAccuracy));
        (double? Mean, double? Sd) final = missing.Count > 0 ? (null, null) : Stats(results.Select(r => r.FinalValidationAccuracy));
        WriteSummary(runDir, name, results, totalFolds, interrupted, missing, best, final, seconds);
        string summaryPath = Path.GetFullPath(Path.Combine(runDir, "cv_summary.json"));
        return missing.Count > 0
            ? $"cross-validation over {results.Count} of {totalFolds} speakers finished; missing {string.Join(", ", missing)}; no mean ± sd until every fold is done; summary in {summaryPath}"
            : TrainCommand.Inv($"{(interrupted ? "interrupted: " : "")}cross-validation over {results.Count} of {totalFolds} speakers: validation accuracy (best epoch per fold) {Pct(best.Mean)} ± {Pct(best.Sd)}, final epoch {Pct(final.Mean)} ± {Pct(final.Sd)} (mean ± sd across folds); summary in {summaryPath}");
    }

    /// <summary>The leave-one-speaker-out folds of <paramref name="train"/>; one-line errors when it has no speaker ids.</summary>
    internal static IReadOnlyList<DatasetSplit> Folds(SpikeDataset train, string kind, string option = "--cv speaker")
    {
        try { return DatasetSplits.LeaveOneSpeakerOut(train); }
        catch (ArgumentException e)
        {
            throw new UserError($"{option}: the {kind} training data cannot be split by speaker: {RunConfig.OneLine(e.Message)}");
        }
    }

    /// <summary>The data of one fold (<c>dataset.hold_out_speaker</c>): train on the other speakers, validate on this one, no test set.</summary>
    internal static (SpikeDataset Train, SpikeDataset? Validation, SpikeDataset? Test) Fold(SpikeDataset train, int speaker, string kind)
    {
        var folds = Folds(train, kind, "dataset.hold_out_speaker");
        var fold = folds.FirstOrDefault(f => f.HeldOutSpeaker == speaker)
            ?? throw new UserError($"dataset.hold_out_speaker {speaker}: the {kind} training data has no trials of that speaker; its speakers are {string.Join(", ", folds.Select(f => f.HeldOutSpeaker))}.");
        return (fold.Train, fold.Validation, null);
    }

    /// <summary>One finished fold: its size, epochs, best epoch and validation accuracies.</summary>
    internal sealed record FoldResult(int Speaker, int TrainTrials, int ValidationTrials, int Epochs, int BestEpoch,
        double BestValidationAccuracy, double FinalValidationAccuracy, bool Interrupted, string RunDir);

    /// <summary>The result of the fold run in <paramref name="foldDir"/> from its metrics.json and summary.json.</summary>
    internal static FoldResult ReadFold(string foldDir, int speaker, int trainTrials, int validationTrials)
    {
        var rows = (JsonNode.Parse(File.ReadAllText(Path.Combine(foldDir, "metrics.json"))) as JsonArray ?? [])
            .OfType<JsonObject>()
            .Select(r => (Epoch: r["epoch"]!.GetValue<int>(), Accuracy: r["validation_accuracy"]?.GetValue<double>() ?? double.NaN))
            .ToArray();
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(foldDir, "summary.json")))!;
        bool interrupted = summary["interrupted"]?.GetValue<bool>() ?? false;
        if (rows.Length == 0) return new FoldResult(speaker, trainTrials, validationTrials, 0, 0, double.NaN, double.NaN, interrupted, foldDir);
        var best = rows[0];
        foreach (var r in rows)
            if (r.Accuracy > best.Accuracy) best = r; // the first epoch with the highest validation accuracy
        return new FoldResult(speaker, trainTrials, validationTrials, rows[^1].Epoch, best.Epoch, best.Accuracy, rows[^1].Accuracy, interrupted, foldDir);
    }

    /// <summary>Mean and sample standard deviation (n − 1; null for fewer than two values) of the finite values.</summary>
    internal static (double? Mean, double? Sd) Stats(IEnumerable<double> values)
    {
        var x = values.Where(double.IsFinite).ToArray();
        if (x.Length == 0) return (null, null);
        double mean = x.Average();
        return (mean, x.Length < 2 ? null : Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1)));
    }

    private static void WriteSummary(string runDir, string name, List<FoldResult> results, int totalFolds, bool interrupted, IReadOnlyList<string> missing,
        (double? Mean, double? Sd) best, (double? Mean, double? Sd) final, double seconds)
    {
        static double? Finite(double x) => double.IsFinite(x) ? x : null;
        var json = new Dictionary<string, object?>
        {
            ["name"] = name, ["cv"] = "speaker", ["folds_completed"] = results.Count, ["folds_total"] = totalFolds, ["interrupted"] = interrupted,
            ["mean_best_validation_accuracy"] = best.Mean, ["sd_best_validation_accuracy"] = best.Sd,
            ["mean_final_validation_accuracy"] = final.Mean, ["sd_final_validation_accuracy"] = final.Sd,
            ["seconds"] = seconds,
            ["folds"] = results.Select(r => new Dictionary<string, object?>
            {
                ["speaker"] = r.Speaker, ["train_trials"] = r.TrainTrials, ["validation_trials"] = r.ValidationTrials, ["epochs"] = r.Epochs,
                ["best_epoch"] = r.BestEpoch, ["best_validation_accuracy"] = Finite(r.BestValidationAccuracy),
                ["final_validation_accuracy"] = Finite(r.FinalValidationAccuracy), ["interrupted"] = r.Interrupted,
                ["run_dir"] = Path.GetFileName(r.RunDir),
            }).ToArray(),
        };
        if (missing.Count > 0) json["missing"] = missing.ToArray();
        TrainCommand.WriteAtomic(Path.Combine(runDir, "cv_summary.json"), JsonSerializer.Serialize(json, RunConfig.Json));

        static string F(double? x) => x is double v && double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";
        var csv = new StringBuilder("speaker,train_trials,validation_trials,epochs,best_epoch,best_validation_accuracy,final_validation_accuracy\n");
        foreach (var r in results)
            csv.Append(CultureInfo.InvariantCulture, $"{r.Speaker},{r.TrainTrials},{r.ValidationTrials},{r.Epochs},{r.BestEpoch},{F(r.BestValidationAccuracy)},{F(r.FinalValidationAccuracy)}\n");
        csv.Append(CultureInfo.InvariantCulture, $"mean,,,,,{F(best.Mean)},{F(final.Mean)}\n");
        csv.Append(CultureInfo.InvariantCulture, $"sd,,,,,{F(best.Sd)},{F(final.Sd)}\n");
        TrainCommand.WriteAtomic(Path.Combine(runDir, "cv_summary.csv"), csv.ToString());
    }

    /// <summary><paramref name="args"/> without the named value options (<c>--name value</c> and <c>--name=value</c> forms).</summary>
    private static string[] WithoutOptions(IReadOnlyList<string> args, params string[] names)
    {
        var kept = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string x = args[i];
            if (names.Any(n => x == "--" + n)) { i++; continue; }
            if (names.Any(n => x.StartsWith("--" + n + "=", StringComparison.Ordinal))) continue;
            kept.Add(x);
        }
        return [.. kept];
    }

    private static string Pct(double? x) => x is double v ? TrainCommand.Inv($"{100 * v:F1} %") : "–";
}
