using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// The batched time-stepped Eventprop engine (CPU, float32): the GeNN scheme of the paper's implementation, made exact
/// per step, multi-threaded over the trials of a minibatch and vectorised over neurons.
/// </summary>
/// <remarks>
/// <para><b>Forward.</b> Time runs on the grid t_k = k·dt, k = 0…N (T = N·dt). Each step advances every neuron with the
/// exact propagator of τm V̇ = −V + I, τs İ = −I (limit form when τm = τs), checks the threshold (V ≥ 1) at t_{k+1},
/// records each spike with its step and τm·V̇ = I − ϑ at the crossing inside the step (from the step's exact trajectory; see the constructor's slopeAtGridPoint), resets V to 0 and then delivers the step's spikes
/// (hidden spikes, then input spikes) into I. Input spikes are binned to the nearest grid point (round(t/dt)); those
/// that land on T or later have no effect. Spikes at t = T are not recorded (the trial covers [0, T)). Spike
/// propagation is sparse: each spike adds one weight row, so the cost follows the spikes, not neurons² × steps.</para>
/// <para><b>Backward.</b> λV, λI step backwards from λ = 0 at T with the free adjoint propagators of each step; at every
/// recorded spike the Eventprop jump λV,n += [ϑλV,n + Σ_post W(λV − λI)_post + ∂L/∂t]/(I − V) (all spikes of a step use
/// the adjoints from after the step), then the <see cref="ActivityRegularization"/> jump; at every presynaptic spike
/// dL/dW[pre, post] −= τs,post·λI,post. Loss drives are applied exactly per step (see <c>ReadoutDrive</c>);
/// impulses and adjoint jumps (a jump Δ is the impulse −τm·Δ) at their times, and spike-time terms at the readout's spikes.
/// An impulse on a grid point where hidden spikes reach its neuron (the <c>max</c> loss at a corner of V) moves with the
/// spike that makes the corner, as in the exact engine. The τ
/// gradients ∫λV V̇ dt and ∫λI İ dt are integrated in closed form over each step, given the step's start state; that
/// state is recomputed segment by segment from snapshots taken during the forward pass, so memory grows with the number
/// of spikes (and √steps), never with steps × neurons.</para>
/// <para><b>Threads and determinism.</b> Trials run in parallel. The batch is split into <see cref="Threads"/> (at most
/// the batch size) contiguous partitions; each partition accumulates its trials in order into its own gradient buffer,
/// and the buffers are summed in partition order. The result is bit-identical from run to run for a given thread
/// count (and machine).</para>
/// <para>Losses are evaluated on the worker threads, one trial at a time; they must be thread-safe (the built-in ones
/// are stateless). The <see cref="ReadoutTrace"/> a loss sees is valid only during its <c>Evaluate</c> call.
/// One engine instance runs one batch at a time (concurrent calls wait for each other).</para>
/// </remarks>
public sealed class SteppedEngine : IGradientEngine
{
    private const float Theta = (float)Network.Threshold;

    private readonly Lock _sync = new();
    private SteppedPlan? _plan;
    private readonly Stack<SteppedWorkspace> _workspaces = new();
    private readonly List<SteppedTrial> _trials = [];
    private readonly List<GradientBuffer> _buffers = [];

