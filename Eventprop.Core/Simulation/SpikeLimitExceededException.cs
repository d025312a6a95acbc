namespace Eventprop.Core.Simulation;

/// <summary>A population fired more spikes in one trial than the engine's limit allows (runaway activity).</summary>
public sealed class SpikeLimitExceededException(string population, int maxSpikesPerNeuron, double time)
    : InvalidOperationException($"Population '{population}' exceeded {maxSpikesPerNeuron} spikes per neuron in one trial (at t = {time:0.###} ms): runaway activity, e.g. strong positive recurrence. Lower the weights or raise the engine's MaxSpikesPerNeuron.")
{
    /// <summary>The population that exceeded the limit.</summary>
    public string Population { get; } = population;
}
