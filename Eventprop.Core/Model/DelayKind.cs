namespace Eventprop.Core.Model;

/// <summary>How a connection's learned delays are shared (<see cref="NetworkBuilder.LearnedDelays"/>).</summary>
public enum DelayKind
{
    /// <summary>One delay per stored synapse (<c>pre-&gt;post.delay</c>, laid out as the weights).</summary>
    Synaptic,

    /// <summary>One delay per presynaptic neuron, shared by all its synapses of the connection (<c>pre-&gt;post.axonal_delay</c>).</summary>
    Axonal,
}
