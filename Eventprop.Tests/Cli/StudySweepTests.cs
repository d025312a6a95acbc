using System.Globalization;
using System.Text.Json.Nodes;
using Eventprop.Cli;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// Study sweeps that set keys per value (seed 004 Fig. 5: depth) and evaluation-only sweeps (Fig. 6: one training run,
/// evaluated at several evaluation durations), their parsing and their one-line errors, and the shipped seed 004 studies
/// on tiny generated MNIST.
/// </summary>
public sealed class StudySweepTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        return (Program.Run(args, o, e), o.ToString(), e.ToString());
    }

    private const string TinyBase = """
        "base": { "dataset": { "kind": "randman", "classes": 3, "samples_per_class": 10, "duration_ms": 50, "test_fraction": 0.3 },
                  "network": { "hidden": 6 }, "engine": { "kind": "stepped", "dt": 1.0, "duration_ms": 50, "threads": 1 },
                  "training": { "epochs": 1, "batch_size": 8 } }
        """;

    private static string Study(TempDirectory dir, string sweep, string series = """[ { "label": "a", "set": {} } ]""", string seeds = "[1]")
    {
        string path = dir.File("study.json");
        File.WriteAllText(path, $$"""{ "name": "tiny", "seeds": {{seeds}}, "sweep": {{sweep}}, "series": {{series}}, {{TinyBase}} }""");
        return path;
    }

    private static string ShippedStudy(string name)
    {
        string root = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(root, "experiments", "configs"))) root = Path.GetDirectoryName(root)!;
        return Path.Combine(root, "experiments", "configs", "studies", name);
    }

    [Fact]
    public void ASweepWithSetsAppliesEachValuesKeysAndTheKeyWhenGiven()
    {
        var study = StudyCommand.Parse("""
            { "series": [ { "label": "a", "set": {} } ],
              "sweep": { "label": "layers", "values": [2, 3], "sets": [ { "network.hidden": [4, 4] }, { "network.hidden": [4, 4, 4], "seed": 5 } ] } }
            """, "s.json");
        Assert.Equal("layers", study.Sweep!.Name);
        Assert.Equal(["network.hidden=[4,4,4]", "seed=5"], study.Sweep.SetsAt(3));
        var keyed = study.Sweep with { Key = "training.epochs" };
        Assert.Equal(["network.hidden=[4,4]", "training.epochs=2"], keyed.SetsAt(2));
        // --values picks among the values, keeping each one's set.
        var picked = study.Sweep.Pick([3]);
        Assert.Equal(["network.hidden=[4,4,4]", "seed=5"], picked.SetsAt(3));
        var e = Assert.Throws<UserError>(() => study.Sweep.Pick([4]));
        Assert.Contains("4 is not one", e.Message);
    }

    [Theory]
    [InlineData("""{ "label": "x", "values": [1, 2], "sets": [ {} ] }""", "sweep.sets has 1 entries but sweep.values has 2")]
    [InlineData("""{ "label": "x", "values": [1, 2] }""", "needs a key")]
    [InlineData("""{ "key": "surrogate.scale", "values": [1, 1] }""", "lists a value twice")]
    [InlineData("""{ "key": "surrogate.scale", "values": [1, 10], "evaluation_only": true }""", "'surrogate.scale' is not such a key")]
    [InlineData("""{ "key": "engine.evaluation_duration_ms", "values": [1], "sets": [ {} ], "evaluation_only": true }""", "not sweep.sets")]
    [InlineData("""{ "key": "surrogate.scale", "values": [] }""", "has no values")]
    public void BadSweepsAreOneLineErrorsNamingTheKey(string sweep, string expected)
    {
        using var dir = new TempDirectory();
        string path = Study(dir, sweep);
        CliRunDirectoryTests.AssertOneLineError(Run("study", "--config", path, "--out", dir.File("out")), $"Study '{path}'", expected);
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void ASweepSetsKeyOfAnUnknownNameIsAnErrorNamingTheValue()
    {
        using var dir = new TempDirectory();
        string path = Study(dir, """{ "label": "layers", "values": [1, 2], "sets": [ { "network.hidden": [{ "size": 4 }] }, { "network.hiden": [{ "size": 4 }] } ] }""");
        CliRunDirectoryTests.AssertOneLineError(Run("study", "--config", path, "--out", dir.File("out")), "series 1 'a' at layers = 2", "hiden");
    }

    [Fact]
    public void ASweepWithSetsTrainsOneRunPerValueWithThatValuesNetwork()
    {
        using var dir = new TempDirectory();
        string path = Study(dir, """{ "label": "layers", "values": [2, 3], "sets": [ { "network.hidden": [{ "size": 4 }] }, { "network.hidden": [{ "size": 4 }, { "size": 4 }] } ] }""");
        string outDir = dir.File("out");
        var r = Run("study", "--config", path, "--out", outDir, "--quiet");
        Assert.True(r.Code == 0, r.Err);
        var csv = File.ReadAllLines(Path.Combine(outDir, "results.csv"));
        Assert.Equal(3, csv.Length);
        Assert.StartsWith("a,layers,2,1,", csv[1], StringComparison.Ordinal);
        Assert.StartsWith("a,layers,3,1,", csv[2], StringComparison.Ordinal);
        foreach (var (run, layers) in new[] { ("a-2-seed1", 1), ("a-3-seed1", 2) })
        {
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, run, "config.json")))!;
            Assert.Equal(layers, config["network"]!["hidden"] is JsonArray a ? a.Count : 1);
        }
        Assert.True(File.Exists(Path.Combine(outDir, "results.png")) || r.Out.Contains("warning: plot not written", StringComparison.Ordinal));
    }

    [Fact]
    public void AnEvaluationSweepTrainsOnceAndWritesOneRowPerEvaluationDuration()
    {
        using var dir = new TempDirectory();
        string path = Study(dir, """{ "key": "engine.evaluation_duration_ms", "label": "steps", "values": [50, 60, 80], "evaluation_only": true }""",
            """[ { "label": "a", "set": {} }, { "label": "b", "set": { "training.learning_rate": 0.02 } } ]""", "[1, 2]");
        string outDir = dir.File("out");
        var r = Run("study", "--config", path, "--out", outDir);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("study tiny: 4 runs (12 evaluations)", r.Out, StringComparison.Ordinal);
        // One training run per series and seed, none per evaluation duration.
        Assert.Equal(["a-seed1", "a-seed2", "b-seed1", "b-seed2"], Directory.GetDirectories(outDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var csv = File.ReadAllLines(Path.Combine(outDir, "results.csv"));
        Assert.Equal(1 + 2 * 2 * 3, csv.Length);
        foreach (string series in new[] { "a", "b" })
            foreach (string value in new[] { "50", "60", "80" })
                Assert.Equal(2, csv.Count(l => l.StartsWith($"{series},engine.evaluation_duration_ms,{value},", StringComparison.Ordinal)));
        Assert.All(csv.Skip(1), l => Assert.EndsWith(",", l, StringComparison.Ordinal)); // no notes: every evaluation ran
        // At the training duration (the run's own evaluation length) the sweep's accuracy is the run's test accuracy.
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "a-seed1", "summary.json")))!;
        string at50 = csv.Single(l => l.StartsWith("a,engine.evaluation_duration_ms,50,1,", StringComparison.Ordinal));
        Assert.Equal(summary["test_accuracy"]!.GetValue<double>(), double.Parse(at50.Split(',')[4], CultureInfo.InvariantCulture));
        var md = File.ReadAllText(Path.Combine(outDir, "results.md"));
        Assert.Contains("| a | 60 |", md, StringComparison.Ordinal);
        Assert.Contains("| b | 80 |", md, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(outDir, "results.png")) || r.Out.Contains("warning: plot not written", StringComparison.Ordinal));
    }

    [Fact]
    public void AnEvaluationSweepValueThatTheRunCannotEvaluateIsAnErrorBeforeTraining()
    {
        using var dir = new TempDirectory();
        // Spike input: an evaluation shorter than the training trial would cut spikes.
        string path = Study(dir, """{ "key": "engine.evaluation_duration_ms", "values": [60, 20], "evaluation_only": true }""");
        CliRunDirectoryTests.AssertOneLineError(Run("study", "--config", path, "--out", dir.File("out")), "series 1 'a' at engine.evaluation_duration_ms = 20",
            "engine.evaluation_duration_ms 20 is shorter than engine.duration_ms 50");
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void SlurmRefusesAnEvaluationSweepInOneLine()
    {
        using var dir = new TempDirectory();
        string path = Study(dir, """{ "key": "engine.evaluation_duration_ms", "values": [50, 60], "evaluation_only": true }""");
        CliRunDirectoryTests.AssertOneLineError(Run("study", "--config", path, "--out", dir.File("out"), "--slurm"), "sweep.evaluation_only", "without --slurm");
    }

    /// <summary>The seed 004 studies, cut to one series, one seed, one epoch and two sweep values, run end to end on tiny 28×28 MNIST files.</summary>
    [Theory]
    [InlineData("mnist_conv_depth.json", "3,13", 1)]
    [InlineData("mnist_conv_timesteps.json", "5,20", 2)]
    public void TheShippedSeed004StudiesRunOnTinyMnist(string name, string values, int series)
    {
        using var dir = new TempDirectory();
        TinyMnist.Write(dir, 8, 4, side: 28);
        string outDir = dir.File("out");
        var r = Run("study", "--config", ShippedStudy(name), "--data", dir.Path, "--out", outDir, "--quiet", "--seeds", "1", "--values", values,
            "--series", series.ToString(CultureInfo.InvariantCulture), "--set", "training.epochs=1", "--set", "training.batch_size=4", "--set", "engine.threads=1");
        Assert.True(r.Code == 0, r.Err + r.Out);
        var csv = File.ReadAllLines(Path.Combine(outDir, "results.csv"));
        Assert.Equal(3, csv.Length);
        Assert.All(csv.Skip(1), l => Assert.DoesNotContain("skipped", l, StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(outDir, "results.png")) || r.Out.Contains("warning: plot not written", StringComparison.Ordinal));
    }
}
