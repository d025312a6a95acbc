using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;

namespace Eventprop.Cli;

/// <summary><c>eventprop gradient</c> and <c>eventprop gradcheck</c>.</summary>
public static class GradientCommands
{
    /// <summary>Runs <c>gradient</c>.</summary>
    public static int Gradient(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "gradient", ["model", "sample", "loss", "engine", "dt", "method"], ["json"]);
        a.RequireAtMostPositional(0, "gradient");
        string modelPath = a.Value("model") ?? throw new UserError("gradient needs --model MODEL.json (format: docs/formats.md).");
        string samplePath = a.Value("sample") ?? throw new UserError("gradient needs --sample SAMPLE.json (format: docs/formats.md).");
        var model = ModelFiles.ReadModel(modelPath);
        var sample = ModelFiles.ReadSample(samplePath, model.Network);
        var loss = LossByName(a.Value("loss") ?? "sum_exp");
        string engineKind = a.Value("engine") ?? "exact", method = a.Value("method") ?? "eventprop";
        if (engineKind is not ("exact" or "stepped")) throw new UserError($"--engine must be exact or stepped, got '{engineKind}'.");
        if (method is not ("eventprop" or "fd")) throw new UserError($"--method must be eventprop or fd, got '{method}'.");
        if (a.Value("dt") is not null && engineKind != "stepped") throw new UserError("--dt applies to --engine stepped only.");
        double dt = a.Double("dt") ?? 0.1;
        if (dt <= 0) throw new UserError("--dt must be > 0 ms.");
        if (method == "fd" && engineKind != "exact") throw new UserError("--method fd differentiates the exact engine; drop --engine stepped.");

        double lossValue;
        int prediction;
        ParameterSet gradient;
        string? detail = null;
        if (method == "fd")
        {
            var report = GradientCheck.Run(new ExactEngine(model.DurationMs), model.Network, sample, loss);
            if (report.Comparisons.Count == 0)
                throw new UserError($"finite differences are undefined here ({report.Outcome}: {report.Detail}); move the sample's spikes slightly.");
            gradient = model.Network.Parameters.ZerosLike();
            foreach (var c in report.Comparisons) gradient[c.Parameter].Values[c.Index] = c.FiniteDifference;
            lossValue = report.Loss;
            prediction = new ExactEngine(model.DurationMs).Evaluate(model.Network, [sample], loss).Predictions[0];
            detail = report.Outcome == GradientCheckOutcome.Passed ? null : report.Detail;
        }
        else
        {
            GradientResult r = engineKind == "exact"
                ? new ExactEngine(model.DurationMs).Gradient(model.Network, sample, loss)
                : new SteppedEngine(dt, model.DurationMs, threads: 1).Gradient(model.Network, [sample], loss);
            (lossValue, prediction, gradient) = (r.Loss, r.Predictions[0], r.Gradient);
        }

        if (a.Flag("json"))
        {
            var grads = new JsonObject();
            foreach (var p in gradient)
            {
                if (p.Kind == ParameterKind.Weight)
                {
                    var rows = new JsonArray();
                    for (int r = 0; r < p.Rows; r++)
                        rows.Add(new JsonArray(Enumerable.Range(0, p.Columns).Select(c => (JsonNode?)JsonValue.Create(p[r, c])).ToArray()));
                    grads[p.Name] = rows;
                }
                else grads[p.Name] = new JsonArray(p.Values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
            }
            var root = new JsonObject
            {
                ["loss_name"] = a.Value("loss") ?? "sum_exp", ["engine"] = engineKind, ["method"] = method,
                ["dt_ms"] = engineKind == "stepped" ? dt : null, ["loss"] = lossValue, ["label"] = sample.Label, ["prediction"] = prediction,
                ["gradients"] = grads,
            };
            if (detail is not null) root["note"] = detail;
            output.WriteLine(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = RunConfig.Json.Encoder }));
        }
        else
        {
            output.WriteLine(Inv($"loss {lossValue:R}  label {sample.Label}  prediction {prediction}  ({engineKind}, {method})"));
            foreach (var p in gradient)
                output.WriteLine(Inv($"  {p.Name,-24} [{p.Rows}×{p.Columns}]  |g|max {p.Values.Max(Math.Abs):G6}  sum {p.Values.Sum():G6}"));
            output.WriteLine("(--json prints every value)");
        }
        return 0;
    }

    /// <summary>Runs <c>gradcheck</c>.</summary>
    public static int GradCheck(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "gradcheck", ["model", "sample", "loss", "seed"], []);
        a.RequireAtMostPositional(0, "gradcheck");
        var loss = LossByName(a.Value("loss") ?? "sum_exp");
        Network network;
        SpikeSample sample;
        double duration;
        string? modelPath = a.Value("model"), samplePath = a.Value("sample");
        if ((modelPath is null) != (samplePath is null)) throw new UserError("gradcheck takes --model and --sample together, or neither (random network).");
        if (modelPath is not null)
        {
            var model = ModelFiles.ReadModel(modelPath);
            (network, duration) = (model.Network, model.DurationMs);
            sample = ModelFiles.ReadSample(samplePath!, network);
        }
        else (network, sample, duration) = RandomCase(a.Int("seed") ?? 1);

        var report = GradientCheck.Run(new ExactEngine(duration), network, sample, loss);
        output.WriteLine(Inv($"loss {report.Loss:G8}, {report.TotalSpikes} spikes, outcome {report.Outcome}{(report.Detail is null ? "" : $": {report.Detail}")}"));
        if (report.Comparisons.Count > 0)
        {
            output.WriteLine("parameter                 values   worst rel. error   worst abs. error   agree");
            foreach (var g in report.Comparisons.GroupBy(c => c.Parameter))
                output.WriteLine(Inv($"{g.Key,-24} {g.Count(),7}   {g.Max(c => c.RelativeError),16:E2}   {g.Max(c => c.AbsoluteError),16:E2}   {(g.All(c => c.Passed) ? "yes" : "NO")}"));
        }
        return report.Outcome switch
        {
            GradientCheckOutcome.Passed => 0,
            GradientCheckOutcome.Failed => 3,
            _ => 4,
        };
    }

    /// <summary>A random 5 → 4 (recurrent) → 3 network and a 40-spike trial in 30 ms from <paramref name="seed"/>.</summary>
    internal static (Network Network, SpikeSample Sample, double DurationMs) RandomCase(int seed)
    {
        var net = Network.Create(seed)
            .Input("in", 5).Lif("hidden", 4, tauMem: 20, tauSyn: 5).Readout("out", 3, tauMem: 15, tauSyn: 4)
            .Connect("in", "hidden", Init.Normal(0.6, 0.3)).Connect("hidden", "hidden", Init.Normal(0, 0.2))
            .Connect("hidden", "out", Init.Normal(0, 0.5)).Build();
        var random = new Random(seed);
        var times = Enumerable.Range(0, 40).Select(_ => 30 * random.NextDouble()).Order().ToArray();
        var channels = times.Select(_ => random.Next(5)).ToArray();
        return (net, new SpikeSample(times, channels, random.Next(3)), 50);
    }

    private static Core.Losses.ILoss LossByName(string name) =>
        Losses.Loss.Names.Contains(name) ? Losses.Loss.FromName(name) : throw new UserError($"Unknown loss '{name}'; choose one of: {string.Join(", ", Losses.Loss.Names)}.");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
