using System.Globalization;
using System.Text.Json.Nodes;
using Eventprop.Cli;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>The data-file paths of the command on small generated SHD-layout files.</summary>
public sealed class CliDataTests
{
    private static void WriteShdLike(string path, int trials, int seed)
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
            Speakers = Enumerable.Range(0, trials).Select(i => (ushort)(i % 3)).ToArray(),
            Keys = Enumerable.Range(0, 20).Select(i => $"class-{i}").ToArray(),
        }.Write(path);
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        return (Program.Run(args, o, e), o.ToString(), e.ToString());
    }

    [Fact]
    public void DataInfoDescribesAFile()
    {
        using var dir = new TempDirectory();
        WriteShdLike(dir.File("shd_test.h5"), 40, 1);
        var r = Run("data", "info", dir.File("shd_test.h5"));
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("40 trials, 700 channels, 20 classes, 3 speakers", r.Out);
        Assert.Contains("spikes per trial: mean", r.Out);
        Assert.Contains("duration (last spike)", r.Out);
    }

    [Fact]
    public void TheShdConfigTrainsOnShdFiles()
    {
        using var dir = new TempDirectory();
        WriteShdLike(dir.File("shd_train.h5"), 60, 2);
        WriteShdLike(dir.File("shd_test.h5"), 20, 3);
        string config = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "experiments", "configs", "shd_sum_exp.json");
        string run = dir.File("run");
        var r = Run("train", "--config", config, "--data", dir.Path, "--out", run, "--epochs", "1", "--quiet",
            "--set", "network.hidden=8", "--set", "engine.duration_ms=400", "--set", "augment.delay_line_copies=2", "--set", "training.batch_size=16");
        Assert.True(r.Code == 0, r.Err);
        var resolved = RunConfig.Load(Path.Combine(run, "config.json"), []);
        Assert.Equal(("shd", dir.Path, 40), (resolved.Dataset.Kind, resolved.Dataset.Path, resolved.Augment.Shift));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!;
        Assert.Equal(0.05, summary["chance_accuracy"]!.GetValue<double>());
        Assert.InRange(summary["test_accuracy"]!.GetValue<double>(), 0, 1);
    }
}
