using System.Globalization;
using System.Text.Json.Nodes;
using Eventprop.Cli;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// <c>eventprop tune-surrogate</c> and <c>gradient-report</c> on a tiny generated randman set (seed 004 §2.5, Fig. 3), and
/// the config aliases <c>surrogate.width</c> / <c>surrogate.gamma</c> of <c>surrogate.scale</c>.
/// </summary>
public sealed class CliSurrogateWidthTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eventprop-cli-width-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Randman, 3 classes × 8 trials, four hidden LIF layers of 8 (feed-forward), batches of 6, 30 ms.</summary>
    private static readonly string[] Tiny = ["--method", "surrogate", "--set", "dataset.samples_per_class=8", "--set", "dataset.classes=3",
        "--set", "network.hidden=[{\"size\":8},{\"size\":8},{\"size\":8},{\"size\":8}]", "--set", "network.recurrent=false", "--set", "network.input_init=[1.0,0.6]",
        "--set", "training.batch_size=6", "--set", "dataset.duration_ms=30", "--set", "engine.duration_ms=30", "--set", "engine.threads=1"];

    [Fact]
    public void TuneSurrogateWritesTheChosenGammaAndTheIterationTableAndIsDeterministic()
    {
        string a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b");
        var r = Run(["tune-surrogate", "--out", a, "--batches", "2", "--tolerance", "0.02", .. Tiny]);
        Assert.True(r.Code == 0, r.Err + r.Out);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(a, "surrogate_width.json")))!;
        double gamma = json["gamma"]!.GetValue<double>(), ratio = json["log_ratio"]!.GetValue<double>();
        Assert.True(json["converged"]!.GetValue<bool>(), r.Out);
        Assert.True(Math.Abs(ratio) <= 0.02, $"log ratio {ratio}");
        Assert.InRange(gamma, 0.01, 1000);
        Assert.Equal(2, json["half_layers"]!.GetValue<int>());
        Assert.Equal(2, json["batches"]!.GetValue<int>());
        var rows = File.ReadAllLines(Path.Combine(a, "surrogate_width_iterations.csv"));
        Assert.StartsWith("iteration,gamma,log_ratio,mean_abs_dL_dU_", rows[0]);
        Assert.Equal(json["iterations"]!.AsArray().Count + 1, rows.Length);
        Assert.True(rows.Length >= 4);
        // The table's ratios are ln(first two layers / last two), recomputed here from its own layer columns.
        foreach (string row in rows.Skip(1))
        {
            var v = row.Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(Math.Log((v[3] + v[4]) / (v[5] + v[6])), v[2], 10);
        }
        Assert.Contains(FormattableString.Invariant($"set surrogate.scale={gamma:R}"), r.Out);

        var again = Run(["tune-surrogate", "--out", b, "--batches", "2", "--tolerance", "0.02", "--quiet", .. Tiny]);
        Assert.True(again.Code == 0, again.Err);
        Assert.Equal(gamma, JsonNode.Parse(File.ReadAllText(Path.Combine(b, "surrogate_width.json")))!["gamma"]!.GetValue<double>());
        Assert.Equal(rows, File.ReadAllLines(Path.Combine(b, "surrogate_width_iterations.csv")));
    }

    [Fact]
    public void GradientReportWritesATableACsvAndAPlotPerGamma()
    {
        string dir = Path.Combine(_dir, "report");
        var r = Run(["gradient-report", "--out", dir, "--batches", "1", "--gamma", "1,100", .. Tiny]);
        Assert.True(r.Code == 0, r.Err + r.Out);
        var rows = File.ReadAllLines(Path.Combine(dir, "gradient_report.csv"));
        Assert.Equal("gamma,kind,index,name,size,mean_abs_gradient", rows[0]);
        var layers = rows.Skip(1).Select(x => x.Split(',')).Where(x => x[1] == "layer_dL_dU").ToArray();
        Assert.Equal(8, layers.Length); // 4 layers × 2 γ
        double At(string gamma, int layer) => double.Parse(layers.Single(x => x[0] == gamma && x[2] == layer.ToString(CultureInfo.InvariantCulture))[5], CultureInfo.InvariantCulture);
        // A narrow surrogate (γ 100) passes less gradient to the first layer than a wide one (γ 1), relative to the last.
        Assert.True(At("100", 1) / At("100", 4) < At("1", 1) / At("1", 4));
        Assert.Equal(10, rows.Skip(1).Count(x => x.Split(',')[1] == "connection_dL_dW")); // 5 connections × 2 γ
        Assert.True(File.Exists(Path.Combine(dir, "gradient_report.png")));
        Assert.Contains("mean |dL/dU|", r.Out);
        // The Markdown table: one row per hidden layer and per connection, one column per γ, the CSV's numbers.
        var md = File.ReadAllLines(Path.Combine(dir, "gradient_report.md"));
        Assert.Contains("| hidden layer | neurons | γ = 1 | γ = 100 |", md);
        var first = md[Array.IndexOf(md, "| hidden layer | neurons | γ = 1 | γ = 100 |") + 2].Split('|', StringSplitOptions.TrimEntries);
        Assert.Equal(At("1", 1), double.Parse(first[3], CultureInfo.InvariantCulture), 1e-3 * At("1", 1));
        Assert.Equal(4 + 5, md.Count(l => l.StartsWith("| ", StringComparison.Ordinal) && char.IsAsciiDigit(l[2]))); // 4 layers + 5 connections, and no other numbered row
    }

    [Fact]
    public void TrainWithTuneWidthTrainsWithTheTunedGammaAndRecordsIt()
    {
        string run = Path.Combine(_dir, "train");
        var r = Run(["train", "--out", run, "--epochs", "1", "--set", "surrogate.tune_width=true", .. Tiny]);
        Assert.True(r.Code == 0, r.Err + r.Out);
        var tuned = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "surrogate_width.json")))!;
        double gamma = tuned["gamma"]!.GetValue<double>();
        Assert.True(Math.Abs(tuned["log_ratio"]!.GetValue<double>()) <= 0.01);
        Assert.True(File.Exists(Path.Combine(run, "surrogate_width_iterations.csv")));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!;
        Assert.Equal(gamma, config["surrogate"]!["scale"]!.GetValue<double>());
        Assert.Contains("surrogate.tune_width: γ = ", r.Out);

        var one = Run(["train", "--out", Path.Combine(_dir, "one"), .. Tiny, "--set", "network.hidden=8", "--set", "surrogate.tune_width=true"]);
        Assert.Equal(2, one.Code);
        Assert.Single(one.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("surrogate.tune_width compares", one.Err);
    }

    [Fact]
    public void WidthAndGammaAreAliasesOfScale()
    {
        string config = Path.Combine(_dir, "c.json");
        File.WriteAllText(config, """{ "method": "surrogate", "surrogate": { "gamma": 3.5, "height": 0.5 } }""");
        Assert.Equal(3.5, RunConfig.Load(config, []).Surrogate.Scale);
        Assert.Equal(0.5, RunConfig.Load(config, []).Surrogate.Height);
        Assert.Equal(7, RunConfig.Load(config, ["surrogate.width=7"]).Surrogate.Scale);
        Assert.Equal(2, RunConfig.Load(null, ["method=surrogate", "surrogate.gamma=2"]).Surrogate.Scale);
        File.WriteAllText(config, """{ "method": "surrogate", "surrogate": { "scale": 3, "width": 4 } }""");
        var e = Assert.Throws<UserError>(() => RunConfig.Load(config, []));
        Assert.Contains("surrogate.width is another name for surrogate.scale", e.Message);
        File.WriteAllText(config, """{ "method": "surrogate", "surrogate": { "scale": 3, "width": 3 } }""");
        Assert.Equal(3, RunConfig.Load(config, []).Surrogate.Scale);
    }

    [Fact]
    public void BadInputIsAOneLineError()
    {
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["tune-surrogate", .. Tiny, "--min-gamma", "5", "--max-gamma", "2"], "0 < min < max"),
            (["tune-surrogate", .. Tiny, "--min-gamma", "1", "--max-gamma", "1.1"], "widen the γ bracket"),
            (["tune-surrogate", .. Tiny, "--set", "network.hidden=8"], "at least 2"),
            (["tune-surrogate", .. Tiny, "--method", "eventprop"], "add --method surrogate"),
            (["gradient-report", .. Tiny, "--gamma", "1,x"], "--gamma must be"),
            (["tune-surrogate", .. Tiny, "--batches", "0"], "--batches must be"),
        })
        {
            var r = Run([.. args, "--out", Path.Combine(_dir, Guid.NewGuid().ToString("N"))]);
            Assert.True(r.Code == 2, r.Err + r.Out);
            Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(expected, r.Err);
        }
    }
}
