namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// Which spike carries a loss impulse's corner term in the time-stepped engines (both providers call this): an impulse on
/// a grid point where hidden spikes reach readout neuron j (the <c>max</c> loss at a corner of V_j) moves with one spike
/// of that grid point, the one with the most negative weight onto j — the kick that makes the corner (see
/// <see cref="SteppedEngine"/>). Candidates are considered in a fixed order (populations in network order, the step's
/// spikes latest-listed first) and the first of equal weights wins, so both providers pick the same spike.
/// </summary>
public static class CornerSpikes
{
    /// <summary>
    /// Considers spike <paramref name="key"/> of presynaptic neuron <paramref name="row"/> of connection <paramref name="o"/>
    /// (onto the readout) for every readout neuron with a nonzero corner term: it replaces the best so far when its weight
    /// onto that neuron is smaller (a synapse a sparse mask lacks never wins).
    /// </summary>
    /// <param name="o">A connection whose target is the readout.</param>
    /// <param name="row">The spiking neuron's index in the connection's source population.</param>
    /// <param name="key">The provider's handle of the spike (stored in <paramref name="best"/>).</param>
    /// <param name="corner">Per readout neuron: the corner term (0: none).</param>
    /// <param name="bestWeight">Per readout neuron: the smallest weight so far (start at +∞).</param>
    /// <param name="best">Per readout neuron: the key of the spike with that weight (start at −1).</param>
    public static void Consider(SteppedPlan.Outgoing o, int row, long key, ReadOnlySpan<double> corner, Span<float> bestWeight, Span<long> best)
    {
        for (int j = 0; j < corner.Length; j++)
        {
            if (corner[j] == 0) continue;
            float w = o.WeightOrInfinity(row, j);
            if (w < bestWeight[j])
            {
                bestWeight[j] = w;
                best[j] = key;
            }
        }
    }
}
