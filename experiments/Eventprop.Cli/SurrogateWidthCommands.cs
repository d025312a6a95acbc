using System.Globalization;
using System.Text;
using System.Text.Json;
using Eventprop.Core.Data;
using Eventprop.Core.Simulation.Surrogate;

namespace Eventprop.Cli;

/// <summary>
/// <c>eventprop gradient-report</c> (seed 004 Fig. 3: mean |∂L/∂U| per hidden layer and mean |∂L/∂W| per connection, for one
/// or more surrogate widths γ) and <c>eventprop tune-surrogate</c> (seed 004 §2.5: γ by bisection so that the first and the
/// second half of the hidden layers get the same mean gradient magnitude). Both measure the config's freshly initialised
/// network on its first <c>--batches</c> minibatches of the training set (a seeded shuffle: deterministic given the seed).
/// </summary>
public static class SurrogateWidthCommands
{
    /// <summary>Default number of minibatches measured.</summary>
    public const int DefaultBatches = 4;

    /// <summary>Runs <c>gradient-report</c>.</summary>
    public static int GradientReport(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "gradient-report", ["config", "set", "data", "out", "batches", "gamma", "method"], ["overwrite", "quiet"]);
        a.RequireAtMostPositional(0, "gradient-report");
        var config = Load(a, "gradient-report");
        double[] gammas = a.Value("gamma") is string list ? ParseGammas(list) : [config.Surrogate.Scale];
        string runDir = a.Value("out") ?? Path.Combine("runs", $"{config.Name}-gradient-report-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        using var directory = RunDirectory.Acquire(runDir, a.Flag("overwrite") ? RunDirectoryMode.Overwrite : RunDirectoryMode.New, "--out", canResume: false);
        using var p = TrainCommand.Prepare(config);
        var batches = Batches(p, a, config);
        var engine = (SurrogateEngine)p.Engine;
        var reports = gammas.Select(g =>
        {
            var s = engine.Options.Surrogate;
            var e = new SurrogateEngine(engine.Dt, engine.Duration, engine.Options with { Surrogate = Surrogate.FromName(s.Name, g, s.Height) }, timeConstantGradients: false);
            return (Gamma: g, Report: GradientMagnitudeReport.Measure(e, p.Network, batches, p.Loss));
        }).ToArray();
        TrainCommand.WriteAtomic(Path.Combine(runDir, "config.json"), JsonSerializer.Serialize(config, RunConfig.Json));

        var csv = new StringBuilder("gamma,kind,index,name,size,mean_abs_gradient\n");
        foreach (var (g, r) in reports)
        {
            for (int l = 0; l < r.Layers.Count; l++) csv.Append(Inv($"{g:R},layer_dL_dU,{l + 1},{r.Layers[l].Layer},{r.Layers[l].Size},{r.Layers[l].MeanAbsVoltageAdjoint:R}\n"));
            for (int c = 0; c < r.Connections.Count; c++) csv.Append(Inv($"{g:R},connection_dL_dW,{c + 1},{r.Connections[c].Connection},{r.Connections[c].Weights},{r.Connections[c].MeanAbsWeightGradient:R}\n"));
        }
        TrainCommand.WriteAtomic(Path.Combine(runDir, "gradient_report.csv"), csv.ToString());
        TrainCommand.WriteAtomic(Path.Combine(runDir, "gradient_report.md"), Markdown(config, reports));
        if (!a.Flag("quiet"))
        {
            output.WriteLine(Inv($"{config.Name}: mean gradient magnitudes over {reports[0].Report.Batches} minibatches ({reports[0].Report.Trials} trials), surrogate {engine.Options.Surrogate.Name}, height (seed 004's β) {engine.Options.Surrogate.Height}"));
            output.WriteLine("γ (scale)      layer                  neurons   mean |dL/dU|");
            foreach (var (g, r) in reports)
                foreach (var l in r.Layers) output.WriteLine(Inv($"{g,-14:G6} {l.Layer,-22} {l.Size,7}   {l.MeanAbsVoltageAdjoint,12:E3}"));
            output.WriteLine("γ (scale)      connection             weights   mean |dL/dW|");
            foreach (var (g, r) in reports)
                foreach (var c in r.Connections) output.WriteLine(Inv($"{g,-14:G6} {c.Connection,-22} {c.Weights,7}   {c.MeanAbsWeightGradient,12:E3}"));
        }
        try
        {
            Plots.SaveLines(Path.Combine(runDir, "gradient_report"), $"{config.Name}: mean |dL/dU| per hidden layer (seed 004 Fig. 3)", "hidden layer", "mean |dL/dU| (log10)",
                reports.Select(x => new PlotSeries(Inv($"γ = {x.Gamma:G4}"), x.Report.Layers.Select((_, i) => (double)(i + 1)).ToArray(),
                    x.Report.Layers.Select(l => l.MeanAbsVoltageAdjoint > 0 ? Math.Log10(l.MeanAbsVoltageAdjoint) : double.NaN).ToArray())).ToArray());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or TypeInitializationException or DllNotFoundException)
        {
            output.WriteLine($"warning: plot not written ({Plots.Problem(e)}); gradient_report.csv is unaffected.");
        }
        output.WriteLine($"gradient report of {reports.Length} γ value(s) in {Path.GetFullPath(runDir)}");
        return ExitCodes.Success;
    }

