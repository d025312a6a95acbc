namespace Eventprop.Core.Model.Neurons;

/// <summary>A spiking model of the current-based family: threshold ϑ, reset value V_reset and a reset mode.</summary>
public abstract class SpikingNeuronModel : NeuronModel
{
    private protected SpikingNeuronModel(double threshold, double reset, ResetMode resetMode)
    {
        Threshold = threshold;
        Reset = reset;
        ResetMode = resetMode;
    }

    /// <inheritdoc />
    public override bool IsSpiking => true;

    /// <inheritdoc />
    public override double Threshold { get; }

    /// <inheritdoc />
    public override double Reset { get; }

    /// <inheritdoc />
    public override ResetMode ResetMode { get; }

    /// <summary>
    /// The same model with threshold <paramref name="threshold"/> (reset value, reset mode and every other setting kept),
    /// e.g. for seed 004's data-driven threshold initialisation (<see cref="Simulation.Surrogate.ThresholdCalibration"/>).
    /// </summary>
    public abstract SpikingNeuronModel WithThreshold(double threshold);

    internal override void Validate(string population)
    {
        if (!double.IsFinite(Threshold) || !double.IsFinite(Reset))
            throw new ArgumentException($"Population '{population}': threshold {Threshold} and reset {Reset} must be finite numbers.");
        if (Threshold <= Reset)
            throw new ArgumentException($"Population '{population}': the threshold ({Threshold}) must be above the reset value ({Reset}); raise the threshold or lower the reset.");
    }

    /// <inheritdoc />
    public override string ToString() =>
        FormattableString.Invariant($"{Name}(threshold {Threshold}, reset {Reset}{(ResetMode == ResetMode.Subtract ? ", subtractive" : "")})");
}
