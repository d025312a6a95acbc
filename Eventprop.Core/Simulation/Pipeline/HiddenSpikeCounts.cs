using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Pipeline;

/// <summary>
/// The batch's spike counts per hidden neuron, keyed by population name: what <see cref="EvaluationResult.HiddenSpikeCounts"/>
/// reports and what the <see cref="Losses.ActivityRegularization"/> reads.
/// </summary>
/// <remarks>For engine implementers: <see cref="Create"/> once per batch, then <see cref="Add"/> each trial's counts.</remarks>
public static class HiddenSpikeCounts
{
    /// <summary>A zeroed count per neuron of every hidden population.</summary>
    public static Dictionary<string, long[]> Create(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return network.Hidden.ToDictionary(p => p.Name, p => new long[p.Size]);
    }

    /// <summary>Adds one trial's (or one partition's) spike counts of <paramref name="population"/>.</summary>
    /// <param name="counts">The batch's counts (from <see cref="Create"/>).</param>
    /// <param name="population">A hidden population.</param>
    /// <param name="trialCounts">Spikes per neuron of that population, in neuron order.</param>
    public static void Add(Dictionary<string, long[]> counts, Population population, ReadOnlySpan<int> trialCounts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(population);
        var c = counts[population.Name];
        if (trialCounts.Length != c.Length)
            throw new ArgumentException($"Population '{population.Name}' has {c.Length} neurons but {trialCounts.Length} counts were given.", nameof(trialCounts));
        for (int i = 0; i < c.Length; i++) c[i] += trialCounts[i];
    }
}
