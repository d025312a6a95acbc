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
public sealed class ExactEngine : IGradientEngine
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

        while (true)
        {
            double tIn = inIdx < nIn ? times[inIdx] : double.PositiveInfinity;
            int best = -1;
            double tSp = double.PositiveInfinity;
            foreach (int g in spiking)
                if (next[g] < tSp)
                {
                    tSp = next[g];
                    best = g;
                }
            if (tSp <= tIn && tSp < T && !nextIsExact[best])
            {
                // The earliest candidate is only a lower bound. If V is still below ϑ and still rising at the next
                // input (or T), it has not crossed before then (V has one turning point, a maximum): move the bound
                // past that time. Otherwise find the exact crossing (or none). Then look again.
                var log = logs[plan.PopulationOf[best]];
                int li = plan.LocalIndex[best];
                double v0 = log.Voltage(log.Count - 1, li), i0 = log.Current(log.Count - 1, li), t0 = log.LastTime;
                double horizon = Math.Min(tIn, T);
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
            if (tSp <= tIn)
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
                foreach (var o in plan.Outgoings[p]) ExactSynapses.Deliver(plan, trial, o, plan.LocalIndex[g], tSp, g, next, nextIsExact);
                if (plan.Spiking[g]) ExactCrossing.Bound(plan, g, tSp, own[li], own[own.Length / 2 + li], next, nextIsExact);
            }
            else
            {
                if (tIn >= T) break;
                // ---- input spike
                int c = channels[inIdx];
                trial.Events.Add(new ExactTrial.Event(-1 - c, inIdx, tIn));
                inIdx++;
                foreach (int q in plan.RowPopulations[plan.InputIndex]) AppendEvolved(plan, logs[q], q, tIn, ref cache);
                foreach (var o in plan.Outgoings[plan.InputIndex]) ExactSynapses.Deliver(plan, trial, o, c, tIn, -1, next, nextIsExact);
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


    // ---------------------------------------------------------------- backward

    private void Backward(ExactPlan plan, ExactTrial trial, AdjointDrive drive, ParameterSet gradient, double[]? regJump)
    {
        int n = plan.NeuronCount;
        double T = trial.Duration;
        var lv = new double[n];
        var li = new double[n];
        var tb = new double[n];
        var logs = trial.Populations;
        var rowPtr = new int[logs.Length]; // per population: its last row at or before the event being processed
        for (int q = 0; q < logs.Length; q++) rowPtr[q] = logs[q] is null ? -1 : logs[q].Count - 1;
        var gTauMem = new double[n];
        var gTauSyn = new double[n];
        Array.Fill(tb, T);

        // Drive terms per readout neuron (global index).
        var driveTerms = new List<ExponentialDriveTerm>?[n];
        foreach (var term in drive.Exponential)
        {
            CheckReadoutNeuron(plan, term.Neuron);
            int g = plan.ReadoutOffset + term.Neuron;
            (driveTerms[g] ??= []).Add(term);
        }
        // Adjoint jumps are impulses with ∂L/∂V = −τm·Δλ_V. (A loop, not a lambda: a lambda capturing the plan would move
        // the backward pass's state into a heap closure.)
        var impulseList = new List<VoltageImpulse>(drive.Impulses);
        foreach (var j in drive.Jumps)
        {
            CheckReadoutNeuron(plan, j.Neuron);
            impulseList.Add(new VoltageImpulse(j.Neuron, j.Time, -j.DeltaLambdaV * plan.TauMem[plan.ReadoutOffset + j.Neuron]));
        }
        var impulses = impulseList.OrderByDescending(x => x.Time).ToArray();
        foreach (var imp in impulses)
        {
            CheckReadoutNeuron(plan, imp.Neuron);
            if (!(imp.Time >= 0 && imp.Time <= T))
                throw new ArgumentOutOfRangeException(nameof(drive), $"A loss impulse at t = {imp.Time} ms lies outside the trial [0, {T}] ms.");
        }
        Dictionary<(int Neuron, int Ordinal), double>? spikeTimeTerms = null;
        foreach (var st in drive.SpikeTimes)
        {
            CheckReadoutNeuron(plan, st.Neuron);
            spikeTimeTerms ??= [];
            var key = (plan.ReadoutOffset + st.Neuron, st.SpikeIndex);
            spikeTimeTerms[key] = spikeTimeTerms.GetValueOrDefault(key) + st.DLossdt;
        }

        // A maximum at the arrival of a hidden spike (a corner of V) moves with that spike: L depends on V_k(t_s⁻) with
        // t_s = t_s(θ), which adds ∂L/∂t_s = g·V̇_k⁻(t_s) to the spike's jump.
        if (impulses.Length > 0)
        {
            foreach (var ev in trial.Events)
            {
                if (ev.Neuron < 0) continue;
                foreach (var imp in impulses)
                {
                    if (imp.Time != ev.Time) continue;
                    int k = plan.ReadoutOffset + imp.Neuron;
                    foreach (var o in plan.Outgoings[plan.PopulationOf[ev.Neuron]])
                    {
                        if (k < o.PostOffset || k >= o.PostOffset + o.Columns) continue;
                        var rec = trial.Records[k];
                        int r = trial.RecordAt(k, ev.Time);
                        int synapse = o.Synapses.IndexOf(plan.LocalIndex[ev.Neuron], k - o.PostOffset);
                        if (synapse < 0) continue; // no synapse to this readout neuron: its V has no corner here
                        double iBefore = rec.Current(r) - o.Synapses.Scale * o.Weights[synapse];
                        double vDot = (iBefore - plan.Leak[k] * rec.Voltage(r)) * plan.RateMem[k];
                        spikeTimeTerms ??= [];
                        var key = (ev.Neuron, ev.Ordinal);
                        spikeTimeTerms[key] = spikeTimeTerms.GetValueOrDefault(key) + imp.DLossdV * vDot;
                    }
                }
            }
        }
        bool hasVoltageDrives = drive.VoltageDependent.Count > 0;
        var readoutTrace = (ExactReadoutTrace)trial.Readout;
        var driveIntegrand = new VoltageDriveIntegrand(readoutTrace, drive.VoltageDependent, plan.ReadoutSize);
        var driveIntegrals = new double[4];

        var weightGrads = gradient.Select(p => p.Values).ToArray();
        var cache = new PropagatorCache();
        var driveCache = new DriveKernelCache();
        int impIdx = 0;
        var events = trial.Events;

        for (int e = events.Count - 1; e >= 0; e--)
        {
            var ev = events[e];
            double t = ev.Time;
            for (; impIdx < impulses.Length && impulses[impIdx].Time > t; impIdx++) ApplyImpulse(impulses[impIdx]);

            if (ev.Neuron < 0)
            {
                int c = -1 - ev.Neuron;
                foreach (var o in plan.Outgoings[plan.InputIndex])
                {
                    PropagatePopulation(o.PostPopulation, t);
                    ExactSynapses.SubtractWeightGradient(weightGrads[o.ParameterIndex], o, c, plan, li);
                }
                foreach (int q in plan.RowPopulations[plan.InputIndex]) rowPtr[q]--;
                continue;
            }

            int src = ev.Neuron;
            int p = plan.PopulationOf[src];
            int row = plan.LocalIndex[src];
            PropagateTo(src, t);
            double transport = 0;
            foreach (var o in plan.Outgoings[p])
            {
                PropagatePopulation(o.PostPopulation, t); // nothing to do for the source, already at t
                if (Fault != AdjointFault.DropRecurrentTransportTerm || o.PostPopulation != p)
                    transport += ExactSynapses.TransportTerm(o, row, lv.AsSpan(o.PostOffset, o.Columns), li.AsSpan(o.PostOffset, o.Columns), Fault);
                ExactSynapses.SubtractWeightGradient(weightGrads[o.ParameterIndex], o, row, plan, li);
            }
            // Own-V term of the jump: ℓ(ϑ − V_reset)λV (the change of τm V̇ at the reset); zero for integrate-and-fire.
            double reset = Fault == AdjointFault.WaveOneResetTerm ? lv[src] : plan.Leak[src] * (plan.Threshold[src] - plan.ResetValue[src]) * lv[src];
            if (Fault == AdjointFault.FlipResetTerm) reset = -reset;
            double dldt = spikeTimeTerms is null ? 0 : spikeTimeTerms.GetValueOrDefault((src, ev.Ordinal));
            lv[src] += (reset + transport + dldt) / trial.SpikeSlope[src][ev.Ordinal];
            if (regJump is not null) lv[src] -= regJump[src];
            foreach (int q in plan.RowPopulations[p]) rowPtr[q]--;
        }
        for (; impIdx < impulses.Length; impIdx++) ApplyImpulse(impulses[impIdx]);
        for (int g = 0; g < n; g++) PropagateTo(g, 0);

        for (int g = 0; g < n; g++)
        {
            int p = plan.PopulationOf[g], i = plan.LocalIndex[g];
            weightGrads[plan.TauMemParameter[p]][i] += gTauMem[g];
            weightGrads[plan.TauSynParameter[p]][i] += gTauSyn[g];
        }
        return;

        // Carries every neuron of population q back to t. Hidden populations with shared time constants (the common case)
        // take a tight loop with one set of propagators; anything else goes neuron by neuron.
        void PropagatePopulation(int q, double t)
        {
            int off = plan.PopulationOffset[q], size = plan.Network.Populations[q].Size;
            bool driven = off == plan.ReadoutOffset && (hasVoltageDrives || drive.Exponential.Count > 0);
            if (driven || !plan.UniformRates[q])
            {
                for (int g = off; g < off + size; g++) PropagateTo(g, t);
                return;
            }
            var log = logs[q];
            int r = rowPtr[q];
            var vRow = log.Row(r)[..size];
            var iRow = log.Row(r).Slice(size, size);
            double m = plan.RateMem[off], rs = plan.RateSyn[off], leakRate = plan.RateLeak[off], leak = plan.Leak[off];
            double adjointLeak = Fault == AdjointFault.LeakyAdjoint ? m : leakRate;
            // State at t from the row (t can lie after it when the row is a neighbour's reset or the trial start).
            double sa = t - log.Time(r), ema = 1, esa = 1, kma = 0;
            if (sa > 0)
            {
                ema = Math.Exp(-leakRate * sa);
                esa = Math.Exp(-rs * sa);
                kma = m * ExpKernels.Psi2(sa, leakRate, rs, ema, esa);
            }
            for (int i = 0; i < size; i++)
            {
                int g = off + i;
                double tEnd = tb[g];
                if (t >= tEnd) continue;
                double lvb = lv[g], lib = li[g];
                tb[g] = t;
                if (lvb == 0 && lib == 0) continue; // a zero adjoint stays zero and adds nothing to the integrals
                double delta = tEnd - t;
                cache.SetWithDoubleNodes(delta, adjointLeak, rs);
                double va = vRow[i] * ema + iRow[i] * kma, ia = iRow[i] * esa;
                double a = 0, b = 0, c = 0, lvStart = 0, liStart = 0;
                Undriven(lvb, lib, va, ia, delta, m, rs, cache, ref a, ref b, ref c, ref lvStart, ref liStart);
                gTauMem[g] += (a - leak * b) * m;
                gTauSyn[g] -= c * rs;
                lv[g] = lvStart;
                li[g] = liStart;
            }
        }

        void ApplyImpulse(VoltageImpulse imp)
        {
            int g = plan.ReadoutOffset + imp.Neuron;
            PropagateTo(g, imp.Time);
            lv[g] -= imp.DLossdV * plan.RateMem[g];
        }

        // Carries neuron g's adjoint from tb[g] back to t, accumulating the τ-gradient integrals.
        void PropagateTo(int g, double t)
        {
            double tEnd = tb[g];
            if (t >= tEnd) return;
            var terms = driveTerms[g];
            bool voltageDriven = hasVoltageDrives && g >= plan.ReadoutOffset && g < plan.ReadoutOffset + plan.ReadoutSize;
            if (terms is null && !voltageDriven && lv[g] == 0 && li[g] == 0)
            {
                tb[g] = t; // a zero adjoint stays zero and adds nothing to the integrals
                return;
            }
            // The state at t, from the population's last row at or before t (t can lie after it: an impulse, the start
            // of the trial, or a row written for a neighbour's reset).
            var (va, ia) = trial.StateAt(g, rowPtr[plan.PopulationOf[g]], t);
            double delta = tEnd - t;
            double m = plan.RateMem[g], rs = plan.RateSyn[g], tm = plan.TauMem[g], ts = plan.TauSyn[g];
            double leakRate = Fault == AdjointFault.LeakyAdjoint ? m : plan.RateLeak[g], leak = plan.Leak[g];
            cache.SetWithDoubleNodes(delta, leakRate, rs);
            double lvb = lv[g], lib = li[g];
            double lvStart = 0, liStart = 0, a = 0, b = 0, c = 0;
            if (terms is not null)
            {
                // λ = particular solution of the driven system + undriven remainder.
                foreach (var term in terms)
                {
                    if (leak == 0 && Fault != AdjointFault.LeakyReadoutDrive)
                    {
                        // No leak: the particular solution below divides by ℓ + ρτm, which vanishes for ρ = 0.
                        NonLeakyDrive.Add(term.Coefficient, term.Rate, t, delta, m, rs, ia, ref a, ref c, ref lvStart, ref liStart);
                        continue;
                    }
                    double rho = term.Rate;
                    double pCoef = -term.Coefficient / (1 + rho * tm);
                    double qCoef = pCoef / (1 + rho * ts);
                    driveCache.Set(t, tEnd, rho, m, rs);
                    lvb -= pCoef * driveCache.DecayEnd;
                    lib -= qCoef * driveCache.DecayEnd;
                    double pt = pCoef * driveCache.DecayStart, qt = qCoef * driveCache.DecayStart;
                    lvStart += pt;
                    liStart += qt;
                    double intI = ia * driveCache.PsiSyn;
                    a += pt * intI;
                    b += pt * (va * driveCache.PsiMem + ia * m * driveCache.PsiMemSyn);
                    c += qt * intI;
                }
            }
            if (lvb != 0 || lib != 0) Undriven(lvb, lib, va, ia, delta, m, rs, cache, ref a, ref b, ref c, ref lvStart, ref liStart);
            if (voltageDriven)
            {
                // Particular solution of the drive f(u) started from 0 at tEnd; with ρ = tEnd − u and L = Δ − ρ:
                // λV_p(t) = −m∫f e^{−mL}, λI_p(t) = −m·rs∫f ψ_L[m,rs], and the τ integrals likewise (closed-form kernels).
                Array.Clear(driveIntegrals);
                driveIntegrand.Set(g - plan.ReadoutOffset, tEnd, delta, m, leakRate, rs, va, ia);
                PanelQuadrature.Integrate(0, delta, 4, driveIntegrand.Evaluate, driveIntegrals, readoutTrace.LocalScale(t, tEnd));
                double sV = driveIntegrals[0], sI = driveIntegrals[1], sB = driveIntegrals[2], sC = driveIntegrals[3];
                lvStart -= m * sV;
                liStart -= m * rs * sI;
                a -= m * ia * sI;
                b -= m * sB;
                c -= m * rs * ia * sC;
            }
            gTauMem[g] += (a - leak * b) * m;
            gTauSyn[g] -= c * rs;
            lv[g] = lvStart;
            li[g] = liStart;
            tb[g] = t;
        }
    }

    /// <summary>
    /// The undriven adjoint over a reverse interval of length Δ ending at (λV, λI) = (<paramref name="lvb"/>,
    /// <paramref name="lib"/>), with forward state (V, I) = (<paramref name="va"/>, <paramref name="ia"/>) at its start:
    /// adds the τ-gradient integrals to a, b, c and λ at the start to lvStart, liStart. <paramref name="cache"/> must hold
    /// the double-node propagators for (Δ, ℓm, rs), where ℓm is the membrane's decay rate and <paramref name="m"/> = 1/τm its
    /// input gain (equal for a leaky membrane). <paramref name="b"/> (∫λV V) is needed only when the membrane leaks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Undriven(double lvb, double lib, double va, double ia, double delta, double m, double rs, in PropagatorCache cache,
        ref double a, ref double b, ref double c, ref double lvStart, ref double liStart)
    {
        double em = cache.DecayMem, es = cache.DecaySyn, psiMS = cache.PsiMemSyn;
        a += lvb * ia * psiMS;
        b += lvb * (va * delta * em + ia * m * cache.PsiMemMemSyn);
        c += ia * (lib * delta * es + lvb * rs * cache.PsiMemSynSyn);
        lvStart += lvb * em;
        liStart += lib * es + lvb * rs * psiMS;
    }

    private static void CheckReadoutNeuron(ExactPlan plan, int neuron)
    {
        if ((uint)neuron >= (uint)plan.ReadoutSize)
            throw new ArgumentOutOfRangeException(nameof(neuron), neuron, $"The loss drives readout neuron {neuron} but the readout has {plan.ReadoutSize} neurons.");
    }
}
