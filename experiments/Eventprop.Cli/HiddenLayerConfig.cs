using System.Globalization;

namespace Eventprop.Cli;

/// <summary>
/// One hidden layer of <see cref="NetworkConfig.Hidden"/> (an entry of the <c>network.hidden</c> list). Every key but
/// <see cref="Size"/> is optional; an unset key (null) takes the network section's value (<c>network.tau_mem</c>,
/// <c>network.recurrent</c>, …) or the model's default (threshold 1, reset 0, reset to the value, dense connectivity).
/// Written as JSON by <see cref="HiddenLayersConverter"/>; documented in docs/cli.md.
/// </summary>
public sealed record HiddenLayerConfig
{
    /// <summary>The neuron models a layer may name in <c>model</c>.</summary>
    public static IReadOnlyList<string> ModelNames { get; } = ["lif", "if"];

    /// <summary>The reset modes a layer may name in <c>reset_mode</c> (the model file's names).</summary>
    public static IReadOnlyList<string> ResetModeNames { get; } = ["value", "subtract"];

    /// <summary>Neurons in the layer (required).</summary>
    public int Size { get; init; }

    /// <summary>Neuron model: <c>lif</c> (leaky integrate-and-fire; null = lif) or <c>if</c> (integrate-and-fire, no leak; τ_mem a fixed scale).</summary>
    public string? Model { get; init; }

    /// <summary>Whether the layer has a connection onto itself; null: <c>network.recurrent</c>.</summary>
    public bool? Recurrent { get; init; }

    /// <summary>τm (ms); null: <c>network.tau_mem</c>.</summary>
    public double? TauMem { get; init; }

    /// <summary>τs (ms); null: <c>network.tau_syn</c>.</summary>
    public double? TauSyn { get; init; }

    /// <summary>Firing threshold; null: 1.</summary>
    public double? Threshold { get; init; }

    /// <summary>Reset value V_reset; null: 0. With reset mode <c>subtract</c> a spike subtracts threshold − reset from V.</summary>
    public double? Reset { get; init; }

    /// <summary><c>value</c> (V ← reset; null = value) or <c>subtract</c> (V ← V − (threshold − reset)).</summary>
    public string? ResetMode { get; init; }

    /// <summary>Weights of the connection into this layer (from the input or the layer before) N(mean, std²) as [mean, std]; null: <c>network.input_init</c>.</summary>
    public double[]? Init { get; init; }

    /// <summary>Weights of the layer's recurrent connection N(mean, std²) as [mean, std]; null: <c>network.recurrent_init</c>.</summary>
    public double[]? RecurrentInit { get; init; }

    /// <summary>
    /// The connection into this layer: null for dense (all-to-all; <c>"connectivity": "dense"</c>), else the probability p
    /// of each synapse of a fixed random mask (<c>"connectivity": {"sparse": p}</c>, drawn from the seed).
    /// </summary>
    public double? SparseProbability { get; init; }

    /// <summary>
    /// The connection into this layer as a 2-D convolution (<c>"connectivity": {"conv": {"channels": 32, "kernel": 5,
    /// "stride": 1, "padding": 0}}</c>) over the shaped output of the layer before (or <c>network.input_shape</c>); null when
    /// dense or sparse. The layer's size is then its output shape's (channels × height × width) and need not be written.
    /// </summary>
    public ConvLayerConfig? Conv { get; init; }

    /// <summary>
    /// Average pooling of the previous layer's spikes in <c>pool</c> × <c>pool</c> windows before this layer's connection
    /// (seed 004's pooling, folded into the connection); null: 1 (none). Needs a shaped previous layer (a conv layer or a
    /// shaped input).
    /// </summary>
    public int? Pool { get; init; }

    /// <summary>
    /// Batch norm of the layer's input current (seed 004 §2.6; method surrogate only): each step's drive is normalised with
    /// the batch's statistics over trials and steps (per neuron, or per channel of a conv layer) and scaled and shifted by the
    /// trainable <c>bn_scale</c>, <c>bn_bias</c>; evaluation uses the running statistics. null: false.
    /// </summary>
    public bool? BatchNorm { get; init; }

    /// <summary>Learned delays on the layer's feed-forward input connection, initialised uniformly in [low, high] ms
    /// (<c>"delays": [0, 50]</c>; the exact engine and the CPU time-stepped engine); null: none.</summary>
    public double[]? Delays { get; init; }

    /// <summary>Learned delays on the layer's recurrent connection, uniform in [low, high] ms; null: none.</summary>
    public double[]? RecurrentDelays { get; init; }

    /// <summary><c>synaptic</c> (one delay per synapse, the default) or <c>axonal</c> (one per presynaptic neuron), for
    /// <see cref="Delays"/> and <see cref="RecurrentDelays"/>.</summary>
    public string? DelayKind { get; init; }

    /// <summary>
    /// True when the layer came from the single-number form (<c>"hidden": 128</c>): messages then name <c>network.hidden</c>,
    /// and the config is written back in that form.
    /// </summary>
    internal bool FromNumber { get; init; }

