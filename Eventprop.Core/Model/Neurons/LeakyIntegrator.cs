namespace Eventprop.Core.Model.Neurons;

/// <summary>
/// Non-spiking leaky integrator (a readout): τ_mem V̇ = −V + I, τ_syn İ = −I, no threshold. The voltage-based losses read
/// its V(t). τ_mem and τ_syn are per neuron and trainable.
/// </summary>
public sealed class LeakyIntegrator : NeuronModel
{
    private static readonly NeuronParameter[] Declared = [new(ParameterKind.TauMem, true), new(ParameterKind.TauSyn, true)];

    /// <summary>The leaky integrator (it has no constants of its own).</summary>
    public static LeakyIntegrator Instance { get; } = new();

    private LeakyIntegrator() { }

    /// <inheritdoc />
    public override string Name => "li";

    /// <inheritdoc />
    public override bool IsSpiking => false;

    /// <inheritdoc />
    public override double Leak => 1;

    /// <inheritdoc />
    public override IReadOnlyList<NeuronParameter> Parameters => Declared;
}