    /// <summary>Creates an engine with step <paramref name="dt"/> for trials of <paramref name="duration"/> ms.</summary>
    /// <param name="dt">Time step in ms (finite, &gt; 0, ≤ duration, and duration/dt a whole number).</param>
    /// <param name="duration">Trial length T in ms (finite, &gt; 0).</param>
    /// <param name="threads">Worker threads and gradient partitions (default: the processor count). Results are bit-identical for a given value.</param>
    /// <param name="maxSpikesPerNeuron">Optional safety cap: a population that fires more than this many spikes per neuron in one trial
    /// stops the run with a <see cref="SpikeBufferLimitException"/> naming the population and trial. Null (default): no cap;
    /// spike buffers grow as needed and never drop a spike.</param>
    /// <param name="timeConstantGradients">Whether to compute dL/dτm and dL/dτs (default true). Without them the backward pass
    /// skips the state recomputation, which saves roughly a third of the time; the τ entries of the gradient are then 0.</param>
    /// <param name="minimumThresholdSlope">Lower bound on the recorded I − V (τm·V̇ at a spike) used as the jump's divisor
    /// (default 1e-3). On a grid, a spike can be detected after V has passed its maximum, where I − V is tiny or negative;
    /// the bound keeps such spikes from producing huge or sign-flipped jumps. It has no effect on non-grazing spikes.</param>
    /// <param name="slopeAtGridPoint">Record I − V at the grid point where the spike is detected (as the GeNN implementation does)
    /// instead of τm·V̇ = I − ϑ at the crossing inside the step (default false). At dt = 1 ms in the fluctuation-driven regime
    /// the grid-point value is often tiny or negative and the backward pass explodes; the in-step crossing does not.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the message says which and why.</exception>
    public SteppedEngine(double dt, double duration, int? threads = null, int? maxSpikesPerNeuron = null,
        bool timeConstantGradients = true, double minimumThresholdSlope = 1e-3, bool slopeAtGridPoint = false)
    {
        double steps = TimeGrid.Steps(dt, duration);
        if (steps > int.MaxValue - 1)
            throw new ArgumentOutOfRangeException(nameof(dt), dt, $"T/dt = {steps} steps is too many; choose a larger dt.");
        if (threads is <= 0)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "The thread count must be ≥ 1 (or null for the processor count).");
        if (maxSpikesPerNeuron is <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxSpikesPerNeuron), maxSpikesPerNeuron, "The spike cap must be ≥ 1 (or null for none).");
        if (!double.IsFinite(minimumThresholdSlope) || minimumThresholdSlope <= 0)
            throw new ArgumentOutOfRangeException(nameof(minimumThresholdSlope), minimumThresholdSlope, "The minimum threshold slope must be finite and > 0.");
        Dt = dt;
        Duration = duration;
        Steps = (int)steps;
        Threads = threads ?? Environment.ProcessorCount;
        MaxSpikesPerNeuron = maxSpikesPerNeuron;
        TimeConstantGradients = timeConstantGradients;
        MinimumThresholdSlope = minimumThresholdSlope;
        SlopeAtGridPoint = slopeAtGridPoint;
    }

    /// <summary>Whether spikes record I − V at the grid point instead of I − ϑ at the in-step crossing.</summary>
    public bool SlopeAtGridPoint { get; }

    /// <summary>Time step (ms).</summary>
    public double Dt { get; }

    /// <summary>Trial length T (ms).</summary>
    public double Duration { get; }

    /// <summary>Number of steps N = T/dt.</summary>
    public int Steps { get; }

    /// <summary>Worker threads and gradient partitions.</summary>
    public int Threads { get; }

    /// <summary>The optional per-neuron spike cap per trial (null: none).</summary>
    public int? MaxSpikesPerNeuron { get; }

    /// <summary>Whether dL/dτ is computed.</summary>
    public bool TimeConstantGradients { get; }

    /// <summary>Lower bound on the recorded I − V used as the jump divisor.</summary>
    public double MinimumThresholdSlope { get; }

    /// <summary>
    /// Bytes per trial that the last <see cref="Gradient"/> call recorded for its backward pass, averaged over the batch:
    /// the spikes (step, neuron and threshold slope, 12 bytes each) and the state snapshots (V and I of every neuron every
    /// snapshot interval, with the replay pointers). For comparison with BPTT, which stores every step.
    /// </summary>
    public double StoredStateBytesPerTrial { get; private set; }

    /// <inheritdoc />
    public EvaluationResult Evaluate(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        lock (_sync)
        {
            var (plan, labels) = Prepare(network, batch, loss);
            var trials = RentTrials(batch.Count);
            RunForward(plan, batch, labels, loss, trials, snapshotInterval: 0);
            var counts = HiddenSpikeCounts(plan, trials, batch.Count);
            return new EvaluationResult(MeanLoss(trials, batch.Count), Predictions(trials, batch.Count), labels, counts);
        }
    }

    /// <inheritdoc />
    public GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization = null)
    {
        regularization?.Validate();
        lock (_sync)
        {
            var (plan, labels) = Prepare(network, batch, loss);
            int count = batch.Count;
            int partitions = Math.Min(Threads, count);
            int interval = SnapshotInterval(count, partitions);
            var trials = RentTrials(count);
            RunForward(plan, batch, labels, loss, trials, interval);
            var counts = HiddenSpikeCounts(plan, trials, count);
            long stored = 0;
            for (int b = 0; b < count; b++)
            {
                var t = trials[b];
                foreach (var list in t.Spikes) stored += 12L * list.Count;
                stored += (long)t.SnapshotCount * (8L * plan.NeuronCount + 4 + 4L * plan.Spiking.Length);
            }
            StoredStateBytesPerTrial = (double)stored / count;

            var regJump = new float[plan.NeuronCount];
            if (regularization is { Strength: > 0 })
            {
                double tauReadout = network.TauMem(network.Readout.Name).Values.Average();
                foreach (var pop in plan.Populations.Where(p => !p.IsReadout))
                {
                    var c = counts[pop.Population.Name];
                    for (int i = 0; i < pop.Size; i++)
                        regJump[pop.Offset + i] = (float)(tauReadout * regularization.Strength * (c[i] / (double)count - regularization.TargetSpikes) / count);
                }
            }

            while (_buffers.Count < partitions) _buffers.Add(new GradientBuffer());
            var scale = 1.0 / count;
            Run(partitions, part =>
            {
                var buffer = _buffers[part];
                buffer.Reset(plan);
                var ws = RentWorkspace(plan);
                var drive = new ReadoutDrive();
                try
                {
                    int from = part * count / partitions, to = (part + 1) * count / partitions;
                    for (int b = from; b < to; b++)
                    {
                        drive.Prepare(trials[b].Evaluation.Drive.Scaled(scale), plan, trials[b].ImpulseSlopes);
                        Backward(plan, trials[b], ws, drive, buffer, regJump);
                    }
                }
                finally
                {
                    ReturnWorkspace(ws);
                }
            });

            var gradient = network.Parameters.ZerosLike();
            Reduce(plan, gradient, partitions);
            return new GradientResult(MeanLoss(trials, count), Predictions(trials, count), labels, counts, gradient);
        }
    }

    /// <summary>Runs the forward pass of one trial and returns its spikes and readout trajectory (for inspection and tests).</summary>
    public SteppedSimulation Simulate(Network network, SpikeSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        lock (_sync)
        {
            var plan = PreparePlan(network);
            CheckChannels(plan, sample, 0);
            var trial = new SteppedTrial();
            var ws = RentWorkspace(plan);
            try
            {
                trial.Reset(plan, sample, sample.Label, 0);
                Forward(plan, trial, ws, 0);
                return new SteppedSimulation(plan, trial, ws);
            }
            finally
            {
                ReturnWorkspace(ws);
            }
        }
    }

    // ------------------------------------------------------------------ orchestration

    private (SteppedPlan Plan, int[] Labels) Prepare(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(loss);
        if (batch.Count == 0) throw new ArgumentException("The batch is empty; pass at least one sample.", nameof(batch));
        var plan = PreparePlan(network);
        bool spiking = network.Readout.IsSpiking;
        if (loss.Readout == ReadoutKind.Spiking && !spiking)
            throw new ArgumentException($"Loss '{loss.Name}' needs a spiking readout but '{network.Readout.Name}' is a leaky integrator; build it with Readout(..., spiking: true).");
        if (loss.Readout == ReadoutKind.LeakyIntegrator && spiking)
            throw new ArgumentException($"Loss '{loss.Name}' reads readout voltages but '{network.Readout.Name}' is spiking; build it with Readout(..., spiking: false).");
        var labels = new int[batch.Count];
        for (int b = 0; b < batch.Count; b++)
        {
            var s = batch[b] ?? throw new ArgumentException($"Sample {b} of the batch is null.", nameof(batch));
            if (s.Label < 0 || s.Label >= network.Readout.Size)
                throw new ArgumentException($"Sample {b} of the batch has label {s.Label}, which is not a class of readout '{network.Readout.Name}' (0…{network.Readout.Size - 1}).", nameof(batch));
            CheckChannels(plan, s, b);
            labels[b] = s.Label;
        }
        return (plan, labels);
    }

    private static void CheckChannels(SteppedPlan plan, SpikeSample s, int index)
    {
        if (s.MaxChannel >= plan.InputSize)
            throw new ArgumentException($"Sample {index} of the batch uses input channel {s.MaxChannel} but input '{plan.Network.Input.Name}' has {plan.InputSize} channels (0…{plan.InputSize - 1}); the data and the network's input size do not match.");
    }

    private SteppedPlan PreparePlan(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        network.Validate();
        if (_plan is null || !_plan.Fits(network, Dt, Steps))
        {
            _plan = new SteppedPlan(network, Dt, Steps);
            _workspaces.Clear();
        }
        _plan.Refresh(network);
        return _plan;
    }

    /// <summary>Longest replay segment (steps): keeps the per-thread segment buffer in cache next to the weight rows.</summary>
    private const int SegmentLimit = 256;

    private int SnapshotInterval(int trials, int partitions)
    {
        // Snapshots (N/K per trial) and segment buffers (K per thread) balance at K = √(N·B/P).
        double k = Math.Sqrt((double)Steps * trials / partitions);
        return (int)Math.Clamp(Math.Ceiling(k), Math.Min(16, Steps), Math.Min(SegmentLimit, Steps));
    }

    private SteppedTrial[] RentTrials(int count)
    {
        while (_trials.Count < count) _trials.Add(new SteppedTrial());
        return _trials.GetRange(0, count).ToArray();
    }

    private SteppedWorkspace RentWorkspace(SteppedPlan plan)
    {
        lock (_workspaces)
            if (_workspaces.Count > 0) return _workspaces.Pop();
        return new SteppedWorkspace(plan);
    }

    private void ReturnWorkspace(SteppedWorkspace ws)
    {
        lock (_workspaces) _workspaces.Push(ws);
    }

    private void Run(int count, Action<int> body)
    {
        if (count == 1 || Threads == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Threads }, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    private void RunForward(SteppedPlan plan, IReadOnlyList<SpikeSample> batch, int[] labels, ILoss loss, SteppedTrial[] trials, int snapshotInterval)
    {
        Run(batch.Count, b =>
        {
            var ws = RentWorkspace(plan);
            try
            {
                var trial = trials[b];
                trial.Reset(plan, batch[b], labels[b], snapshotInterval);
                Forward(plan, trial, ws, b);
                var trace = new SteppedReadoutTrace(ws.TraceV, ws.TraceI, ReadoutRates(plan, true), ReadoutRates(plan, false), Dt, Steps,
                    ReadoutSpikeTimes(plan, trial));
                trial.Evaluation = loss.Evaluate(trace, labels[b]);
                trial.ImpulseSlopes = ReadoutDrive.ImpulseSlopes(trial.Evaluation.Drive, trace, plan);
                if (trial.Evaluation.Outputs.Length != plan.ReadoutSize || !double.IsFinite(trial.Evaluation.Value))
                    CheckEvaluation(loss, trial.Evaluation, plan, b);
            }
            finally
            {
                ReturnWorkspace(ws);
            }
        });
    }

    private static void CheckEvaluation(ILoss loss, LossEvaluation e, SteppedPlan plan, int b)
    {
        if (!double.IsFinite(e.Value))
            throw new InvalidOperationException($"Loss '{loss.Name}' is {e.Value} on sample {b} of the batch; the readout voltages have probably diverged (lower the learning rate or check the weights).");
        throw new InvalidOperationException($"Loss '{loss.Name}' returned {e.Outputs.Length} outputs but the readout has {plan.ReadoutSize} neurons.");
    }

    internal static double[] ReadoutRates(SteppedPlan plan, bool membrane)
    {
        var r = new double[plan.ReadoutSize];
        Array.Copy(membrane ? plan.RateMem : plan.RateSyn, plan.ReadoutOffset, r, 0, r.Length);
        return r;
    }

    internal static double[][] ReadoutSpikeTimes(SteppedPlan plan, SteppedTrial trial)
    {
        var result = new double[plan.ReadoutSize][];
        int s = plan.Network.Readout.IsSpiking ? plan.SpikingIndex[plan.Network.Readout.Index] : -1;
        if (s < 0)
        {
            Array.Fill(result, []);
            return result;
        }
        var counts = trial.SpikeCounts[s];
        for (int j = 0; j < result.Length; j++) result[j] = new double[counts[j]];
        var fill = new int[result.Length];
        var list = trial.Spikes[s];
        for (int i = 0; i < list.Count; i++)
        {
            int j = list.Neurons[i];
            result[j][fill[j]++] = list.Steps[i] * plan.Dt;
        }
        return result;
    }

    private static Dictionary<string, long[]> HiddenSpikeCounts(SteppedPlan plan, SteppedTrial[] trials, int count)
    {
        var result = new Dictionary<string, long[]>();
        foreach (var pop in plan.Network.Hidden)
        {
            var c = new long[pop.Size];
            int s = plan.SpikingIndex[pop.Index];
            for (int b = 0; b < count; b++)
            {
                var k = trials[b].SpikeCounts[s];
                for (int i = 0; i < c.Length; i++) c[i] += k[i];
            }
            result[pop.Name] = c;
        }
        return result;
    }

    private static double MeanLoss(SteppedTrial[] trials, int count)
    {
        double sum = 0;
        for (int b = 0; b < count; b++) sum += trials[b].Evaluation.Value;
        return sum / count;
    }

    private static int[] Predictions(SteppedTrial[] trials, int count)
    {
        var p = new int[count];
        for (int b = 0; b < count; b++) p[b] = trials[b].Evaluation.Prediction;
        return p;
    }

    private void Reduce(SteppedPlan plan, ParameterSet gradient, int partitions)
    {
        foreach (int param in plan.WeightParameters)
        {
            var dst = gradient[param].Values;
            Run(Math.Min(Threads, Math.Max(1, dst.Length / 65536)), chunk =>
            {
                int chunks = Math.Min(Threads, Math.Max(1, dst.Length / 65536));
                int from = (int)((long)chunk * dst.Length / chunks), to = (int)((long)(chunk + 1) * dst.Length / chunks);
                for (int p = 0; p < partitions; p++)
                {
                    var src = _buffers[p].Weights[param]!;
                    for (int i = from; i < to; i++) dst[i] += src[i];
                }
            });
        }
        foreach (var pop in plan.Populations)
        {
            var tm = gradient[pop.TauMemParameter].Values;
            var ts = gradient[pop.TauSynParameter].Values;
            for (int p = 0; p < partitions; p++)
            {
                var b = _buffers[p];
                for (int i = 0; i < pop.Size; i++)
                {
                    tm[i] += b.TauMem[pop.Offset + i];
                    ts[i] += b.TauSyn[pop.Offset + i];
                }
            }
        }
    }

    // ------------------------------------------------------------------ forward

    private int StepOf(double time)
    {
        double x = Math.Floor(time / Dt + 0.5);
        return x >= Steps ? Steps : (int)x;
    }

    /// <summary>Number of leading input spikes that land on a grid point before T (the others have no effect).</summary>
    private int EffectiveInputCount(ReadOnlySpan<double> times)
    {
        int lo = 0, hi = times.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (StepOf(times[mid]) < Steps) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private int DeliverInputs(SteppedPlan plan, float[] cur, ReadOnlySpan<double> times, ReadOnlySpan<int> channels, int ptr, int count, int step)
    {
        var outs = plan.InputOutgoings;
        while (ptr < count && StepOf(times[ptr]) == step)
        {
            int ch = channels[ptr];
            foreach (var o in outs)
                VectorMath.Add(cur.AsSpan(o.PostOffset, o.PostSize), o.Weights.AsSpan(ch * o.PostSize, o.PostSize));
            ptr++;
        }
        return ptr;
    }

    private static void DeliverSpikes(SteppedPlan plan, float[] cur, SpikeList list, int from, int to, SteppedPlan.Outgoing[] outs)
    {
        for (int i = from; i < to; i++)
        {
            int n = list.Neurons[i];
            foreach (var o in outs)
                VectorMath.Add(cur.AsSpan(o.PostOffset, o.PostSize), o.Weights.AsSpan(n * o.PostSize, o.PostSize));
        }
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

    private void Forward(SteppedPlan plan, SteppedTrial trial, SteppedWorkspace ws, int trialIndex)
    {
        int N = Steps;
        var v = ws.V;
        var cur = ws.I;
        Array.Clear(v);
        Array.Clear(cur);
        var times = trial.Sample.Times;
        var channels = trial.Sample.Channels;
        int inCount = EffectiveInputCount(times);
        trial.InputCount = inCount;
        int interval = trial.SnapshotInterval;
        var spiking = plan.Spiking;
        Span<int> stepStart = spiking.Length <= 64 ? stackalloc int[spiking.Length] : new int[spiking.Length];
        float minSlope = (float)MinimumThresholdSlope;
        long[] caps = spiking.Select(p => MaxSpikesPerNeuron is int m ? (long)m * p.Size : long.MaxValue).ToArray();

        int inPtr = DeliverInputs(plan, cur, times, channels, 0, inCount, 0);
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
                    int c = VectorMath.FindCrossings(v.AsSpan(pop.Offset, pop.Size), Theta, ws.Crossings);
                    if (c == 0) continue;
                    var counts = trial.SpikeCounts[s];
                    for (int j = 0; j < c; j++)
                    {
                        int i = ws.Crossings[j], g = pop.Offset + i;
                        float slope = SlopeAtGridPoint ? cur[g] - v[g] : (float)SlopeAtCrossing(plan, g, v[g], cur[g]);
                        if (!(slope >= minSlope)) slope = minSlope;
                        list.Add(kk, i, slope);
                        v[g] = (float)Network.Reset;
                        counts[i]++;
                    }
                    if (list.Count > caps[s])
                        throw new SpikeBufferLimitException(pop.Population.Name, trialIndex, MaxSpikesPerNeuron!.Value, kk * Dt);
                }
                for (int s = 0; s < spiking.Length; s++)
                {
                    var list = trial.Spikes[s];
                    if (list.Count > stepStart[s])
                        DeliverSpikes(plan, cur, list, stepStart[s], list.Count, plan.Outgoings[spiking[s].Population.Index]);
                }
                inPtr = DeliverInputs(plan, cur, times, channels, inPtr, inCount, kk);
            }
            RecordTrace(plan, ws, kk);
            if (interval > 0 && kk < N && kk % interval == 0) trial.AddSnapshot(plan, v, cur, inPtr);
        }
    }

    /// <summary>Recomputes the states (after each grid point's deliveries) at grid points a…b into the workspace's segment buffers.</summary>
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
                    start[s] = ptr[s];
                    while (ptr[s] < list.Count && list.Steps[ptr[s]] == kk)
                    {
                        v[off + list.Neurons[ptr[s]]] = (float)Network.Reset;
                        ptr[s]++;
                    }
                }
                for (int s = 0; s < spiking.Length; s++)
                    if (ptr[s] > start[s])
                        DeliverSpikes(plan, cur, trial.Spikes[s], start[s], ptr[s], plan.Outgoings[spiking[s].Population.Index]);
                inPtr = DeliverInputs(plan, cur, times, channels, inPtr, trial.InputCount, kk);
            }
            v.AsSpan().CopyTo(ws.SegmentV.AsSpan((kk - a) * n, n));
            cur.AsSpan().CopyTo(ws.SegmentI.AsSpan((kk - a) * n, n));
        }
    }

    /// <summary>
    /// τm·V̇ = I − ϑ at the threshold crossing inside the step that just ended. The step's start state is recovered from
    /// its end state (V_k, I_k) by inverting the one-step propagator; the crossing time is found on the cubic Hermite
    /// interpolant of V (values and exact slopes at both ends; error O(dt⁴)) by safeguarded Newton steps, and I there is exact.
    /// </summary>
    private double SlopeAtCrossing(SteppedPlan plan, int g, double vEnd, double iEnd)
    {
        double dt = Dt, m = plan.RateMem[g], r = plan.RateSyn[g];
        double i0 = iEnd / plan.DecaySynExact[g];
        double v0 = (vEnd - plan.CurrentToVoltageExact[g] * i0) / plan.DecayMemExact[g];
        const double theta = Network.Threshold;
        double d0 = dt * m * (i0 - v0), d1 = dt * m * (iEnd - vEnd); // dV/du at u = 0 and 1 (u = s/dt)
        double u = vEnd > v0 ? Math.Clamp((theta - v0) / (vEnd - v0), 0, 1) : 1;
        double lo = 0, hi = 1;
        for (int it = 0; it < 4; it++)
        {
            double u2 = u * u, u3 = u2 * u;
            double p = (2 * u3 - 3 * u2 + 1) * v0 + (u3 - 2 * u2 + u) * d0 + (3 * u2 - 2 * u3) * vEnd + (u3 - u2) * d1 - theta;
            if (p < 0) lo = u;
            else hi = u;
            double dp = (6 * u2 - 6 * u) * (v0 - vEnd) + (3 * u2 - 4 * u + 1) * d0 + (3 * u2 - 2 * u) * d1;
            double next = dp > 0 ? u - p / dp : 0.5 * (lo + hi);
            u = next > lo && next < hi ? next : 0.5 * (lo + hi);
        }
        return i0 * Math.Exp(-r * u * dt) - theta;
    }

    // ------------------------------------------------------------------ backward

    private void Backward(SteppedPlan plan, SteppedTrial trial, SteppedWorkspace ws, ReadoutDrive drive, GradientBuffer buffer, float[] regJump)
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
                StepAdjoint(plan, lv, li, v, cur, ws.TauMemPartial, ws.TauSynPartial, tau);
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

        if (tau)
        {
            for (int g = 0; g < n; g++)
            {
                buffer.TauMem[g] += ws.TauMemSum[g] * plan.RateMem[g];
                buffer.TauSyn[g] -= ws.TauSynSum[g] * plan.RateSyn[g];
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
                double m = plan.RateMem[g], r = plan.RateSyn[g], s = imp.Offset;
                double jump = -imp.DLossdV * m;
                double em = Math.Exp(-m * s), es = Math.Exp(-r * s);
                lv[g] += (float)(jump * em);
                li[g] += (float)(jump * r * ExpKernels.Psi2(s, m, r, em, es));
                if (imp.CornerSlope != 0)
                {
                    corner ??= new double[rs];
                    corner[imp.Neuron] += imp.DLossdV * imp.CornerSlope;
                    corners = true;
                }
            }
            if (corners) FindCornerSpikes(k);
            while (inPtr >= 0 && StepOf(sample.Times[inPtr]) == k)
            {
                int ch = sample.Channels[inPtr--];
                foreach (var o in plan.InputOutgoings)
                    VectorMath.Subtract(buffer.Weights[o.ParameterIndex]!.AsSpan(ch * o.PostSize, o.PostSize), Weighted(o, stamp));
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
                        VectorMath.Subtract(buffer.Weights[o.ParameterIndex]!.AsSpan(i * o.PostSize, o.PostSize), Weighted(o, stamp));
                        transport += VectorMath.Dot(o.Weights.AsSpan(i * o.PostSize, o.PostSize), Difference(o, stamp));
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
                    float delta = (float)((Theta * lv[g] + transport + dldt) / list.Slopes[p]);
                    if (!pop.IsReadout) delta -= regJump[g];
                    jumps.Add((g, delta));
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
                    {
                        int i = list.Neurons[p];
                        for (int j = 0; j < rs; j++)
                        {
                            if (corner![j] == 0) continue;
                            float w = o.Weights[i * o.PostSize + j];
                            if (w < cornerWeight[j])
                            {
                                cornerWeight[j] = w;
                                cornerSpike[j] = (long)s << 32 | (uint)p;
                            }
                        }
                    }
                }
            }
        }

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

    /// <summary>
    /// One free adjoint step backwards for every neuron: λV ← λV e_m, λI ← λI e_s + λV·(1/τs)Ψ; with <paramref name="tau"/>
    /// also the step's closed-form ∫λV(I − V) and ∫λI·I given the step's start state (v, cur).
    /// </summary>
    private static void StepAdjoint(SteppedPlan plan, float[] lambdaV, float[] lambdaI, ReadOnlySpan<float> v, ReadOnlySpan<float> cur,
        float[] tauMem, float[] tauSyn, bool tau)
    {
        int n = lambdaV.Length, i = 0;
        ref float lv = ref MemoryMarshal.GetArrayDataReference(lambdaV);
        ref float li = ref MemoryMarshal.GetArrayDataReference(lambdaI);
        ref float em = ref MemoryMarshal.GetArrayDataReference(plan.DecayMem);
        ref float es = ref MemoryMarshal.GetArrayDataReference(plan.DecaySyn);
        ref float vi = ref MemoryMarshal.GetArrayDataReference(plan.AdjointVoltageToCurrent);
        if (!tau)
        {
            if (Vector256.IsHardwareAccelerated)
                for (; i <= n - 8; i += 8)
                {
                    var l = Vector256.LoadUnsafe(ref lv, (nuint)i);
                    (Vector256.LoadUnsafe(ref li, (nuint)i) * Vector256.LoadUnsafe(ref es, (nuint)i) + l * Vector256.LoadUnsafe(ref vi, (nuint)i)).StoreUnsafe(ref li, (nuint)i);
                    (l * Vector256.LoadUnsafe(ref em, (nuint)i)).StoreUnsafe(ref lv, (nuint)i);
                }
            for (; i < n; i++)
            {
                float l = Unsafe.Add(ref lv, i);
                Unsafe.Add(ref li, i) = Unsafe.Add(ref li, i) * Unsafe.Add(ref es, i) + l * Unsafe.Add(ref vi, i);
                Unsafe.Add(ref lv, i) = l * Unsafe.Add(ref em, i);
            }
            return;
        }
        ref float pv = ref MemoryMarshal.GetReference(v);
        ref float pi = ref MemoryMarshal.GetReference(cur);
        ref float psi = ref MemoryMarshal.GetArrayDataReference(plan.GradPsi);
        ref float dtEm = ref MemoryMarshal.GetArrayDataReference(plan.GradDtDecayMem);
        ref float mP3 = ref MemoryMarshal.GetArrayDataReference(plan.GradMemPsi3);
        ref float dtEs = ref MemoryMarshal.GetArrayDataReference(plan.GradDtDecaySyn);
        ref float sP3 = ref MemoryMarshal.GetArrayDataReference(plan.GradSynPsi3);
        ref float gm = ref MemoryMarshal.GetArrayDataReference(tauMem);
        ref float gs = ref MemoryMarshal.GetArrayDataReference(tauSyn);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var l = Vector256.LoadUnsafe(ref lv, (nuint)i);
                var lI = Vector256.LoadUnsafe(ref li, (nuint)i);
                var x = Vector256.LoadUnsafe(ref pv, (nuint)i);
                var c = Vector256.LoadUnsafe(ref pi, (nuint)i);
                var a = c * (Vector256.LoadUnsafe(ref psi, (nuint)i) - Vector256.LoadUnsafe(ref mP3, (nuint)i)) - x * Vector256.LoadUnsafe(ref dtEm, (nuint)i);
                (Vector256.LoadUnsafe(ref gm, (nuint)i) + l * a).StoreUnsafe(ref gm, (nuint)i);
                (Vector256.LoadUnsafe(ref gs, (nuint)i) + c * (lI * Vector256.LoadUnsafe(ref dtEs, (nuint)i) + l * Vector256.LoadUnsafe(ref sP3, (nuint)i))).StoreUnsafe(ref gs, (nuint)i);
                (lI * Vector256.LoadUnsafe(ref es, (nuint)i) + l * Vector256.LoadUnsafe(ref vi, (nuint)i)).StoreUnsafe(ref li, (nuint)i);
                (l * Vector256.LoadUnsafe(ref em, (nuint)i)).StoreUnsafe(ref lv, (nuint)i);
            }
        for (; i < n; i++)
        {
            float l = Unsafe.Add(ref lv, i), lI = Unsafe.Add(ref li, i), x = Unsafe.Add(ref pv, i), c = Unsafe.Add(ref pi, i);
            float a = c * (Unsafe.Add(ref psi, i) - Unsafe.Add(ref mP3, i)) - x * Unsafe.Add(ref dtEm, i);
            Unsafe.Add(ref gm, i) += l * a;
            Unsafe.Add(ref gs, i) += c * (lI * Unsafe.Add(ref dtEs, i) + l * Unsafe.Add(ref sP3, i));
            Unsafe.Add(ref li, i) = lI * Unsafe.Add(ref es, i) + l * Unsafe.Add(ref vi, i);
            Unsafe.Add(ref lv, i) = l * Unsafe.Add(ref em, i);
        }
    }

    /// <summary>One partition's gradient accumulators: float per weight parameter, double per neuron for the τ's.</summary>
    private sealed class GradientBuffer
    {
        public float[]?[] Weights { get; private set; } = [];
        public double[] TauMem { get; private set; } = [];
        public double[] TauSyn { get; private set; } = [];

        public void Reset(SteppedPlan plan)
        {
            var parameters = plan.Network.Parameters;
            if (Weights.Length != parameters.Count) Weights = new float[parameters.Count][];
            foreach (int p in plan.WeightParameters)
            {
                int len = parameters[p].Length;
                if (Weights[p] is { } w && w.Length == len) Array.Clear(w);
                else Weights[p] = new float[len];
            }
            if (TauMem.Length != plan.NeuronCount)
            {
                TauMem = new double[plan.NeuronCount];
                TauSyn = new double[plan.NeuronCount];
            }
            else
            {
                Array.Clear(TauMem);
                Array.Clear(TauSyn);
            }
        }
    }
}

/// <summary>A population fired more spikes in one trial than the time-stepped engine's optional cap allows.</summary>
public sealed class SpikeBufferLimitException(string population, int trial, int maxSpikesPerNeuron, double time)
    : InvalidOperationException($"Population '{population}' exceeded the cap of {maxSpikesPerNeuron} spikes per neuron in trial {trial} of the batch (at t = {time:0.###} ms): runaway activity, e.g. strong positive recurrence. Lower the weights or raise maxSpikesPerNeuron (or pass null for no cap).")
{
    /// <summary>The population that exceeded the cap.</summary>
    public string Population { get; } = population;

    /// <summary>Index of the trial in its batch.</summary>
    public int Trial { get; } = trial;
}