    /// <summary>gradient_report.md: one row per hidden layer (then per connection), one column of mean |∂L/∂U| (|∂L/∂W|) per γ.</summary>
    private static string Markdown(RunConfig config, (double Gamma, GradientMagnitudeReport Report)[] reports)
    {
        var r0 = reports[0].Report;
        var md = new StringBuilder(Inv($"# {config.Name}: mean gradient magnitudes per layer (seed 004 Fig. 3)\n\n{r0.Batches} minibatches ({r0.Trials} trials) of the freshly initialised network; surrogate {config.Surrogate.Shape}, height (seed 004's β) {config.Surrogate.Height}.\n\n"));
        string gammas = string.Join(" | ", reports.Select(x => Inv($"γ = {x.Gamma:G6}")));
        string rule = string.Concat(Enumerable.Repeat("---|", reports.Length + 2));
        md.Append($"| hidden layer | neurons | {gammas} |\n|{rule}\n");
        for (int l = 0; l < r0.Layers.Count; l++)
            md.Append(Inv($"| {l + 1} {r0.Layers[l].Layer} | {r0.Layers[l].Size} | ") + string.Join(" | ", reports.Select(x => x.Report.Layers[l].MeanAbsVoltageAdjoint.ToString("E3", CultureInfo.InvariantCulture))) + " |\n");
        md.Append($"\nmean |dL/dU| above, mean |dL/dW| below.\n\n| connection | weights | {gammas} |\n|{rule}\n");
        for (int c = 0; c < r0.Connections.Count; c++)
            md.Append(Inv($"| {c + 1} {r0.Connections[c].Connection} | {r0.Connections[c].Weights} | ") + string.Join(" | ", reports.Select(x => x.Report.Connections[c].MeanAbsWeightGradient.ToString("E3", CultureInfo.InvariantCulture))) + " |\n");
        return md.ToString();
    }

