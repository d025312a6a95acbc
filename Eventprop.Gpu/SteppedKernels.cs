using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;
using Eventprop.Core.Simulation.Stepped.Backend;

namespace Eventprop.Gpu;

/// <summary>Sizes and settings of one batch on the device (kernel argument).</summary>
internal struct KernelDims
{
    public int Trials;
    public int Neurons;        // dynamic neurons of all non-input populations (n)
    public int Inputs;         // input channels
    public int Connections;    // compiled connections
    public long WeightCount;   // Σ stored weights over the connections: length of the weight and gradient arrays
    public int ConvolutionWeights; // Σ kernel weights over the convolutions: threads of the shared-kernel weight-gradient phase
    public int Readout;        // readout size R
    public int ReadoutOffset;  // first readout neuron
    public int Steps;          // N
    public int Capacity;       // spike slots per trial
    public int Populations;    // spiking populations
    public float MinSlope;
    public int SlopeAtGridPoint;
    public int Tau;            // whether τ gradients are accumulated
    public int Interval;       // K: a state snapshot every K grid points
    public int Snapshots;      // S = (N − 1)/K + 1: snapshots at 0, K, 2K, … < N
    public double Dt;
}

/// <summary>Every device array the kernels touch (kernel argument; a struct of views).</summary>
internal struct KernelViews
{
    // Per neuron (n): propagators and constants.
    public ArrayView<float> DecayMem, DecaySyn, CurrentToVoltage, AdjointVoltageToCurrent, TauSyn;
    public ArrayView<float> GradPsi, GradDtDecayMem, GradMemPsi3, GradDtDecaySyn, GradSynPsi3;
    public ArrayView<double> RateMem, RateSyn, DecayMemExact, DecaySynExact, CurrentToVoltageExact;
    public ArrayView<int> SpikingPopulation;   // index of the neuron's spiking population, or −1
    public ArrayView<int> PopulationCap;       // per spiking population: spike cap per trial (int.MaxValue: none)
    public ArrayView<NeuronStep> Models;       // per spiking population: threshold, reset, reset mode, leak
    public ArrayView<float> RegularizationJump; // per neuron
    public ArrayView<ConnectionRecord> Connection; // per connection: its slices and where its weights start
    public ArrayView<float> Weights;           // [WeightCount]: each connection's stored weights (dense W[pre, post] row-major, or a mask's nonzeros), one after the other
    public ArrayView<int> SparseRowStarts;     // the sparse connections' row starts (pre + 1 each, relative to the connection's weights)
    public ArrayView<int> SparseTargets;       // the sparse connections' postsynaptic index (within the post population) of every stored weight

    // Inputs: channels of the binned input spikes, and per trial and step the first index ([B × (N+1)]).
    public ArrayView<int> InputChannel, InputStart;

    // Forward state.
    public ArrayView<float> V, I;              // [B × n]
    public ArrayView<float> SnapshotV, SnapshotI; // [B × S × n]: state after the deliveries of grid points 0, K, 2K, …
    public ArrayView<float> SegmentV, SegmentI;   // [B × (K+1) × n]: the replayed states of one segment of the backward pass
    public ArrayView<float> TraceV, TraceI;    // [B × R × (N+1)]: readout trajectory (the loss's trace layout)
    public ArrayView<int> Crossed;             // [B × n]: spiked on this step
    public ArrayView<float> CrossSlope;        // [B × n]
    public ArrayView<int> SpikeNeuron;         // [B × C]
    public ArrayView<float> SpikeSlope;        // [B × C]
    public ArrayView<int> SpikeEnd;            // [B × (N+1)]: spikes recorded up to and including step k
    public ArrayView<int> SpikeTotal;          // [B]: spikes of the trial (may exceed C: then the forward is rerun with more room)
    public ArrayView<int> SpikeCounts;         // [B × n]
    public ArrayView<int> PopulationCounts;    // [B × P]
    public ArrayView<int> CapError;            // [B × 2]: spiking population + 1 and the step where its cap was exceeded

