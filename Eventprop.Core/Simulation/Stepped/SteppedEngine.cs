using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Pipeline;
using Eventprop.Core.Simulation.Stepped.Backend;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// The batched time-stepped Eventprop engine (CPU, float32): the GeNN scheme of the paper's implementation, made exact
/// per step, multi-threaded over the trials of a minibatch and vectorised over neurons.
/// </summary>
/// <remarks>
/// <para><b>Forward.</b> Time runs on the grid t_k = k·dt, k = 0…N (T = N·dt). Each step advances every neuron with the
/// exact propagator of τm V̇ = −ℓV + I, τs İ = −I (ℓ = 1 for LIF, 0 for integrate-and-fire; limit form when τm = τs),
/// checks its population's threshold (V ≥ ϑ) at t_{k+1}, records each spike with its step and τm·V̇ = I − ℓϑ at the
/// crossing inside the step (from the step's exact trajectory; see the constructor's slopeAtGridPoint), resets V (to V_r,
/// or subtracting ϑ − V_r, which keeps the overshoot) and then delivers the step's spikes
/// (hidden spikes, then input spikes) into I. Input spikes are binned to the nearest grid point (round(t/dt)); those
/// that land on T or later have no effect. Spikes at t = T are not recorded (the trial covers [0, T)). Spike
/// propagation is sparse: each spike adds one weight row, so the cost follows the spikes, not neurons² × steps.</para>
/// <para><b>Backward.</b> λV, λI step backwards from λ = 0 at T with the free adjoint propagators of each step; at every
/// recorded spike the Eventprop jump λV,n += [ℓ(ϑ − V_r)λV,n + Σ_post W(λV − λI)_post + ∂L/∂t]/(I − ℓϑ) (all spikes of a step use
/// the adjoints from after the step), then the <see cref="ActivityRegularization"/> jump; at every presynaptic spike
/// dL/dW[pre, post] −= τs,post·λI,post. Loss drives are applied exactly per step (see <c>ReadoutDrive</c>);
/// impulses and adjoint jumps (a jump Δ is the impulse −τm·Δ) at their times, and spike-time terms at the readout's spikes.
/// An impulse on a grid point where hidden spikes reach its neuron (the <c>max</c> loss at a corner of V) moves with the
/// spike that makes the corner, as in the exact engine. The τ
/// gradients ∫λV V̇ dt and ∫λI İ dt are integrated in closed form over each step, given the step's start state; that
/// state is recomputed segment by segment from snapshots taken during the forward pass, so memory grows with the number
/// of spikes (and √steps), never with steps × neurons.</para>
/// <para>The per-neuron arithmetic (step, crossing slope, reset, adjoint step, jump, τ terms) is
/// <see cref="Backend.NeuronStepFunctions"/>, shared with the ILGPU kernels of <c>Eventprop.Gpu</c>.</para>
/// <para><b>Threads and determinism.</b> Trials run in parallel. The batch is split into <see cref="Threads"/> (at most
/// the batch size) contiguous partitions; each partition accumulates its trials in order into its own gradient buffer,
/// and the buffers are summed in partition order. The result is bit-identical from run to run for a given thread
/// count (and machine).</para>
/// <para>Losses are evaluated on the worker threads, one trial at a time; they must be thread-safe (the built-in ones
/// are stateless). The <see cref="ReadoutTrace"/> a loss sees is valid only during its <c>Evaluate</c> call.
/// One engine instance runs one batch at a time (concurrent calls wait for each other).</para>
/// </remarks>
public sealed partial class SteppedEngine : IGradientEngine
{
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
            var evaluations = Evaluations(trials, batch.Count);
            return new EvaluationResult(BatchLoss.MeanLoss(evaluations), BatchLoss.Predictions(evaluations), labels, counts);
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
            if (RegularizationJumps.Active(regularization))
            {
                var jumps = new double[plan.NeuronCount];
                RegularizationJumps.Fill(network, counts, count, regularization!, pop => plan.PopulationOffset[pop.Index], jumps);
                for (int g = 0; g < jumps.Length; g++) regJump[g] = (float)jumps[g];
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
            var evaluations = Evaluations(trials, count);
            return new GradientResult(BatchLoss.MeanLoss(evaluations), BatchLoss.Predictions(evaluations), labels, counts, gradient);
        }
    }

    /// <summary>Runs the forward pass of one trial and returns its spikes and readout trajectory (for inspection and tests).</summary>
    public SteppedSimulation Simulate(Network network, SpikeSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        lock (_sync)
        {
            var plan = PreparePlan(network);
            BatchValidation.CheckInput(network, sample, null, Duration);
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
        return (plan, BatchValidation.CheckBatch(network, batch, loss, Duration));
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
                var trace = new SteppedReadoutTrace(ws.TraceV, ws.TraceI, plan.ReadoutRates(true), plan.ReadoutRates(false), Dt, Steps,
                    ReadoutSpikeTimes(plan, trial));
                trial.Evaluation = loss.Evaluate(trace, labels[b]);
                trial.ImpulseSlopes = ReadoutDrive.ImpulseSlopes(trial.Evaluation.Drive, trace, plan);
                if (trial.Evaluation.Outputs.Length != plan.ReadoutSize || !double.IsFinite(trial.Evaluation.Value))
                    BatchLoss.CheckEvaluation(loss, trial.Evaluation, plan.ReadoutSize, b);
            }
            finally
            {
                ReturnWorkspace(ws);
            }
        });
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
            result[j][fill[j]++] = NeuronStepFunctions.SpikeTime(list.Steps[i], plan.Dt);
        }
        return result;
    }

    private static Dictionary<string, long[]> HiddenSpikeCounts(SteppedPlan plan, SteppedTrial[] trials, int count)
    {
        var result = Pipeline.HiddenSpikeCounts.Create(plan.Network);
        foreach (var pop in plan.Network.Hidden)
        {
            int s = plan.SpikingIndex[pop.Index];
            for (int b = 0; b < count; b++) Pipeline.HiddenSpikeCounts.Add(result, pop, trials[b].SpikeCounts[s]);
        }
        return result;
    }

    private static LossEvaluation[] Evaluations(SteppedTrial[] trials, int count)
    {
        var e = new LossEvaluation[count];
        for (int b = 0; b < count; b++) e[b] = trials[b].Evaluation;
        return e;
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
}
