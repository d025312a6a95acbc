using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Pipeline;

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
/// <see cref="Backend.NeuronStepFunctions"/>, shared with the ILGPU kernels of <c>Eventprop.Gpu</c>. The phases of a batch
/// are run by <see cref="SteppedPipeline"/>, the same orchestration as the GPU engine's; this engine is its CPU
/// <see cref="ISteppedBackend"/> provider.</para>
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
    private readonly CpuSteppedBackend _backend;
    private readonly SteppedPipeline _pipeline;

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
        Duration = duration;
        _backend = new CpuSteppedBackend(dt, (int)steps, threads ?? Environment.ProcessorCount, maxSpikesPerNeuron, timeConstantGradients,
            minimumThresholdSlope, slopeAtGridPoint);
        _pipeline = new SteppedPipeline(_backend, Dt, Duration, Steps);
    }

    /// <summary>Fault injection for tests: sparse rows transport the adjoint from the wrong targets, convolutions from the mirrored kernel taps.</summary>
    internal bool TransportMisindexed
    {
        get => _backend.TransportMisindexed;
        init => _backend.TransportMisindexed = value;
    }

    /// <summary>Fault injection for tests: an analog trial's input weight gradient leaves out the channel's value x_c.</summary>
    internal bool AnalogValueIgnoredInGradient
    {
        get => _backend.AnalogValueIgnoredInGradient;
        init => _backend.AnalogValueIgnoredInGradient = value;
    }

    /// <summary>Fault injection for tests: the delay gradient of learned delays leaves out the weight.</summary>
    internal bool DelayGradientUnweighted
    {
        get => _backend.DelayGradientUnweighted;
        init => _backend.DelayGradientUnweighted = value;
    }

    /// <summary>Fault injection for tests: delayed spikes read the adjoints at their emission instead of their arrival.</summary>
    internal bool DelayedAdjointAtEmission
    {
        get => _backend.DelayedAdjointAtEmission;
        init => _backend.DelayedAdjointAtEmission = value;
    }

    /// <summary>Whether spikes record I − V at the grid point instead of I − ϑ at the in-step crossing.</summary>
    public bool SlopeAtGridPoint => _backend.SlopeAtGridPoint;

    /// <summary>Time step (ms).</summary>
    public double Dt => _backend.Dt;

    /// <summary>Trial length T (ms).</summary>
    public double Duration { get; }

    /// <summary>Number of steps N = T/dt.</summary>
    public int Steps => _backend.Steps;

    /// <summary>Worker threads and gradient partitions.</summary>
    public int Threads => _backend.Threads;

    /// <summary>The optional per-neuron spike cap per trial (null: none).</summary>
    public int? MaxSpikesPerNeuron => _backend.MaxSpikesPerNeuron;

    /// <summary>Whether dL/dτ is computed.</summary>
    public bool TimeConstantGradients => _backend.TimeConstantGradients;

    /// <summary>Lower bound on the recorded I − V used as the jump divisor.</summary>
    public double MinimumThresholdSlope => _backend.MinimumThresholdSlope;

    /// <summary>
    /// Bytes per trial that the last <see cref="Gradient"/> call recorded for its backward pass, averaged over the batch:
    /// the spikes (step, neuron and threshold slope, 12 bytes each) and the state snapshots (V and I of every neuron every
    /// snapshot interval, with the replay pointers). For comparison with BPTT, which stores every step.
    /// </summary>
    public double StoredStateBytesPerTrial => _backend.StoredStateBytesPerTrial;

    /// <inheritdoc />
    public EvaluationResult Evaluate(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        lock (_sync) return _pipeline.Evaluate(network, batch, loss);
    }

    /// <inheritdoc />
    public GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization = null)
    {
        regularization?.Validate();
        lock (_sync) return _pipeline.Gradient(network, batch, loss, regularization);
    }

    /// <summary>Runs the forward pass of one trial and returns its spikes and readout trajectory (for inspection and tests).</summary>
    public SteppedSimulation Simulate(Network network, SpikeSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        lock (_sync)
        {
            var plan = _pipeline.Plan(network);
            BatchValidation.CheckInput(network, sample, null, Duration, acceptsAnalog: true);
            return _backend.Simulate(plan, sample);
        }
    }
}
