using System.Globalization;
using System.Text.Json.Nodes;
using Eventprop.Cli;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary><c>network.normalize_thresholds</c> (seed 004 §3) in <c>eventprop train</c>: measured, recorded, used; its refusals.</summary>
public sealed class CliThresholdNormalizationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eventprop-cli-thresholds-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Randman, 3 classes × 8 trials, two hidden layers (IF then LIF) of 8, batches of 6, 30 ms.</summary>
    private static readonly string[] Tiny = ["--method", "surrogate", "--set", "dataset.samples_per_class=8", "--set", "dataset.classes=3",
        "--set", "network.hidden=[{\"size\":8,\"model\":\"if\"},{\"size\":8,\"threshold\":5}]", "--set", "network.recurrent=false",
        "--set", "training.batch_size=6", "--set", "dataset.duration_ms=30", "--set", "engine.duration_ms=30", "--set", "engine.threads=1",
        "--set", "network.normalize_thresholds=true"];

    private static double[] Thresholds(JsonNode json) =>
        json["layers"]!.AsArray().Select(l => l!["threshold"]!.GetValue<double>()).ToArray();

    [Fact]
    public void TrainMeasuresTheThresholdsRecordsThemAndTrainsWithThem()
    {
        string a = Path.Combine(_dir, "a");
        var r = Run(["train", "--out", a, "--epochs", "1", .. Tiny]);
        Assert.True(r.Code == 0, r.Err + r.Out);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(a, "thresholds.json")))!;
        var layers = json["layers"]!.AsArray();
        Assert.Equal(["hidden0", "hidden1"], layers.Select(l => l!["layer"]!.GetValue<string>()));
        Assert.Equal(["network.hidden[0]", "network.hidden[1]"], layers.Select(l => l!["key"]!.GetValue<string>()));
        Assert.Equal([1.0, 5.0], layers.Select(l => l!["before"]!.GetValue<double>()));
        var thresholds = Thresholds(json);
        Assert.All(thresholds, t => Assert.True(t > 0 && double.IsFinite(t), $"{t}"));
        Assert.Equal(json["training_samples"]!.GetValue<int>(), json["samples"]!.GetValue<int>());
        // The run's config carries the measured values (so a resume or a rerun from config.json uses them).
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(a, "config.json")))!;
        Assert.Equal(thresholds, config["network"]!["hidden"]!.AsArray().Select(l => l!["threshold"]!.GetValue<double>()));
        Assert.Contains("network.normalize_thresholds: hidden0 ", r.Out);
        // The trained model file has them too.
        var model = File.ReadAllText(Path.Combine(a, "model.json"));
        Assert.Contains(thresholds[0].ToString("R", CultureInfo.InvariantCulture), model);

        // Deterministic, and a subset of the samples gives thresholds no larger than all of them (a max over fewer samples).
        string b = Path.Combine(_dir, "b"), c = Path.Combine(_dir, "c");
        Assert.Equal(0, Run(["train", "--out", b, "--epochs", "1", "--quiet", .. Tiny]).Code);
        Assert.Equal(thresholds[0], Thresholds(JsonNode.Parse(File.ReadAllText(Path.Combine(b, "thresholds.json")))!)[0]);
        var sub = Run(["train", "--out", c, "--epochs", "1", "--quiet", .. Tiny, "--set", "network.normalize_thresholds_samples=3"]);
        Assert.True(sub.Code == 0, sub.Err);
        var subJson = JsonNode.Parse(File.ReadAllText(Path.Combine(c, "thresholds.json")))!;
        Assert.Equal(3, subJson["samples"]!.GetValue<int>());
        Assert.True(Thresholds(subJson)[0] <= thresholds[0]);
    }

    [Theory]
    [InlineData("eventprop", "network.normalize_thresholds=true", "network.normalize_thresholds needs method surrogate")]
    [InlineData("surrogate", "network.normalize_thresholds_samples=0", "network.normalize_thresholds_samples must be ≥ 1")]
    [InlineData("surrogate", "network.normalize_thresholds=false", "network.normalize_thresholds_samples only applies with network.normalize_thresholds=true")]
    public void BadSettingsGiveOneLine(string method, string set, string expected)
    {
        var args = Tiny.ToList();
        args[1] = method;
        if (set.EndsWith("=false", StringComparison.Ordinal)) args.AddRange(["--set", "network.normalize_thresholds_samples=3"]);
        args.AddRange(["--set", set]);
        var r = Run(["train", "--out", Path.Combine(_dir, "bad"), "--epochs", "1", .. args]);
        Assert.Equal(2, r.Code);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, r.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad", "checkpoint.h5")));
    }

    [Fact]
    public void ALayerThatGetsNoInputIsNamed()
    {
        var r = Run(["train", "--out", Path.Combine(_dir, "dead"), "--epochs", "1", .. Tiny, "--set", "network.input_init=[-1.0,0.0]"]);
        Assert.Equal(2, r.Code);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("network.normalize_thresholds: Threshold calibration: layer 'hidden0' received no positive input current", r.Err);
    }
}