    // Backward.
    public ArrayView<float> LambdaV, LambdaI;  // [B × n]
    public ArrayView<float> Jump;              // [B × n]: this grid point's Eventprop jumps
    public ArrayView<double> TauMemSum, TauSynSum; // [B × n]: ∫λV(I − V), ∫λI·I
    public ArrayView<double> SpikeTimeTerm;    // [B × C]: ∂L/∂t of each spike (readout spike-time terms, corner terms)
    public ArrayView<float> DriveV, DriveI;    // [B × N × R]: loss drive added after stepping back over step k
    public ArrayView<float> ImpulseV, ImpulseI; // [B × (N+1) × R]: loss impulses on grid point k
    public ArrayView<float> TrialGradient;     // [B × WeightCount]: per trial, laid out as Weights
    public ArrayView<float> Gradient;          // [WeightCount]
}

/// <summary>
/// The kernels of <see cref="GpuSteppedEngine"/>. Threads run over trial × neuron (Index2D: X = neuron or slot, Y = trial);
/// every kernel is one phase of one grid point, launched in order on one stream, so a whole minibatch runs without
/// returning to the host between steps. The per-neuron arithmetic (step, crossing slope, reset, adjoint step, jump, τ terms)
/// is <see cref="NeuronStepFunctions"/>, the very functions the CPU <c>SteppedEngine</c> calls.
/// </summary>
internal static partial class SteppedKernels
{
    /// <summary>
    /// Delivers step <paramref name="step"/>'s hidden then input spikes into I of neuron X, then records the state: in the
    /// forward pass (<paramref name="segmentStart"/> &lt; 0) the readout trace and, every K grid points, a snapshot; in a
    /// replay, the segment buffer (grid point step − segmentStart).
    /// </summary>
    public static void Deliver(Index2D index, KernelViews w, KernelDims d, int step, int segmentStart) =>
        DeliverAt(w, d, index.Y, index.X, step, segmentStart);

    /// <summary>The body of <see cref="Deliver"/> for trial <paramref name="b"/>, thread <paramref name="x"/>.</summary>
    internal static void DeliverAt(KernelViews w, KernelDims d, int b, int x, int step, int segmentStart)
    {
        int post = x, n = d.Neurons;
        if (post >= n) return;
        int cell = b * n + post;
        float cur = w.I[cell];
        if (step < d.Steps)
        {
            if (step > 0)
            {
                int stride = d.Steps + 1;
                int from = w.SpikeEnd[b * stride + step - 1], to = w.SpikeEnd[b * stride + step];
                if (to > d.Capacity) to = d.Capacity; // an overflowing forward pass is rerun; never read past the slots
                for (int p = from; p < to; p++)
                {
                    int pre = w.SpikeNeuron[b * d.Capacity + p];
                    for (int c = 0; c < d.Connections; c++)
                    {
                        var con = w.Connection[c];
                        if (con.FromInput != 0) continue;
                        long e = con.IndexOf(pre, post, w.SparseRowStarts, w.SparseTargets);
                        if (e >= 0) cur += con.Scale * w.Weights[e];
                    }
                }
            }
            int inFrom = w.InputStart[b * (d.Steps + 1) + step], inTo = w.InputStart[b * (d.Steps + 1) + step + 1];
            for (int q = inFrom; q < inTo; q++)
            {
                int channel = w.InputChannel[q];
                for (int c = 0; c < d.Connections; c++)
                {
                    var con = w.Connection[c];
                    if (con.FromInput == 0) continue;
                    long e = con.IndexOf(channel, post, w.SparseRowStarts, w.SparseTargets);
                    if (e >= 0) cur += con.Scale * w.Weights[e];
                }
            }
            w.I[cell] = cur;
        }
        float v = w.V[cell];
        if (segmentStart >= 0)
        {
            long s = ((long)b * (d.Interval + 1) + step - segmentStart) * n + post;
            w.SegmentV[s] = v;
            w.SegmentI[s] = cur;
            return;
        }
        if (step < d.Steps && step % d.Interval == 0)
        {
            long s = ((long)b * d.Snapshots + step / d.Interval) * n + post;
            w.SnapshotV[s] = v;
            w.SnapshotI[s] = cur;
        }
        int j = post - d.ReadoutOffset;
        if (j >= 0 && j < d.Readout)
        {
            long t = ((long)b * d.Readout + j) * (d.Steps + 1) + step;
            w.TraceV[t] = v;
            w.TraceI[t] = cur;
        }
    }

