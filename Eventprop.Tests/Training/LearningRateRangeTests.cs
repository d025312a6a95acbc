using System.Globalization;
using Eventprop.Core.Training;
using Eventprop.Tests.Cli;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Training;

public sealed class LearningRateRangeTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_sweep_is_exponential_from_the_minimum_to_the_maximum()
    {
        var o = new LearningRateRangeTestOptions(1e-4, 1, 5);
        Assert.Equal(1e-4, o.LearningRate(0), tolerance: 1e-19);
        Assert.Equal(1e-3, o.LearningRate(1), tolerance: 1e-17);
        Assert.Equal(1e-2, o.LearningRate(2), tolerance: 1e-16); // the geometric middle
        Assert.Equal(1.0, o.LearningRate(4), 14);
    }

    [Fact]
    public void The_suggestion_is_the_steepest_descent_before_the_minimum()
    {
        // Equal steps in log η, so the central difference at i is (s[i+1] − s[i−1])/(2Δ):
        // i = 2: (0.5 − 1.0) = −0.5, i = 3: (0.3 − 0.9) = −0.6 (steepest), i = 4: (0.25 − 0.5) = −0.25; minimum at i = 5.
        // After the minimum the curve falls faster (i = 7 → 8), which must not count: that is past the minimum's rise.
        double[] smoothed = [1.0, 1.0, 0.9, 0.5, 0.3, 0.25, 0.4, 2.0, 0.26];
        var points = smoothed.Select((s, i) => new LearningRatePoint(i, Math.Pow(10, -6 + i), s, s)).ToArray();
        var (steepest, atMinimum) = LearningRateRangeTest.Suggest(points);
        Assert.Equal(1e-3, steepest, 15);
        Assert.Equal(1e-1, atMinimum, 15);
        // Skipping the first 4 points (9 > 4 + 2) leaves i = 4 and 5 before the minimum: −0.25 at i = 4 is the steepest.
        Assert.Equal(1e-2, LearningRateRangeTest.Suggest(points, skipStart: 4).Steepest, 15);
        // Too few points to skip 7: all are searched.
        Assert.Equal(1e-3, LearningRateRangeTest.Suggest(points, skipStart: 7).Steepest, 15);
    }

    [Fact]
    public void The_command_writes_csv_plot_and_summary_to_a_new_directory_and_prints_the_suggestion()
    {
        string run = _dir.File("lr");
        var r = CliProcess.Run("lr-range-test", "--out", run, "--min", "1e-4", "--max", "0.5", "--steps", "12", "--quiet",
            "--set", "dataset.samples_per_class=8", "--set", "network.hidden=8", "--set", "training.batch_size=8");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("suggested learning rate", r.Out);
        var lines = File.ReadAllLines(Path.Combine(run, "lr_range.csv"));
        Assert.Equal("step,learning_rate,loss,smoothed_loss", lines[0]);
        Assert.InRange(lines.Length - 1, 2, 12);
        for (int k = 1; k < lines.Length; k++)
        {
            var cells = lines[k].Split(',');
            Assert.Equal(k - 1, int.Parse(cells[0], CultureInfo.InvariantCulture));
            Assert.Equal(1e-4 * Math.Pow(0.5 / 1e-4, (k - 1) / 11.0), double.Parse(cells[1], CultureInfo.InvariantCulture), 12);
            Assert.True(double.IsFinite(double.Parse(cells[2], CultureInfo.InvariantCulture)));
        }
        var summary = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(run, "lr_range.json")))!;
        double suggested = summary["suggested_learning_rate"]!.GetValue<double>();
        Assert.InRange(suggested, 1e-4, 0.5);
        Assert.Contains(suggested.ToString("G3", CultureInfo.InvariantCulture), r.Out);
        Assert.True(File.Exists(Path.Combine(run, "lr_range.png")));
        Assert.Empty(Directory.GetFiles(run, "*.tmp-*"));

        var again = CliProcess.Run("lr-range-test", "--out", run, "--steps", "3");
        Assert.Equal(2, again.Code); // never clobbers an earlier result
        Assert.Single(again.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var bad = CliProcess.Run("lr-range-test", "--out", _dir.File("bad"), "--min", "1", "--max", "0.1");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--max must be a learning rate above --min", bad.Err);
    }

    [Theory]
    [InlineData("training.ease_in=true", "training.ease_in")]
    [InlineData("training.halving_schedule=true", "training.halving_schedule")]
    public void One_cycle_with_the_ease_in_or_halving_asked_for_is_a_one_line_error_naming_the_key(string setting, string key)
    {
        var r = CliProcess.Run("train", "--out", _dir.File("run"), "--set", "training.schedule=one_cycle", "--set", setting);
        Assert.Equal(2, r.Code);
        Assert.Contains(key, r.Err);
        Assert.Contains("one_cycle", r.Err);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("training.weight_decay=0.1", "training.optimizer=adamw")]
    [InlineData("training.optimizer=sgd", "'adam' or 'adamw'")]
    [InlineData("training.schedule=cosine", "'ease_in_halving' or 'one_cycle'")]
    public void Bad_optimizer_and_schedule_keys_are_one_line_errors(string setting, string expected)
    {
        var r = CliProcess.Run("train", "--out", _dir.File("run"), "--set", setting);
        Assert.Equal(2, r.Code);
        Assert.Contains(expected, r.Err);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void The_keys_map_onto_AdamW_and_the_one_cycle_schedule()
    {
        var config = Eventprop.Cli.RunConfig.Load(null, ["training.optimizer=adamw", "training.schedule=one_cycle", "training.one_cycle_div_factor=10",
            "training.one_cycle_anneal=linear", "dataset.samples_per_class=4", "network.hidden=4"]);
        using var p = Eventprop.Cli.TrainCommand.Prepare(config);
        Assert.Equal(0.01, p.Options.WeightDecay);
        Assert.Equal(new OneCycleSchedule(DivFactor: 10, Anneal: AnnealStrategy.Linear), p.Options.OneCycle);
        Assert.False(p.Options.EaseIn);
        Assert.False(p.Options.HalvingSchedule);
        using var plain = Eventprop.Cli.TrainCommand.Prepare(Eventprop.Cli.RunConfig.Load(null, ["dataset.samples_per_class=4", "network.hidden=4"]));
        Assert.Equal(0, plain.Options.WeightDecay);
        Assert.Null(plain.Options.OneCycle);
        Assert.True(plain.Options.EaseIn && plain.Options.HalvingSchedule);
    }
}
