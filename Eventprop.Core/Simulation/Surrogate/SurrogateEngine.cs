using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>
/// Backpropagation through time with surrogate gradients (comparison mode): the same <see cref="Network"/>, data and losses
/// as the Eventprop engines, trained with the derivative of the spike threshold replaced by a <see cref="Surrogate"/> h(U − ϑ).
/// Implements <see cref="IGradientEngine"/>, so <see cref="Training.Trainer"/> trains with it unchanged.
/// </summary>
/// <remarks>
/// <para><b>Neuron models.</b> LIF and integrate-and-fire (τm V̇ = I) hidden populations with their own threshold ϑ, reset
/// value V_r and reset mode: to a value, V ← V_r (smooth forward: V(1 − S) + S·V_r), or by subtraction, V ← V − (ϑ − V_r)
/// (smooth: V − S(ϑ − V_r)); leaky-integrator readouts; dense connections. In the Zenke–Vogels scheme integrate-and-fire
/// steps V ← V + (dt/τm)·I (the ℓ → 0 limit of the LIF step's 1 − e^{−dt/τm}).</para>
/// <para><b>Forward.</b> Either the stepped engine's exact-propagator scheme or Zenke &amp; Vogels' eq. 4.1
/// (<see cref="Discretisation"/>); input spikes are binned to the nearest grid point. Every grid point's V and I are kept
/// (BPTT needs them): memory grows as steps × neurons per trial in flight, against Eventprop's spikes.</para>
/// <para><b>Backward.</b> Reverse-mode differentiation of the discrete update, with ∂S/∂U := h(U − ϑ); the reset is
/// detached or differentiated (<see cref="ResetGradient"/>), and the flow through recurrent weights can be switched off.
/// The loss's <see cref="AdjointDrive"/> is differentiated through the discrete readout (see the remarks of the readout
/// trace): sum, sum_exp, max, entropy, last_voltage and custom voltage losses work, on the li or the integrator readout; losses of spiking readouts (first_spike) do not. The
/// seed-001 regularisers (<see cref="SurrogateOptions.Regularization"/>) are part of the loss value and its gradient.
/// Gradients are exact for the discrete model in the smooth-forward check mode (<see cref="ForwardSpike.Sigmoid"/>).
/// dL/dτm and dL/dτs come out of the same pass (through the per-step propagators).</para>
/// <para><b>Batch norm.</b> A hidden layer built with <see cref="NetworkBuilder.BatchNorm(string)"/> normalises its per-step
/// drive Σ W S before it enters the synaptic current (<see cref="BatchNorm"/>): <see cref="Gradient(Network, IReadOnlyList{SpikeSample}, ILoss, ActivityRegularization?)"/>
/// with the batch's statistics over trials × steps (× positions) and the exact batch-coupled backward, reporting the
/// statistics in <see cref="GradientResult.BatchNorm"/> without changing the network; <see cref="Evaluate"/> and
/// <see cref="MaxInputDrive"/> with the running statistics. Each batch-normalised layer costs one extra forward and one extra
/// forward-backward pass over the batch (see SurrogateRunner.BatchNorm.cs).</para>
/// <para><b>Speed.</b> float32 by default (double on request), threads over trials (one partition each, summed in order:
/// bit-identical results for a given thread count), vectorised over neurons, sparse delivery of input and hidden spikes.</para>
/// </remarks>
public sealed class SurrogateEngine : IReadoutDropoutEngine
{
    private readonly Lock _sync = new();
    private readonly SurrogateRunner<float>? _single;
    private readonly SurrogateRunner<double>? _double;

