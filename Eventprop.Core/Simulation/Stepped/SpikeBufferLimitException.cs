namespace Eventprop.Core.Simulation.Stepped;

/// <summary>A population fired more spikes in one trial than the time-stepped engine's optional cap allows.</summary>
public sealed class SpikeBufferLimitException(string population, int trial, int maxSpikesPerNeuron, double time)
    : InvalidOperationException($"Population '{population}' exceeded the cap of {maxSpikesPerNeuron} spikes per neuron in trial {trial} of the batch (at t = {time:0.###} ms): runaway activity, e.g. strong positive recurrence. Lower the weights or raise maxSpikesPerNeuron (or pass null for no cap).")
{
    /// <summary>The population that exceeded the cap.</summary>
    public string Population { get; } = population;

    /// <summary>Index of the trial in its batch.</summary>
    public int Trial { get; } = trial;
}
