namespace Eventprop.Core.Model;

/// <summary>
/// What a <see cref="Parameter"/> is: a connection's weights, a population's time constants, or any other kind a neuron
/// model or connectivity declares. Kinds are open: <see cref="Weight"/>, <see cref="TauMem"/> and <see cref="TauSyn"/>
/// are predefined, and a new model may declare its own (for example an adaptation strength). Two kinds are equal when
/// their <see cref="Name"/>s are.
/// </summary>
public sealed class ParameterKind : IEquatable<ParameterKind>
{
    /// <summary>Declares a kind of parameter.</summary>
    /// <param name="name">Snake-case name; for per-neuron kinds also the suffix of the parameter's name (<c>pop.name</c>).</param>
    /// <param name="unit">Unit of the values (<c>"ms"</c>, or empty for dimensionless).</param>
    /// <param name="mustBePositive">Whether every value must be &gt; 0 (checked by <see cref="Network.Validate"/>).</param>
    /// <param name="perNeuron">Whether the parameter holds one value per neuron of a population (false: per connection).</param>
    public ParameterKind(string name, string unit, bool mustBePositive, bool perNeuron)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Unit = unit ?? "";
        MustBePositive = mustBePositive;
        PerNeuron = perNeuron;
    }

    /// <summary>The weights of a connection (one per stored synapse).</summary>
    public static ParameterKind Weight { get; } = new("weight", "", mustBePositive: false, perNeuron: false);

    /// <summary>Membrane time constants τ_mem (ms), one per neuron.</summary>
    public static ParameterKind TauMem { get; } = new("tau_mem", "ms", mustBePositive: true, perNeuron: true);

    /// <summary>Synaptic time constants τ_syn (ms), one per neuron.</summary>
    public static ParameterKind TauSyn { get; } = new("tau_syn", "ms", mustBePositive: true, perNeuron: true);

    /// <summary>Learned synaptic delays d ≥ 0 (ms) of a connection, one per stored synapse, laid out as its weights
    /// (<see cref="NetworkBuilder.LearnedDelays"/>); the parameter is called <c>pre-&gt;post.delay</c>.</summary>
    public static ParameterKind Delay { get; } = new("delay", "ms", mustBePositive: false, perNeuron: false);

    /// <summary>Learned axonal delays d ≥ 0 (ms) of a connection, one per presynaptic neuron (every synapse of a row shares
    /// it); the parameter is called <c>pre-&gt;post.axonal_delay</c>.</summary>
    public static ParameterKind AxonalDelay { get; } = new("axonal_delay", "ms", mustBePositive: false, perNeuron: false);

    /// <summary>Batch-norm scale γ of a hidden population's input current (one per neuron, or per channel of a convolution's output; init 1).</summary>
    public static ParameterKind BatchNormScale { get; } = new("bn_scale", "", mustBePositive: false, perNeuron: false);

    /// <summary>Batch-norm bias β of a hidden population's input current (per neuron or per channel; init 0).</summary>
    public static ParameterKind BatchNormBias { get; } = new("bn_bias", "", mustBePositive: false, perNeuron: false);

    /// <summary>Batch-norm running mean of the input current (non-trainable state, per neuron or per channel; init 0).</summary>
    public static ParameterKind BatchNormRunningMean { get; } = new("bn_running_mean", "", mustBePositive: false, perNeuron: false);

    /// <summary>Batch-norm running (unbiased) variance of the input current (non-trainable state, per neuron or per channel; init 1).</summary>
    public static ParameterKind BatchNormRunningVariance { get; } = new("bn_running_var", "", mustBePositive: false, perNeuron: false);

    /// <summary>Snake-case name, e.g. <c>tau_mem</c>.</summary>
    public string Name { get; }

    /// <summary>Unit of the values; empty when dimensionless.</summary>
    public string Unit { get; }

    /// <summary>Whether every value must be &gt; 0.</summary>
    public bool MustBePositive { get; }

    /// <summary>Whether the parameter holds one value per neuron of a population.</summary>
    public bool PerNeuron { get; }

    /// <inheritdoc />
    public bool Equals(ParameterKind? other) => other is not null && other.Name == Name;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ParameterKind);

    /// <inheritdoc />
    public override int GetHashCode() => Name.GetHashCode(StringComparison.Ordinal);

    /// <summary>Equality by name.</summary>
    public static bool operator ==(ParameterKind? a, ParameterKind? b) => a is null ? b is null : a.Equals(b);

    /// <summary>Inequality by name.</summary>
    public static bool operator !=(ParameterKind? a, ParameterKind? b) => !(a == b);

    /// <inheritdoc />
    public override string ToString() => Name;
}
