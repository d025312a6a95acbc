using System.Globalization;
using System.Text;
using System.Text.Json;
using Eventprop.Core.Training;

namespace Eventprop.Cli;

/// <summary>
/// <c>eventprop lr-range-test</c>: the learning-rate range test (seed 004 §3.1, Smith 2018) on a training config. An
/// exponential sweep from <c>--min</c> to <c>--max</c> over <c>--steps</c> minibatches of the config's training set, from
/// the config's freshly initialised network; writes lr_range.csv, lr_range.png/.svg and lr_range.json to a new run
/// directory and prints the suggested learning rate (steepest descent of the smoothed loss).
/// </summary>
public static class LearningRateRangeCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, CancellationToken stop)
    {
        var a = Arguments.Parse(args, "lr-range-test", ["config", "set", "data", "out", "min", "max", "steps", "device", "method"], ["overwrite", "quiet"]);
        a.RequireAtMostPositional(0, "lr-range-test");
        var overrides = new List<string>(a.Values("set"));
        if (a.Value("method") is string method) overrides.Add($"method={JsonSerializer.Serialize(method)}");
        if (a.Value("data") is string data) overrides.Add($"dataset.path={JsonSerializer.Serialize(data)}");
        if (a.Value("device") is string device) overrides.Add($"engine.device={JsonSerializer.Serialize(device)}");
        var config = RunConfig.Load(a.Value("config"), overrides);
        var sweep = new LearningRateRangeTestOptions(a.Double("min") ?? 1e-6, a.Double("max") ?? 1, a.Int("steps") ?? 100);
        if (!(sweep.MinimumLearningRate > 0) || !double.IsFinite(sweep.MinimumLearningRate)) throw new UserError("--min must be a learning rate > 0, e.g. --min 1e-6.");
        if (!(sweep.MaximumLearningRate > sweep.MinimumLearningRate) || !double.IsFinite(sweep.MaximumLearningRate)) throw new UserError("--max must be a learning rate above --min, e.g. --max 1.");
        if (sweep.Steps < 3) throw new UserError($"--steps must be ≥ 3 minibatches, got {sweep.Steps}.");
        bool quiet = a.Flag("quiet");

        string runDir = a.Value("out") ?? Path.Combine("runs", $"{config.Name}-lr-range-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        using var directory = RunDirectory.Acquire(runDir, a.Flag("overwrite") ? RunDirectoryMode.Overwrite : RunDirectoryMode.New, "--out", canResume: false);
        using var p = TrainCommand.Prepare(config);
        // The sweep itself sets the rate of every update: the config's schedule plays no part (its weight decay does).
        var trainer = new Trainer(p.Network, p.Engine, p.Loss, p.Options with { OneCycle = null, EaseIn = false, HalvingSchedule = false });
        TrainCommand.WriteAtomic(Path.Combine(runDir, "config.json"), JsonSerializer.Serialize(config, RunConfig.Json));
        if (!quiet)
            output.WriteLine(Inv($"{config.Name}: learning-rate range test, {sweep.Steps} minibatches of {Math.Min(p.Options.BatchSize, p.Train.Count)} from {sweep.MinimumLearningRate:G3} to {sweep.MaximumLearningRate:G3} ({p.Train.Count} training trials)"));
        var result = LearningRateRangeTest.Run(trainer, p.Train.Samples, sweep,
            point => { if (!quiet && (point.Step + 1) % Math.Max(1, sweep.Steps / 10) == 0) output.WriteLine(Inv($"  step {point.Step + 1,4}  lr {point.LearningRate,10:G3}  loss {point.Loss,9:G4}  smoothed {point.SmoothedLoss,9:G4}")); },
            stop);

        var csv = new StringBuilder("step,learning_rate,loss,smoothed_loss\n");
        foreach (var q in result.Points) csv.Append(Inv($"{q.Step},{q.LearningRate:R},{q.Loss:R},{q.SmoothedLoss:R}\n"));
        TrainCommand.WriteAtomic(Path.Combine(runDir, "lr_range.csv"), csv.ToString());
        var summary = new Dictionary<string, object?>
        {
            ["name"] = config.Name, ["min"] = sweep.MinimumLearningRate, ["max"] = sweep.MaximumLearningRate, ["steps"] = sweep.Steps, ["steps_run"] = result.Points.Count,
            ["batch_size"] = p.Options.BatchSize, ["suggested_learning_rate"] = result.SuggestedLearningRate, ["rule"] = "steepest descent of the smoothed loss (EMA 0.98, bias-corrected) over log learning rate, between the 11th point and its minimum",
            ["minimum_loss_learning_rate"] = result.MinimumLossLearningRate, ["stopped_early"] = result.StopReason,
        };
        TrainCommand.WriteAtomic(Path.Combine(runDir, "lr_range.json"), JsonSerializer.Serialize(summary, RunConfig.Json));
        try
        {
            var x = result.Points.Select(q => q.LearningRate).ToArray();
            Plots.SaveLines(Path.Combine(runDir, "lr_range"), $"{config.Name}: learning-rate range test", "learning rate", "loss",
                [new PlotSeries("minibatch loss", x, result.Points.Select(q => q.Loss).ToArray()), new PlotSeries("smoothed", x, result.Points.Select(q => q.SmoothedLoss).ToArray())], logX: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or TypeInitializationException or DllNotFoundException)
        {
            output.WriteLine($"warning: plot not written ({Plots.Problem(e)}); lr_range.csv is unaffected.");
        }
        if (result.StopReason is { } why && !quiet) output.WriteLine($"stopped early: {why}");
        int searchedFrom = result.Points.Count > sweep.SkipStart + 2 ? sweep.SkipStart : 0; // as LearningRateRangeTest.Suggest
        if (result.MinimumLossLearningRate <= result.Points[searchedFrom].LearningRate)
            output.WriteLine("note: the smoothed loss did not fall during the sweep, so it suggests no usable rate; try more --steps, a higher --max, or a larger training set.");
        output.WriteLine(Inv($"suggested learning rate {result.SuggestedLearningRate:G3} (steepest descent of the smoothed loss); minimum at {result.MinimumLossLearningRate:G3} (a tenth: {result.MinimumLossLearningRate / 10:G3}); results in {Path.GetFullPath(runDir)}"));
        return ExitCodes.Success;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
