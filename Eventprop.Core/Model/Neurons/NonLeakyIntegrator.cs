namespace Eventprop.Core.Model.Neurons;

/// <summary>
/// Non-spiking integrator without membrane leak (a readout): τ_mem V̇ = I, τ_syn İ = −I, no threshold, so
/// V(T) = ∫₀ᵀ I dt/τ_mem — seed 004 §2.1's readout, whose final voltage is the logit of the <c>last_voltage</c> loss.
/// </summary>
/// <remarks>
/// τ_mem only scales the input (multiplying it by c equals dividing every incoming weight by c), so it is not trainable
/// unless <c>trainTauMem</c> is set, as for <see cref="IntegrateAndFire"/>; its gradient is still computed. τ_syn is
/// trainable.
/// </remarks>
public sealed class NonLeakyIntegrator : NeuronModel
{
    private readonly NeuronParameter[] _declared;

    /// <summary>The integrator with τ_mem not trainable (the default).</summary>
    public static NonLeakyIntegrator Instance { get; } = new();

    /// <summary>An integrator readout; <paramref name="trainTauMem"/> makes τ_mem trainable (default false).</summary>
    /// <param name="trainTauMem">Whether optimisers update τ_mem (a scale redundant with the incoming weights).</param>
    public NonLeakyIntegrator(bool trainTauMem = false)
    {
        TrainTauMem = trainTauMem;
        _declared = [new(ParameterKind.TauMem, trainTauMem), new(ParameterKind.TauSyn, true)];
    }

    /// <summary>Whether τ_mem is trainable.</summary>
    public bool TrainTauMem { get; }

    /// <inheritdoc />
    public override string Name => "integrator";

    /// <inheritdoc />
    public override bool IsSpiking => false;

    /// <inheritdoc />
    public override double Leak => 0;

    /// <inheritdoc />
    public override IReadOnlyList<NeuronParameter> Parameters => _declared;
}
