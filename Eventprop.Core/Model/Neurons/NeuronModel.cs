namespace Eventprop.Core.Model.Neurons;

/// <summary>
/// The neuron model of a population: its dynamics, what a spike does, and which parameters it has. A model is an
/// immutable description; engines read it through their own face of the model (closed form in the exact engine, one
/// step in the time-stepped engines; see docs/architecture.md). The predefined models are <see cref="Lif"/>,
/// <see cref="IntegrateAndFire"/> and (readouts) <see cref="LeakyIntegrator"/>.
/// </summary>
public abstract class NeuronModel
{
    private protected NeuronModel() { }

    /// <summary>The model's name as configs and model files write it: <c>lif</c>, <c>if</c> or <c>li</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Whether its neurons emit spikes.</summary>
    public abstract bool IsSpiking { get; }

    /// <summary>Firing threshold ϑ (NaN for a non-spiking model).</summary>
    public virtual double Threshold => double.NaN;

    /// <summary>Membrane potential after a spike (NaN for a non-spiking model).</summary>
    public virtual double Reset => double.NaN;

    /// <summary>What a spike does to V (<see cref="ResetMode.ToValue"/> for a non-spiking model).</summary>
    public virtual ResetMode ResetMode => ResetMode.ToValue;

    /// <summary>
    /// The leak coefficient ℓ of the current-based family τ_mem V̇ = −ℓV + I, τ_syn İ = −I: 1 for a leaky membrane
    /// (LIF, LI), 0 for a perfect integrator (IF).
    /// </summary>
    public abstract double Leak { get; }

    /// <summary>The per-neuron parameters the model has, in the order they appear in the <see cref="ParameterSet"/>.</summary>
    public abstract IReadOnlyList<NeuronParameter> Parameters { get; }

    /// <summary>Whether this is the wave-1 model: leaky, threshold 1, reset 0 to value (the time-stepped engines' only one so far).</summary>
    public bool IsStandardLif => Leak == 1 && (!IsSpiking || (Threshold == 1 && Reset == 0 && ResetMode == ResetMode.ToValue));

    /// <summary>Throws a one-line <see cref="ArgumentException"/> naming <paramref name="population"/> if the constants are invalid.</summary>
    internal virtual void Validate(string population) { }

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>A per-neuron parameter a <see cref="NeuronModel"/> declares.</summary>
/// <param name="Kind">What it is (its name is the suffix in the parameter set: <c>pop.tau_mem</c>).</param>
/// <param name="Trainable">Whether optimisers update it by default.</param>
/// <param name="Default">Initial value of every neuron for kinds the builder takes no values for (τ_mem and τ_syn are
/// always given to the builder).</param>
public sealed record NeuronParameter(ParameterKind Kind, bool Trainable, double Default = double.NaN);