    /// <summary>Creates an engine with step <paramref name="dt"/> for trials of <paramref name="duration"/> ms.</summary>
    /// <param name="dt">Time step in ms (finite, &gt; 0, ≤ duration, duration/dt a whole number).</param>
    /// <param name="duration">Trial length T in ms.</param>
    /// <param name="options">Surrogate, discretisation and the other settings (null: the defaults).</param>
    /// <param name="timeConstantGradients">Whether dL/dτ is computed (default true; otherwise the τ entries are 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the message says which and why.</exception>
    public SurrogateEngine(double dt, double duration, SurrogateOptions? options = null, bool timeConstantGradients = true)
    {
        double steps = TimeGrid.Steps(dt, duration);
        if (steps > 10_000_000)
            throw new ArgumentOutOfRangeException(nameof(dt), dt, $"T/dt = {steps} steps is too many for BPTT (every step is stored); choose a larger dt.");
        Options = options ?? new SurrogateOptions();
        ArgumentNullException.ThrowIfNull(Options.Surrogate, "options.Surrogate");
        if (Options.Threads is <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), Options.Threads, "The thread count must be ≥ 1 (or null for the processor count).");
        Options.Regularization?.Validate();
        Dt = dt;
        Duration = duration;
        Steps = (int)steps;
        Threads = Options.Threads ?? Environment.ProcessorCount;
        TimeConstantGradients = timeConstantGradients;
        if (Options.DoublePrecision) _double = new SurrogateRunner<double>(this);
        else _single = new SurrogateRunner<float>(this);
    }

    /// <summary>The settings.</summary>
    public SurrogateOptions Options { get; }

    /// <summary>A deliberate error in the backward pass, for tests that prove the gradient checks catch it (never set it otherwise).</summary>
    internal SurrogateFault Fault { get; set; }

    /// <summary>
    /// Test hook (never set otherwise): called in the backward pass with (batch index, grid point k = 1…N, dL/dV_k of every
    /// neuron in the plan's order) — the engine's own per-step adjoint, for tests that recompute the reported magnitudes.
    /// Use with <see cref="SurrogateOptions.Threads"/> = 1.
    /// </summary>
    internal Action<int, int, double[]>? AdjointTrace { get; set; }

    /// <summary>Time step (ms).</summary>
    public double Dt { get; }

    /// <inheritdoc />
    public double Duration { get; }

    /// <summary>Number of steps N = T/dt.</summary>
    public int Steps { get; }

    /// <summary>Worker threads (partitions of the batch).</summary>
    public int Threads { get; }

    /// <summary>Whether dL/dτ is computed.</summary>
    public bool TimeConstantGradients { get; }

    /// <summary>
    /// Bytes of stored BPTT state (V and I at every grid point, per trial in flight) in the last call: the part of the memory
    /// that grows with T. Eventprop's counterpart is the recorded spikes.
    /// </summary>
    public long StoredStateBytes => _single?.StoredBytes ?? _double!.StoredBytes;

    /// <summary>
    /// Bytes of BPTT state per trial: V and I of every neuron at every grid point, 2·(T/dt + 1)·n·(4 or 8) bytes (plus the
    /// spike and input indices, not counted). Comparable with <see cref="Stepped.SteppedEngine.StoredStateBytesPerTrial"/>.
    /// </summary>
    public double StoredStateBytesPerTrial { get; private set; }

    /// <inheritdoc />
    public EvaluationResult Evaluate(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        lock (_sync)
        {
            var labels = Check(network, batch, loss, Duration);
            var (value, predictions, counts, _) = _single is not null
                ? _single.Run(network, batch, labels, loss, gradient: false)
                : _double!.Run(network, batch, labels, loss, gradient: false);
            return new EvaluationResult(value, predictions, labels, counts);
        }
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">An Eventprop <see cref="ActivityRegularization"/> with a non-zero strength was passed
    /// (it is a heuristic of the adjoint; use <see cref="SurrogateOptions.Regularization"/>).</exception>
    public GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization = null) =>
        Gradient(network, batch, loss, regularization, null);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">As <see cref="Gradient(Network, IReadOnlyList{SpikeSample}, ILoss, ActivityRegularization?)"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The dropout rate is not in [0, 1).</exception>
    public GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization, ReadoutDropout dropout)
    {
        dropout.Validate();
        return Gradient(network, batch, loss, regularization, (ReadoutDropout?)dropout);
    }

    private GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization, ReadoutDropout? dropout)
    {
        if (regularization is { Strength: > 0 })
            throw new ArgumentException("The Eventprop activity regulariser (k_reg) is a heuristic of the adjoint pass and has no BPTT form; use SurrogateOptions.Regularization (seed 001's lower/upper spike-count bounds) instead.", nameof(regularization));
        lock (_sync)
        {
            var labels = Check(network, batch, loss, Duration);
            var (value, predictions, counts, gradient) = _single is not null
                ? _single.Run(network, batch, labels, loss, gradient: true, dropout: dropout)
                : _double!.Run(network, batch, labels, loss, gradient: true, dropout: dropout);
            int neurons = network.Populations.Where(p => p.HasDynamics).Sum(p => p.Size);
            StoredStateBytesPerTrial = 2.0 * (Steps + 1) * neurons * (Options.DoublePrecision ? 8 : 4);
            return new GradientResult(value, predictions, labels, counts, gradient!) { BatchNorm = LastBatchStatistics };
        }
    }

    private Dictionary<string, BatchNormStatistics>? LastBatchStatistics => _single is not null ? _single.BatchStatistics : _double!.BatchStatistics;

    /// <summary>
    /// <see cref="Gradient(Network, IReadOnlyList{SpikeSample}, ILoss, ActivityRegularization?)"/> plus, per hidden population (network order), the mean |∂L/∂U| of its membrane potential: the
    /// adjoint dL/dV_k of the batch-mean loss at the grid points k = 1…N (after each step's reset), averaged over the
    /// population's neurons, the N grid points and the batch's trials. The plain <see cref="Gradient(Network, IReadOnlyList{SpikeSample}, ILoss, ActivityRegularization?)"/> skips this work.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Gradient(Network, IReadOnlyList{SpikeSample}, ILoss, ActivityRegularization?)"/>.</exception>
    public (GradientResult Result, IReadOnlyList<LayerGradientMagnitude> Layers) GradientWithMagnitudes(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        lock (_sync)
        {
            var labels = Check(network, batch, loss, Duration);
            (double value, int[] predictions, Dictionary<string, long[]> counts, ParameterSet? gradient) = _single is not null
                ? _single.Run(network, batch, labels, loss, gradient: true, magnitudes: true)
                : _double!.Run(network, batch, labels, loss, gradient: true, magnitudes: true);
            var abs = _single is not null ? _single.AbsAdjoint! : _double!.AbsAdjoint!;
            var ranges = _single is not null ? _single.HiddenRanges() : _double!.HiddenRanges();
            var layers = new List<LayerGradientMagnitude>();
            foreach (var (name, offset, size) in ranges)
            {
                double sum = 0;
                for (int g = offset; g < offset + size; g++) sum += abs[g];
                layers.Add(new LayerGradientMagnitude(name, size, sum / ((double)size * Steps * batch.Count)));
            }
            return (new GradientResult(value, predictions, labels, counts, gradient!) { BatchNorm = LastBatchStatistics }, layers);
        }
    }

    /// <summary>
    /// Per spiking hidden population (by name): the largest voltage increase that one step's synaptic current causes in any
    /// of its neurons, max over the trials of <paramref name="batch"/>, the time steps and the neurons of A·I (A: the step's
    /// current-to-voltage propagator of the configured <see cref="Discretisation"/>; for integrate-and-fire neurons in the
    /// Zenke–Vogels scheme dt/τm). This is seed 004's "maximum input current" that <see cref="ThresholdCalibration"/> sets
    /// the thresholds to; 0 for a population that never receives a current (negative only if every step drives it down). Forward only (no readout dropout).
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Evaluate"/>.</exception>
    public IReadOnlyDictionary<string, double> MaxInputDrive(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        lock (_sync)
        {
            Check(network, batch, loss, Duration);
            return _single is not null ? _single.MaxDrive(network, batch) : _double!.MaxDrive(network, batch);
        }
    }

    private static int[] Check(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, double duration)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(loss);
        network.Validate();
        network.RequireNoLearnedDelays("the surrogate-gradient engine");
        if (batch.Count == 0) throw new ArgumentException("The batch is empty; pass at least one sample.", nameof(batch));
        if (network.Readout.IsSpiking || loss.Readout == ReadoutKind.Spiking)
            throw new ArgumentException($"The surrogate-gradient engine needs a non-spiking readout (li or integrator) and a voltage loss (sum, sum_exp, max, entropy, last_voltage, custom); '{network.Readout.Name}' is {(network.Readout.IsSpiking ? "spiking" : "non-spiking")} and loss '{loss.Name}' reads {(loss.Readout == ReadoutKind.Spiking ? "spikes" : "voltages")}.");
        return Pipeline.BatchValidation.CheckBatch(network, batch, loss, duration, acceptsAnalog: true);
    }
}
