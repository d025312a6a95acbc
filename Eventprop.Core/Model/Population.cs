namespace Eventprop.Core.Model;

/// <summary>The role of a population in a network.</summary>
public enum PopulationKind
{
    /// <summary>Input channels: they emit the sample's spikes and have no dynamics.</summary>
    Input,
    /// <summary>Hidden leaky integrate-and-fire neurons.</summary>
    Hidden,
    /// <summary>The readout: a non-spiking leaky integrator or a spiking LIF population.</summary>
    Readout,
}

/// <summary>
/// A named group of neurons. Hidden populations are LIF neurons with exponential current synapses
/// (τ_mem dV/dt = −V + I, τ_syn dI/dt = −I, threshold 1, reset 0). The readout is either a leaky
/// integrator (the same dynamics without threshold) or a spiking LIF population.
/// </summary>
public sealed class Population
{
    internal Population(string name, int size, PopulationKind kind, bool spiking, int index)
    {
        Name = name;
        Size = size;
        Kind = kind;
        IsSpiking = spiking;
        Index = index;
    }

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
    public override string ToString() => $"{Name} ({Kind}{(Kind == PopulationKind.Readout ? IsSpiking ? ", LIF" : ", LI" : "")}, {Size})";
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
