using System.Globalization;
using System.Text.Json.Serialization;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;

namespace Eventprop.Cli;

/// <summary>
/// Network section: input → hidden layers (LIF or IF, each optionally recurrent) → readout (leaky or non-leaky integrator,
/// <see cref="ReadoutModel"/>, or a spiking LIF readout for losses that read spike times). The network-level τ's, <see cref="Recurrent"/> and the init keys are the
/// defaults of every hidden layer that does not set its own.
/// </summary>
public sealed record NetworkConfig
{
    /// <summary>
    /// The hidden layers, input side first; in JSON a number (<c>"hidden": 128</c>: one layer of that size, the original
    /// form) or a list of layer objects (<see cref="HiddenLayerConfig"/>).
    /// </summary>
    [JsonConverter(typeof(HiddenLayersConverter))]
    public IReadOnlyList<HiddenLayerConfig> Hidden { get; init; } = [new HiddenLayerConfig { Size = 128, FromNumber = true }];

    /// <summary>Whether some hidden layer has learned delays (<c>delays</c> or <c>recurrent_delays</c>).</summary>
    [JsonIgnore]
    public bool HasLearnedDelays => Hidden.Any(l => l.Delays is not null || l.RecurrentDelays is not null);

    /// <summary>Hidden → hidden (self) connection of every layer that does not set <c>recurrent</c>.</summary>
    public bool Recurrent { get; init; } = true;

    /// <summary>Hidden τm (ms) of every layer that does not set <c>tau_mem</c>.</summary>
    public double TauMem { get; init; } = 20;

    /// <summary>Hidden τs (ms) of every layer that does not set <c>tau_syn</c>.</summary>
    public double TauSyn { get; init; } = 5;

    /// <summary>The readout models <c>network.readout_model</c> may name.</summary>
    public static IReadOnlyList<string> ReadoutModelNames { get; } = ["li", "integrator"];

    /// <summary>
    /// The non-spiking readout: <c>li</c> (leaky integrator, τm V̇ = −V + I; default) or <c>integrator</c> (no leak,
    /// τm V̇ = I, seed 004's readout; its τm is not trained). Ignored by losses that need a spiking readout.
    /// </summary>
    public string ReadoutModel { get; init; } = "li";

    /// <summary>Readout τm (ms).</summary>
    public double ReadoutTauMem { get; init; } = 20;

    /// <summary>Readout τs (ms).</summary>
    public double ReadoutTauSyn { get; init; } = 5;

    /// <summary>Weights into each hidden layer (input → first layer, layer → next layer) N(mean, std²), unless the layer sets <c>init</c>.</summary>
    public double[] InputInit { get; init; } = [1.0, 0.5];

    /// <summary>Recurrent weights of each recurrent layer N(mean, std²), unless the layer sets <c>recurrent_init</c>.</summary>
    public double[] RecurrentInit { get; init; } = [0.0, 0.02];

    /// <summary>Last hidden layer → readout weights N(mean, std²).</summary>
    public double[] ReadoutInit { get; init; } = [0.0, 0.5];

    /// <summary>
    /// The input's shape as [channels, height, width] (e.g. [1, 28, 28] for MNIST pixels), which conv layers and pooling
    /// need; null: a flat list of channels. Its product must equal the data's input channels.
    /// </summary>
    public int[]? InputShape { get; init; }

    /// <summary>Average pooling of the last hidden layer's spikes (p × p windows) before the readout; null: 1 (none). Needs a shaped last layer.</summary>
    public int? ReadoutPool { get; init; }

    /// <summary>
    /// Seed 004's data-driven threshold initialisation (§3, for networks without batch normalisation): before training,
    /// each hidden layer's threshold is set to the largest per-step input its neurons receive over the training samples
    /// and time steps, layer by layer (method surrogate; see docs/surrogate.md). Replaces the layers' <c>threshold</c>
    /// keys; the run's config.json and thresholds.json record the values.
    /// </summary>
    public bool NormalizeThresholds { get; init; }

    /// <summary>With <see cref="NormalizeThresholds"/>: how many training samples (a seeded shuffle) to measure; null: all of them, as seed 004.</summary>
    public int? NormalizeThresholdsSamples { get; init; }

    /// <summary>
    /// The name of hidden layer <paramref name="index"/> in the network, its parameters, model files and checkpoints:
    /// <c>hidden</c> when there is one layer (as before layer lists), else <c>hidden0</c>, <c>hidden1</c>, ….
    /// </summary>
    public string LayerName(int index) => Hidden.Count == 1 ? "hidden" : $"hidden{index}";

