using System.Text.Json;
using System.Text.Json.Nodes;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;

namespace Eventprop.Cli;

/// <summary>Reads the hand-writable model and sample JSON files (docs/formats.md).</summary>
public static class ModelFiles
{
    /// <summary>A model file: the network and its trial duration.</summary>
    public sealed record Model(Network Network, double DurationMs);

    /// <summary>The model-file format written: 2 adds neuron models (threshold, reset, reset mode, IF) and sparse masks.
    /// Files without a <c>format</c> key are version 1 (LIF, threshold 1, reset 0, dense) and still read.</summary>
    public const int Format = 2;

    /// <summary>Reads a model file; one-line <see cref="UserError"/> on any problem.</summary>
    public static Model ReadModel(string path)
    {
        var root = ReadObject(path, "model");
        Allow(root, path, "format", "duration_ms", "populations", "connections");
        if (root["format"] is not null)
        {
            double format = Number(root, "format", path);
            if (format is not (1 or 2))
                throw new UserError($"{path}: model format {format} is not one this eventprop reads (1 or 2); upgrade eventprop or re-export the model.");
        }
        double duration = Number(root, "duration_ms", path);
        if (duration <= 0) throw new UserError($"{path}: duration_ms must be > 0.");
        var builder = Network.Create(0);
        if (root["populations"] is not JsonArray pops || pops.Count < 2)
            throw new UserError($"{path}: 'populations' must be an array of at least an input and a readout population.");
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in pops)
        {
            if (node is not JsonObject p) throw new UserError($"{path}: every population must be an object.");
            Allow(p, path, "name", "kind", "size", "tau_mem", "tau_syn", "spiking", "threshold", "reset", "reset_mode", "train_tau_mem", "model", "batch_norm");
            string name = Text(p, "name", path), kind = Text(p, "kind", path);
            int size = (int)Number(p, "size", path);
            if (size < 1) throw new UserError($"{path}: population '{name}' needs size ≥ 1.");
            sizes[name] = size;
            if (kind == "input") { builder = builder.Input(name, size); continue; }
            double[] tm = Taus(p, "tau_mem", size, name, path), ts = Taus(p, "tau_syn", size, name, path);
            bool spiking = p["spiking"] is JsonNode s && s.GetValueKind() == JsonValueKind.True;
            try
            {
                builder = kind switch
                {
                    "lif" => builder.Hidden(name, Spiking(p, "lif", name, path), tm, ts),
                    "if" => builder.Hidden(name, Spiking(p, "if", name, path), tm, ts),
                    "readout" when spiking => builder.Readout(name, Spiking(p, "lif", name, path), tm, ts),
                    "readout" => builder.Readout(name, ReadoutModel(p, name, path), tm, ts),
                    _ => throw new UserError($"{path}: population '{name}' has kind '{kind}'; use input, lif, if or readout."),
                };
            }
            catch (ArgumentException e) { throw new UserError($"{path}: {RunConfig.OneLine(e.Message)}"); }
            if (p["batch_norm"] is { } bn) builder = ReadBatchNorm(builder, bn, name, path);
        }
        if (root["connections"] is not JsonArray conns) throw new UserError($"{path}: 'connections' must be an array.");
        foreach (var node in conns)
        {
            if (node is not JsonObject c) throw new UserError($"{path}: every connection must be an object.");
            Allow(c, path, "pre", "post", "weights", "connectivity", "delays", "delay_kind");
            string pre = Text(c, "pre", path), post = Text(c, "post", path);
            if (!sizes.TryGetValue(pre, out int rows) || !sizes.TryGetValue(post, out int cols))
                throw new UserError($"{path}: connection {pre}->{post} names an unknown population; known: {string.Join(", ", sizes.Keys)}.");
            if (c["connectivity"] is JsonObject convNode && convNode["kind"] is JsonValue kindValue && kindValue.GetValueKind() == JsonValueKind.String && kindValue.GetValue<string>() == "conv2d")
            {
                var (conv, kernels) = ConvWeights(c, convNode, $"{pre}->{post}", path);
                builder = builder.Connect(pre, post, Init.Values(kernels), conv);
                continue;
            }
            if (c["connectivity"] is JsonObject sparseNode)
            {
                var (mask, dense) = SparseWeights(c, sparseNode, $"{pre}->{post}", rows, cols, path);
                builder = ReadDelays(builder.Connect(pre, post, Init.Values(dense), mask), c, pre, post, rows, 1, mask.Count, path);
                continue;
            }
            if (c["connectivity"] is JsonNode other && !(other is JsonValue v0 && v0.GetValueKind() == JsonValueKind.String && v0.GetValue<string>() == "dense"))
                throw new UserError($"{path}: connection {pre}->{post} has connectivity {other.ToJsonString()}; use \"dense\" or {{\"kind\": \"sparse\", \"row_starts\": [...], \"targets\": [...]}}.");
            if (c["weights"] is not JsonArray w || w.Count != rows)
                throw new UserError($"{path}: connection {pre}->{post} needs 'weights' as {rows} rows (one per '{pre}' neuron) of {cols} numbers.");
            var m = new double[rows, cols];
            for (int r = 0; r < rows; r++)
            {
                if (w[r] is not JsonArray row || row.Count != cols)
                    throw new UserError($"{path}: connection {pre}->{post} row {r} must have {cols} numbers (one per '{post}' neuron).");
                for (int k = 0; k < cols; k++) m[r, k] = Element(row[k], $"{pre}->{post}[{r}][{k}]", path);
            }
            builder = ReadDelays(builder.Connect(pre, post, Init.Values(m)), c, pre, post, rows, rows, cols, path);
        }
        try { return new Model(builder.Build(), duration); }
        catch (ArgumentException e) { throw new UserError($"{path}: {RunConfig.OneLine(e.Message)}"); }
        catch (InvalidOperationException e) { throw new UserError($"{path}: {RunConfig.OneLine(e.Message)}"); }
    }

    /// <summary>
    /// Writes <paramref name="network"/> (its current parameters) as a model file that <see cref="ReadModel"/> reads back
    /// exactly (numbers in shortest round-trip form); written atomically. Per-neuron τ's are written as arrays.
    /// </summary>
    public static void WriteModel(string path, Network network, double durationMs)
    {
        var pops = new JsonArray();
        foreach (var p in network.Populations)
        {
            var o = new JsonObject { ["name"] = p.Name, ["kind"] = p.Kind switch { PopulationKind.Input => "input", PopulationKind.Readout => "readout", _ => p.Model!.Name }, ["size"] = p.Size };
            if (p.HasDynamics)
            {
                o["tau_mem"] = Numbers(network.Parameters.TauMem(p.Name).Values);
                o["tau_syn"] = Numbers(network.Parameters.TauSyn(p.Name).Values);
            }
            if (p.Kind == PopulationKind.Readout && p.IsSpiking) o["spiking"] = true;
            if (p.Model is { IsSpiking: true } model && !model.IsStandardLif)
            {
                o["threshold"] = model.Threshold;
                o["reset"] = model.Reset;
                o["reset_mode"] = model.ResetMode == ResetMode.Subtract ? "subtract" : "value";
            }
            if (p.Model is NonLeakyIntegrator integrator)
            {
                o["model"] = integrator.Name;
                if (integrator.TrainTauMem) o["train_tau_mem"] = true;
            }
            if (p.Model is IntegrateAndFire { TrainTauMem: true }) o["train_tau_mem"] = true;
            if (network.BatchNormalized.Contains(p))
            {
                var set = network.Parameters;
                double[] Values(ParameterKind kind) => set[Core.Simulation.Surrogate.BatchNorm.ParameterName(p.Name, kind)].Values;
                o["batch_norm"] = new JsonObject
                {
                    ["scale"] = Numbers(Values(ParameterKind.BatchNormScale)),
                    ["bias"] = Numbers(Values(ParameterKind.BatchNormBias)),
                    ["running_mean"] = Numbers(Values(ParameterKind.BatchNormRunningMean)),
                    ["running_var"] = Numbers(Values(ParameterKind.BatchNormRunningVariance)),
                };
            }
            pops.Add(o);
        }
        var conns = new JsonArray();
        foreach (var c in network.Connections)
        {
            var w = network.Parameters.Weights(c.Pre.Name, c.Post.Name);
            if (c.Connectivity is Conv2dConnectivity conv)
            {
                var g = conv.Geometry;
                var kernelRows = new JsonArray();
                for (int r = 0; r < w.Rows; r++) kernelRows.Add(Numbers(w.Values.AsSpan(r * w.Columns, w.Columns).ToArray()));
                conns.Add(new JsonObject
                {
                    ["pre"] = c.Pre.Name,
                    ["post"] = c.Post.Name,
                    ["connectivity"] = new JsonObject
                    {
                        ["kind"] = "conv2d",
                        ["in_shape"] = new JsonArray(g.InChannels, g.InHeight, g.InWidth),
                        ["out_channels"] = g.OutChannels,
                        ["kernel"] = new JsonArray(g.KernelHeight, g.KernelWidth),
                        ["stride"] = g.Stride,
                        ["padding"] = g.Padding,
                        ["pool"] = g.Pool,
                    },
                    ["weights"] = kernelRows,
                });
                continue;
            }
            if (c.Connectivity is SparseConnectivity sparse)
            {
                conns.Add(new JsonObject
                {
                    ["pre"] = c.Pre.Name,
                    ["post"] = c.Post.Name,
                    ["connectivity"] = new JsonObject
                    {
                        ["kind"] = "sparse",
                        ["row_starts"] = new JsonArray(sparse.RowStarts.ToArray().Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
                        ["targets"] = new JsonArray(sparse.Targets.ToArray().Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
                    },
                    ["weights"] = Numbers(w.Values),
                });
                WriteDelays(network, c, (JsonObject)conns[^1]!);
                continue;
            }
            var rows = new JsonArray();
            for (int r = 0; r < w.Rows; r++) rows.Add(Numbers(w.Values.AsSpan(r * w.Columns, w.Columns).ToArray()));
            conns.Add(new JsonObject { ["pre"] = c.Pre.Name, ["post"] = c.Post.Name, ["weights"] = rows });
            WriteDelays(network, c, (JsonObject)conns[^1]!);
        }
        var root = new JsonObject { ["format"] = Format, ["duration_ms"] = durationMs, ["populations"] = pops, ["connections"] = conns };
        TrainCommand.WriteAtomic(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = false, Encoder = RunConfig.Json.Encoder }));
    }

    private static JsonArray Numbers(double[] values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    /// <summary>Reads a sample file and checks it against <paramref name="network"/>.</summary>
    public static SpikeSample ReadSample(string path, Network network)
    {
        var root = ReadObject(path, "sample");
        Allow(root, path, "times", "channels", "label");
        if (root["times"] is not JsonArray times || root["channels"] is not JsonArray channels)
            throw new UserError($"{path}: a sample needs 'times' (ms) and 'channels' arrays of equal length.");
        if (times.Count != channels.Count) throw new UserError($"{path}: 'times' has {times.Count} entries but 'channels' has {channels.Count}.");
        double labelValue = Number(root, "label", path);
        if (labelValue != Math.Floor(labelValue))
            throw new UserError($"{path}: 'label' must be a whole number (a class index 0–{network.Readout.Size - 1}), got {labelValue.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
        int label = (int)labelValue;
        if (label < 0 || label >= network.Readout.Size)
            throw new UserError($"{path}: label {label} is out of range; the readout '{network.Readout.Name}' has {network.Readout.Size} neurons (labels 0–{network.Readout.Size - 1}).");
        var t = new double[times.Count];
        var ch = new int[times.Count];
        for (int i = 0; i < t.Length; i++)
        {
            t[i] = Element(times[i], $"times[{i}]", path);
            double c = Element(channels[i], $"channels[{i}]", path);
            if (c != Math.Floor(c) || c < 0 || c >= network.Input.Size)
                throw new UserError($"{path}: channels[{i}] = {c} must be an integer in 0–{network.Input.Size - 1} (the input has {network.Input.Size} channels).");
            ch[i] = (int)c;
        }
        var order = Enumerable.Range(0, t.Length).OrderBy(i => t[i]).ToArray();
        try { return new SpikeSample(order.Select(i => t[i]).ToArray(), order.Select(i => ch[i]).ToArray(), label); }
        catch (ArgumentException e) { throw new UserError($"{path}: {RunConfig.OneLine(e.Message)}"); }
    }

    private static JsonObject ReadObject(string path, string what)
    {
        if (!File.Exists(path)) throw new UserError($"The {what} file '{path}' does not exist; its format is in docs/formats.md.");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new UserError($"{path}: a {what} file must be a JSON object (docs/formats.md).");
        }
        catch (JsonException e) { throw new UserError($"{path} is not valid JSON: {RunConfig.OneLine(e.Message)}"); }
    }

    private static void Allow(JsonObject o, string path, params string[] keys)
    {
        foreach (var (k, _) in o)
            if (!keys.Contains(k) && k != "comment") throw new UserError($"{path}: unknown key '{k}'; allowed here: {string.Join(", ", keys)}.");
    }

    private static string Text(JsonObject o, string key, string path) =>
        o[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw new UserError($"{path}: '{key}' must be a string.");

    private static double Number(JsonObject o, string key, string path) => Element(o[key], key, path);

    private static double Element(JsonNode? n, string what, string path) =>
        n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && double.IsFinite(v.GetValue<double>())
            ? v.GetValue<double>() : throw new UserError($"{path}: '{what}' must be a finite number.");

    private static double Optional(JsonObject o, string key, double fallback, string path) => o[key] is null ? fallback : Number(o, key, path);

    // The spiking model of population p ("lif" or "if"): its threshold (default 1), reset (default 0) and reset_mode
    // A non-spiking readout's "model": "li" (the default, absent in older files) or "integrator" (with train_tau_mem,
    // default false).
    private static NeuronModel ReadoutModel(JsonObject p, string name, string path)
    {
        string model = p["model"] is null ? "li" : Text(p, "model", path);
        bool trainTauMem = p["train_tau_mem"] is JsonNode t && t.GetValueKind() == JsonValueKind.True;
        return model switch
        {
            "li" => LeakyIntegrator.Instance,
            "integrator" => trainTauMem ? new NonLeakyIntegrator(trainTauMem: true) : NonLeakyIntegrator.Instance,
            _ => throw new UserError($"{path}: readout '{name}' has model '{model}'; use li or integrator."),
        };
    }

    // ("value", the default, or "subtract"), absent in format 1 files; for IF also train_tau_mem (default false).
    private static SpikingNeuronModel Spiking(JsonObject p, string model, string name, string path)
    {
        double threshold = Optional(p, "threshold", 1, path), reset = Optional(p, "reset", 0, path);
        var mode = p["reset_mode"] switch
        {
            null => ResetMode.ToValue,
            JsonValue v when v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == "value" => ResetMode.ToValue,
            JsonValue v when v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == "subtract" => ResetMode.Subtract,
            var other => throw new UserError($"{path}: population '{name}' has reset_mode {other.ToJsonString()}; use \"value\" or \"subtract\"."),
        };
        return model == "if"
            ? new IntegrateAndFire(threshold, reset, mode, p["train_tau_mem"] is JsonNode t && t.GetValueKind() == JsonValueKind.True)
            : new Lif(threshold, reset, mode);
    }

    // A sparse connection: its mask (row_starts, targets) and its weights as one flat list in mask order, returned as a
    // dense matrix with the weights at the mask's positions (the builder keeps exactly those).
    private static (SparseConnectivity Mask, double[,] Dense) SparseWeights(JsonObject c, JsonObject node, string name, int rows, int cols, string path)
    {
        Allow(node, path, "kind", "row_starts", "targets");
        if (Text(node, "kind", path) != "sparse")
            throw new UserError($"{path}: connection {name}: connectivity kind must be \"sparse\" (or write \"connectivity\": \"dense\").");
        int[] Ints(string key) => node[key] is JsonArray a
            ? a.Select((x, i) => Element(x, $"{name}.connectivity.{key}[{i}]", path)).Select(x => x == Math.Floor(x) && x >= 0 && x <= int.MaxValue
                ? (int)x : throw new UserError($"{path}: {name}.connectivity.{key} must hold whole numbers ≥ 0.")).ToArray()
            : throw new UserError($"{path}: connection {name}: connectivity needs '{key}' as an array of whole numbers.");
        SparseConnectivity mask;
        try { mask = SparseConnectivity.FromRows(rows, cols, Ints("row_starts"), Ints("targets")); }
        catch (ArgumentException e) { throw new UserError($"{path}: connection {name}: {RunConfig.OneLine(e.Message)}"); }
        if (c["weights"] is not JsonArray w || w.Count != mask.Count)
            throw new UserError($"{path}: connection {name} is sparse with {mask.Count} synapses; 'weights' must list {mask.Count} numbers in mask order.");
        var dense = new double[rows, cols];
        var starts = mask.RowStarts;
        var targets = mask.Targets;
        for (int r = 0; r < rows; r++)
            for (int k = starts[r]; k < starts[r + 1]; k++) dense[r, targets[k]] = Element(w[k], $"{name}.weights[{k}]", path);
        return (mask, dense);
    }

    // A convolution: its geometry and its kernels as out_channels rows of in·kh·kw numbers (PyTorch's (out, in, kh, kw) order).
    private static (Conv2dConnectivity Conv, double[,] Kernels) ConvWeights(JsonObject c, JsonObject node, string name, string path)
    {
        Allow(node, path, "kind", "in_shape", "out_channels", "kernel", "stride", "padding", "pool");
        int Whole(JsonNode? n, string key) => Element(n, $"{name}.connectivity.{key}", path) is var x && x == Math.Floor(x) && x >= 0 && x <= int.MaxValue
            ? (int)x : throw new UserError($"{path}: {name}.connectivity.{key} must be a whole number ≥ 0.");
        int[] Shape(string key, int length) => node[key] is JsonArray a && a.Count == length
            ? a.Select(x => Whole(x, key)).ToArray()
            : throw new UserError($"{path}: connection {name}: conv2d '{key}' must be an array of {length} whole numbers.");
        var shape = Shape("in_shape", 3);
        var kernel = Shape("kernel", 2);
        Conv2dConnectivity conv;
        try
        {
            conv = Conv2dConnectivity.Create(shape[0], shape[1], shape[2], Whole(node["out_channels"], "out_channels"), kernel[0], kernel[1],
                node["stride"] is null ? 1 : Whole(node["stride"], "stride"), node["padding"] is null ? 0 : Whole(node["padding"], "padding"),
                node["pool"] is null ? 1 : Whole(node["pool"], "pool"));
        }
        catch (ArgumentException e) { throw new UserError($"{path}: connection {name}: {RunConfig.OneLine(e.Message)}"); }
        var g = conv.Geometry;
        if (c["weights"] is not JsonArray w || w.Count != g.OutChannels)
            throw new UserError($"{path}: connection {name} is conv2d with {g.OutChannels} output channels; 'weights' must be {g.OutChannels} rows of {g.FanIn} numbers (in·kh·kw).");
        var kernels = new double[g.OutChannels, g.FanIn];
        for (int r = 0; r < g.OutChannels; r++)
        {
            if (w[r] is not JsonArray row || row.Count != g.FanIn)
                throw new UserError($"{path}: connection {name} kernel row {r} must have {g.FanIn} numbers (in·kh·kw = {g.InChannels}·{g.KernelHeight}·{g.KernelWidth}).");
            for (int k = 0; k < g.FanIn; k++) kernels[r, k] = Element(row[k], $"{name}.weights[{r}][{k}]", path);
        }
        return (conv, kernels);
    }

    // A connection's learned delays: "delays" as one flat list (ms; the weights' order for synaptic delays, one per
    // presynaptic neuron for axonal ones) and "delay_kind" ("synaptic" or "axonal").
    private static void WriteDelays(Network network, Connection c, JsonObject o)
    {
        if (network.DelaysOf(c) is not { } d) return;
        o["delays"] = Numbers(d.Delays.Values);
        o["delay_kind"] = d.Kind == DelayKind.Axonal ? "axonal" : "synaptic";
    }

    private static NetworkBuilder ReadDelays(NetworkBuilder builder, JsonObject c, string pre, string post, int preSize, int rows, int columns, string path)
    {
        if (c["delays"] is null)
        {
            if (c["delay_kind"] is not null) throw new UserError($"{path}: connection {pre}->{post} has 'delay_kind' but no 'delays'.");
            return builder;
        }
        string kindText = c["delay_kind"] is JsonValue k && k.GetValueKind() == JsonValueKind.String ? k.GetValue<string>() : "";
        if (kindText is not ("synaptic" or "axonal"))
            throw new UserError($"{path}: connection {pre}->{post} has 'delays' and needs 'delay_kind' \"synaptic\" or \"axonal\".");
        var kind = kindText == "axonal" ? DelayKind.Axonal : DelayKind.Synaptic;
        if (kind == DelayKind.Axonal) (rows, columns) = (1, preSize);
        if (c["delays"] is not JsonArray list || list.Count != rows * columns)
            throw new UserError($"{path}: connection {pre}->{post} needs 'delays' as {rows * columns} numbers ({(kind == DelayKind.Axonal ? $"one per '{pre}' neuron" : "one per synapse, in the weights' order")}).");
        var values = new double[rows, columns];
        for (int i = 0; i < rows * columns; i++) values[i / columns, i % columns] = Element(list[i], $"{pre}->{post}.delays[{i}]", path);
        return builder.LearnedDelays(pre, post, Init.Values(values), kind);
    }

    // A hidden population's "batch_norm": {"scale": [...], "bias": [...], "running_mean": [...], "running_var": [...]}, one
    // value per neuron or per conv channel (the builder checks the count against the layer).
    private static NetworkBuilder ReadBatchNorm(NetworkBuilder builder, JsonNode node, string name, string path)
    {
        if (node is not JsonObject o)
            throw new UserError($"{path}: {name}.batch_norm must be an object {{\"scale\": [...], \"bias\": [...], \"running_mean\": [...], \"running_var\": [...]}}.");
        Allow(o, path, "scale", "bias", "running_mean", "running_var");
        double[] Values(string key) => o[key] is JsonArray a
            ? a.Select((x, i) => Element(x, $"{name}.batch_norm.{key}[{i}]", path)).ToArray()
            : throw new UserError($"{path}: {name}.batch_norm.{key} must be an array of numbers (one per neuron, or per channel of a conv layer).");
        var variance = Values("running_var");
        if (variance.Any(v => v < 0)) throw new UserError($"{path}: {name}.batch_norm.running_var must be ≥ 0.");
        return builder.BatchNorm(name, Values("scale"), Values("bias"), Values("running_mean"), variance);
    }

    private static double[] Taus(JsonObject p, string key, int size, string name, string path)
    {
        double[] r = p[key] switch
        {
            JsonArray a when a.Count == size => a.Select((x, i) => Element(x, $"{name}.{key}[{i}]", path)).ToArray(),
            JsonArray a => throw new UserError($"{path}: {name}.{key} has {a.Count} values but the population has {size} neurons."),
            JsonValue => Enumerable.Repeat(Number(p, key, path), size).ToArray(),
            _ => throw new UserError($"{path}: population '{name}' needs '{key}' (ms), a number or one per neuron."),
        };
        if (r.Any(x => !(x >= RunConfig.MinimumTauMs)))
            throw new UserError(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{path}: {name}.{key} = {r.First(x => !(x >= RunConfig.MinimumTauMs))} ms is too short; time constants must be ≥ {RunConfig.MinimumTauMs} ms (a few ms is typical)."));
        return r;
    }
}