    /// <summary>
    /// Advances neuron X from step − 1 to <paramref name="step"/>; in the forward pass (<paramref name="segmentStart"/> &lt; 0)
    /// also checks the threshold, records the slope and resets (a replay resets from the spike list instead).
    /// </summary>
    public static void StepAndDetect(Index2D index, KernelViews w, KernelDims d, int step, int segmentStart) =>
        StepAndDetectAt(w, d, index.Y, index.X, step, segmentStart);

    /// <summary>The body of <see cref="StepAndDetect"/> for trial <paramref name="b"/>, thread <paramref name="x"/>.</summary>
    internal static void StepAndDetectAt(KernelViews w, KernelDims d, int b, int x, int step, int segmentStart)
    {
        int g = x, n = d.Neurons;
        if (g >= n) return;
        int cell = b * n + g;
        float v = w.V[cell], cur = w.I[cell];
        NeuronStepFunctions.StepState<float, FloatLane>(ref v, ref cur, w.DecayMem[g], w.CurrentToVoltage[g], w.DecaySyn[g]);
        int crossed = 0;
        int population = w.SpikingPopulation[g];
        if (segmentStart < 0 && step < d.Steps && population >= 0)
        {
            var model = w.Models[population];
            if (NeuronStepFunctions.Crossed(model, v))
            {
                w.CrossSlope[cell] = NeuronStepFunctions.ThresholdSlope(model, d.SlopeAtGridPoint != 0, d.MinSlope, d.Dt, w.RateMem[g], w.RateSyn[g],
                    w.DecayMemExact[g], w.DecaySynExact[g], w.CurrentToVoltageExact[g], v, cur);
                v = NeuronStepFunctions.ResetVoltage(model, v);
                crossed = 1;
            }
        }
        if (segmentStart < 0) w.Crossed[cell] = crossed;
        w.V[cell] = v;
        w.I[cell] = cur;
    }

    /// <summary>Replay: resets the neurons that spiked on <paramref name="step"/> (spike X of the trial's list for that step).</summary>
    public static void ResetSpikes(Index2D index, KernelViews w, KernelDims d, int step, int segmentStart) =>
        ResetSpikesAt(w, d, index.Y, index.X, step, segmentStart);

    /// <summary>The body of <see cref="ResetSpikes"/> for trial <paramref name="b"/>, thread <paramref name="x"/>.</summary>
    internal static void ResetSpikesAt(KernelViews w, KernelDims d, int b, int x, int step, int segmentStart)
    {
        int stride = d.Steps + 1;
        int p = w.SpikeEnd[b * stride + step - 1] + x;
        if (p >= w.SpikeEnd[b * stride + step]) return;
        int g = w.SpikeNeuron[b * d.Capacity + p];
        int cell = b * d.Neurons + g;
        w.V[cell] = NeuronStepFunctions.ResetVoltage(w.Models[w.SpikingPopulation[g]], w.V[cell]);
    }

    /// <summary>Replay: loads the snapshot of grid point <paramref name="segmentStart"/> into the state and the segment's first row.</summary>
    public static void Restore(Index2D index, KernelViews w, KernelDims d, int step, int segmentStart) =>
        RestoreAt(w, d, index.Y, index.X, step, segmentStart);

