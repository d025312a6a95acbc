namespace Eventprop.Core.Model.Neurons;

/// <summary>
/// Integrate-and-fire neuron without membrane leak, with an exponential current synapse: τ_mem V̇ = I, τ_syn İ = −I
/// (seed 004 §2.2; its eq. 2 with delta synapses is the surrogate engine's discretisation of it). V̇ at a crossing is
/// I/τ_mem, finite, so the Eventprop jump exists. This is not the τ_mem → ∞ limit of the LIF, which would not move.
/// </summary>
/// <remarks>
/// τ_mem only scales the input (with reset 0, multiplying it by c equals dividing every incoming weight by c), so it is
/// not trainable unless <c>trainTauMem</c> is set; its gradient is still computed. τ_syn is trainable.
/// </remarks>
public sealed class IntegrateAndFire : SpikingNeuronModel
{
    private readonly NeuronParameter[] _declared;

    /// <summary>An IF model with the given threshold, reset value and reset mode (defaults: 1, 0, to value).</summary>
    /// <param name="threshold">Firing threshold ϑ.</param>
    /// <param name="reset">Membrane potential after a spike (below ϑ).</param>
    /// <param name="resetMode">Reset to the value, or subtract ϑ − reset.</param>
    /// <param name="trainTauMem">Whether optimisers update τ_mem (a scale redundant with the weights; default false).</param>
    public IntegrateAndFire(double threshold = 1, double reset = 0, ResetMode resetMode = ResetMode.ToValue, bool trainTauMem = false)
        : base(threshold, reset, resetMode)
    {
        TrainTauMem = trainTauMem;
        _declared = [new(ParameterKind.TauMem, trainTauMem), new(ParameterKind.TauSyn, true)];
    }

    /// <summary>Whether τ_mem is trainable.</summary>
    public bool TrainTauMem { get; }

    /// <inheritdoc />
    public override SpikingNeuronModel WithThreshold(double threshold) => new IntegrateAndFire(threshold, Reset, ResetMode, TrainTauMem);

    /// <inheritdoc />
    public override string Name => "if";

    /// <inheritdoc />
    public override double Leak => 0;

    /// <inheritdoc />
    public override IReadOnlyList<NeuronParameter> Parameters => _declared;
}
