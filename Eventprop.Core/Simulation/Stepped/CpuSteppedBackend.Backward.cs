using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Stepped.Backend;


namespace Eventprop.Core.Simulation.Stepped;

/// <summary>The Eventprop backward pass of <see cref="CpuSteppedBackend"/> (the CPU provider of <see cref="SteppedEngine"/>).</summary>
internal sealed partial class CpuSteppedBackend
{
    private void BackwardTrial(SteppedPlan plan, SteppedTrial trial, SteppedWorkspace ws, ReadoutDrive drive, GradientBuffer buffer, float[] regJump)
    {
        int N = Steps, n = plan.NeuronCount, K = trial.SnapshotInterval;
        double dt = Dt;
        var lv = ws.LambdaV;
        var li = ws.LambdaI;
        Array.Clear(lv);
        Array.Clear(li);
        Array.Clear(ws.TauMemPartial);
        Array.Clear(ws.TauSynPartial);
        Array.Clear(ws.TauMemSum);
        Array.Clear(ws.TauSynSum);
        bool tau = TimeConstantGradients;
        bool needState = tau || drive.NeedsVoltages;
        bool stepDrive = drive.HasStepDrive;
        int ro = plan.ReadoutOffset, rs = plan.ReadoutSize;
        bool analog = trial.Sample.IsAnalog;
        bool delays = plan.HasDelays;
        if (delays) ws.PrepareRings(plan);
        if (analog)
        {
            Array.Clear(ws.AnalogAdjointSum);
            if (needState) AnalogInput.FillDrive(plan, trial.Sample.Currents, dt, ws.AnalogDrive);
        }

        var spiking = plan.Spiking;
        var spikePtr = new int[spiking.Length];
        for (int s = 0; s < spiking.Length; s++) spikePtr[s] = trial.Spikes[s].Count - 1;
        int readoutSpiking = plan.Network.Readout.IsSpiking ? plan.SpikingIndex[plan.Network.Readout.Index] : -1;
        int[]? remaining = readoutSpiking >= 0 ? (int[])trial.SpikeCounts[readoutSpiking].Clone() : null;
        int inPtr = trial.InputCount - 1;
        int impPtr = 0;
        var sample = trial.Sample;
        var impulses = drive.Impulses;
        double[]? corner = null;   // per readout neuron: ∂L/∂V·V̇⁺ of the loss impulses on the current grid point
        long[]? cornerSpike = null; // per readout neuron: the spike the impulse moves with (population·2³² + list index), or −1
        float[]? cornerWeight = null;

        int segments = K > 0 ? (N - 1) / K + 1 : 1;
        if (K <= 0) K = N;
        for (int seg = segments - 1; seg >= 0; seg--)
        {
            int a = seg * K, b = Math.Min(a + K, N);
            if (needState) Replay(plan, trial, ws, seg, a, b);
            for (int k = b; k > a; k--)
            {
                EventsAt(k);
                // Step back over [t_{k−1}, t_k].
                ReadOnlySpan<float> v = needState ? ws.SegmentV.AsSpan((k - 1 - a) * n, n) : default;
                ReadOnlySpan<float> cur = needState ? ws.SegmentI.AsSpan((k - 1 - a) * n, n) : default;
                VectorMath.StepAdjoint(plan, lv, li, v, cur, ws.TauMemPartial, ws.TauSynPartial, tau);
                if (stepDrive)
                {
                    ReadOnlySpan<double> dStart = default, dEnd = default;
                    if (drive.NeedsVoltages)
                    {
                        EvaluateDrive(drive, ws, ws.SegmentV.AsSpan((k - 1 - a) * n + ro, rs), (k - 1) * dt, ws.DriveStart);
                        EvaluateDrive(drive, ws, ws.SegmentV.AsSpan((k - a) * n + ro, rs), k * dt, ws.DriveEnd);
                        dStart = ws.DriveStart;
                        dEnd = ws.DriveEnd;
                    }
                    drive.ApplyStep((k - 1) * dt, lv.AsSpan(ro, rs), li.AsSpan(ro, rs),
                        tau ? v.Slice(ro, rs) : default, tau ? cur.Slice(ro, rs) : default,
                        dStart, dEnd, ws.TauMemSum.AsSpan(ro, rs), ws.TauSynSum.AsSpan(ro, rs), tau);
                }
            }
            if (tau) FlushTau(ws);
        }
        EventsAt(0);
        if (analog)
            AnalogInput.SubtractWeightGradients(plan, sample.Currents, dt, ws.AnalogAdjointSum, ws.AnalogScratch, buffer, AnalogValueIgnoredInGradient);

        if (tau)
        {
            for (int g = 0; g < n; g++)
            {
                plan.AddTimeConstantGradient(g, ws.TauMemSum[g], ws.TauSynSum[g], ref buffer.TauMem[g], ref buffer.TauSyn[g]);
            }
        }
        return;

        void EventsAt(int k)
        {
            int stamp = ++ws.Stamp;
            bool corners = false;
            while (impPtr < impulses.Count && impulses[impPtr].Grid == k)
            {
                var imp = impulses[impPtr++];
                int g = ro + imp.Neuron;
                NeuronStepFunctions.Impulse(imp.DLossdV, plan.RateMem[g], plan.RateSyn[g], imp.Offset, out float dv, out float di);
                lv[g] += dv;
                li[g] += di;
                if (imp.CornerSlope != 0)
                {
                    corner ??= new double[rs];
                    corner[imp.Neuron] += imp.DLossdV * imp.CornerSlope;
                    corners = true;
                }
            }
            if (corners) FindCornerSpikes(k);
            if (analog && k < N) AnalogInput.AccumulateAdjoint(plan, li, ws.AnalogAdjointSum);
            if (delays && k < N)
                foreach (var o in plan.Delayed)
                    o.RecordAdjoints(ws.DifferenceRings[o.DelayedIndex], ws.WeightedRings[o.DelayedIndex], k, Difference(o, stamp), Weighted(o, stamp));
            while (inPtr >= 0 && StepOf(sample.Times[inPtr]) == k)
            {
                int ch = sample.Channels[inPtr--];
                foreach (var o in plan.InputOutgoings)
                {
                    if (o.IsDelayed) Delayed(o, ch, k);
                    else o.SubtractWeightGradient(buffer.Weights[o.ParameterIndex]!, ch, Weighted(o, stamp));
                }
            }
            var jumps = ws.Jumps;
            jumps.Clear();
            for (int s = 0; s < spiking.Length; s++)
            {
                var list = trial.Spikes[s];
                ref int p = ref spikePtr[s];
                if (p < 0 || list.Steps[p] != k) continue;
                var pop = spiking[s];
                var outs = plan.Outgoings[pop.Population.Index];
                for (; p >= 0 && list.Steps[p] == k; p--)
                {
                    int i = list.Neurons[p], g = pop.Offset + i;
                    float transport = 0;
                    foreach (var o in outs)
                    {
                        if (o.IsDelayed)
                        {
                            transport += Delayed(o, i, k);
                            continue;
                        }
                        o.SubtractWeightGradient(buffer.Weights[o.ParameterIndex]!, i, Weighted(o, stamp));
                        transport += o.Transport(i, Difference(o, stamp));
                    }
                    double dldt = 0;
                    if (s == readoutSpiking)
                    {
                        int ordinal = --remaining![i];
                        if (drive.HasSpikeTimeTerms) dldt = drive.SpikeTimeTerm(i, ordinal);
                    }
                    if (corners)
                        for (int j = 0; j < rs; j++)
                            if (cornerSpike![j] == ((long)s << 32 | (uint)p)) dldt += corner![j];
                    jumps.Add((g, NeuronStepFunctions.Jump(pop.Step, lv[g], transport, dldt, list.Slopes[p], pop.IsReadout ? 0 : regJump[g])));
                }
            }
            foreach (var (g, delta) in jumps) lv[g] += delta;
            if (corners) Array.Clear(corner!);
        }

        // A loss impulse on grid point k (e.g. the max loss's maximum over the grid) where hidden spikes reach readout
        // neuron j is a maximum at a corner of V_j: in continuous time it sits at the arrival of one spike and moves with
        // it, which adds ∂L/∂t_s = g·V̇_j(t_s⁻) to that spike (as the exact engine does). The impulse was applied before the
        // spikes' jumps, so their transport terms already carry g·(V̇⁻ − V̇⁺) for the kick; the missing part is g·V̇⁺, with
        // V̇⁺ after all of the grid point's spikes. On the grid the spikes of one step arrive together, so the term goes to
        // the one with the most negative weight onto j (the kick that makes the corner).
        void FindCornerSpikes(int k)
        {
            cornerSpike ??= new long[rs];
            cornerWeight ??= new float[rs];
            Array.Fill(cornerSpike, -1);
            Array.Fill(cornerWeight, float.PositiveInfinity);
            for (int s = 0; s < spiking.Length; s++)
            {
                var list = trial.Spikes[s];
                int p0 = spikePtr[s];
                if (p0 < 0 || list.Steps[p0] != k) continue;
                foreach (var o in plan.Outgoings[spiking[s].Population.Index])
                {
                    if (o.PostOffset != ro) continue;
                    for (int p = p0; p >= 0 && list.Steps[p] == k; p--)
                        CornerSpikes.Consider(o, list.Neurons[p], (long)s << 32 | (uint)p, corner!, cornerWeight, cornerSpike);
                }
            }
        }

        // A delayed connection's row at its emission: the adjoints of its arrivals come from the rings (see Outgoing.Backward).
        float Delayed(SteppedPlan.Outgoing o, int row, int k) =>
            o.Backward(row, k, N, ws.DifferenceRings[o.DelayedIndex], ws.WeightedRings[o.DelayedIndex],
                buffer.Weights[o.ParameterIndex]!, buffer.Weights[o.DelayParameterIndex]!);

        ReadOnlySpan<float> Weighted(SteppedPlan.Outgoing o, int stamp)
        {
            var slice = ws.WeightedAdjoint.AsSpan(o.PostOffset, o.PostSize);
            if (ws.WeightedStamp[o.PostPopulation] != stamp)
            {
                VectorMath.Multiply(plan.TauSynF.AsSpan(o.PostOffset, o.PostSize), li.AsSpan(o.PostOffset, o.PostSize), slice);
                ws.WeightedStamp[o.PostPopulation] = stamp;
            }
            return slice;
        }

        ReadOnlySpan<float> Difference(SteppedPlan.Outgoing o, int stamp)
        {
            var slice = ws.AdjointDifference.AsSpan(o.PostOffset, o.PostSize);
            if (ws.DifferenceStamp[o.PostPopulation] != stamp)
            {
                VectorMath.Difference(lv.AsSpan(o.PostOffset, o.PostSize), li.AsSpan(o.PostOffset, o.PostSize), slice);
                ws.DifferenceStamp[o.PostPopulation] = stamp;
            }
            return slice;
        }
    }

    private static void EvaluateDrive(ReadoutDrive drive, SteppedWorkspace ws, ReadOnlySpan<float> voltages, double time, double[] result)
    {
        for (int j = 0; j < voltages.Length; j++) ws.ReadoutVoltages[j] = voltages[j];
        drive.EvaluateVoltageDrive(time, ws.ReadoutVoltages, result, ws.DriveScratch);
    }

    private static void FlushTau(SteppedWorkspace ws)
    {
        var pm = ws.TauMemPartial;
        var ps = ws.TauSynPartial;
        var sm = ws.TauMemSum;
        var ss = ws.TauSynSum;
        for (int g = 0; g < pm.Length; g++)
        {
            sm[g] += pm[g];
            ss[g] += ps[g];
        }
        Array.Clear(pm);
        Array.Clear(ps);
    }
}
