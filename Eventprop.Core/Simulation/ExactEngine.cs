using System.Runtime.CompilerServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Pipeline;

namespace Eventprop.Core.Simulation;


/// <summary>
/// The exact event-driven engine (CPU, double precision): the gold standard for gradients.
/// </summary>
/// <remarks>
/// <para>Forward: every neuron evolves in closed form between events; the next threshold crossing of
/// each neuron is bracketed exactly (V(t) = a e^{−t/τm} + b e^{−t/τs} has at most one turning point) and
/// refined by safeguarded Newton iteration to a few ulps. Each spike's time and τ_mem·V̇ at threshold
/// (I − ϑ) are recorded, and so is the state after every event that touched a population: one row with the (V, I) of all
/// its neurons (connections are dense, so an event touches whole populations).</para>
/// <para>Backward (Eventprop): λ_V and λ_I are propagated in closed form between events in reverse time,
/// with the jump λV,n ← λV,n + [ϑλV,n + Σ_post W(λV,post − λI,post) + ∂l_p/∂t]/(τm V̇⁻) at each spike;
/// weight gradients are −τs,post·λI,post summed over presynaptic spikes, and the τ gradients
/// ∫λV V̇ dt and ∫λI İ dt are integrated in closed form on every interval.</para>
/// <para>Memory: a trial's rows take 16·(population size) bytes per event for every population the event reaches. The
/// engine reuses the record arrays of trials it does not hand out (training through <see cref="IGradientEngine"/>,
/// <see cref="Evaluate(Network, IReadOnlyList{SpikeSample}, ILoss)"/>); trials returned in an
/// <see cref="ExactGradientResult"/> keep their own. One engine may be used from several threads.</para>
/// <para>The trial covers [0, T): input spikes at t ≥ T have no effect. A population that exceeds
/// <see cref="MaxSpikesPerNeuron"/> spikes per neuron in one trial stops the simulation with a
/// <see cref="SpikeLimitExceededException"/>.</para>
/// </remarks>
public sealed partial class ExactEngine : IGradientEngine
{
    /// <summary>Creates an engine for trials of <paramref name="duration"/> ms.</summary>
    /// <param name="duration">Trial length T in ms (finite, &gt; 0).</param>
    /// <param name="maxSpikesPerNeuron">Per-trial spike limit, per neuron on average over a population (default 1000).</param>
    public ExactEngine(double duration, int maxSpikesPerNeuron = 1000)
    {
        if (!double.IsFinite(duration) || duration <= 0)
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "The trial duration must be finite and > 0 ms.");
        if (maxSpikesPerNeuron <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxSpikesPerNeuron), maxSpikesPerNeuron, "The spike limit must be ≥ 1.");
        Duration = duration;
        MaxSpikesPerNeuron = maxSpikesPerNeuron;
    }

    /// <summary>Trial length T (ms).</summary>
    public double Duration { get; }

    /// <summary>A population may emit at most this many spikes per neuron (times its size) in one trial.</summary>
    public int MaxSpikesPerNeuron { get; }

    internal AdjointFault Fault { get; init; }

    // Record arrays of trials that are done (see ExactTrial.ReleaseRecords).
    private readonly RecordArrayPool _pool = new();

    /// <summary>Runs the forward pass of one trial and records it.</summary>
    public ExactTrial Simulate(Network network, SpikeSample sample)
    {
        var plan = new ExactPlan(network);
        BatchValidation.CheckInput(network, sample, null, Duration);
        return Forward(plan, sample);
    }

    /// <summary>Runs the forward pass and evaluates <paramref name="loss"/> on one trial (no gradient).</summary>
    public LossEvaluation Evaluate(Network network, SpikeSample sample, ILoss loss)
    {
        BatchValidation.CheckReadout(network, loss);
        var trial = Simulate(network, sample);
        var evaluation = loss.Evaluate(trial.Readout, BatchValidation.CheckLabel(network, sample, null));
        trial.ReleaseRecords();
        return evaluation;
    }

    /// <inheritdoc />
    public EvaluationResult Evaluate(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        var (plan, labels) = CheckBatch(network, batch, loss);
        var evals = new LossEvaluation[batch.Count];
        var counts = HiddenSpikeCounts.Create(network);
        for (int b = 0; b < batch.Count; b++)
        {
            var trial = Forward(plan, batch[b]);
            evals[b] = loss.Evaluate(trial.Readout, labels[b]);
            AddSpikeCounts(network, trial, counts);
            trial.ReleaseRecords();
        }
        return new EvaluationResult(BatchLoss.MeanLoss(evals), BatchLoss.Predictions(evals), labels, counts);
    }

    /// <summary>The loss of one trial and its gradient with respect to every parameter.</summary>
    public ExactGradientResult Gradient(Network network, SpikeSample sample, ILoss loss) => Gradient(network, [sample], loss);

    /// <summary>The mean loss over <paramref name="batch"/> and the gradient of that mean, with every recorded trial.</summary>
    /// <remarks>With <paramref name="regularization"/>, the heuristic λ_V jump of <see cref="ActivityRegularization"/> is
    /// applied at every hidden spike, after the Eventprop jump, using the batch-mean spike count of that neuron.</remarks>
    public ExactGradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization = null) =>
        Gradient(network, batch, loss, regularization, keepTrials: true);

    /// <summary>As the public <see cref="Gradient(Network, IReadOnlyList{SpikeSample}, ILoss, ActivityRegularization?)"/>,
    /// but the recorded trials are not returned (the result is a plain <see cref="GradientResult"/>): each trial's records
    /// go back to the engine's pool after its backward pass, so training does not allocate megabytes per trial.</summary>
    GradientResult IGradientEngine.Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization)
    {
        var result = Gradient(network, batch, loss, regularization, keepTrials: false);
        return new GradientResult(result.Loss, result.Predictions, result.Labels, result.HiddenSpikeCounts, result.Gradient);
    }

    private ExactGradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization, bool keepTrials)
    {
        regularization?.Validate();
        var (plan, labels) = CheckBatch(network, batch, loss);
        var evals = new LossEvaluation[batch.Count];
        var counts = HiddenSpikeCounts.Create(network);
        var gradient = network.Parameters.ZerosLike();
        var trials = new ExactTrial[keepTrials ? batch.Count : 0];
        if (!RegularizationJumps.Active(regularization))
        {
            // One trial at a time: forward, loss, backward, then its records can go.
            for (int b = 0; b < batch.Count; b++)
            {
                var trial = Forward(plan, batch[b]);
                evals[b] = loss.Evaluate(trial.Readout, labels[b]);
                AddSpikeCounts(network, trial, counts);
                Backward(plan, trial, evals[b].Drive.Scaled(1.0 / batch.Count), gradient, null);
                if (keepTrials) trials[b] = trial;
                else trial.ReleaseRecords();
            }
        }
        else
        {
            // The regulariser's jump needs the batch's spike counts before any backward pass.
            var all = new ExactTrial[batch.Count];
            for (int b = 0; b < batch.Count; b++)
            {
                all[b] = Forward(plan, batch[b]);
                evals[b] = loss.Evaluate(all[b].Readout, labels[b]);
                AddSpikeCounts(network, all[b], counts);
            }
            var regJump = new double[plan.NeuronCount];
            RegularizationJumps.Fill(network, counts, batch.Count, regularization!, pop => plan.PopulationOffset[pop.Index], regJump);
            for (int b = 0; b < batch.Count; b++)
            {
                Backward(plan, all[b], evals[b].Drive.Scaled(1.0 / batch.Count), gradient, regJump);
                if (keepTrials) trials[b] = all[b];
                else all[b].ReleaseRecords();
            }
        }
        return new ExactGradientResult(BatchLoss.MeanLoss(evals), BatchLoss.Predictions(evals), labels, counts, gradient, trials);
    }

    private (ExactPlan Plan, int[] Labels) CheckBatch(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        var labels = BatchValidation.CheckBatch(network, batch, loss, Duration);
        return (new ExactPlan(network), labels);
    }

    private static void AddSpikeCounts(Network network, ExactTrial trial, Dictionary<string, long[]> counts)
    {
        foreach (var pop in network.Hidden) HiddenSpikeCounts.Add(counts, pop, trial.SpikeCounts(pop.Name));
    }

    // ---------------------------------------------------------------- forward

    private ExactTrial Forward(ExactPlan plan, SpikeSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample); // its input was checked by BatchValidation (channels, times in [0, T))
        double T = Duration;
        int n = plan.NeuronCount;
        int nIn = 0;
        var times = sample.Times;
        while (nIn < times.Length && times[nIn] < T) nIn++;
        var pops = plan.Network.Populations;
        var expectedRows = new int[pops.Count];
        foreach (int q in plan.RowPopulations[plan.InputIndex]) expectedRows[q] = 2 * nIn + 16; // inputs plus as many again for hidden spikes
        var trial = new ExactTrial(plan, T, expectedRows, _pool);
        var logs = trial.Populations;
        var next = new double[n];
        var nextIsExact = new bool[n]; // false: next[g] is only a lower bound on the crossing time
        Array.Fill(next, double.PositiveInfinity);
        Array.Fill(nextIsExact, true);
        for (int g = 0; g < n; g++) Touch(trial, g, 3UL);

        var popSpikes = new int[pops.Count];
        var spiking = plan.SpikingNeurons;
        var cache = new PropagatorCache();
        var channels = sample.Channels;
        trial.InputSpikeCount = nIn;
        int inIdx = 0;

        var arrivals = plan.HasDelays ? new PriorityQueue<DelayedArrival, (double Time, long Order)>() : null;
        long arrivalOrder = 0;

        while (true)
        {
            double tIn = inIdx < nIn ? times[inIdx] : double.PositiveInfinity;
            double tArr = arrivals is not null && arrivals.TryPeek(out _, out var head) ? head.Time : double.PositiveInfinity;
            double tNext = Math.Min(tIn, tArr); // the next event that is not a spike of ours
            int best = -1;
            double tSp = double.PositiveInfinity;
            foreach (int g in spiking)
                if (next[g] < tSp)
                {
                    tSp = next[g];
                    best = g;
                }
            if (tSp <= tNext && tSp < T && !nextIsExact[best])
            {
                // The earliest candidate is only a lower bound. If V is still below ϑ and still rising at the next
                // input (or T), it has not crossed before then (V has one turning point, a maximum): move the bound
                // past that time. Otherwise find the exact crossing (or none). Then look again.
                var log = logs[plan.PopulationOf[best]];
                int li = plan.LocalIndex[best];
                double v0 = log.Voltage(log.Count - 1, li), i0 = log.Current(log.Count - 1, li), t0 = log.LastTime;
                double horizon = Math.Min(tNext, T);
                double s = horizon - t0;
                double m = plan.RateMem[best];
                cache.Set(s, plan.RateLeak[best], plan.RateSyn[best]);
                double vH = v0 * cache.DecayMem + i0 * m * cache.PsiMemSyn;
                double iH = i0 * cache.DecaySyn;
                if (vH < plan.Threshold[best] && iH > plan.Leak[best] * vH)
                {
                    ExactCrossing.Bound(plan, best, horizon, vH, iH, next, nextIsExact);
                    if (next[best] < horizon) next[best] = horizon; // rounding guard: a bound from the horizon state starts there
                }
                else
                {
                    next[best] = t0 + ExactCrossing.Next(plan, best, v0, i0);
                    nextIsExact[best] = true;
                }
                continue;
            }
            if (tSp <= tNext)
            {
                if (tSp >= T) break;
                // ---- spike of neuron `best`: every population it reaches, and its own (the reset), gets a row at tSp
                int g = best;
                int p = plan.PopulationOf[g];
                foreach (int q in plan.RowPopulations[p]) AppendEvolved(plan, logs[q], q, tSp, ref cache);
                var own = logs[p].LastRow;
                int li = plan.LocalIndex[g];
                double slope = own[own.Length / 2 + li] - plan.Leak[g] * plan.Threshold[g];
                var st = trial.SpikeTime[g];
                int ordinal = st.Count;
                st.Add(tSp);
                trial.SpikeSlope[g].Add(slope);
                trial.Events.Add(new ExactTrial.Event(g, ordinal, tSp));
                if (++popSpikes[p] > (long)MaxSpikesPerNeuron * pops[p].Size)
                    throw new SpikeLimitExceededException(pops[p].Name, MaxSpikesPerNeuron, tSp);
                own[li] = plan.ResetValue[g];
                Touch(trial, g, 2UL);
                foreach (var o in plan.Outgoings[p])
                    if (!o.IsDelayed) ExactSynapses.Deliver(plan, trial, o, plan.LocalIndex[g], tSp, g, next, nextIsExact);
                if (arrivals is not null) ExactDelays.Schedule(plan, p, li, tSp, trial.Events.Count - 1, T, arrivals, ref arrivalOrder);
                if (plan.Spiking[g]) ExactCrossing.Bound(plan, g, tSp, own[li], own[own.Length / 2 + li], next, nextIsExact);
            }
            else if (tArr <= tIn)
            {
                if (tArr >= T) break;
                // ---- a delayed arrival: its target population gets a row at tArr
                var a = arrivals!.Dequeue();
                int q = plan.Outgoings[a.Population][a.Connection].PostPopulation;
                AppendEvolved(plan, logs[q], q, tArr, ref cache);
                trial.Events.Add(new ExactTrial.Event(ExactTrial.ArrivalMarker, trial.Arrivals.Count, tArr));
                trial.Arrivals.Add(a);
                ExactDelays.Deliver(plan, trial, a, next, nextIsExact);
            }
            else
            {
                if (tIn >= T) break;
                // ---- input spike
                int c = channels[inIdx];
                trial.Events.Add(new ExactTrial.Event(-1 - c, inIdx, tIn));
                inIdx++;
                foreach (int q in plan.RowPopulations[plan.InputIndex]) AppendEvolved(plan, logs[q], q, tIn, ref cache);
                foreach (var o in plan.Outgoings[plan.InputIndex])
                    if (!o.IsDelayed) ExactSynapses.Deliver(plan, trial, o, c, tIn, -1, next, nextIsExact);
                if (arrivals is not null) ExactDelays.Schedule(plan, plan.InputIndex, c, tIn, -1, T, arrivals, ref arrivalOrder);
            }
        }
        return trial;
    }

    private static void AppendEvolved(ExactPlan plan, PopulationRecords log, int population, double t, ref PropagatorCache cache)
    {
        int off = plan.PopulationOffset[population];
        log.AppendEvolved(t, plan.RateLeak.AsSpan(off, log.Size), plan.RateMem.AsSpan(off, log.Size), plan.RateSyn.AsSpan(off, log.Size), plan.UniformRates[population], ref cache);
    }

    // Only own spike vs. arrival enters the pattern: the order among arrivals does not affect smoothness (see HasSameEventOrder).
    private static void Touch(ExactTrial trial, int g, ulong kind) => trial.EventPattern[g] = ExactSynapses.Mix(trial.EventPattern[g], kind);
}
