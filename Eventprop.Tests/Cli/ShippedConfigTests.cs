using Eventprop.Cli;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Training;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>Every config in experiments/configs loads, validates and builds a run that computes finite gradients; the per-epoch augmentations.</summary>
public sealed class ShippedConfigTests
{
    internal static string ConfigDirectory()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Eventprop.sln"))) d = d.Parent;
        return Path.Combine(d?.FullName ?? throw new InvalidOperationException("Eventprop.sln not found above the test directory."), "experiments", "configs");
    }

    /// <summary>Every *.json in experiments/configs (found on disk, so a new config is tested without editing this file).</summary>
    public static TheoryData<string> ConfigFiles() => new(ConfigNames());

    private static string[] ConfigNames() =>
        Directory.GetFiles(ConfigDirectory(), "*.json").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void TheConfigDirectoryHoldsThePapersSetups()
    {
        var names = ConfigNames().ToHashSet();
        foreach (string loss in new[] { "sum", "sum_exp", "max", "first_spike" }) Assert.Contains($"shd_loss_{loss}.json", names);
        Assert.Contains("shd_sum_exp.json", names);
        Assert.Contains("ssc_sum_exp.json", names);
        Assert.Contains("latency_mnist.json", names);
        foreach (string loss in Eventprop.Losses.Loss.Names) Assert.Contains($"fsdd_{loss}.json", names); // every loss on spiking FSDD
        Assert.Contains("fsdd_final.json", names);
    }

    [Theory]
    [MemberData(nameof(ConfigFiles))]
    public void EveryShippedConfigLoadsAndItsRunComputesFiniteGradients(string file)
    {
        string path = Path.Combine(ConfigDirectory(), file);
        var config = RunConfig.Load(path, []);
        Assert.Equal(Path.GetFileNameWithoutExtension(file), config.Name);
        using var dir = new TempDirectory();
        if (config.Dataset.IsMnist) TinyMnist.Write(dir, 8, 4, side: 28); // 28×28 digits in the real IDX layout
        foreach (string f in new[] { "shd_train.h5", "shd_test.h5", "ssc_train.h5", "ssc_valid.h5", "ssc_test.h5", "fsdd_train.h5", "fsdd_test.h5" })
            CliCrossValidationTests.WriteShdLike(dir.File(f), 24, f.Length, i => i % 3);
        // The config as shipped, on tiny data and a small hidden layer; everything else (τ's, loss, engine, schedule, augmentation) as written.
        var small = RunConfig.Load(path, [$"dataset.path={System.Text.Json.JsonSerializer.Serialize(dir.Path)}", "network.hidden=6",
            "dataset.samples_per_class=4", "training.batch_size=4"]);
        var p = TrainCommand.Prepare(small);
        Assert.Equal(p.Loss.Readout == ReadoutKind.Spiking, p.Network.Readout.IsSpiking);
        var trainer = new Trainer(p.Network, p.Engine, p.Loss, p.Options); // checks engine, loss and readout fit together
        var epoch = EpochAugmentation.TrainingData(p, 0);
        Assert.All(epoch, s => Assert.True(s.Count == 0 || s.Channels.ToArray().Max() < p.Network.Input.Size));
        var result = trainer.Engine.Gradient(p.Network, epoch.Take(4).ToArray(), p.Loss, p.Options.Regularization);
        Assert.True(double.IsFinite(result.Loss), $"{file}: loss {result.Loss}");
        Assert.All(result.Gradient, g => Assert.All(g.Values, x => Assert.True(double.IsFinite(x), $"{file}: {g.Name}")));
    }

    private static TrainCommand.Prepared ShdRun(TempDirectory dir, params string[] sets)
    {
        CliCrossValidationTests.WriteShdLike(dir.File("shd_train.h5"), 30, 7, i => i % 3);
        CliCrossValidationTests.WriteShdLike(dir.File("shd_test.h5"), 6, 8, i => i % 3);
        var config = RunConfig.Load(Path.Combine(ConfigDirectory(), "shd_sum_exp.json"),
            [$"dataset.path={System.Text.Json.JsonSerializer.Serialize(dir.Path)}", "network.hidden=4", .. sets]);
        return TrainCommand.Prepare(config);
    }

    [Fact]
    public void BlendDoublesTheEpochAndShiftActsBeforeTheDelayLine()
    {
        using var dir = new TempDirectory();
        var p = ShdRun(dir, "augment.delay_line_copies=2", "augment.delay_line_ms=30", "augment.shift=40", "augment.blend_probability=0.5");
        Assert.Equal(1400, p.Network.Input.Size);
        var epoch0 = EpochAugmentation.TrainingData(p, 0);
        Assert.Equal(2 * p.Train.Count, epoch0.Count);
        Assert.Equal(p.Train.Select(s => s.Label), epoch0.Take(p.Train.Count).Select(s => s.Label)); // originals first, then their blends
        Assert.Equal(p.Train.Select(s => s.Label), epoch0.Skip(p.Train.Count).Select(s => s.Label));
        int shifted = 0;
        for (int k = 0; k < epoch0.Count; k++)
        {
            var s = epoch0[k];
            var block0 = new List<(long, int)>();
            var block1 = new List<(long, int)>();
            for (int i = 0; i < s.Count; i++)
            {
                if (s.Channels[i] < 700) block0.Add((Key(s.Times[i] + 30), s.Channels[i]));
                else block1.Add((Key(s.Times[i]), s.Channels[i] - 700));
            }
            // Copy 1 is copy 0 delayed by 30 ms (the trials end long before T): a shift that moved spikes across the
            // 700-channel block boundary would break this.
            Assert.Equal(block0.Order(), block1.Order());
            if (k < p.Train.Count && !s.Channels.ToArray().Where(c => c < 700).Order().SequenceEqual(
                    p.UndelayedTrain![k].Channels.ToArray().Order())) shifted++;
        }
        Assert.True(shifted > p.Train.Count / 2, $"only {shifted} of {p.Train.Count} trials were shifted");
        // Epoch e's augmentation depends on (seed, e) alone.
        Assert.Equal(Flatten(epoch0), Flatten(EpochAugmentation.TrainingData(p, 0)));
        Assert.NotEqual(Flatten(epoch0), Flatten(EpochAugmentation.TrainingData(p, 1)));

        static long Key(double t) => (long)Math.Round(t * 1e6);
        static string Flatten(IReadOnlyList<SpikeSample> samples) =>
            string.Join(';', samples.Select(s => string.Join(',', s.Channels.ToArray()) + "@" + string.Join(',', s.Times.ToArray())));
    }

    [Fact]
    public void WithoutAugmentationTheEpochIsTheTrainingSet()
    {
        using var dir = new TempDirectory();
        var p = ShdRun(dir, "augment.shift=0", "augment.blend_probability=0");
        Assert.Same(p.Train, EpochAugmentation.TrainingData(p, 3));
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        var e = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        return (Program.Run(args, o, e), o.ToString(), e.ToString());
    }

    [Fact]
    public void WithEarlyStoppingTheFinalModelIsTheBestEpochs()
    {
        using var dir = new TempDirectory();
        string run = dir.File("run");
        // A setting whose validation accuracy peaks early (one engine thread: the same numbers on every machine).
        var r = Run("train", "--out", run, "--epochs", "8", "--quiet", "--set", "dataset.samples_per_class=30", "--set", "dataset.classes=3",
            "--set", "network.hidden=8", "--set", "training.batch_size=4", "--set", "training.learning_rate=0.1", "--set", "training.ease_in=false",
            "--set", "engine.threads=1", "--set", "training.early_stopping_patience=8",
            "--set", "training.early_stopping_metric=validation_accuracy", "--set", "dataset.validation_fraction=0.3");
        Assert.True(r.Code == 0, r.Err);
        var summary = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!;
        var metrics = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!.AsArray();
        Assert.Equal(8, metrics.Count); // the patience never ran out
        double[] validation = metrics.Select(m => m!["validation_accuracy"]!.GetValue<double>()).ToArray();
        double[] test = metrics.Select(m => m!["test_accuracy"]!.GetValue<double>()).ToArray();
        int best = summary["best_epoch"]!.GetValue<int>();
        Assert.Equal(Array.IndexOf(validation, validation.Max()) + 1, best);
        Assert.True(best < 8 && test[best - 1] != test[^1], $"the setting should make the best epoch ({best}) differ from the last in test accuracy: {string.Join(", ", test)}");
        // The test accuracy in the summary is that of the best epoch's parameters, as recorded in that epoch's row.
        Assert.Equal(test[best - 1], summary["test_accuracy"]!.GetValue<double>());
    }

    [Fact]
    public void MetricKeysAreCheckedWithOneLineErrors()
    {
        var bad = Run("train", "--set", "training.early_stopping_metric=accuracy");
        Assert.Equal(2, bad.Code);
        Assert.Contains("training.early_stopping_metric must be one of", bad.Err);
        var noValidation = Run("train", "--epochs", "1", "--set", "dataset.validation_fraction=0", "--set", "training.schedule_metric=validation_loss",
            "--set", "dataset.samples_per_class=4", "--set", "network.hidden=4");
        Assert.Equal(2, noValidation.Code);
        Assert.Contains("has none", noValidation.Err);
        Assert.Single(noValidation.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
