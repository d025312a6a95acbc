using System.Runtime.CompilerServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Pipeline;

namespace Eventprop.Core.Simulation;

public sealed partial class ExactEngine
{
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
                        if (o.IsDelayed) continue; // delayed connections never reach the readout (NetworkBuilder.LearnedDelays)
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
        // Per spike event: the transport share of its delayed arrivals, added up as reverse time passes them.
        var delayedTransport = plan.HasDelays ? new double[events.Count] : null;

        for (int e = events.Count - 1; e >= 0; e--)
        {
            var ev = events[e];
            double t = ev.Time;
            for (; impIdx < impulses.Length && impulses[impIdx].Time > t; impIdx++) ApplyImpulse(impulses[impIdx]);

            if (ev.Neuron == ExactTrial.ArrivalMarker)
            {
                // A delayed arrival: its gradients and its share of the source's transport term, read here.
                var a = trial.Arrivals[ev.Ordinal];
                var o = plan.Outgoings[a.Population][a.Connection];
                if (a.Synapse < 0) PropagatePopulation(o.PostPopulation, t);
                else PropagateTo(o.PostOffset + ExactDelays.Target(o, a), t);
                double share = ExactDelays.Backward(plan, a, lv, li, weightGrads, Fault);
                if (a.SourceEvent >= 0) delayedTransport![a.SourceEvent] += share;
                rowPtr[o.PostPopulation]--;
                continue;
            }
            if (ev.Neuron < 0)
            {
                int c = -1 - ev.Neuron;
                foreach (var o in plan.Outgoings[plan.InputIndex])
                {
                    if (o.IsDelayed) continue; // its gradient was taken at the arrival
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
                if (o.IsDelayed)
                {
                    // Read at the arrivals (delayedTransport), unless the fault reads it here.
                    if (Fault != AdjointFault.DelayedTransportAtEmission) continue;
                    PropagatePopulation(o.PostPopulation, t);
                    transport += ExactSynapses.TransportTerm(o, row, lv.AsSpan(o.PostOffset, o.Columns), li.AsSpan(o.PostOffset, o.Columns));
                    continue;
                }
                PropagatePopulation(o.PostPopulation, t); // nothing to do for the source, already at t
                if (Fault != AdjointFault.DropRecurrentTransportTerm || o.PostPopulation != p)
                    transport += ExactSynapses.TransportTerm(o, row, lv.AsSpan(o.PostOffset, o.Columns), li.AsSpan(o.PostOffset, o.Columns), Fault);
                ExactSynapses.SubtractWeightGradient(weightGrads[o.ParameterIndex], o, row, plan, li);
            }
            if (delayedTransport is not null && Fault != AdjointFault.DelayedTransportAtEmission) transport += delayedTransport[e];
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
