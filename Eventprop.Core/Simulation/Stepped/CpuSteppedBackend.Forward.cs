using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Stepped.Backend;


namespace Eventprop.Core.Simulation.Stepped;

/// <summary>The forward pass of <see cref="CpuSteppedBackend"/> (the CPU provider of <see cref="SteppedEngine"/>): stepping, spike detection and delivery, and the backward pass's replay.</summary>
internal sealed partial class CpuSteppedBackend
{
    private int StepOf(double time) => TimeGrid.NearestStep(time, Dt, Steps);

    /// <summary>Number of leading input spikes that land on a grid point before T (the others have no effect).</summary>
    private int EffectiveInputCount(ReadOnlySpan<double> times) => FirstInputAtOrAfter(times, Steps);

    /// <summary>The index of the first of the ascending input <paramref name="times"/> whose grid point is ≥ <paramref name="step"/>.</summary>
    private int FirstInputAtOrAfter(ReadOnlySpan<double> times, int step)
    {
        int lo = 0, hi = times.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (StepOf(times[mid]) < step) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private int DeliverInputs(SteppedPlan plan, SteppedWorkspace ws, float[] cur, ReadOnlySpan<double> times, ReadOnlySpan<int> channels, int ptr, int count, int step)
    {
        var outs = plan.DirectInputOutgoings;
        var delayed = plan.DelayedOutgoings[plan.Network.Input.Index];
        while (ptr < count && StepOf(times[ptr]) == step)
        {
            int ch = channels[ptr];
            foreach (var o in outs) o.Deliver(cur, ch);
            foreach (var o in delayed) o.Schedule(ws.DelayRings[o.DelayedIndex], ch, step, step, Steps);
            ptr++;
        }
        return ptr;
    }

    private void DeliverSpikes(SteppedPlan plan, SteppedWorkspace ws, float[] cur, SpikeList list, int from, int to, int population, int step)
    {
        var outs = plan.DirectOutgoings[population];
        var delayed = plan.DelayedOutgoings[population];
        for (int i = from; i < to; i++)
        {
            int n = list.Neurons[i];
            foreach (var o in outs) o.Deliver(cur, n);
            foreach (var o in delayed) o.Schedule(ws.DelayRings[o.DelayedIndex], n, step, step, Steps);
        }
    }

    /// <summary>Adds the delayed arrivals of grid point <paramref name="step"/> to the currents (after the grid point's spikes
    /// and inputs were scheduled, so a delay of 0 steps arrives at once).</summary>
    private static void DrainDelayed(SteppedPlan plan, SteppedWorkspace ws, float[] cur, int step)
    {
        foreach (var o in plan.Delayed) o.Drain(cur, ws.DelayRings[o.DelayedIndex], step);
    }

    /// <summary>
    /// Refills the forward rings for a replay that starts from the snapshot at grid point <paramref name="start"/>: the
    /// arrivals after it of the spikes and inputs of grid points start − D_max … start (the spike pointers and input pointer
    /// of the snapshot), so that no ring needs to be stored per snapshot.
    /// </summary>
    private void RebuildRings(SteppedPlan plan, SteppedTrial trial, SteppedWorkspace ws, ReadOnlySpan<int> spikePointers, int inputPointer, int start)
    {
        foreach (var o in plan.Delayed) Array.Clear(ws.DelayRings[o.DelayedIndex]);
        var spiking = plan.Spiking;
        for (int s = 0; s < spiking.Length; s++)
        {
            var delayed = plan.DelayedOutgoings[spiking[s].Population.Index];
            if (delayed.Length == 0) continue;
            var list = trial.Spikes[s];
            int end = spikePointers[s], earliest = start - delayed.Max(o => o.MaxDelaySteps);
            int i = LowerBound(list.Steps.AsSpan(0, end), earliest);
            for (; i < end; i++)
                foreach (var o in delayed) o.Schedule(ws.DelayRings[o.DelayedIndex], list.Neurons[i], list.Steps[i], start + 1, Steps);
        }
        var inputs = plan.DelayedOutgoings[plan.Network.Input.Index];
        if (inputs.Length == 0) return;
        var times = trial.Sample.Times;
        var channels = trial.Sample.Channels;
        int first = FirstInputAtOrAfter(times[..inputPointer], start - inputs.Max(o => o.MaxDelaySteps));
        for (int i = first; i < inputPointer; i++)
        {
            int step = StepOf(times[i]);
            foreach (var o in inputs) o.Schedule(ws.DelayRings[o.DelayedIndex], channels[i], step, start + 1, Steps);
        }
    }

    /// <summary>The first index of the ascending <paramref name="steps"/> whose value is ≥ <paramref name="value"/>.</summary>
    private static int LowerBound(ReadOnlySpan<int> steps, int value)
    {
        int lo = 0, hi = steps.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (steps[mid] < value) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private static void RecordTrace(SteppedPlan plan, SteppedWorkspace ws, int step)
    {
        int off = plan.ReadoutOffset, stride = plan.Steps + 1;
        for (int j = 0; j < plan.ReadoutSize; j++)
        {
            ws.TraceV[j * stride + step] = ws.V[off + j];
            ws.TraceI[j * stride + step] = ws.I[off + j];
        }
    }

    internal void ForwardTrial(SteppedPlan plan, SteppedTrial trial, SteppedWorkspace ws, int trialIndex)
    {
        int N = Steps;
        var v = ws.V;
        var cur = ws.I;
        Array.Clear(v);
        Array.Clear(cur);
        bool delays = plan.HasDelays;
        if (delays) ws.PrepareRings(plan);
        var times = trial.Sample.Times;
        var channels = trial.Sample.Channels;
        bool analog = trial.Sample.IsAnalog;
        if (analog) AnalogInput.FillDrive(plan, trial.Sample.Currents, Dt, ws.AnalogDrive);
        int inCount = EffectiveInputCount(times);
        trial.InputCount = inCount;
        int interval = trial.SnapshotInterval;
        var spiking = plan.Spiking;
        Span<int> stepStart = spiking.Length <= 64 ? stackalloc int[spiking.Length] : new int[spiking.Length];
        float minSlope = (float)MinimumThresholdSlope;
        long[] caps = spiking.Select(p => MaxSpikesPerNeuron is int m ? (long)m * p.Size : long.MaxValue).ToArray();

        int inPtr = DeliverInputs(plan, ws, cur, times, channels, 0, inCount, 0);
        if (delays) DrainDelayed(plan, ws, cur, 0);
        if (analog) AnalogInput.AddDrive(plan, cur, ws.AnalogDrive);
        RecordTrace(plan, ws, 0);
        if (interval > 0) trial.AddSnapshot(plan, v, cur, inPtr);
        for (int k = 0; k < N; k++)
        {
            VectorMath.StepState(v, cur, plan.DecayMem, plan.CurrentToVoltage, plan.DecaySyn);
            int kk = k + 1;
            if (kk < N)
            {
                for (int s = 0; s < spiking.Length; s++)
                {
                    var pop = spiking[s];
                    var list = trial.Spikes[s];
                    stepStart[s] = list.Count;
                    var step = pop.Step;
                    int c = VectorMath.FindCrossings(v.AsSpan(pop.Offset, pop.Size), step.Threshold, ws.Crossings);
                    if (c == 0) continue;
                    var counts = trial.SpikeCounts[s];
                    for (int j = 0; j < c; j++)
                    {
                        int i = ws.Crossings[j], g = pop.Offset + i;
                        float slope = NeuronStepFunctions.ThresholdSlope(step, SlopeAtGridPoint, minSlope, Dt, plan.RateMem[g], plan.RateSyn[g],
                            plan.DecayMemExact[g], plan.DecaySynExact[g], plan.CurrentToVoltageExact[g], v[g], cur[g]);
                        list.Add(kk, i, slope);
                        v[g] = NeuronStepFunctions.ResetVoltage(step, v[g]);
                        counts[i]++;
                    }
                    if (list.Count > caps[s])
                        throw new SpikeBufferLimitException(pop.Population.Name, trialIndex, MaxSpikesPerNeuron!.Value, kk * Dt);
                }
                for (int s = 0; s < spiking.Length; s++)
                {
                    var list = trial.Spikes[s];
                    if (list.Count > stepStart[s])
                        DeliverSpikes(plan, ws, cur, list, stepStart[s], list.Count, spiking[s].Population.Index, kk);
                }
                inPtr = DeliverInputs(plan, ws, cur, times, channels, inPtr, inCount, kk);
                if (delays) DrainDelayed(plan, ws, cur, kk);
                if (analog) AnalogInput.AddDrive(plan, cur, ws.AnalogDrive);
            }
            RecordTrace(plan, ws, kk);
            if (interval > 0 && kk < N && kk % interval == 0) trial.AddSnapshot(plan, v, cur, inPtr);
        }
    }

    /// <summary>Recomputes the states (after each grid point's deliveries) at grid points a…b into the workspace's segment buffers
    /// (an analog trial's drive must be in the workspace, <see cref="AnalogInput.FillDrive"/>).</summary>
    private void Replay(SteppedPlan plan, SteppedTrial trial, SteppedWorkspace ws, int segment, int a, int b)
    {
        int n = plan.NeuronCount, N = Steps;
        var v = ws.V;
        var cur = ws.I;
        trial.SnapshotV.AsSpan(segment * n, n).CopyTo(v);
        trial.SnapshotI.AsSpan(segment * n, n).CopyTo(cur);
        ws.EnsureSegment(b - a);
        v.AsSpan().CopyTo(ws.SegmentV.AsSpan(0, n));
        cur.AsSpan().CopyTo(ws.SegmentI.AsSpan(0, n));
        var spiking = plan.Spiking;
        Span<int> ptr = spiking.Length <= 64 ? stackalloc int[spiking.Length] : new int[spiking.Length];
        Span<int> start = spiking.Length <= 64 ? stackalloc int[spiking.Length] : new int[spiking.Length];
        for (int s = 0; s < spiking.Length; s++) ptr[s] = trial.SnapshotSpikes[segment * spiking.Length + s];
        int inPtr = trial.SnapshotInput[segment];
        var times = trial.Sample.Times;
        var channels = trial.Sample.Channels;
        bool analog = trial.Sample.IsAnalog;
        bool delays = plan.HasDelays;
        if (delays) RebuildRings(plan, trial, ws, ptr, inPtr, a);
        for (int k = a; k < b; k++)
        {
            VectorMath.StepState(v, cur, plan.DecayMem, plan.CurrentToVoltage, plan.DecaySyn);
            int kk = k + 1;
            if (kk < N)
            {
                for (int s = 0; s < spiking.Length; s++)
                {
                    var list = trial.Spikes[s];
                    int off = spiking[s].Offset;
                    var step = spiking[s].Step;
                    start[s] = ptr[s];
                    while (ptr[s] < list.Count && list.Steps[ptr[s]] == kk)
                    {
                        int g = off + list.Neurons[ptr[s]];
                        v[g] = NeuronStepFunctions.ResetVoltage(step, v[g]);
                        ptr[s]++;
                    }
                }
                for (int s = 0; s < spiking.Length; s++)
                    if (ptr[s] > start[s])
                        DeliverSpikes(plan, ws, cur, trial.Spikes[s], start[s], ptr[s], spiking[s].Population.Index, kk);
                inPtr = DeliverInputs(plan, ws, cur, times, channels, inPtr, trial.InputCount, kk);
                if (delays) DrainDelayed(plan, ws, cur, kk);
                if (analog) AnalogInput.AddDrive(plan, cur, ws.AnalogDrive); // ws.AnalogDrive: filled by the backward pass
            }
            v.AsSpan().CopyTo(ws.SegmentV.AsSpan((kk - a) * n, n));
            cur.AsSpan().CopyTo(ws.SegmentI.AsSpan((kk - a) * n, n));
        }
    }
}
