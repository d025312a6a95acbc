using System.Globalization;
using System.Text.Json.Nodes;
using Eventprop.Cli;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary><c>train --method surrogate</c> and the <c>study</c> command on tiny generated data.</summary>
public sealed class CliSurrogateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eventprop-cli-sg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static readonly string[] Tiny = ["--set", "dataset.samples_per_class=12", "--set", "dataset.classes=3", "--set", "network.hidden=8", "--set", "training.batch_size=8"];

    [Fact]
    public void TrainWithSurrogateGradients()
    {
        string run = Path.Combine(_dir, "sg");
        var r = Run(["train", "--method", "surrogate", "--out", run, "--epochs", "2", "--set", "surrogate.shape=esser", "--set", "surrogate.discretisation=zenke_vogels",
            "--set", "surrogate.reset=differentiable", "--set", "surrogate.lower_strength=1", "--set", "surrogate.lower_target=0.5", .. Tiny]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("surrogate BPTT (esser β 10, zenke_vogels, reset differentiable", r.Out);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!;
        Assert.Equal("surrogate", config["method"]!.GetValue<string>());
        Assert.Equal("esser", config["surrogate"]!["shape"]!.GetValue<string>());
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!;
        Assert.Equal(2, summary["epochs"]!.GetValue<int>());
    }

    [Fact]
    public void SurrogateConfigErrorsAreOneLine()
    {
        foreach (var (set, expected) in new[]
        {
            ("surrogate.shape=tanh", "superspike"),
            ("surrogate.discretisation=euler", "zenke_vogels"),
            ("surrogate.upper_exponent=3", "upper_exponent"),
            ("training.regularization_strength=1e-3", "surrogate.lower_strength"),
            ("loss=first_spike", "voltage loss"),
        })
        {
            var r = Run("train", "--method", "surrogate", "--set", set);
            Assert.Equal(2, r.Code);
            Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(expected, r.Err);
        }
        Assert.Contains("method must be", Run("train", "--method", "bptt").Err);
    }

    /// <summary>Every series (at every sweep value, with the value's sets) of the shipped studies is a valid run config.</summary>
    [Theory]
    [InlineData("randman_surrogate_study.json")]
    [InlineData("randman_eventprop_vs_bptt.json")]
    [InlineData("mnist_conv_depth.json")]
    [InlineData("mnist_conv_timesteps.json")]
    public void ShippedStudiesAreValid(string name)
    {
        string root = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(root, "experiments", "configs"))) root = Path.GetDirectoryName(root)!;
        string path = Path.Combine(root, "experiments", "configs", "studies", name);
        var study = StudyCommand.Parse(File.ReadAllText(path), path);
        string basePath = Path.Combine(_dir, "base.json");
        File.WriteAllText(basePath, study.Base.ToJsonString());
        double?[] values = study.Sweep is { } sweep ? sweep.Values.Select(v => (double?)v).ToArray() : [null];
        int checkedRuns = 0;
        foreach (var series in study.Series)
            foreach (var value in values)
            {
                var sets = StudyTask.SeriesSets(series, study.Sweep, value).ToList();
                // Rectangular has no width at β = 0; the study skips that point with the reason.
                if (sets.Contains("surrogate.shape=\"rectangular\"") && value == 0) continue;
                RunConfig.Load(basePath, sets);
                checkedRuns++;
            }
        Assert.True(checkedRuns >= 3);
    }

    [Fact]
    public void StudyWritesOneTableAndPlot()
    {
        string study = Path.Combine(_dir, "study.json");
        File.WriteAllText(study, """
            {
              "name": "tiny", "seeds": [1, 2],
              "sweep": { "key": "surrogate.scale", "values": [0, 10] },
              "series": [ { "label": "superspike", "set": { "surrogate.shape": "superspike" } },
                          { "label": "rectangular", "set": { "surrogate.shape": "rectangular" } } ],
              "base": { "method": "surrogate", "dataset": { "kind": "randman", "classes": 3, "samples_per_class": 10 },
                        "network": { "hidden": 6 }, "training": { "epochs": 1, "batch_size": 8 } }
            }
            """);
        string outDir = Path.Combine(_dir, "out");
        var r = Run("study", "--config", study, "--out", outDir, "--quiet");
        Assert.True(r.Code == 0, r.Err);
        var csv = File.ReadAllLines(Path.Combine(outDir, "results.csv"));
        Assert.Equal(1 + 2 * 2 * 2, csv.Length);
        // Rectangular at β = 0 has no width: those rows are skipped with the reason, the others have accuracies.
        Assert.Equal(2, csv.Count(l => l.StartsWith("rectangular,surrogate.scale,0,", StringComparison.Ordinal) && l.Contains("skipped")));
        Assert.Equal(6, csv.Skip(1).Count(l => !l.Contains("skipped")));
        var md = File.ReadAllText(Path.Combine(outDir, "results.md"));
        Assert.Contains("| superspike | 10 |", md);
        Assert.True(File.Exists(Path.Combine(outDir, "results.png")) || r.Out.Contains("warning: plot not written"));
        Assert.Contains("--series", Run("study", "--config", study, "--out", outDir, "--series", "3").Err);
    }
}
