using System.Globalization;
using System.Text.Json.Nodes;
using Eventprop.Cli;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary><c>train --cv speaker</c> on small generated SHD-layout files.</summary>
public sealed class CliCrossValidationTests
{
    private static readonly string ShdConfig = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "experiments", "configs", "shd_sum_exp.json");

    /// <summary>An SHD-layout file whose trial i has label i mod 20 and speaker <paramref name="speakerOf"/>(i) (no speaker dataset when null).</summary>
    internal static void WriteShdLike(string path, int trials, int seed, Func<int, int>? speakerOf)
    {
        var random = new Random(seed);
        var times = new Half[trials][];
        var units = new ushort[trials][];
        for (int t = 0; t < trials; t++)
        {
            int n = 20 + random.Next(20);
            times[t] = Enumerable.Range(0, n).Select(_ => (Half)(0.3 * random.NextDouble())).Order().ToArray();
            units[t] = Enumerable.Range(0, n).Select(_ => (ushort)random.Next(700)).ToArray();
        }
        new HeidelbergLayout
        {
            Times = times, Units = units,
            Labels = Enumerable.Range(0, trials).Select(i => (ushort)(i % 20)).ToArray(),
            Speakers = speakerOf is null ? null : Enumerable.Range(0, trials).Select(i => (ushort)speakerOf(i)).ToArray(),
            Keys = Enumerable.Range(0, 20).Select(i => $"class-{i}").ToArray(),
        }.Write(path);
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        return (Program.Run(args, o, e), o.ToString(), e.ToString());
    }

    private static void AssertOneLineError((int Code, string Out, string Err) r, string mustContain)
    {
        Assert.Equal(2, r.Code);
        string line = r.Err.TrimEnd();
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("error: ", line);
        Assert.Contains(mustContain, line);
    }

    [Fact]
    public void OneFoldPerSpeakerWithItsOwnRunDirectoryAndASummaryOfMeanAndSd()
    {
        using var dir = new TempDirectory();
        // 34 trials: speakers 5, 7 and 9 with 12, 12 and 10 trials (uneven, and ids that are not 0..n−1).
        int[] speakerIds = [5, 7, 9];
        Func<int, int> speakerOf = i => speakerIds[i % 3];
        WriteShdLike(dir.File("shd_train.h5"), 34, 2, speakerOf);
        WriteShdLike(dir.File("shd_test.h5"), 10, 3, speakerOf);
        string run = dir.File("cv");
        var r = Run("train", "--config", ShdConfig, "--data", dir.Path, "--out", run, "--epochs", "1", "--quiet", "--cv", "speaker",
            "--set", "network.hidden=8", "--set", "engine.duration_ms=400", "--set", "augment.delay_line_copies=0", "--set", "training.batch_size=16");
        Assert.True(r.Code == 0, r.Err + r.Out);

        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "cv_summary.json")))!;
        var folds = summary["folds"]!.AsArray();
        Assert.Equal(speakerIds, folds.Select(f => f!["speaker"]!.GetValue<int>()));
        var best = new List<double>();
        foreach (var f in folds)
        {
            int s = f!["speaker"]!.GetValue<int>();
            int expectedValidation = Enumerable.Range(0, 34).Count(i => speakerOf(i) == s);
            Assert.Equal(expectedValidation, f["validation_trials"]!.GetValue<int>());
            Assert.Equal(34 - expectedValidation, f["train_trials"]!.GetValue<int>());
            string foldDir = Path.Combine(run, $"speaker-{s}");
            // Each fold is an ordinary, resumable run holding out its speaker, with no test set.
            Assert.Equal(s, RunConfig.Load(Path.Combine(foldDir, "config.json"), []).Dataset.HoldOutSpeaker);
            Assert.True(File.Exists(Path.Combine(foldDir, "checkpoint.h5")));
            var foldSummary = JsonNode.Parse(File.ReadAllText(Path.Combine(foldDir, "summary.json")))!;
            Assert.Null(foldSummary["test_accuracy"]);
            // The fold's accuracy is the validation accuracy its own metrics recorded (one epoch: that epoch's).
            var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(foldDir, "metrics.json")))!.AsArray();
            double recorded = metrics.Max(m => m!["validation_accuracy"]!.GetValue<double>());
            Assert.Equal(recorded, f["best_validation_accuracy"]!.GetValue<double>());
            // The validation set is exactly the held-out speaker's trials: accuracy is a multiple of 1/count.
            Assert.Equal(0, Math.Abs(recorded * expectedValidation - Math.Round(recorded * expectedValidation)), 9);
            best.Add(recorded);
        }
        double mean = best.Average();
        double sd = Math.Sqrt(best.Sum(x => (x - mean) * (x - mean)) / (best.Count - 1));
        Assert.Equal(mean, summary["mean_best_validation_accuracy"]!.GetValue<double>(), 12);
        Assert.Equal(sd, summary["sd_best_validation_accuracy"]!.GetValue<double>(), 12);
        string[] csv = File.ReadAllLines(Path.Combine(run, "cv_summary.csv"));
        Assert.Equal(1 + 3 + 2, csv.Length);
        Assert.StartsWith("mean,", csv[^2]);
        Assert.Contains("cross-validation over 3 of 3 speakers", r.Out);
    }

    [Fact]
    public void DataWithoutSpeakersAndBadCvArgumentsGiveOneLineErrors()
    {
        using var dir = new TempDirectory();
        AssertOneLineError(Run("train", "--cv", "speaker", "--epochs", "1"), "needs speaker ids");
        AssertOneLineError(Run("train", "--cv", "fold"), "--cv must be 'speaker'");
        AssertOneLineError(Run("train", "--cv", "speaker", "--resume", dir.Path), "--resume");
        // SHD-layout files without the speaker dataset, then with a single speaker.
        WriteShdLike(dir.File("shd_train.h5"), 12, 4, null);
        WriteShdLike(dir.File("shd_test.h5"), 4, 5, null);
        AssertOneLineError(Run("train", "--config", ShdConfig, "--data", dir.Path, "--cv", "speaker", "--epochs", "1"), "no speaker id");
        WriteShdLike(dir.File("shd_train.h5"), 12, 4, _ => 1);
        AssertOneLineError(Run("train", "--config", ShdConfig, "--data", dir.Path, "--cv", "speaker", "--epochs", "1"), "at least two");
        WriteShdLike(dir.File("shd_train.h5"), 12, 4, i => i % 2);
        AssertOneLineError(Run("train", "--config", ShdConfig, "--data", dir.Path, "--epochs", "1", "--set", "dataset.hold_out_speaker=3",
            "--set", "network.hidden=4", "--set", "augment.delay_line_copies=0"), "no trials of that speaker");
    }
}
