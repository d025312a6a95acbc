namespace Eventprop.Core.Simulation;

/// <summary>
/// The exact engine's three connectivity operations over a compiled connection (<see cref="ExactPlan.Outgoing"/>): deliver
/// a presynaptic spike, accumulate the weight gradient, transport the adjoint. Dense rows take a contiguous loop; a sparse
/// mask's rows loop over their stored synapses; a convolution's rows visit their kernel footprint (Conv2dGeometry).
/// </summary>
internal static class ExactSynapses
{
    /// <summary>
    /// Adds row <paramref name="row"/> of connection <paramref name="o"/>'s weights to the current of its targets (whose
    /// last row is at <paramref name="t"/>), updates their event patterns and their next-crossing bounds. The spiking
    /// source itself (<paramref name="source"/>, when it is among the targets) keeps its own-spike mark.
    /// </summary>
    public static void Deliver(ExactPlan plan, ExactTrial trial, ExactPlan.Outgoing o, int row, double t, int source, double[] next, bool[] nextIsExact)
    {
        var state = trial.Populations[o.PostPopulation].LastRow;
        int cols = o.Columns, post = o.PostOffset;
        var v = state[..cols];
        var cur = state.Slice(cols, cols);
        var pattern = trial.EventPattern.AsSpan(post, cols);
        bool spiking = plan.Spiking[post];
        // Threshold and leak are per population: load them once for the whole row.
        double theta = plan.Threshold[post], leak = plan.Leak[post], leakTheta = leak * theta;
        var tauMem = plan.TauMem.AsSpan(post, cols);
        var nextRow = next.AsSpan(post, cols);
        var exactRow = nextIsExact.AsSpan(post, cols);
        if (o.Synapses.Convolution is { } conv)
        {
            // Computed synapses: visit the spike's kernel footprint only; each target is reached at most once.
            double scale = conv.Scale;
            if (!conv.Footprint(row, out var fp)) return;
            for (int oc = 0; oc < conv.OutChannels; oc++)
                for (int a = 0; a < fp.Rows; a++)
                {
                    int first = fp.Post(oc, a), weight = fp.Weight(oc, a);
                    for (int jj = first; jj < first + fp.Columns; jj++, weight -= fp.Stride)
                    {
                        cur[jj] += scale * o.Weights[weight];
                        if (post + jj != source) pattern[jj] = Mix(pattern[jj], 1UL);
                        if (spiking) ExactCrossing.Bound(theta, leakTheta, leak, tauMem[jj], t, v[jj], cur[jj], out nextRow[jj], out exactRow[jj]);
                    }
                }
            return;
        }
        int start = o.Start(row), length = o.Length(row);
        var w = o.Weights.AsSpan(start, length);
        if (o.Targets is not { } targets)
        {
            for (int jj = 0; jj < cols; jj++) cur[jj] += w[jj];
            for (int jj = 0; jj < cols; jj++)
                if (post + jj != source) pattern[jj] = Mix(pattern[jj], 1UL);
            if (!spiking) return;
            for (int jj = 0; jj < cols; jj++)
                ExactCrossing.Bound(theta, leakTheta, leak, tauMem[jj], t, v[jj], cur[jj], out nextRow[jj], out exactRow[jj]);
            return;
        }
        var to = targets.AsSpan(start, length);
        for (int k = 0; k < to.Length; k++)
        {
            int jj = to[k];
            cur[jj] += w[k];
            if (post + jj != source) pattern[jj] = Mix(pattern[jj], 1UL);
            if (spiking) ExactCrossing.Bound(theta, leakTheta, leak, tauMem[jj], t, v[jj], cur[jj], out nextRow[jj], out exactRow[jj]);
        }
    }

    /// <summary>As <see cref="Deliver"/> for one stored synapse <paramref name="synapse"/> (its index in the weights) reaching local
    /// target <paramref name="target"/>: a delayed arrival (never the target's own spike).</summary>
    public static void DeliverSynapse(ExactPlan plan, ExactTrial trial, ExactPlan.Outgoing o, int synapse, int target, double t, double[] next, bool[] nextIsExact)
    {
        var state = trial.Populations[o.PostPopulation].LastRow;
        int cols = o.Columns, g = o.PostOffset + target;
        state[cols + target] += o.Weights[synapse];
        trial.EventPattern[g] = Mix(trial.EventPattern[g], 1UL);
        if (plan.Spiking[g]) ExactCrossing.Bound(plan, g, t, state[target], state[cols + target], next, nextIsExact);
    }