    /// <summary>Runs <c>tune-surrogate</c>.</summary>
    public static int TuneSurrogate(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "tune-surrogate", ["config", "set", "data", "out", "batches", "min-gamma", "max-gamma", "tolerance", "max-iterations", "method"], ["overwrite", "quiet"]);
        a.RequireAtMostPositional(0, "tune-surrogate");
        var config = Load(a, "tune-surrogate");
        var defaults = new SurrogateWidthTuning();
        var settings = new SurrogateWidthTuning(a.Double("min-gamma") ?? defaults.MinGamma, a.Double("max-gamma") ?? defaults.MaxGamma,
            a.Double("tolerance") ?? defaults.Tolerance, a.Int("max-iterations") ?? defaults.MaxIterations);
        if (!(settings.MinGamma > 0) || !(settings.MaxGamma > settings.MinGamma) || !double.IsFinite(settings.MaxGamma))
            throw new UserError(Inv($"--min-gamma and --max-gamma must satisfy 0 < min < max, got {settings.MinGamma:G6} and {settings.MaxGamma:G6} (defaults {defaults.MinGamma} and {defaults.MaxGamma})."));
        if (!(settings.Tolerance > 0) || !double.IsFinite(settings.Tolerance)) throw new UserError(Inv($"--tolerance must be > 0 (on |ln ratio|; default {defaults.Tolerance})."));
        if (settings.MaxIterations < 1) throw new UserError($"--max-iterations must be ≥ 1 (default {defaults.MaxIterations}).");
        if (config.Network.Hidden.Count < 2)
            throw new UserError("tune-surrogate compares the first and second half of the hidden layers, so it needs at least 2; give network.hidden a list of layers, e.g. --set network.hidden=[64,64,64,64].");
        bool quiet = a.Flag("quiet");
        string runDir = a.Value("out") ?? Path.Combine("runs", $"{config.Name}-tune-surrogate-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        using var directory = RunDirectory.Acquire(runDir, a.Flag("overwrite") ? RunDirectoryMode.Overwrite : RunDirectoryMode.New, "--out", canResume: false);
        using var p = TrainCommand.Prepare(config);
        var batches = Batches(p, a, config);
        TrainCommand.WriteAtomic(Path.Combine(runDir, "config.json"), JsonSerializer.Serialize(config, RunConfig.Json));
        if (!quiet)
        {
            output.WriteLine(Inv($"{config.Name}: γ (surrogate.scale) by bisection of ln γ over [{settings.MinGamma:G4}, {settings.MaxGamma:G4}], until |ln(first half / second half)| ≤ {settings.Tolerance:G3} (at most {settings.MaxIterations} midpoints); {batches.Count} minibatches"));
            output.WriteLine("iter   γ              ln ratio     mean |dL/dU| per hidden layer");
        }
        SurrogateWidthResult result;
        try
        {
            result = SurrogateWidthTuner.Tune(p.Engine, p.Network, batches, p.Loss, settings, it =>
            {
                if (!quiet) output.WriteLine(Inv($"{it.Index,4}   {it.Gamma,-12:G6}   {it.LogRatio,10:F4}   {string.Join("  ", it.Report.Layers.Select(l => l.MeanAbsVoltageAdjoint.ToString("E3", CultureInfo.InvariantCulture)))}"));
            });
        }
        catch (ArgumentException e) when (e.Message.Contains("widen the γ bracket", StringComparison.Ordinal))
        {
            throw new UserError($"{Program.UserMessage(e)} (--min-gamma, --max-gamma)");
        }
        WriteResult(runDir, config, result, batches);
        if (!result.Converged)
            output.WriteLine(Inv($"warning: not converged in {settings.MaxIterations} midpoints; the best γ has |ln ratio| {Math.Abs(result.LogRatio):G3} > {settings.Tolerance:G3} (raise --max-iterations)."));
        output.WriteLine(Inv($"γ = {result.Gamma:G6} (ln ratio {result.LogRatio:F4}; set surrogate.scale={result.Gamma:R}); results in {Path.GetFullPath(runDir)}"));
        return ExitCodes.Success;
    }

    /// <summary>Writes surrogate_width.json (the chosen γ and settings) and surrogate_width_iterations.csv (every γ tried).</summary>
    internal static void WriteResult(string runDir, RunConfig config, SurrogateWidthResult result, IReadOnlyList<IReadOnlyList<SpikeSample>> batches)
    {
        var layers = result.Iterations[0].Report.Layers.Select(l => l.Layer).ToArray();
        var csv = new StringBuilder("iteration,gamma,log_ratio," + string.Join(",", layers.Select(l => $"mean_abs_dL_dU_{l}")) + "\n");
        foreach (var it in result.Iterations)
            csv.Append(Inv($"{it.Index},{it.Gamma:R},{it.LogRatio:R},") + string.Join(",", it.Report.Layers.Select(l => l.MeanAbsVoltageAdjoint.ToString("R", CultureInfo.InvariantCulture))) + "\n");
        TrainCommand.WriteAtomic(Path.Combine(runDir, "surrogate_width_iterations.csv"), csv.ToString());
        var summary = new Dictionary<string, object?>
        {
            ["name"] = config.Name, ["gamma"] = result.Gamma, ["log_ratio"] = result.LogRatio, ["converged"] = result.Converged,
            ["shape"] = config.Surrogate.Shape, ["height"] = config.Surrogate.Height,
            ["min_gamma"] = result.Settings.MinGamma, ["max_gamma"] = result.Settings.MaxGamma, ["tolerance"] = result.Settings.Tolerance,
            ["max_iterations"] = result.Settings.MaxIterations, ["log_gamma_tolerance"] = SurrogateWidthTuning.LogGammaTolerance,
            ["half_layers"] = result.HalfLayers, ["layers"] = layers, ["batches"] = batches.Count, ["trials"] = batches.Sum(b => b.Count), ["seed"] = config.Seed,
            ["rule"] = "bisection of ln(mean |dL/dU| of the first half of the hidden layers / that of the last half) over ln γ; the middle layer of an odd count is in neither half",
            ["iterations"] = result.Iterations.Select(it => new Dictionary<string, object?> { ["gamma"] = it.Gamma, ["log_ratio"] = it.LogRatio }).ToArray(),
        };
        TrainCommand.WriteAtomic(Path.Combine(runDir, "surrogate_width.json"), JsonSerializer.Serialize(summary, RunConfig.Json));
    }