    /// <summary>The key of layer <paramref name="index"/> as the user wrote it, for messages.</summary>
    internal string LayerKey(int index) => Hidden[index].FromNumber ? "network.hidden" : $"network.hidden[{index}]";

    /// <summary>Checks ranges and names (one-line <see cref="UserError"/>s naming the keys as written).</summary>
    internal void Validate()
    {
        if (Hidden is null || Hidden.Count == 0)
            throw new UserError("network.hidden is an empty list; give at least one layer, e.g. [{\"size\": 128}] (or a number: \"hidden\": 128).");
        if (!(TauMem >= RunConfig.MinimumTauMs && TauSyn >= RunConfig.MinimumTauMs && ReadoutTauMem >= RunConfig.MinimumTauMs && ReadoutTauSyn >= RunConfig.MinimumTauMs))
            throw new UserError(string.Create(CultureInfo.InvariantCulture, $"network τ's (tau_mem, tau_syn, readout_tau_mem, readout_tau_syn) must be ≥ {RunConfig.MinimumTauMs} ms."));
        // The network-level init keys are checked where a layer uses them (a feed-forward network may leave recurrent_init unset or odd, as before layer lists).
        if (Hidden.Any(l => l.Init is null)) CheckInit(InputInit, "network.input_init");
        if (Hidden.Any(l => IsRecurrent(l) && l.RecurrentInit is null)) CheckInit(RecurrentInit, "network.recurrent_init");
        CheckInit(ReadoutInit, "network.readout_init");
        if (!ReadoutModelNames.Contains(ReadoutModel))
            throw new UserError($"network.readout_model '{ReadoutModel}' is not a readout model; choose one of: {string.Join(", ", ReadoutModelNames)}.");
        if (InputShape is not null && (InputShape.Length != 3 || InputShape.Any(x => x < 1)))
            throw new UserError($"network.input_shape must be [channels, height, width] of whole numbers ≥ 1, e.g. [1, 28, 28]; got [{string.Join(", ", InputShape)}].");
        if (ReadoutPool is < 1) throw new UserError($"network.readout_pool must be ≥ 1 (1 = no pooling), got {ReadoutPool}.");
        if (NormalizeThresholdsSamples is < 1)
            throw new UserError($"network.normalize_thresholds_samples must be ≥ 1 training samples (or null for all of them), got {NormalizeThresholdsSamples}.");
        if (NormalizeThresholdsSamples is not null && !NormalizeThresholds)
            throw new UserError("network.normalize_thresholds_samples only applies with network.normalize_thresholds=true; set that too, or drop normalize_thresholds_samples.");
        for (int i = 0; i < Hidden.Count; i++)
        {
            Hidden[i].Validate(LayerKey(i));
            if (Hidden[i].BatchNorm == true && IsRecurrent(Hidden[i]))
                throw new UserError($"{LayerKey(i)}.batch_norm needs a feed-forward layer, but the layer is recurrent ({(Hidden[i].Recurrent is null ? "network.recurrent" : LayerKey(i) + ".recurrent")} = true): its batch statistics would depend on themselves; set {LayerKey(i)}.recurrent=false or drop batch_norm.");
        }
    }

    /// <summary>The key of the first layer with <c>batch_norm</c> (null if none), for the method check.</summary>
    internal string? FirstBatchNormKey()
    {
        for (int i = 0; i < Hidden.Count; i++)
            if (Hidden[i].BatchNorm == true) return LayerKey(i);
        return null;
    }

