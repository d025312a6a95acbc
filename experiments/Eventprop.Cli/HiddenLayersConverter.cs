using System.Text.Json;
using System.Text.Json.Serialization;

namespace Eventprop.Cli;

/// <summary>
/// Reads and writes <c>network.hidden</c>: a number (<c>"hidden": 128</c>, one layer of that size, the original form) or a
/// list of layer objects (<c>[{"size": 128, "recurrent": true}, {"size": 64, "model": "if"}]</c>). Mistakes are one-line
/// <see cref="UserError"/>s naming the key as written (<c>network.hidden[2].size</c>). A single layer with nothing but its
/// size is written back as the number, so configs of the original form read and write unchanged.
/// </summary>
internal sealed class HiddenLayersConverter : JsonConverter<IReadOnlyList<HiddenLayerConfig>>
{
    private const string Key = "network.hidden";

    /// <summary>The keys of a layer object, in the order they are written.</summary>
    internal static readonly string[] LayerKeys =
        ["size", "model", "recurrent", "tau_mem", "tau_syn", "threshold", "reset", "reset_mode", "init", "recurrent_init", "connectivity", "pool", "batch_norm", "delays", "recurrent_delays", "delay_kind"];

    public override bool HandleNull => true;

    public override IReadOnlyList<HiddenLayerConfig> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var e = document.RootElement;
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int size)) return [new HiddenLayerConfig { Size = size, FromNumber = true }];
        if (e.ValueKind == JsonValueKind.Array) return e.EnumerateArray().Select((layer, i) => Layer(layer, $"{Key}[{i}]")).ToArray();
        throw new UserError($"{Key} must be a whole number of neurons (\"hidden\": 128) or a list of layers ([{{\"size\": 128}}, {{\"size\": 64}}]), got {e.GetRawText()}.");
    }

    private static HiddenLayerConfig Layer(JsonElement e, string key)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new UserError($"{key} must be a layer object such as {{\"size\": 64}}, got {e.GetRawText()}.");
        foreach (var property in e.EnumerateObject())
            if (!LayerKeys.Contains(property.Name))
                throw new UserError($"unknown key '{property.Name}' in {key}; a layer's keys are: {string.Join(", ", LayerKeys)} (docs/cli.md).");
        JsonElement? Get(string name) => e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
        double? Number(string name) => Get(name) is not { } v ? null
            : v.ValueKind == JsonValueKind.Number ? v.GetDouble()
            : throw new UserError($"{key}.{name} must be a number, e.g. 0.5 (on the command line: --set {key}.{name}=0.5).");
        string? Text(string name, string example) => Get(name) is not { } v ? null
            : v.ValueKind == JsonValueKind.String ? v.GetString()
            : throw new UserError($"{key}.{name} must be a text, e.g. \"{example}\" (on the command line: --set {key}.{name}={example}).");
        double[]? Numbers(string name) => Get(name) is not { } v ? null
            : v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number) ? v.EnumerateArray().Select(x => x.GetDouble()).ToArray()
            : throw new UserError($"{key}.{name} must be [mean, std], e.g. [1.0,0.5] (on the command line: --set {key}.{name}=[1.0,0.5]).");

        double[]? Range(string name) => Get(name) is not { } v ? null
            : v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number) ? v.EnumerateArray().Select(x => x.GetDouble()).ToArray()
            : throw new UserError($"{key}.{name} must be [low, high] in ms, e.g. [0,50] (on the command line: --set {key}.{name}=[0,50]).");

        var conv = Conv(Get("connectivity"), $"{key}.connectivity");
        int size = 0;
        if (Get("size") is not { } sizeNode)
        {
            if (conv is null) throw new UserError($"{key}.size is missing; every layer needs its number of neurons, e.g. {{\"size\": 64}} (a conv layer's size follows from its shape).");
        }
        else if (sizeNode.ValueKind != JsonValueKind.Number || !sizeNode.TryGetInt32(out size))
            throw new UserError($"{key}.size must be a whole number, e.g. 64 (on the command line: --set {key}.size=64).");
        int? pool = Get("pool") switch
        {
            null => null,
            { ValueKind: JsonValueKind.Number } v when v.TryGetInt32(out int q) => q,
            _ => throw new UserError($"{key}.pool must be a whole number, e.g. 2 (on the command line: --set {key}.pool=2)."),
        };
        bool? recurrent = Get("recurrent") switch
        {
            null => null,
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            _ => throw new UserError($"{key}.recurrent must be true or false (on the command line: --set {key}.recurrent=true)."),
        };
        bool? batchNorm = Get("batch_norm") switch
        {
            null => null,
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            _ => throw new UserError($"{key}.batch_norm must be true or false (on the command line: --set {key}.batch_norm=true)."),
        };
        return new HiddenLayerConfig
        {
            Size = size,
            Model = Text("model", "lif"),
            Recurrent = recurrent,
            TauMem = Number("tau_mem"),
            TauSyn = Number("tau_syn"),
            Threshold = Number("threshold"),
            Reset = Number("reset"),
            ResetMode = Text("reset_mode", "subtract"),
            Init = Numbers("init"),
            RecurrentInit = Numbers("recurrent_init"),
            SparseProbability = conv is null ? Connectivity(Get("connectivity"), $"{key}.connectivity") : null,
            Conv = conv,
            Pool = pool,
            BatchNorm = batchNorm,
            Delays = Range("delays"),
            RecurrentDelays = Range("recurrent_delays"),
            DelayKind = Text("delay_kind", "axonal"),
        };
    }

    // {"conv": {"channels": c, "kernel": k, "stride": s, "padding": p}} → the convolution; anything else → null.
    private static ConvLayerConfig? Conv(JsonElement? node, string key)
    {
        if (node is not { ValueKind: JsonValueKind.Object } e || !e.TryGetProperty("conv", out var c)) return null;
        if (e.EnumerateObject().Count() != 1 || c.ValueKind != JsonValueKind.Object)
            throw new UserError($"{key} must be {{\"conv\": {{\"channels\": 32, \"kernel\": 5}}}} (optional stride, padding), got {e.GetRawText()}.");
        string[] keys = ["channels", "kernel", "stride", "padding"];
        foreach (var property in c.EnumerateObject())
            if (!keys.Contains(property.Name))
                throw new UserError($"unknown key '{property.Name}' in {key}.conv; its keys are: {string.Join(", ", keys)} (docs/cli.md).");
        int? Whole(string name) => !c.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int x) ? x
            : throw new UserError($"{key}.conv.{name} must be a whole number, e.g. 5 (on the command line: --set {key}.conv.{name}=5).");
        int channels = Whole("channels") ?? throw new UserError($"{key}.conv.channels is missing: the number of kernels (output channels), e.g. 32.");
        int kernel = Whole("kernel") ?? throw new UserError($"{key}.conv.kernel is missing: the kernel size, e.g. 5 for 5 × 5.");
        return new ConvLayerConfig(channels, kernel, Whole("stride") ?? 1, Whole("padding") ?? 0);
    }

    // "dense" (or absent) → null; {"sparse": p} → p.
    private static double? Connectivity(JsonElement? node, string key)
    {
        if (node is not { } e) return null;
        if (e.ValueKind == JsonValueKind.String && e.GetString() == "dense") return null;
        if (e.ValueKind == JsonValueKind.Object && e.EnumerateObject().Count() == 1
            && e.TryGetProperty("sparse", out var p) && p.ValueKind == JsonValueKind.Number) return p.GetDouble();
        throw new UserError($"{key} must be \"dense\" or {{\"sparse\": p}} with a connection probability p in (0, 1], got {e.GetRawText()}.");
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<HiddenLayerConfig> value, JsonSerializerOptions options)
    {
        if (value is [{ IsSizeOnly: true } only])
        {
            writer.WriteNumberValue(only.Size);
            return;
        }
        writer.WriteStartArray();
        foreach (var l in value)
        {
            writer.WriteStartObject();
            if (l.Conv is null || l.Size > 0) writer.WriteNumber("size", l.Size);
            if (l.Model is { } model) writer.WriteString("model", model);
            if (l.Recurrent is { } recurrent) writer.WriteBoolean("recurrent", recurrent);
            if (l.TauMem is { } tauMem) writer.WriteNumber("tau_mem", tauMem);
            if (l.TauSyn is { } tauSyn) writer.WriteNumber("tau_syn", tauSyn);
            if (l.Threshold is { } threshold) writer.WriteNumber("threshold", threshold);
            if (l.Reset is { } reset) writer.WriteNumber("reset", reset);
            if (l.ResetMode is { } mode) writer.WriteString("reset_mode", mode);
            if (l.Init is { } init) WriteNumbers(writer, "init", init);
            if (l.RecurrentInit is { } recurrentInit) WriteNumbers(writer, "recurrent_init", recurrentInit);
            if (l.Conv is { } conv)
            {
                writer.WriteStartObject("connectivity");
                writer.WriteStartObject("conv");
                writer.WriteNumber("channels", conv.Channels);
                writer.WriteNumber("kernel", conv.Kernel);
                writer.WriteNumber("stride", conv.Stride);
                writer.WriteNumber("padding", conv.Padding);
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            if (l.Pool is { } pool) writer.WriteNumber("pool", pool);
            if (l.BatchNorm is { } batchNorm) writer.WriteBoolean("batch_norm", batchNorm);
            if (l.Delays is { } delays) WriteNumbers(writer, "delays", delays);
            if (l.RecurrentDelays is { } recurrentDelays) WriteNumbers(writer, "recurrent_delays", recurrentDelays);
            if (l.DelayKind is { } delayKind) writer.WriteString("delay_kind", delayKind);
            if (l.SparseProbability is { } p)
            {
                writer.WriteStartObject("connectivity");
                writer.WriteNumber("sparse", p);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static void WriteNumbers(Utf8JsonWriter writer, string name, double[] values)
    {
        writer.WriteStartArray(name);
        foreach (double v in values) writer.WriteNumberValue(v);
        writer.WriteEndArray();
    }
}