    /// <summary>Mixes an event kind into a neuron's event-pattern hash (own spike vs. arrival; see HasSameEventOrder).</summary>
    public static ulong Mix(ulong hash, ulong kind) => (hash ^ kind) * 0x100000001B3UL + 0x9E3779B97F4A7C15UL;

    /// <summary>∂L/∂W[pre, post] −= τs,post·λI,post for every stored synapse of presynaptic row <paramref name="row"/> of connection o.</summary>
    public static void SubtractWeightGradient(double[] gradient, ExactPlan.Outgoing o, int row, ExactPlan plan, double[] li)
    {
        var lambdaI = li.AsSpan(o.PostOffset, o.Columns);
        var tauSyn = plan.TauSyn.AsSpan(o.PostOffset, o.Columns);
        if (o.Synapses.Convolution is { } conv)
        {
            // A shared kernel weight collects the terms of every synapse that uses it.
            if (!conv.Footprint(row, out var fp)) return;
            double scale = conv.Scale;
            for (int oc = 0; oc < conv.OutChannels; oc++)
                for (int a = 0; a < fp.Rows; a++)
                {
                    int first = fp.Post(oc, a), weight = fp.Weight(oc, a);
                    for (int jj = first; jj < first + fp.Columns; jj++, weight -= fp.Stride) gradient[weight] -= scale * tauSyn[jj] * lambdaI[jj];
                }
            return;
        }
        int start = o.Start(row), length = o.Length(row);
        var gradientRow = gradient.AsSpan(start, length);
        if (o.Targets is not { } targets)
        {
            for (int jj = 0; jj < gradientRow.Length; jj++) gradientRow[jj] -= tauSyn[jj] * lambdaI[jj];
            return;
        }
        var to = targets.AsSpan(start, length);
        for (int k = 0; k < to.Length; k++) gradientRow[k] -= tauSyn[to[k]] * lambdaI[to[k]];
    }

    /// <summary>Σ_post W[pre, post](λV,post − λI,post) over the stored synapses of presynaptic row <paramref name="row"/>.</summary>
    public static double TransportTerm(ExactPlan.Outgoing o, int row, ReadOnlySpan<double> lambdaV, ReadOnlySpan<double> lambdaI, AdjointFault fault = AdjointFault.None)
    {
        if (o.Synapses.Convolution is { } conv)
        {
            if (!conv.Footprint(row, out var fp)) return 0;
            double total = 0;
            bool mirrored = fault == AdjointFault.ConvTransportMirrored;
            for (int oc = 0; oc < conv.OutChannels; oc++)
                for (int a = 0; a < fp.Rows; a++)
                {
                    int first = fp.Post(oc, a), weight = fp.Weight(oc, a);
                    for (int jj = first; jj < first + fp.Columns; jj++, weight -= fp.Stride)
                        total += o.Weights[mirrored ? conv.Mirrored(weight) : weight] * (lambdaV[jj] - lambdaI[jj]);
                }
            return conv.Scale * total;
        }
        int start = o.Start(row), length = o.Length(row);
        var w = o.Weights.AsSpan(start, length);
        double sum = 0;
        if (o.Targets is not { } targets)
        {
            for (int jj = 0; jj < w.Length; jj++) sum += w[jj] * (lambdaV[jj] - lambdaI[jj]);
            return sum;
        }
        var to = targets.AsSpan(start, length);
        if (fault == AdjointFault.SparseTransportMisindexed)
        {
            for (int k = 0; k < to.Length; k++) sum += w[k] * (lambdaV[k] - lambdaI[k]);
            return sum;
        }
        for (int k = 0; k < to.Length; k++) sum += w[k] * (lambdaV[to[k]] - lambdaI[to[k]]);
        return sum;
    }
}