    /// <summary>
    /// Each layer's size and the connectivity into it (null: sparse, drawn by the builder), and the connectivity into the
    /// readout, following the shapes from <see cref="InputShape"/> through the conv layers. One-line errors name the key.
    /// </summary>
    internal (int[] Sizes, Connectivity?[] Into, Connectivity ToReadout) Layout(int inputs, int classes)
    {
        int[]? shape = InputShape;
        if (shape is not null && shape[0] * shape[1] * shape[2] != inputs)
            throw new UserError($"network.input_shape [{string.Join(", ", shape)}] has {shape[0] * shape[1] * shape[2]} channels but the data has {inputs}; make their product {inputs}.");
        var sizes = new int[Hidden.Count];
        var into = new Connectivity?[Hidden.Count];
        for (int i = 0; i < Hidden.Count; i++)
        {
            var l = Hidden[i];
            string key = LayerKey(i), from = i == 0 ? "network.input_shape" : LayerKey(i - 1);
            int pool = l.Pool ?? 1;
            if ((l.Conv is not null || pool > 1) && shape is null)
                throw new UserError(i == 0
                    ? $"{key}{(l.Conv is not null ? ".connectivity.conv" : ".pool")} needs a shaped input: set network.input_shape to [channels, height, width] (e.g. [1, 28, 28])."
                    : $"{key}{(l.Conv is not null ? ".connectivity.conv" : ".pool")} needs a shaped layer before it, but {from} is a flat layer; make it a conv layer or move this layer up.");
            try
            {
                if (l.Conv is { } cv)
                {
                    var conv = Conv2dConnectivity.Create(shape![0], shape[1], shape[2], cv.Channels, cv.Kernel, cv.Stride, cv.Padding, pool);
                    var g = conv.Geometry;
                    if (l.Size > 0 && l.Size != g.PostSize)
                        throw new UserError($"{key}.size is {l.Size} but the convolution makes {g.OutChannels}×{g.OutHeight}×{g.OutWidth} = {g.PostSize} neurons; drop size or write {g.PostSize}.");
                    sizes[i] = g.PostSize;
                    into[i] = conv;
                    shape = [g.OutChannels, g.OutHeight, g.OutWidth];
                    continue;
                }
                sizes[i] = l.Size;
                into[i] = pool > 1 ? Conv2dConnectivity.PooledDense(shape![0], shape[1], shape[2], pool, l.Size)
                    : l.SparseProbability is null ? Connectivity.Dense : null;
                shape = null;
            }
            catch (ArgumentException e) { throw new UserError($"{key}{(l.Conv is not null ? ".connectivity.conv" : ".pool")}: {Program.UserMessage(e)}"); }
        }
        int readoutPool = ReadoutPool ?? 1;
        if (readoutPool > 1 && shape is null)
            throw new UserError($"network.readout_pool needs a shaped last layer, but {LayerKey(Hidden.Count - 1)} is flat; make it a conv layer or drop readout_pool.");
        Connectivity toReadout;
        try
        {
            toReadout = readoutPool > 1 ? Conv2dConnectivity.PooledDense(shape![0], shape[1], shape[2], readoutPool, classes) : Connectivity.Dense;
        }
        catch (ArgumentException e) { throw new UserError($"network.readout_pool: {Program.UserMessage(e)}"); }
        return (sizes, into, toReadout);
    }

    /// <summary>Checks an init key's <c>[mean, std]</c>.</summary>
    internal static void CheckInit(double[]? meanStd, string key)
    {
        if (meanStd is not [var mean, var std] || !double.IsFinite(mean) || !(std >= 0) || !double.IsFinite(std))
            throw new UserError($"{key} must be [mean, std] with std ≥ 0.");
    }

