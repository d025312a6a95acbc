namespace Eventprop.Core.Model.Neurons;

/// <summary>
/// Leaky integrate-and-fire neuron with an exponential current synapse: τ_mem V̇ = −V + I, τ_syn İ = −I; a spike when V
/// reaches the threshold from below, then the reset. τ_mem and τ_syn are per neuron and trainable.
/// </summary>
public sealed class Lif : SpikingNeuronModel
{
    private static readonly NeuronParameter[] Declared = [new(ParameterKind.TauMem, true), new(ParameterKind.TauSyn, true)];

    /// <summary>A LIF model with the given threshold, reset value and reset mode (defaults: 1, 0, to value).</summary>
    public Lif(double threshold = 1, double reset = 0, ResetMode resetMode = ResetMode.ToValue) : base(threshold, reset, resetMode) { }

    /// <summary>The papers' model: threshold 1, reset to 0.</summary>
    public static Lif Standard { get; } = new();

    /// <inheritdoc />
    public override SpikingNeuronModel WithThreshold(double threshold) => new Lif(threshold, Reset, ResetMode);

    /// <inheritdoc />
    public override string Name => "lif";

    /// <inheritdoc />
    public override double Leak => 1;

    /// <inheritdoc />
    public override IReadOnlyList<NeuronParameter> Parameters => Declared;

    internal override void Validate(string population)
    {
        base.Validate(population);
        if (Threshold <= 0)
            throw new ArgumentException($"Population '{population}': a LIF threshold must be > 0 (the resting potential is 0), not {Threshold}.");
    }
}
