using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Eventprop.Cli;

/// <summary>
/// A study: several training runs of one base config that differ in a few keys (series), optionally swept over one key's
/// values and repeated over seeds; the results go into one table (CSV + Markdown) and one plot. Used for the surrogate-gradient
/// study on randman (seed 000) and the Eventprop-vs-BPTT comparison (issue 7).
/// </summary>
public sealed record StudyConfig
{
    /// <summary>Study name (the output directory is <c>runs/&lt;name&gt;-&lt;time&gt;</c> unless --out is given).</summary>
    public string Name { get; init; } = "study";

    /// <summary>Free text (ignored).</summary>
    public string? Comment { get; init; }

    /// <summary>The run config every run starts from (same keys as <c>train --config</c>).</summary>
    public JsonObject Base { get; init; } = [];

    /// <summary>Seeds; every run is repeated for each.</summary>
    public int[] Seeds { get; init; } = [1];

    /// <summary>The compared settings: a label and the keys they set (dotted keys as in <c>--set</c>).</summary>
    public StudySeries[] Series { get; init; } = [];

    /// <summary>Optional sweep of one key over values, crossed with every series.</summary>
    public StudySweep? Sweep { get; init; }

    /// <summary>Plot title (default: the name).</summary>
    public string? Title { get; init; }
}

/// <summary>One compared setting of a study.</summary>
public sealed record StudySeries
{
    /// <summary>Label in the table and the plot legend.</summary>
    public string Label { get; init; } = "";

    /// <summary>Keys to set, e.g. <c>{"method": "surrogate", "surrogate.shape": "esser"}</c>.</summary>
    public Dictionary<string, JsonNode?> Set { get; init; } = [];
}

/// <summary><c>eventprop study</c>: runs a <see cref="StudyConfig"/> and writes results.csv, results.md and a plot.</summary>
public static class StudyCommand
{
    /// <summary>How a run that has not finished (yet) starts its note in the table.</summary>
    internal const string MissingNote = "missing:";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    /// <summary>One finished (or skipped, or missing) run.</summary>
    internal sealed record Row(string Series, double? Value, int Seed, double? TestAccuracy, double? TrainAccuracy, double SecondsPerEpoch,
        double PeakManagedMegabytes, string? Note, double[] TestCurve);

