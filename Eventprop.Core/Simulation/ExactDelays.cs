namespace Eventprop.Core.Simulation;

/// <summary>
/// Learned delays in the exact engine (docs/delays-and-adaptation.md §2). Forward: a spike at t through a delayed
/// connection schedules one arrival per synapse (synaptic delays) or per row (axonal delays) at t + d, which kicks the
/// target's current when the event loop reaches it; arrivals at or after T have no effect. Backward, at each arrival in
/// reverse time: the weight gradient −τs·λI and the delay gradient ∂L/∂d = W(λV − λI) of the target(s), read at the arrival;
/// the same W(λV − λI) is the arrival's share of the emitting neuron's transport term, which the backward pass stores per
/// spike and adds when it reaches the emission.
/// </summary>
internal static class ExactDelays
{
    /// <summary>Queues the arrivals of a spike of row <paramref name="row"/> of population <paramref name="population"/> at
    /// <paramref name="t"/> through every delayed outgoing connection (ties in time keep the order of scheduling).</summary>
    public static void Schedule(ExactPlan plan, int population, int row, double t, int sourceEvent, double duration,
        PriorityQueue<DelayedArrival, (double Time, long Order)> queue, ref long order)
    {
        var outgoing = plan.Outgoings[population];
        for (int k = 0; k < outgoing.Length; k++)
        {
            var o = outgoing[k];
            if (o.Delays is not { } delays) continue;
            if (o.Axonal)
            {
                double ta = t + delays[row];
                if (ta < duration) queue.Enqueue(new DelayedArrival(population, k, row, -1, sourceEvent, ta), (ta, order++));
                continue;
            }
            int start = o.Start(row), length = o.Length(row);
            for (int s = 0; s < length; s++)
            {
                double ta = t + delays[start + s];
                if (ta < duration) queue.Enqueue(new DelayedArrival(population, k, row, s, sourceEvent, ta), (ta, order++));
            }
        }
    }

    /// <summary>The local postsynaptic index of a synaptic arrival's target.</summary>
    public static int Target(ExactPlan.Outgoing o, in DelayedArrival a) =>
        o.Targets is { } targets ? targets[o.Start(a.Row) + a.Synapse] : a.Synapse;

    /// <summary>Adds the arrival's weight(s) to its target(s) (whose row at the arrival time is the population's last).</summary>
    public static void Deliver(ExactPlan plan, ExactTrial trial, in DelayedArrival a, double[] next, bool[] nextIsExact)
    {
        var o = plan.Outgoings[a.Population][a.Connection];
        if (a.Synapse < 0) ExactSynapses.Deliver(plan, trial, o, a.Row, a.Time, -1, next, nextIsExact);
        else ExactSynapses.DeliverSynapse(plan, trial, o, o.Start(a.Row) + a.Synapse, Target(o, a), a.Time, next, nextIsExact);
    }

    /// <summary>
    /// The arrival's gradients, with the target adjoints at the arrival (already propagated there): subtracts τs·λI from the
    /// weight gradient, adds W(λV − λI) to the delay gradient, and returns W(λV − λI), the arrival's share of the source's
    /// transport term.
    /// </summary>
    public static double Backward(ExactPlan plan, in DelayedArrival a, double[] lambdaV, double[] lambdaI, double[][] gradients, AdjointFault fault)
    {
        var o = plan.Outgoings[a.Population][a.Connection];
        var delayGradient = gradients[o.DelayParameterIndex];
        if (a.Synapse < 0)
        {
            double share = ExactSynapses.TransportTerm(o, a.Row, lambdaV.AsSpan(o.PostOffset, o.Columns), lambdaI.AsSpan(o.PostOffset, o.Columns));
            ExactSynapses.SubtractWeightGradient(gradients[o.ParameterIndex], o, a.Row, plan, lambdaI);
            delayGradient[a.Row] += fault == AdjointFault.DelayGradientWithoutWeight
                ? ExactSynapses.TransportTerm(o with { Weights = Ones(o.Weights.Length) }, a.Row, lambdaV.AsSpan(o.PostOffset, o.Columns), lambdaI.AsSpan(o.PostOffset, o.Columns))
                : share;
            return share;
        }
        int s = o.Start(a.Row) + a.Synapse, g = o.PostOffset + Target(o, a);
        double difference = lambdaV[g] - lambdaI[g];
        double w = o.Weights[s];
        gradients[o.ParameterIndex][s] -= plan.TauSyn[g] * lambdaI[g];
        delayGradient[s] += fault == AdjointFault.DelayGradientWithoutWeight ? difference : w * difference;
        return w * difference;
    }

    private static double[] Ones(int length)
    {
        var ones = new double[length];
        Array.Fill(ones, 1.0);
        return ones;
    }
}
