using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Pipeline;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// The one orchestration of the time-stepped engines: the phases of a batch, run the same way whichever
/// <see cref="ISteppedBackend"/> provides the passes (the CPU one of <see cref="SteppedEngine"/>, the ILGPU one of
/// <c>Eventprop.Gpu</c>).
/// </summary>
/// <remarks>
/// <para>Per batch: check the arguments and the batch (<see cref="BatchValidation"/>), compile the <see cref="SteppedPlan"/>
/// when the network's shape or the grid changed and refresh its parameters, the provider's forward pass, the hidden spike
/// counts (<see cref="HiddenSpikeCounts"/>), the batch-mean loss and the predictions; for a gradient also the
/// activity-regulariser jumps (<see cref="RegularizationJumps"/>), the provider's backward pass and the gradient as a
/// <see cref="ParameterSet"/>.</para>
/// <para>Not thread-safe: the engines that own a pipeline serialise their calls.</para>
/// </remarks>
public sealed class SteppedPipeline
{
    private readonly ISteppedBackend _backend;
    private SteppedPlan? _plan;

    /// <summary>Creates the pipeline of <paramref name="backend"/> on the grid of <paramref name="steps"/> steps of <paramref name="dt"/> ms.</summary>
    /// <param name="backend">The provider of the passes.</param>
    /// <param name="dt">Time step (ms).</param>
    /// <param name="duration">Trial length T (ms), = <paramref name="steps"/>·<paramref name="dt"/>.</param>
    /// <param name="steps">Number of steps N.</param>
    /// <exception cref="ArgumentOutOfRangeException">dt or T is not finite and &gt; 0, or N &lt; 1.</exception>
    /// <remarks>The engines check their grid with <see cref="TimeGrid.Steps"/> first; this only refuses a grid that cannot be one.</remarks>
    public SteppedPipeline(ISteppedBackend backend, double dt, double duration, int steps)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (!double.IsFinite(dt) || dt <= 0) throw new ArgumentOutOfRangeException(nameof(dt), dt, "The time step must be finite and > 0.");
        if (!double.IsFinite(duration) || duration <= 0) throw new ArgumentOutOfRangeException(nameof(duration), duration, "The trial length must be finite and > 0.");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "The grid needs at least one step.");
        _backend = backend;
        Dt = dt;
        Duration = duration;
        Steps = steps;
    }

    /// <summary>Time step (ms).</summary>
    public double Dt { get; }

    /// <summary>Trial length T (ms).</summary>
    public double Duration { get; }

    /// <summary>Number of steps N = T/dt.</summary>
    public int Steps { get; }

    /// <summary>The compiled plan of <paramref name="network"/> on this grid, refreshed from its current parameters.</summary>
    /// <remarks>The plan is reused while the network's shape fits it; a network of another shape compiles a new one.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="network"/> is null.</exception>
    public SteppedPlan Plan(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        network.Validate();
        network.RequireNoBatchNorm("the time-stepped Eventprop engine");
        if (!_backend.AcceptsLearnedDelays) network.RequireNoLearnedDelays("the GPU time-stepped engine (engine.device cuda or ilgpu-cpu)",
                "use the CPU time-stepped engine (engine.device = cpu), the exact engine (engine.kind = exact), or remove the delays");
        if (_plan is null || !_plan.Fits(network, Dt, Steps)) _plan = new SteppedPlan(network, Dt, Steps);
        _plan.Refresh(network);
        return _plan;
    }

    /// <summary>The loss, predictions and hidden spike counts of <paramref name="batch"/> (forward pass only).</summary>
    /// <exception cref="ArgumentException">The batch is empty or invalid; the message says why.</exception>
    public EvaluationResult Evaluate(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        var (plan, labels) = Prepare(network, batch, loss);
        var forward = _backend.Forward(plan, batch, labels, loss, forBackward: false);
        return new EvaluationResult(forward.MeanLoss, forward.Predictions, labels, Counts(plan, forward));
    }

    /// <summary>The loss, predictions, hidden spike counts and batch-mean gradient of <paramref name="batch"/>.</summary>
    /// <exception cref="ArgumentException">The batch is empty or invalid, or the regulariser's settings are; the message says why.</exception>
    public GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization)
    {
        var (plan, labels) = Prepare(network, batch, loss);
        var forward = _backend.Forward(plan, batch, labels, loss, forBackward: true);
        var counts = Counts(plan, forward);

        var regJump = new float[plan.NeuronCount];
        if (RegularizationJumps.Active(regularization))
        {
            var jumps = new double[plan.NeuronCount];
            RegularizationJumps.Fill(network, counts, batch.Count, regularization!, pop => plan.PopulationOffset[pop.Index], jumps);
            for (int g = 0; g < jumps.Length; g++) regJump[g] = (float)jumps[g];
        }

        var gradient = network.Parameters.ZerosLike();
        _backend.Backward(plan, forward, regJump, gradient);
        return new GradientResult(forward.MeanLoss, forward.Predictions, labels, counts, gradient);
    }

    private (SteppedPlan Plan, int[] Labels) Prepare(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(loss);
        if (batch.Count == 0) throw new ArgumentException("The batch is empty; pass at least one sample.", nameof(batch));
        var plan = Plan(network);
        var labels = BatchValidation.CheckBatch(network, batch, loss, Duration, _backend.AcceptsAnalogInput);
        if (plan.DelayedOutgoings[network.Input.Index] is [var delayed, ..] && batch.Any(s => s.IsAnalog))
            throw new ArgumentException($"Connection {network.Parameters[delayed.ParameterIndex].Name} has learned delays, but the input is analog (dataset.encoding current), a constant current that no delay changes; remove the input connection's delays or use spike input.");
        return (plan, labels);
    }

    private static Dictionary<string, long[]> Counts(SteppedPlan plan, SteppedForwardPass forward)
    {
        var result = HiddenSpikeCounts.Create(plan.Network);
        foreach (var pop in plan.Network.Hidden)
            for (int b = 0; b < forward.Count; b++) HiddenSpikeCounts.Add(result, pop, forward.SpikeCounts(b, pop));
        return result;
    }
}