    /// <summary>Whether every optional key is unset (the layer is its size alone, as the single-number form describes).</summary>
    internal bool IsSizeOnly => Model is null && Recurrent is null && TauMem is null && TauSyn is null && Threshold is null && Reset is null
        && ResetMode is null && Init is null && RecurrentInit is null && SparseProbability is null && Conv is null && Pool is null && BatchNorm is null
        && Delays is null && RecurrentDelays is null && DelayKind is null;

    /// <summary>Checks ranges and names (one-line <see cref="UserError"/>s naming the key as written).</summary>
    /// <param name="key">The layer as written: <c>network.hidden[2]</c>, or <c>network.hidden</c> for the single-number form.</param>
    internal void Validate(string key)
    {
        string sizeKey = FromNumber ? key : $"{key}.size";
        if (Conv is null && Size < 1) throw new UserError($"{sizeKey} must be ≥ 1, got {Size}.");
        if (Conv is { } conv)
        {
            if (conv.Channels < 1) throw new UserError($"{key}.connectivity.conv.channels must be ≥ 1, got {conv.Channels}.");
            if (conv.Kernel < 1) throw new UserError($"{key}.connectivity.conv.kernel must be ≥ 1, got {conv.Kernel}.");
            if (conv.Stride < 1) throw new UserError($"{key}.connectivity.conv.stride must be ≥ 1, got {conv.Stride}; 1 moves the kernel one pixel at a time.");
            if (conv.Padding < 0) throw new UserError($"{key}.connectivity.conv.padding must be ≥ 0, got {conv.Padding}.");
        }
        if (Pool is { } pool && pool < 1) throw new UserError($"{key}.pool must be ≥ 1 (1 = no pooling), got {pool}.");
        if (Pool is > 1 && SparseProbability is not null)
            throw new UserError($"{key}: pool and a sparse connectivity do not combine; pool into a dense or conv connection.");
        if (Model is { } m && !ModelNames.Contains(m))
            throw new UserError($"{key}.model '{m}' is not a neuron model; choose one of: {string.Join(", ", ModelNames)}.");
        if (TauMem is { } tm && !(tm >= RunConfig.MinimumTauMs))
            throw new UserError(Inv($"{key}.tau_mem must be ≥ {RunConfig.MinimumTauMs} ms (a few ms is typical), got {tm}."));
        if (TauSyn is { } ts && !(ts >= RunConfig.MinimumTauMs))
            throw new UserError(Inv($"{key}.tau_syn must be ≥ {RunConfig.MinimumTauMs} ms (a few ms is typical), got {ts}."));
        double threshold = Threshold ?? 1, reset = Reset ?? 0;
        if (!double.IsFinite(threshold)) throw new UserError($"{key}.threshold must be a finite number.");
        if (!double.IsFinite(reset)) throw new UserError($"{key}.reset must be a finite number.");
        if (threshold <= reset)
            throw new UserError(Inv($"{key}.threshold must be greater than {key}.reset, got threshold {threshold} and reset {reset}{(Threshold is null ? " (the default threshold)" : Reset is null ? " (the default reset)" : "")}."));
        if ((Model ?? "lif") == "lif" && threshold <= 0)
            throw new UserError(Inv($"{key}.threshold must be > 0 for a lif layer (its resting potential is 0), got {threshold}."));
        if (ResetMode is { } mode && !ResetModeNames.Contains(mode))
            throw new UserError($"{key}.reset_mode must be one of {string.Join(", ", ResetModeNames)}, got '{mode}'.");
        if (Init is { } init) NetworkConfig.CheckInit(init, $"{key}.init");
        if (RecurrentInit is { } rec) NetworkConfig.CheckInit(rec, $"{key}.recurrent_init");
        if (Delays is { } delays) CheckDelays(delays, $"{key}.delays");
        if (RecurrentDelays is { } recurrentDelays) CheckDelays(recurrentDelays, $"{key}.recurrent_delays");
        if (DelayKind is { } kind && kind is not ("synaptic" or "axonal"))
            throw new UserError($"{key}.delay_kind must be 'synaptic' or 'axonal', got '{kind}'.");
        if (DelayKind is not null && Delays is null && RecurrentDelays is null)
            throw new UserError($"{key}.delay_kind is set but the layer has no learned delays; add {key}.delays=[0,50] (or remove delay_kind).");
        if (SparseProbability is { } p && !(p > 0 && p <= 1))
            throw new UserError(Inv($"{key}.connectivity: the sparse connection probability must lie in (0, 1], got {p}; use \"dense\" for all-to-all."));
    }

    private static void CheckDelays(double[] range, string key)
    {
        if (range.Length != 2 || !double.IsFinite(range[0]) || !double.IsFinite(range[1]) || range[0] < 0 || range[1] < range[0])
            throw new UserError($"{key} must be [low, high] in ms with 0 ≤ low ≤ high, e.g. [0,50] (initial delays are uniform in it), got [{string.Join(",", range.Select(x => x.ToString(CultureInfo.InvariantCulture)))}].");
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A convolution into a layer: <c>channels</c> kernels of <c>kernel</c> × <c>kernel</c>, <c>stride</c>, zero <c>padding</c>.</summary>
public sealed record ConvLayerConfig(int Channels, int Kernel, int Stride = 1, int Padding = 0);
