using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Eventprop.Cli;
using Eventprop.Core.Data;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using Xunit;

namespace Eventprop.Tests.Cli;

public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eventprop-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static void AssertOneLineError((int Code, string Out, string Err) r, string mustContain)
    {
        Assert.Equal(2, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(mustContain, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private const string ModelJson = """
        {
          "duration_ms": 40,
          "populations": [
            { "name": "in", "kind": "input", "size": 3 },
            { "name": "hidden", "kind": "lif", "size": 2, "tau_mem": [20, 15], "tau_syn": 5 },
            { "name": "out", "kind": "readout", "size": 2, "tau_mem": 20, "tau_syn": [5, 6] }
          ],
          "connections": [
            { "pre": "in", "post": "hidden", "weights": [[4.2, 3.4], [3.9, 4.1], [3.3, 3.8]] },
            { "pre": "hidden", "post": "hidden", "weights": [[0, -0.2], [0.1, 0]] },
            { "pre": "hidden", "post": "out", "weights": [[0.5, -0.3], [-0.2, 0.6]] }
          ]
        }
        """;

    private const string SampleJson = """{ "times": [1.0, 2.5, 4.0, 6.5, 9.0, 12.0], "channels": [0, 1, 2, 0, 1, 1], "label": 1 }""";

    [Fact]
    public void QuickStartOnATinyOverrideWritesACompleteRunDirectory()
    {
        string run = Path.Combine(_dir, "run");
        var r = Run("train", "--out", run, "--epochs", "2", "--seed", "3", "--set", "dataset.samples_per_class=12", "--set", "dataset.classes=3",
            "--set", "network.hidden=8", "--set", "training.batch_size=8");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("test accuracy", r.Out);
        Assert.Contains(Path.GetFullPath(run), r.Out);
        foreach (var f in new[] { "config.json", "metrics.csv", "metrics.json", "summary.json", "checkpoint.h5" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
        Assert.Empty(Directory.GetFiles(run, "*.tmp.*"));
        foreach (var plot in new[] { "learning_curves", "trial_raster" })
        {
            byte[] png = File.ReadAllBytes(Path.Combine(run, plot + ".png"));
            Assert.True(png.Length > 1000 && png[0] == 0x89 && png[1] == (byte)'P' && png[2] == (byte)'N' && png[3] == (byte)'G', $"{plot}.png is not a PNG");
            string svg = File.ReadAllText(Path.Combine(run, plot + ".svg"));
            Assert.StartsWith("<?xml", svg);
            Assert.EndsWith("</svg>", svg.TrimEnd());
        }
        // The figures show what they claim: the learning curves' legend and the raster's axis and trial label.
        Assert.Contains("validation loss", File.ReadAllText(Path.Combine(run, "learning_curves.svg")));
        Assert.Contains("readout voltage", File.ReadAllText(Path.Combine(run, "trial_raster.svg")));

        var csv = File.ReadAllLines(Path.Combine(run, "metrics.csv"));
        Assert.Equal(3, csv.Length);
        var header = csv[0].Split(',');
        foreach (var col in new[] { "epoch", "loss", "train_accuracy", "validation_accuracy", "test_accuracy", "spikes_per_hidden_neuron", "learning_rate", "seconds" })
            Assert.Contains(col, header);
        Assert.All(csv.Skip(1), line => Assert.Equal(header.Length, line.Split(',').Length));
        Assert.Equal("2", csv[2].Split(',')[Array.IndexOf(header, "epoch")]);

        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!.AsArray();
        Assert.Equal(2, metrics.Count);
        double test = metrics[1]!["test_accuracy"]!.GetValue<double>();
        Assert.InRange(test, 0, 1);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!;
        Assert.Equal(2, summary["epochs"]!.GetValue<int>());
        Assert.Equal(test, summary["test_accuracy"]!.GetValue<double>());

        // model.json holds exactly the checkpoint's parameters, in the hand-readable model format that gradient reads.
        var model = ModelFiles.ReadModel(Path.Combine(run, "model.json"));
        var saved = Eventprop.Core.Training.Checkpoint.Read(Path.Combine(run, "checkpoint.h5"), model.Network);
        Assert.Equal(saved.Parameters.Count, model.Network.Parameters.Count);
        for (int i = 0; i < saved.Parameters.Count; i++)
            Assert.Equal(saved.Parameters[i].Values, model.Network.Parameters[i].Values);
        Assert.Equal(50, model.DurationMs);
        File.WriteAllText(Path.Combine(_dir, "s.json"), """{ "times": [1.0, 5.0, 9.0], "channels": [0, 1, 2], "label": 1 }""");
        var g = Run("gradient", "--model", Path.Combine(run, "model.json"), "--sample", Path.Combine(_dir, "s.json"), "--json");
        Assert.True(g.Code == 0, g.Err);

        // The resolved config is a valid config that reproduces the overrides.
        var config = RunConfig.Load(Path.Combine(run, "config.json"), []);
        Assert.Equal((3, 8, 12, 3, 2), (config.Seed, config.Network.Hidden[0].Size, config.Dataset.SamplesPerClass, config.Dataset.Classes, config.Training.Epochs));
    }

    [Fact]
    public void TrainingIsReproducibleFromTheSeed()
    {
        string[] common = ["--epochs", "1", "--set", "dataset.samples_per_class=8", "--set", "dataset.classes=2", "--set", "network.hidden=6", "--set", "augment.shift=2", "--quiet"];
        Assert.Equal(0, Run(["train", "--out", Path.Combine(_dir, "a"), .. common]).Code);
        Assert.Equal(0, Run(["train", "--out", Path.Combine(_dir, "b"), .. common]).Code);
        static string Metrics(string d) => string.Join('\n', File.ReadAllLines(Path.Combine(d, "metrics.csv")).Select(l => string.Join(',', l.Split(',')[..^1])));
        Assert.Equal(Metrics(Path.Combine(_dir, "a")), Metrics(Path.Combine(_dir, "b")));
    }

    private static string[] MetricsWithoutSeconds(string runDir) =>
        File.ReadAllLines(Path.Combine(runDir, "metrics.csv")).Select(l => string.Join(',', l.Split(',')[..^1])).ToArray();

    [Fact]
    public void ResumeContinuesExactlyLikeAStraightRun()
    {
        string[] common = ["--set", "dataset.samples_per_class=8", "--set", "dataset.classes=3", "--set", "network.hidden=6", "--set", "augment.shift=2",
            "--set", "training.batch_size=8", "--quiet"];
        string straight = Path.Combine(_dir, "straight"), resumed = Path.Combine(_dir, "resumed");
        Assert.Equal(0, Run(["train", "--out", straight, "--epochs", "3", .. common]).Code);
        Assert.Equal(0, Run(["train", "--out", resumed, "--epochs", "1", .. common]).Code);
        var r = Run("train", "--resume", resumed, "--epochs", "3", "--quiet");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(4, MetricsWithoutSeconds(resumed).Length);
        Assert.Equal(MetricsWithoutSeconds(straight), MetricsWithoutSeconds(resumed));
        Assert.Equal(File.ReadAllText(Path.Combine(straight, "summary.json")).Split('\n').Where(l => !l.Contains("seconds")),
            File.ReadAllText(Path.Combine(resumed, "summary.json")).Split('\n').Where(l => !l.Contains("seconds")));

        AssertOneLineError(Run("train", "--resume", _dir), "not a run directory");
        AssertOneLineError(Run("train", "--resume", resumed, "--seed", "4"), "drop --config");
    }

    [Fact]
    public void EvaluateReproducesTheRunsTestAccuracy()
    {
        string run = Path.Combine(_dir, "eval");
        Assert.Equal(0, Run("train", "--out", run, "--epochs", "2", "--set", "dataset.samples_per_class=10", "--set", "dataset.classes=3",
            "--set", "network.hidden=8", "--set", "training.batch_size=8", "--quiet").Code);
        double expected = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!["test_accuracy"]!.GetValue<double>();
        var r = Run("evaluate", "--model", Path.Combine(run, "checkpoint.h5"));
        Assert.True(r.Code == 0, r.Err);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"accuracy {100 * expected:F2} %"), lines[0]);
        Assert.StartsWith("test: 6 trials", lines[0]);
        var matrix = lines.SkipWhile(l => !l.StartsWith("confusion", StringComparison.Ordinal)).Skip(2).ToArray();
        Assert.Equal(3, matrix.Length);
        Assert.Equal(6, matrix.Sum(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Sum(int.Parse)));
        AssertOneLineError(Run("evaluate", "--model", Path.Combine(_dir, "none.h5")), "not found");
        AssertOneLineError(Run("evaluate", "--model", Path.Combine(run, "checkpoint.h5"), "--split", "dev"), "--split");
    }

    [Fact]
    public void ConfigLoaderRejectsUnknownKeysAndBadValuesWithOneLine()
    {
        AssertOneLineError(Run("train", "--set", "training.epoch=3"), "unknown key 'epoch'");
        AssertOneLineError(Run("train", "--set", "training.epochs=abc"), "training.epochs");
        AssertOneLineError(Run("train", "--set", "loss=nope"), "sum_exp");
        AssertOneLineError(Run("train", "--set", "training.epochs=0"), "training.epochs");
        AssertOneLineError(Run("train", "--set", "novalue"), "key=value");
        string bad = Write("bad.json", """{ "network": { "hiden": 3 } }""");
        AssertOneLineError(Run("train", "--config", bad), "unknown key 'hiden'");
        string malformed = Write("malformed.json", """{ "network": { "hidden": 3 """);
        AssertOneLineError(Run("train", "--config", malformed), "not valid JSON");
        AssertOneLineError(Run("train", "--config", Path.Combine(_dir, "absent.json")), "not found");
        AssertOneLineError(Run("train", "--bogus"), "Unknown option '--bogus'");
    }

    [Theory]
    [InlineData("randman_quickstart.json")]
    [InlineData("latency_mnist.json")]
    [InlineData("shd_sum_exp.json")]
    [InlineData("ssc_sum_exp.json")]
    public void ShippedConfigsLoad(string name)
    {
        var config = RunConfig.Load(Path.Combine(RepoRoot(), "experiments", "configs", name), []);
        Assert.Equal(Path.GetFileNameWithoutExtension(name), config.Name);
    }

    [Theory]
    [InlineData("shd_sum_exp.json", "shd_train.h5")]
    [InlineData("ssc_sum_exp.json", "ssc_train.h5")]
    [InlineData("latency_mnist.json", "train-images-idx3-ubyte")]
    public void DataConfigsNameTheMissingFile(string name, string file)
    {
        string config = Path.Combine(RepoRoot(), "experiments", "configs", name);
        var r = Run("train", "--config", config, "--data", _dir);
        AssertOneLineError(r, file);
        if (!name.StartsWith("latency", StringComparison.Ordinal)) Assert.Contains("eventprop data download", r.Err);
        AssertOneLineError(Run("train", "--config", config), "--data DIR");
    }

    [Theory]
    [InlineData("exact")]
    [InlineData("stepped")]
    public void GradientJsonEqualsTheEngine(string engineKind)
    {
        string model = Write("model.json", ModelJson), sample = Write("sample.json", SampleJson);
        var r = Run("gradient", "--model", model, "--sample", sample, "--loss", "sum_exp", "--engine", engineKind, "--json");
        Assert.True(r.Code == 0, r.Err);
        var json = JsonNode.Parse(r.Out)!;

        var m = ModelFiles.ReadModel(model);
        var s = ModelFiles.ReadSample(sample, m.Network);
        GradientResult expected = engineKind == "exact"
            ? new ExactEngine(40).Gradient(m.Network, s, Loss.SumExp())
            : new Core.Simulation.Stepped.SteppedEngine(0.1, 40, threads: 1).Gradient(m.Network, [s], Loss.SumExp());
        Assert.Equal(expected.Loss, json["loss"]!.GetValue<double>());
        var grads = json["gradients"]!.AsObject();
        Assert.Equal(expected.Gradient.Count, grads.Count);
        Assert.True(expected.Gradient.TotalLength > 0);
        foreach (var p in expected.Gradient)
        {
            double nonZero = 0;
            var node = grads[p.Name]!.AsArray();
            for (int i = 0; i < p.Length; i++)
            {
                double v = p.Kind == Core.Model.ParameterKind.Weight
                    ? node[i / p.Columns]!.AsArray()[i % p.Columns]!.GetValue<double>()
                    : node[i]!.GetValue<double>();
                Assert.Equal(p.Values[i], v);
                nonZero += Math.Abs(v);
            }
            Assert.True(nonZero > 0, $"the test case must have non-zero gradients ({p.Name})");
        }
    }

    [Fact]
    public void FiniteDifferenceMethodAgreesWithEventprop()
    {
        string model = Write("model.json", ModelJson), sample = Write("sample.json", SampleJson);
        var ep = JsonNode.Parse(Run("gradient", "--model", model, "--sample", sample, "--json").Out)!["gradients"]!.AsObject();
        var r = Run("gradient", "--model", model, "--sample", sample, "--method", "fd", "--json");
        Assert.True(r.Code == 0, r.Err);
        var fd = JsonNode.Parse(r.Out)!["gradients"]!.AsObject();
        static IEnumerable<double> Flat(JsonNode n) => n is JsonArray a ? a.SelectMany(x => Flat(x!)) : [n.GetValue<double>()];
        foreach (var (name, node) in ep)
        {
            var a = Flat(node!).ToArray();
            var b = Flat(fd[name]!).ToArray();
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6 + 1e-4 * Math.Abs(b[i]), $"{name}[{i}]: {a[i]} vs {b[i]}");
        }
    }

    [Fact]
    public void GradcheckPassesOnARandomNetworkAndOnAGivenOne()
    {
        var r = Run("gradcheck", "--seed", "1");
        Assert.True(r.Code == 0, r.Out + r.Err);
        Assert.Contains("Passed", r.Out);
        foreach (var group in new[] { "in->hidden", "hidden->hidden", "hidden->out", "hidden.tau_mem", "out.tau_syn" }) Assert.Contains(group, r.Out);

        string model = Write("model.json", ModelJson), sample = Write("sample.json", SampleJson);
        var given = Run("gradcheck", "--model", model, "--sample", sample, "--loss", "sum");
        Assert.True(given.Code == 0, given.Out + given.Err);
    }

    [Fact]
    public void BadGradientInputsGiveOneLineErrors()
    {
        string model = Write("model.json", ModelJson), sample = Write("sample.json", SampleJson);
        AssertOneLineError(Run("gradient", "--model", Path.Combine(_dir, "none.json"), "--sample", sample), "does not exist");
        AssertOneLineError(Run("gradient", "--model", Write("m2.json", "{ \"duration_ms\": 40, "), "--sample", sample), "not valid JSON");
        AssertOneLineError(Run("gradient", "--model", model, "--sample", Write("s2.json", """{ "times": [1], "channels": [0], "label": 2 }""")), "label 2 is out of range");
        AssertOneLineError(Run("gradient", "--model", model, "--sample", Write("s3.json", """{ "times": [1], "channels": [7], "label": 0 }""")), "channels[0]");
        AssertOneLineError(Run("gradient", "--model", model, "--sample", Write("s4.json", """{ "times": [1, 2], "channels": [0], "label": 0 }""")), "'channels' has 1");
        AssertOneLineError(Run("gradient", "--model", Write("m3.json", ModelJson.Replace("[[4.2, 3.4], [3.9, 4.1], [3.3, 3.8]]", "[[4.2, 3.4], [3.9, 4.1]]")), "--sample", sample), "needs 'weights' as 3 rows");
        AssertOneLineError(Run("gradient", "--model", model, "--sample", sample, "--loss", "mse"), "Unknown loss 'mse'");
        AssertOneLineError(Run("gradient", "--model", Write("m4.json", ModelJson.Replace("\"duration_ms\"", "\"duration\"")), "--sample", sample), "unknown key 'duration'");
        AssertOneLineError(Run("gradient", "--model", model, "--sample", sample, "--engine", "gpu"), "--engine");
        AssertOneLineError(Run("gradient", "--model", model), "--sample");
        AssertOneLineError(Run("gradient", "--model", model, "--sample", sample, "--method", "fd", "--engine", "stepped"), "exact");
    }

    [Fact]
    public void UnknownCommandsAndDataErrorsAreOneLine()
    {
        AssertOneLineError(Run("fly"), "Unknown command 'fly'");
        AssertOneLineError(Run("data", "info", Path.Combine(_dir, "shd_train.h5")), "eventprop data download");
        AssertOneLineError(Run("data", "download"), "--to DIR");
        AssertOneLineError(Run("data", "download", "--to", _dir, "--which", "mnist"), "shd, ssc or all");
        var help = Run("--help");
        Assert.Equal(0, help.Code);
        foreach (var c in new[] { "train", "evaluate", "gradient", "gradcheck", "data", "bench" }) Assert.Contains(c, help.Out);
        Assert.Equal(0, Run("train", "--help").Code);
    }

    [Fact]
    public void BenchPrintsATableRowPerCase()
    {
        var r = Run("bench", "--cases", "shd-256", "--batches", "1", "--batch", "2", "--threads", "1");
        Assert.True(r.Code == 0, r.Err);
        var rows = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, rows.Length);
        Assert.StartsWith("| shd-256", rows[2]);
        AssertOneLineError(Run("bench", "--cases", "mnist"), "Unknown case 'mnist'");
        AssertOneLineError(Run("bench", "--batch", "0"), "≥ 1");
    }

    private static string RepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Eventprop.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("Eventprop.sln not found above the test directory.");
    }
}