    /// <summary>The body of <see cref="Restore"/> for trial <paramref name="b"/>, thread <paramref name="x"/>.</summary>
    internal static void RestoreAt(KernelViews w, KernelDims d, int b, int x, int step, int segmentStart)
    {
        int g = x, n = d.Neurons;
        if (g >= n) return;
        long s = ((long)b * d.Snapshots + segmentStart / d.Interval) * n + g;
        float v = w.SnapshotV[s], cur = w.SnapshotI[s];
        w.V[b * n + g] = v;
        w.I[b * n + g] = cur;
        long t = (long)b * (d.Interval + 1) * n + g;
        w.SegmentV[t] = v;
        w.SegmentI[t] = cur;
    }

    /// <summary>
    /// Appends the step's threshold crossings of trial X to its spike list in neuron order (one thread per trial, so the
    /// order is fixed), counts them, and enforces the per-population caps. Spikes beyond the trial's slots are counted
    /// but not stored; the host then grows the slots and reruns the forward pass, so no spike is ever dropped.
    /// </summary>
    public static void Compact(Index1D index, KernelViews w, KernelDims d, int step)
    {
        int b = index.X, n = d.Neurons;
        if (b >= d.Trials) return;
        int count = w.SpikeTotal[b];
        if (step < d.Steps)
        {
            for (int g = 0; g < n; g++)
            {
                if (w.Crossed[b * n + g] == 0) continue;
                if (count < d.Capacity)
                {
                    w.SpikeNeuron[b * d.Capacity + count] = g;
                    w.SpikeSlope[b * d.Capacity + count] = w.CrossSlope[b * n + g];
                }
                count++;
                w.SpikeCounts[b * n + g] += 1;
                int s = w.SpikingPopulation[g];
                int c = w.PopulationCounts[b * d.Populations + s] + 1;
                w.PopulationCounts[b * d.Populations + s] = c;
                if (c > w.PopulationCap[s] && w.CapError[2 * b] == 0)
                {
                    w.CapError[2 * b] = s + 1;
                    w.CapError[2 * b + 1] = step;
                }
            }
        }
        w.SpikeTotal[b] = count;
        w.SpikeEnd[b * (d.Steps + 1) + step] = count;
    }

    /// <summary>
    /// Grid point <paramref name="step"/> of the backward pass, post neuron X: the loss impulses, then dL/dW −= τs·λI for
    /// the input spikes and the spikes of this step (rows of the trial's gradient) on the dense and sparse connections. A
    /// convolution's kernels are shared by many postsynaptic neurons, so their gradient is a phase of its own, one thread
    /// per kernel weight (<see cref="ConvolutionGradient"/>), after this one.
    /// </summary>
    public static void Events(Index2D index, KernelViews w, KernelDims d, int step, int segmentStart) =>
        EventsAt(w, d, index.Y, index.X, step, segmentStart);