    /// <summary>
    /// Builds the network: input <c>in</c>, the hidden layers (<see cref="LayerName"/>), readout <c>out</c>; per layer the
    /// connection into it, then its recurrent connection; then the last layer → readout. Every weight is drawn from
    /// <paramref name="seed"/>, each connection from its own stream named after it, so a one-layer config builds
    /// exactly the network of the original single-number form.
    /// </summary>
    /// <param name="seed">The run's seed.</param>
    /// <param name="inputs">Input channels.</param>
    /// <param name="classes">Readout neurons.</param>
    /// <param name="spikingReadout">A spiking LIF readout (for losses that read spike times) instead of a leaky integrator.</param>
    /// <exception cref="UserError">A value the checks of <see cref="Validate"/> did not cover (one line).</exception>
    public Network Build(int seed, int inputs, int classes, bool spikingReadout)
    {
        var (sizes, into, toReadout) = Layout(inputs, classes);
        var builder = Network.Create(seed).Input("in", inputs);
        for (int i = 0; i < Hidden.Count; i++)
        {
            var l = Hidden[i];
            double tauMem = l.TauMem ?? TauMem, tauSyn = l.TauSyn ?? TauSyn, threshold = l.Threshold ?? 1, reset = l.Reset ?? 0;
            var mode = l.ResetMode == "subtract" ? ResetMode.Subtract : ResetMode.ToValue;
            builder = l.Model == "if"
                ? builder.IntegrateAndFire(LayerName(i), sizes[i], tauMem, tauSyn, threshold, reset, mode)
                : builder.Lif(LayerName(i), sizes[i], tauMem, tauSyn, threshold, reset, mode);
        }
        if (spikingReadout && ReadoutModel == "integrator")
            throw new UserError("network.readout_model 'integrator' is a non-spiking readout, but the loss reads spike times; use a voltage loss (e.g. last_voltage) or network.readout_model li.");
        builder = ReadoutModel == "integrator"
            ? builder.Readout("out", NonLeakyIntegrator.Instance, Enumerable.Repeat(ReadoutTauMem, classes).ToArray(), Enumerable.Repeat(ReadoutTauSyn, classes).ToArray())
            : builder.Readout("out", classes, ReadoutTauMem, ReadoutTauSyn, spiking: spikingReadout);
        string pre = "in";
        for (int i = 0; i < Hidden.Count; i++)
        {
            var l = Hidden[i];
            string name = LayerName(i), key = LayerKey(i);
            var init = Normal(l.Init ?? InputInit, l.Init is null ? "network.input_init" : $"{key}.init");
            builder = into[i] is { } connectivity ? builder.Connect(pre, name, init, connectivity) : builder.ConnectSparse(pre, name, l.SparseProbability!.Value, init);
            if (l.BatchNorm == true) builder = builder.BatchNorm(name);
            var delayKind = l.DelayKind == "axonal" ? DelayKind.Axonal : DelayKind.Synaptic;
            if (l.Delays is { } delays) builder = builder.LearnedDelays(pre, name, Init.Uniform(delays[0], delays[1]), delayKind);
            if (IsRecurrent(l))
                builder = builder.Connect(name, name, Normal(l.RecurrentInit ?? RecurrentInit, l.RecurrentInit is null ? "network.recurrent_init" : $"{key}.recurrent_init"));
            if (l.RecurrentDelays is { } recurrentDelays)
            {
                if (!IsRecurrent(l)) throw new UserError($"{key}.recurrent_delays is set but the layer is not recurrent; set {key}.recurrent=true (or remove recurrent_delays).");
                builder = builder.LearnedDelays(name, name, Init.Uniform(recurrentDelays[0], recurrentDelays[1]), delayKind);
            }
            pre = name;
        }
        builder = builder.Connect(pre, "out", Normal(ReadoutInit, "network.readout_init"), toReadout);
        try { return builder.Build(); }
        catch (ArgumentException e) { throw new UserError($"network: {Program.UserMessage(e)}"); }
    }

    /// <summary>The hidden layers for the run's first line: <c>128 (recurrent)</c>, <c>64 (recurrent) → 64 (if) → 32 (subtractive reset)</c>.</summary>
    public string DescribeHidden() => string.Join(" → ", Hidden.Select(l =>
    {
        var notes = new List<string>();
        if (l.Model is "if") notes.Add("if");
        if (l.ResetMode is "subtract") notes.Add("subtractive reset");
        if (IsRecurrent(l)) notes.Add("recurrent");
        if (l.SparseProbability is { } p) notes.Add(string.Create(CultureInfo.InvariantCulture, $"sparse {p}"));
        if (l.Pool is > 1) notes.Add($"pooled {l.Pool}×{l.Pool} in");
        if (l.BatchNorm == true) notes.Add("batch norm");
        if (l.Delays is not null || l.RecurrentDelays is not null) notes.Add($"learned {l.DelayKind ?? "synaptic"} delays");
        string what = l.Conv is { } c ? $"conv {c.Channels}×{c.Kernel}×{c.Kernel}{(c.Stride > 1 ? $" stride {c.Stride}" : "")}{(c.Padding > 0 ? $" padding {c.Padding}" : "")}" : $"{l.Size}";
        return notes.Count == 0 ? what : $"{what} ({string.Join(", ", notes)})";
    }));

    /// <summary>Whether a layer gets a recurrent connection: its own <c>recurrent</c>, else <see cref="Recurrent"/> — but a
    /// conv layer only when it sets <c>"recurrent": true</c> itself (dense recurrence over a feature map is rarely meant).</summary>
    internal bool IsRecurrent(HiddenLayerConfig l) => l.Recurrent ?? (l.Conv is null && Recurrent);

    private static IWeightInit Normal(double[] meanStd, string key)
    {
        CheckInit(meanStd, key);
        return Init.Normal(meanStd[0], meanStd[1]);
    }
}