    /// <summary>
    /// <c>surrogate.tune_width</c>: tunes γ with the default settings on the first <see cref="DefaultBatches"/> minibatches,
    /// writes surrogate_width.json and the iteration table to <paramref name="runDir"/>, and returns the config with that scale.
    /// </summary>
    internal static RunConfig TuneBeforeTraining(RunConfig config, string runDir, TextWriter output, bool quiet)
    {
        using var p = TrainCommand.Prepare(config);
        var batches = Batches(p, DefaultBatches, config);
        SurrogateWidthResult result;
        try { result = SurrogateWidthTuner.Tune(p.Engine, p.Network, batches, p.Loss); }
        catch (ArgumentException e) { throw new UserError($"surrogate.tune_width: {Program.UserMessage(e)}"); }
        WriteResult(runDir, config, result, batches);
        if (!quiet)
            output.WriteLine(Inv($"surrogate.tune_width: γ = {result.Gamma:G6} (ln ratio {result.LogRatio:F4}{(result.Converged ? "" : ", not converged")}, {result.Iterations.Count} evaluations; surrogate_width.json)"));
        return config with { Surrogate = config.Surrogate with { Scale = result.Gamma } };
    }

    private static RunConfig Load(Arguments a, string command)
    {
        var overrides = new List<string>(a.Values("set"));
        if (a.Value("method") is string method) overrides.Add($"method={JsonSerializer.Serialize(method)}");
        if (a.Value("data") is string data) overrides.Add($"dataset.path={JsonSerializer.Serialize(data)}");
        var config = RunConfig.Load(a.Value("config"), overrides);
        if (config.Method != "surrogate")
            throw new UserError($"{command} measures surrogate gradients, but the config's method is '{config.Method}' (Eventprop's exact adjoint has no surrogate width); add --method surrogate.");
        return config;
    }

    /// <summary>The first --batches minibatches of a seeded shuffle of the training set.</summary>
    private static IReadOnlyList<IReadOnlyList<SpikeSample>> Batches(TrainCommand.Prepared p, Arguments a, RunConfig config)
    {
        int count = a.Int("batches") ?? DefaultBatches;
        if (count < 1) throw new UserError($"--batches must be ≥ 1 minibatches, got {count}.");
        return Batches(p, count, config);
    }

    private static IReadOnlyList<IReadOnlyList<SpikeSample>> Batches(TrainCommand.Prepared p, int count, RunConfig config)
    {
        var samples = p.Train.Samples.ToArray();
        new Random(config.Seed).Shuffle(samples);
        int size = Math.Min(config.Training.BatchSize, samples.Length);
        return Enumerable.Range(0, Math.Min(count, samples.Length / size)).Select(b => (IReadOnlyList<SpikeSample>)samples[(b * size)..((b + 1) * size)]).ToArray();
    }

    private static double[] ParseGammas(string list)
    {
        var parts = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !(values[i] > 0) || !double.IsFinite(values[i]))
                throw new UserError($"--gamma must be a comma-separated list of widths γ > 0, e.g. --gamma 1,10,100; '{parts[i]}' is not one.");
        if (values.Length == 0) throw new UserError("--gamma must list at least one γ > 0, e.g. --gamma 1,10,100.");
        return values;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