    /// <summary>Runs the command (<c>--slurm</c>: submits it as a job array instead, see <see cref="SlurmStudy"/>).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, CancellationToken stop)
    {
        var a = Arguments.Parse(args, "study", ["config", "set", "out", "data", "seeds", "values", "series", "device", .. SlurmStudy.ValueOptions], ["quiet", "overwrite", "slurm"]);
        a.RequireAtMostPositional(0, "study");
        var (study, common) = Load(a);
        if (a.Flag("slurm")) return SlurmStudy.Submit(a, study, common, output);
        if (SlurmStudy.ValueOptions.FirstOrDefault(o => a.Value(o) is not null) is string slurmOnly)
            throw new UserError($"--{slurmOnly} is a Slurm resource; add --slurm to submit the study to Slurm, or leave it out to run here.");
        bool quiet = a.Flag("quiet");

        string outDir = a.Value("out") ?? Path.Combine("runs", $"{study.Name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        using var directory = RunDirectory.Acquire(outDir, a.Flag("overwrite") ? RunDirectoryMode.Overwrite : RunDirectoryMode.New, canResume: false);
        string basePath = WriteBase(outDir, study);

        var rows = new List<Row>();
        var tasks = StudyTask.All(study, common);
        int done = 0;
        foreach (var task in tasks)
        {
            if (stop.IsCancellationRequested) break;
            done++;
            string runDir = Path.Combine(outDir, task.RunName);
            var row = TrainOne(basePath, task, runDir, stop);
            if (!quiet)
            {
                string sweepText = task.Value is double y ? TrainCommand.Inv($", {study.Sweep!.Name} = {y}") : "";
                string result = row.Note ?? TrainCommand.Inv($"test {100 * row.TestAccuracy:F1} %, {row.SecondsPerEpoch:F2} s/epoch, peak heap {row.PeakManagedMegabytes:F0} MiB");
                output.WriteLine(TrainCommand.Inv($"[{done}/{tasks.Count}] {task.Series}{sweepText}, seed {task.Seed}: {result}"));
            }
            if (study.Sweep is { EvaluationOnly: true } evaluation)
            {
                // One training run, evaluated at every value of the evaluation-only key.
                var evaluated = StudyEvaluationSweep.Evaluate(evaluation, row, runDir, stop);
                rows.AddRange(evaluated);
                if (!quiet) foreach (var e in evaluated) output.WriteLine(StudyEvaluationSweep.Describe(evaluation, e));
            }
            else rows.Add(row);
        }
        WriteResults(outDir, study, rows, output);
        string evaluations = study.Sweep is { EvaluationOnly: true } ? $" ({rows.Count} evaluations)" : "";
        output.WriteLine($"study {study.Name}: {done} runs{(stop.IsCancellationRequested ? $" of {tasks.Count} (interrupted)" : "")}{evaluations}; table in {Path.GetFullPath(Path.Combine(outDir, "results.md"))}");
        return stop.IsCancellationRequested ? ExitCodes.Interrupted : ExitCodes.Success;
    }

    /// <summary>Reads the study file and applies --seeds, --values, --series, --set and --data; checks every series (one line on error).</summary>
    internal static (StudyConfig Study, List<string> Common) Load(Arguments a)
    {
        string path = a.Value("config") ?? throw new UserError("study needs --config STUDY.json (see experiments/configs/studies/).");
        if (!File.Exists(path)) throw new UserError($"Study file '{path}' not found.");
        var study = Parse(File.ReadAllText(path), path);
        if (a.Value("seeds") is string seedList) study = study with { Seeds = Numbers(seedList, "--seeds").Select(x => (int)x).ToArray() };
        if (a.Value("values") is string valueList)
            study = study with { Sweep = (study.Sweep ?? throw new UserError("--values needs a study with a sweep.")).Pick(Numbers(valueList, "--values")) };
        if (a.Value("series") is string seriesList)
        {
            var picked = Numbers(seriesList, "--series").Select(x => (int)x).ToArray();
            if (picked.Any(i => i < 1 || i > study.Series.Length)) throw new UserError($"--series picks series by number, 1…{study.Series.Length}.");
            study = study with { Series = picked.Select(i => study.Series[i - 1]).ToArray() };
        }
        var common = new List<string>(a.Values("set"));
        if (a.Value("data") is string data) common.Add($"dataset.path={JsonSerializer.Serialize(data)}");
        if (a.Value("device") is string device) common.Add($"engine.device={JsonSerializer.Serialize(device)}");
        // Fail early, with one line, if the base config, a --set or any series (with any sweep value) is bad.
        CheckSeries(path, study, common);
        return (study, common);
    }

    /// <summary>Parses a study file's text (<paramref name="path"/> names it in errors).</summary>
    internal static StudyConfig Parse(string text, string path)
    {
        StudyConfig study;
        try { study = JsonSerializer.Deserialize<StudyConfig>(text, Json) ?? throw new UserError($"Study '{path}' is empty."); }
        catch (JsonException e) { throw new UserError($"Study '{path}': {RunConfig.OneLine(e.Message)}"); }
        if (study.Series.Length == 0) throw new UserError($"Study '{path}' has no series.");
        if (study.Seeds.Length == 0) throw new UserError($"Study '{path}' has no seeds.");
        study.Sweep?.Check(path);
        return study;
    }

    /// <summary>The study as JSON (as <see cref="Parse"/> reads it).</summary>
    internal static string Serialize(StudyConfig study) => JsonSerializer.Serialize(study, Json);

    /// <summary>Writes base_config.json into the study folder; returns its path.</summary>
    internal static string WriteBase(string outDir, StudyConfig study)
    {
        string basePath = Path.Combine(outDir, "base_config.json");
        TrainCommand.WriteAtomic(basePath, study.Base.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = RunConfig.Json.Encoder }));
        return basePath;
    }

    /// <summary>Writes results.csv, results.md and the plot (a warning line if the plot cannot be written).</summary>
    internal static void WriteResults(string outDir, StudyConfig study, List<Row> rows, TextWriter output)
    {
        WriteTable(outDir, study, rows);
        string? plotProblem = WritePlot(outDir, study, rows);
        if (plotProblem is not null) output.WriteLine($"warning: plot not written ({plotProblem}); the table is unaffected.");
    }

    /// <summary>Builds every series' config (at every sweep value) before the first run; one line naming the series and the key.</summary>
    private static void CheckSeries(string path, StudyConfig study, List<string> common)
    {
        try { RunConfig.FromJson(study.Base.DeepClone(), "", common); }
        catch (UserError e) { throw new UserError($"Study '{path}', base config{(common.Count > 0 ? " with the --set options" : "")}: {e.Message}"); }
        study.Sweep?.Check(path); // again: --values may have emptied it
        double?[] values = study.Sweep is { } sw ? sw.Values.Select(v => (double?)v).ToArray() : [null];
        // Unknown keys and values of the wrong type are errors at every sweep value; a value out of range for one series
        // (e.g. surrogate.scale 0 for the rectangular surrogate) skips that run with a note in the table, unless it rules
        // out every value of the series.
        for (int i = 0; i < study.Series.Length; i++)
        {
            var series = study.Series[i];
            string? firstRangeError = null;
            int runnable = 0;
            foreach (var value in values)
            {
                string at = value is double x ? TrainCommand.Inv($" at {study.Sweep!.Name} = {x}") : "";
                RunConfig config;
                try { config = RunConfig.FromJson(study.Base.DeepClone(), "", [.. common, .. StudyTask.SeriesSets(series, study.Sweep, value)], validate: false); }
                catch (UserError e) { throw new UserError($"Study '{path}', series {i + 1} '{series.Label}'{at}: {e.Message}"); }
                try { config.Validate(); runnable++; }
                catch (UserError e) when (study.Sweep is { EvaluationOnly: true })
                {
                    // One trained model serves every value: a value it cannot be evaluated at is an error now, not after training.
                    throw new UserError($"Study '{path}', series {i + 1} '{series.Label}'{at}: {e.Message}");
                }
                catch (UserError e) { firstRangeError ??= $"Study '{path}', series {i + 1} '{series.Label}'{at}: {e.Message}"; }
            }
            if (runnable == 0) throw new UserError(firstRangeError!);
        }
    }

    private static double[] Numbers(string list, string option)
    {
        try { return list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray(); }
        catch (FormatException) { throw new UserError($"{option} takes a comma-separated list of numbers, e.g. {option} 1,2,3."); }
    }

    private static Row TrainOne(string basePath, StudyTask task, string runDir, CancellationToken stop)
    {
        var args = new List<string> { "--config", basePath, "--out", runDir, "--quiet" };
        foreach (var s in task.Sets) { args.Add("--set"); args.Add(s); }
        long peak = 0;
        using var halt = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!halt.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(false));
                try { await Task.Delay(5, halt.Token); } catch (TaskCanceledException) { }
            }
        });
        GC.Collect();
        try
        {
            TrainCommand.Run(args, TextWriter.Null, stop);
        }
        catch (UserError e)
        {
            return new Row(task.Series, task.Value, task.Seed, null, null, 0, 0, $"skipped: {e.Message}", []);
        }
        finally
        {
            halt.Cancel();
            sampler.Wait();
        }
        return ReadRow(task, runDir, peak / 1048576.0);
    }

    /// <summary>The row of a finished run from its summary.json and metrics.json.</summary>
    internal static Row ReadRow(StudyTask task, string runDir, double peakMegabytes)
    {
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "summary.json")))!;
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "metrics.json"))) as JsonArray ?? [];
        double seconds = metrics.Count == 0 ? 0 : metrics.Average(m => m!["seconds"]!.GetValue<double>());
        double[] curve = metrics.Select(m => m!["test_accuracy"] is JsonNode t ? t.GetValue<double>() : double.NaN).ToArray();
        return new Row(task.Series, task.Value, task.Seed, summary["test_accuracy"]?.GetValue<double>(), summary["final_train_accuracy"]?.GetValue<double>(),
            seconds, peakMegabytes, null, curve);
    }

    private static void WriteTable(string outDir, StudyConfig study, List<Row> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var csv = new StringBuilder("series,sweep_key,sweep_value,seed,test_accuracy,final_train_accuracy,seconds_per_epoch,peak_managed_mib,note\n");
        foreach (var r in rows)
            csv.AppendLine(string.Join(',', Quote(r.Series), Quote(study.Sweep?.Name ?? ""), r.Value?.ToString("R", inv) ?? "", r.Seed.ToString(inv),
                r.TestAccuracy?.ToString("R", inv) ?? "", r.TrainAccuracy?.ToString("R", inv) ?? "", r.SecondsPerEpoch.ToString("R", inv),
                r.PeakManagedMegabytes.ToString("F1", inv), Quote(r.Note ?? "")));
        TrainCommand.WriteAtomic(Path.Combine(outDir, "results.csv"), csv.ToString());

        var md = new StringBuilder($"# {study.Title ?? study.Name}\n\n");
        string key = study.Sweep?.Label ?? study.Sweep?.Name ?? "";
        md.AppendLine($"Seeds {string.Join(", ", study.Seeds)}; test accuracy mean ± std over seeds; seconds per epoch and peak managed heap (sampled during training) are means.\n");
        md.AppendLine(study.Sweep is null
            ? "| series | test accuracy (%) | final train accuracy (%) | s/epoch | peak heap MiB | note |\n|---|---|---|---|---|---|"
            : $"| series | {key} | test accuracy (%) | final train accuracy (%) | s/epoch | peak heap MiB | note |\n|---|---|---|---|---|---|---|");
        foreach (var g in rows.GroupBy(r => (r.Series, r.Value)))
        {
            // A group with a missing run (a Slurm study collected early) shows no mean: it would average the missing seed away.
            var missing = g.Where(r => r.Note?.StartsWith(MissingNote, StringComparison.Ordinal) == true).ToList();
            var ok = missing.Count > 0 ? [] : g.Where(r => r.Note is null).ToList();
            string note = missing.Count > 0 ? $"{MissingNote} {string.Join(", ", missing.Select(r => r.Note![MissingNote.Length..].Trim()))}"
                : g.FirstOrDefault(r => r.Note is not null)?.Note ?? "";
            string acc = ok.Count == 0 ? "–" : MeanStd(ok.Select(r => 100 * r.TestAccuracy!.Value));
            string train = ok.Count == 0 ? "–" : MeanStd(ok.Select(r => 100 * r.TrainAccuracy!.Value));
            string sec = ok.Count == 0 ? "–" : ok.Average(r => r.SecondsPerEpoch).ToString("F2", inv);
            string mem = ok.Count == 0 ? "–" : ok.Average(r => r.PeakManagedMegabytes).ToString("F0", inv);
            md.AppendLine(study.Sweep is null
                ? $"| {g.Key.Series} | {acc} | {train} | {sec} | {mem} | {note} |"
                : $"| {g.Key.Series} | {g.Key.Value?.ToString(inv)} | {acc} | {train} | {sec} | {mem} | {note} |");
        }
        TrainCommand.WriteAtomic(Path.Combine(outDir, "results.md"), md.ToString());

        static string Quote(string s) => s.Contains(',') || s.Contains('"') ? $"\"{s.Replace("\"", "\"\"")}\"" : s;
        string MeanStd(IEnumerable<double> xs)
        {
            var l = xs.ToList();
            double m = l.Average();
            if (l.Count < 2) return m.ToString("F1", inv);
            double sd = Math.Sqrt(l.Sum(x => (x - m) * (x - m)) / (l.Count - 1));
            return $"{m.ToString("F1", inv)} ± {sd.ToString("F1", inv)}";
        }
    }

    private static string? WritePlot(string outDir, StudyConfig study, List<Row> rows)
    {
        try
        {
            var series = new List<PlotSeries>();
            foreach (var g in rows.Where(r => r.Note is null).GroupBy(r => r.Series))
            {
                if (study.Sweep is not null)
                {
                    var points = g.GroupBy(r => r.Value!.Value).OrderBy(p => p.Key).ToList();
                    series.Add(new PlotSeries(g.Key, points.Select(p => p.Key).ToArray(), points.Select(p => 100 * p.Average(r => r.TestAccuracy!.Value)).ToArray()));
                }
                else
                {
                    int epochs = g.Min(r => r.TestCurve.Length);
                    if (epochs == 0) continue;
                    series.Add(new PlotSeries(g.Key, Enumerable.Range(1, epochs).Select(e => (double)e).ToArray(),
                        Enumerable.Range(0, epochs).Select(e => 100 * g.Average(r => r.TestCurve[e])).ToArray()));
                }
            }
            if (series.Count == 0) return null;
            Plots.SaveLines(Path.Combine(outDir, "results"), study.Title ?? study.Name,
                study.Sweep is null ? "epoch" : study.Sweep.Label ?? study.Sweep.Name, "test accuracy (%)", series);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or TypeInitializationException or DllNotFoundException)
        {
            return Plots.Problem(e);
        }
    }
}