    /// <summary>The body of <see cref="Events"/> for trial <paramref name="b"/>, thread <paramref name="x"/>.</summary>
    internal static void EventsAt(KernelViews w, KernelDims d, int b, int x, int step, int segmentStart)
    {
        int g = x, n = d.Neurons;
        if (g >= n) return;
        int cell = b * n + g;
        float lv = w.LambdaV[cell], li = w.LambdaI[cell];
        int j = g - d.ReadoutOffset;
        if (j >= 0 && j < d.Readout)
        {
            long q = ((long)b * (d.Steps + 1) + step) * d.Readout + j;
            lv += w.ImpulseV[q];
            li += w.ImpulseI[q];
            w.LambdaV[cell] = lv;
            w.LambdaI[cell] = li;
        }
        float weighted = w.TauSyn[g] * li;
        long trialBase = b * d.WeightCount;
        if (step < d.Steps)
        {
            int inFrom = w.InputStart[b * (d.Steps + 1) + step], inTo = w.InputStart[b * (d.Steps + 1) + step + 1];
            for (int q = inFrom; q < inTo; q++)
            {
                int channel = w.InputChannel[q];
                for (int c = 0; c < d.Connections; c++)
                {
                    var con = w.Connection[c];
                    if (con.FromInput == 0 || con.IsConvolution != 0) continue;
                    long e = con.IndexOf(channel, g, w.SparseRowStarts, w.SparseTargets);
                    if (e >= 0) w.TrialGradient[trialBase + e] -= weighted;
                }
            }
        }
        if (step > 0)
        {
            int stride = d.Steps + 1;
            int from = w.SpikeEnd[b * stride + step - 1], to = w.SpikeEnd[b * stride + step];
            for (int p = from; p < to; p++)
            {
                int pre = w.SpikeNeuron[b * d.Capacity + p];
                for (int c = 0; c < d.Connections; c++)
                {
                    var con = w.Connection[c];
                    if (con.FromInput != 0 || con.IsConvolution != 0) continue;
                    long e = con.IndexOf(pre, g, w.SparseRowStarts, w.SparseTargets);
                    if (e >= 0) w.TrialGradient[trialBase + e] -= weighted;
                }
            }
        }
    }

    /// <summary>
    /// The Eventprop jump of spike X of grid point <paramref name="step"/>: [ϑλV + Σ_post W(λV − λI) + ∂L/∂t]/(I − ϑ), minus the
    /// regulariser's jump for hidden neurons, written to the jump buffer (applied after all of the step's jumps are known).
    /// </summary>
    public static void Transport(Index2D index, KernelViews w, KernelDims d, int step, int segmentStart) =>
        TransportAt(w, d, index.Y, index.X, step, segmentStart);

    /// <summary>The body of <see cref="Transport"/> for trial <paramref name="b"/>, thread <paramref name="x"/>.</summary>
    internal static void TransportAt(KernelViews w, KernelDims d, int b, int x, int step, int segmentStart)
    {
        int n = d.Neurons;
        int stride = d.Steps + 1;
        int p = w.SpikeEnd[b * stride + step - 1] + x;
        if (p >= w.SpikeEnd[b * stride + step]) return;
        int slot = b * d.Capacity + p;
        int pre = w.SpikeNeuron[slot];
        float transport = 0;
        for (int c = 0; c < d.Connections; c++)
        {
            var con = w.Connection[c];
            int i = pre - con.PreOffset;
            if (con.FromInput != 0 || i < 0 || i >= con.PreSize) continue;
            if (con.IsConvolution != 0)
            {
                transport += ConvolutionTransport(con, w, b, n, i);
                continue;
            }
            con.Row(i, w.SparseRowStarts, out long from, out long to);
            for (long e = from; e < to; e++)
            {
                int post = con.PostOffset + con.Target(e, from, w.SparseTargets);
                transport += w.Weights[e] * (w.LambdaV[b * n + post] - w.LambdaI[b * n + post]);
            }
        }
        int j = pre - d.ReadoutOffset;
        float regularization = j < 0 || j >= d.Readout ? w.RegularizationJump[pre] : 0f;
        w.Jump[b * n + pre] = NeuronStepFunctions.Jump(w.Models[w.SpikingPopulation[pre]], w.LambdaV[b * n + pre], transport,
            w.SpikeTimeTerm[slot], w.SpikeSlope[slot], regularization);
    }

    /// <summary>
    /// Applies grid point <paramref name="step"/>'s jumps to neuron X, then (step &gt; 0) steps its adjoint back over
    /// [t_{step−1}, t_step] with the free propagator, accumulates the step's closed-form τ integrals from the recorded
    /// start state (replayed into the segment buffer that starts at grid point <paramref name="segmentStart"/>), and adds the
    /// loss drive of that step.
    /// </summary>
    public static void StepBack(Index2D index, KernelViews w, KernelDims d, int step, int segmentStart) =>
        StepBackAt(w, d, index.Y, index.X, step, segmentStart);

