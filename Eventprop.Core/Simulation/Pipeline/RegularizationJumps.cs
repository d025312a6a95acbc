using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Pipeline;

/// <summary>
/// The per-neuron λ_V jump of the <see cref="ActivityRegularization"/> for a batch: τ̄_readout·strength·(n̄ − target)/B for
/// every hidden neuron, where n̄ is the neuron's batch-mean spike count and τ̄_readout the readout's mean τm.
/// </summary>
/// <remarks>For engine implementers: compute it once per batch, after the forward passes, and subtract it at every hidden
/// spike after the Eventprop jump. Engines in float32 round each value once (<c>(float)jump</c>).</remarks>
public static class RegularizationJumps
{
    /// <summary>The jump of one neuron: τ̄_readout·strength·(spikes/B − target)/B.</summary>
    public static double Of(double tauReadout, double strength, double targetSpikes, long spikes, int batch) =>
        tauReadout * strength * (spikes / (double)batch - targetSpikes) / batch;

    /// <summary>Whether <paramref name="regularization"/> adds any jump (it is set and its strength is &gt; 0).</summary>
    public static bool Active(ActivityRegularization? regularization) => regularization is { Strength: > 0 };

    /// <summary>Writes the jump of every hidden neuron into <paramref name="jumps"/> at the neuron's index in the engine's
    /// neuron index space (<paramref name="offsetOf"/> gives a population's first index); other entries are left as they are.</summary>
    /// <param name="network">The network.</param>
    /// <param name="counts">The batch's hidden spike counts (<see cref="HiddenSpikeCounts"/>).</param>
    /// <param name="batch">The batch size B.</param>
    /// <param name="regularization">The regulariser (its strength &gt; 0).</param>
    /// <param name="offsetOf">A hidden population's first neuron in <paramref name="jumps"/>.</param>
    /// <param name="jumps">The per-neuron jumps (double precision).</param>
    public static void Fill(Network network, IReadOnlyDictionary<string, long[]> counts, int batch, ActivityRegularization regularization,
        Func<Population, int> offsetOf, Span<double> jumps)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(regularization);
        ArgumentNullException.ThrowIfNull(offsetOf);
        double tauReadout = network.TauMem(network.Readout.Name).Values.Average();
        foreach (var pop in network.Hidden)
        {
            if (!counts.TryGetValue(pop.Name, out var c)) continue;
            int off = offsetOf(pop);
            for (int i = 0; i < pop.Size; i++)
                jumps[off + i] = Of(tauReadout, regularization.Strength, regularization.TargetSpikes, c[i], batch);
        }
    }
}
