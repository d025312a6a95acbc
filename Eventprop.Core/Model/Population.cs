using Eventprop.Core.Model.Connectivities;
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

    /// <summary>The same population with another model (same name, size, kind and index), for <see cref="Network.WithThresholds"/>.</summary>
    internal Population WithModel(NeuronModel model) => new(Name, Size, Kind, model, Index);

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

/// <summary>
/// A connection from a spiking population to another: a spike of pre neuron i adds W[i, j] to I_j for every synapse
/// (i, j) its <see cref="Connectivity"/> has (all pairs when dense).
/// </summary>
public sealed class Connection
{
    internal Connection(Population pre, Population post, Connectivity connectivity)
    {
        Pre = pre;
        Post = post;
        Connectivity = connectivity;
    }

    /// <summary>
    /// The same connection (connectivity and every other setting) between <paramref name="pre"/> and <paramref name="post"/>,
    /// which must be the same populations with possibly other models (<see cref="Network.WithThresholds"/>). Any new field of
    /// a connection must be copied here.
    /// </summary>
    internal Connection WithEndpoints(Population pre, Population post) => new(pre, post, Connectivity);

    /// <summary>Which synapses exist and how their weights are stored (dense or a fixed sparse mask).</summary>
    public Connectivity Connectivity { get; }

    /// <summary>The stored synapses as rows per presynaptic neuron.</summary>
    public SynapseRows Synapses => Connectivity.Rows(Pre.Size, Post.Size);

    /// <summary>The presynaptic (spiking) population.</summary>
    public Population Pre { get; }

    /// <summary>The postsynaptic population.</summary>
    public Population Post { get; }

    /// <summary>Whether it connects a population to itself (recurrence; dense recurrence includes self-connections).</summary>
    public bool IsRecurrent => ReferenceEquals(Pre, Post);

    /// <summary>Name of its weights in the <see cref="ParameterSet"/>: <c>"pre->post"</c>.</summary>
    public string Name => ParameterSet.WeightName(Pre.Name, Post.Name);

    /// <inheritdoc />
    public override string ToString() => Name;
}