    /// <summary>The body of <see cref="StepBack"/> for trial <paramref name="b"/>, thread <paramref name="x"/>.</summary>
    internal static void StepBackAt(KernelViews w, KernelDims d, int b, int x, int step, int segmentStart)
    {
        int g = x, n = d.Neurons;
        if (g >= n) return;
        int cell = b * n + g;
        float l = w.LambdaV[cell] + w.Jump[cell];
        float lI = w.LambdaI[cell];
        w.Jump[cell] = 0;
        if (step > 0)
        {
            if (d.Tau != 0)
            {
                long s = ((long)b * (d.Interval + 1) + step - 1 - segmentStart) * n + g;
                NeuronStepFunctions.TauGradientTerms<float, FloatLane>(l, lI, w.SegmentV[s], w.SegmentI[s], w.GradPsi[g], w.GradMemPsi3[g],
                    w.GradDtDecayMem[g], w.GradDtDecaySyn[g], w.GradSynPsi3[g], out float mem, out float syn);
                w.TauMemSum[cell] += mem;
                w.TauSynSum[cell] += syn;
            }
            NeuronStepFunctions.StepAdjoint<float, FloatLane>(ref l, ref lI, w.DecayMem[g], w.DecaySyn[g], w.AdjointVoltageToCurrent[g]);
            int j = g - d.ReadoutOffset;
            if (j >= 0 && j < d.Readout)
            {
                long q = ((long)b * d.Steps + step - 1) * d.Readout + j;
                l += w.DriveV[q];
                lI += w.DriveI[q];
            }
        }
        w.LambdaV[cell] = l;
        w.LambdaI[cell] = lI;
    }

    /// <summary>Most threads per group of the persistent kernels.</summary>
    public const int MaxGroupSize = 256;

    /// <summary>The contiguous block [lo, hi) of neurons that thread <paramref name="tid"/> of <paramref name="groupSize"/> owns.</summary>
    private static void Block(int n, int tid, int groupSize, out int lo, out int hi)
    {
        int chunk = (n + groupSize - 1) / groupSize;
        lo = tid * chunk;
        hi = lo + chunk;
        if (lo > n) lo = n;
        if (hi > n) hi = n;
    }

    /// <summary>
    /// The whole forward pass of trial <c>Grid.IdxX</c> in one launch (one group per trial): per grid point the same phases as
    /// the per-step kernels, separated by group barriers instead of kernel launches. Each thread owns a contiguous block of
    /// neurons; the step's crossings are appended in neuron order through an exclusive scan of the threads' counts, so the
    /// spike lists are identical to <see cref="Compact"/>'s. Three group-wide synchronisations per grid point (scan, sum, barrier).
    /// </summary>
    public static void ForwardTrials(KernelViews w, KernelDims d)
    {
        int b = Grid.IdxX, tid = Group.IdxX, groupSize = Group.DimX, n = d.Neurons, stride = d.Steps + 1;
        Block(n, tid, groupSize, out int lo, out int hi);
        for (int g = lo; g < hi; g++) DeliverAt(w, d, b, g, 0, -1);
        for (int kk = 1; kk <= d.Steps; kk++)
        {
            int count = 0;
            for (int g = lo; g < hi; g++)
            {
                StepAndDetectAt(w, d, b, g, kk, -1);
                count += w.Crossed[b * n + g];
            }
            // Integer scan and sum of the threads' crossing counts: exact, so the order of the spikes is the neurons' order.
            int before = w.SpikeTotal[b];
            int p = before + GroupExtensions.ExclusiveScan<int, AddInt32>(count);
            int after = before + GroupExtensions.AllReduce<int, AddInt32>(count);
            if (tid == 0)
            {
                w.SpikeTotal[b] = after;
                w.SpikeEnd[b * stride + kk] = after;
            }
            for (int g = lo; g < hi; g++)
            {
                if (w.Crossed[b * n + g] == 0) continue;
                if (p < d.Capacity)
                {
                    w.SpikeNeuron[b * d.Capacity + p] = g;
                    w.SpikeSlope[b * d.Capacity + p] = w.CrossSlope[b * n + g];
                }
                p++;
                w.SpikeCounts[b * n + g] += 1;
                Atomic.Add(ref w.PopulationCounts[b * d.Populations + w.SpikingPopulation[g]], 1);
            }
            Group.Barrier();
            if (tid == 0 && w.CapError[2 * b] == 0)
            {
                for (int s = 0; s < d.Populations; s++)
                    if (w.PopulationCounts[b * d.Populations + s] > w.PopulationCap[s])
                    {
                        w.CapError[2 * b] = s + 1;
                        w.CapError[2 * b + 1] = kk;
                        break;
                    }
            }
            for (int g = lo; g < hi; g++) DeliverAt(w, d, b, g, kk, -1);
        }
    }

