using Eventprop.Core.Model.Neurons;

namespace Eventprop.Core.Model;

/// <summary>The role of a population in a network.</summary>
public enum PopulationKind
{
    /// <summary>Input channels: they emit the sample's spikes and have no dynamics.</summary>
    Input,
    /// <summary>Hidden spiking neurons (LIF or IF).</summary>
    Hidden,
    /// <summary>The readout: a non-spiking leaky integrator or a spiking LIF population.</summary>
    Readout,
}

/// <summary>
/// A named group of neurons with one <see cref="NeuronModel"/>. Hidden populations are spiking (<see cref="Lif"/> or
/// <see cref="IntegrateAndFire"/>, each with its own threshold, reset and reset mode); the readout is a
/// <see cref="LeakyIntegrator"/> or a spiking LIF population; the input has no model.
/// </summary>
public sealed class Population
{
    internal Population(string name, int size, PopulationKind kind, NeuronModel? model, int index)
    {
        Name = name;
        Size = size;
        Kind = kind;
        Model = model;
        IsSpiking = model?.IsSpiking ?? kind == PopulationKind.Input;
        Index = index;
    }

    /// <summary>The neuron model (null for the input population, which has no dynamics).</summary>
    public NeuronModel? Model { get; }

    /// <summary>Name, unique in the network.</summary>
    public string Name { get; }

    /// <summary>Number of neurons (channels for the input).</summary>
    public int Size { get; }

    /// <summary>Input, hidden or readout.</summary>
    public PopulationKind Kind { get; }

    /// <summary>Whether its neurons emit spikes (input, hidden and spiking readouts).</summary>
    public bool IsSpiking { get; }

    /// <summary>Whether it has neuron dynamics and time constants (everything but the input).</summary>
    public bool HasDynamics => Kind != PopulationKind.Input;

    /// <summary>Position in <see cref="Network.Populations"/>.</summary>
    public int Index { get; }

    /// <inheritdoc />
    public override string ToString() =>
        Model is null || Model.IsStandardLif && Kind == PopulationKind.Hidden
            ? $"{Name} ({Kind}{(Kind == PopulationKind.Readout ? IsSpiking ? ", LIF" : ", LI" : "")}, {Size})"
            : $"{Name} ({Kind}, {Model}, {Size})";
}

/// <summary>A dense all-to-all connection with weights <c>W[pre, post]</c>: a spike of pre neuron i adds W[i, j] to I_j.</summary>
public sealed class Connection
{
    internal Connection(Population pre, Population post)
    {
        Pre = pre;
        Post = post;
    }

    /// <summary>The presynaptic (spiking) population.</summary>
    public Population Pre { get; }

    /// <summary>The postsynaptic population.</summary>
    public Population Post { get; }

    /// <summary>Whether it connects a population to itself (all-to-all recurrence, self-connections included).</summary>
    public bool IsRecurrent => ReferenceEquals(Pre, Post);

    /// <summary>Name of its weights in the <see cref="ParameterSet"/>: <c>"pre->post"</c>.</summary>
    public string Name => ParameterSet.WeightName(Pre.Name, Post.Name);

    /// <inheritdoc />
    public override string ToString() => Name;
}