    /// <summary>
    /// The whole backward pass of trial <c>Grid.IdxX</c> in one launch (one group per trial): per segment the replay (with τ
    /// gradients), then per grid point the impulses and gradient rows, the jumps of the step's spikes together with the
    /// convolutions' kernel gradients, and the step back, separated by group barriers. Same arithmetic as the per-step kernels.
    /// </summary>
    public static void BackwardTrials(KernelViews w, KernelDims d)
    {
        int b = Grid.IdxX, tid = Group.IdxX, groupSize = Group.DimX, n = d.Neurons, stride = d.Steps + 1, interval = d.Interval;
        Block(n, tid, groupSize, out int lo, out int hi);
        for (int seg = d.Snapshots - 1; seg >= 0; seg--)
        {
            int a = seg * interval, end = a + interval;
            if (end > d.Steps) end = d.Steps;
            if (d.Tau != 0)
            {
                for (int g = lo; g < hi; g++) RestoreAt(w, d, b, g, a, a);
                for (int kk = a + 1; kk <= end; kk++)
                {
                    for (int g = lo; g < hi; g++) StepAndDetectAt(w, d, b, g, kk, a);
                    Group.Barrier();
                    int spikes = w.SpikeEnd[b * stride + kk] - w.SpikeEnd[b * stride + kk - 1];
                    for (int x = tid; x < spikes; x += groupSize) ResetSpikesAt(w, d, b, x, kk, a);
                    Group.Barrier();
                    for (int g = lo; g < hi; g++) DeliverAt(w, d, b, g, kk, a);
                }
            }
            for (int k = end; k > a; k--)
            {
                for (int g = lo; g < hi; g++) EventsAt(w, d, b, g, k, a);
                Group.Barrier();
                int spikes = w.SpikeEnd[b * stride + k] - w.SpikeEnd[b * stride + k - 1];
                for (int x = tid; x < spikes; x += groupSize) TransportAt(w, d, b, x, k, a);
                for (int x = tid; x < d.ConvolutionWeights; x += groupSize) ConvolutionGradientAt(w, d, b, x, k);
                Group.Barrier();
                for (int g = lo; g < hi; g++) StepBackAt(w, d, b, g, k, a);
            }
        }
        for (int g = lo; g < hi; g++) EventsAt(w, d, b, g, 0, 0);
        Group.Barrier();
        for (int x = tid; x < d.ConvolutionWeights; x += groupSize) ConvolutionGradientAt(w, d, b, x, 0);
        Group.Barrier();
        for (int g = lo; g < hi; g++) StepBackAt(w, d, b, g, 0, 0);
    }

    /// <summary>Sums the trials' gradients in trial order (fixed, so the result is reproducible): element X.</summary>
    public static void Reduce(Index1D index, KernelViews w, KernelDims d)
    {
        long e = index.X, size = d.WeightCount;
        if (e >= size) return;
        float sum = 0;
        for (int b = 0; b < d.Trials; b++) sum += w.TrialGradient[b * size + e];
        w.Gradient[e] = sum;
    }
}
