using Eventprop.Core.Model.Neurons;

namespace Eventprop.Core.Simulation.Stepped.Backend;

/// <summary>
/// The per-population constants of a neuron model's step face (backend API): what the time-stepped engines need to detect
/// a spike, reset and jump, for the current-based family τm V̇ = −ℓV + I, τs İ = −I (LIF: ℓ = 1, IF: ℓ = 0).
/// A plain struct of fields so that ILGPU kernels can take arrays of it.
/// </summary>
public struct NeuronStep
{
    /// <summary>Firing threshold ϑ (+∞ for a non-spiking population: it never crosses).</summary>
    public float Threshold;

    /// <summary>The reset value V_r.</summary>
    public float Reset;

    /// <summary>The leak coefficient ℓ (1 leaky, 0 perfect integrator).</summary>
    public float Leak;

    /// <summary>1 for <see cref="ResetMode.Subtract"/> (V ← V − (ϑ − V_r)), 0 for <see cref="ResetMode.ToValue"/> (V ← V_r).</summary>
    public int Subtractive;

    /// <summary>The own-V factor of the Eventprop jump, ℓ(ϑ − V_r): the change of τm V̇ at the reset per unit λV.</summary>
    public float JumpOwnFactor;

    /// <summary>The step face of <paramref name="model"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    public static NeuronStep Of(NeuronModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.IsSpiking)
            return new NeuronStep { Threshold = float.PositiveInfinity, Reset = 0, Leak = (float)model.Leak, Subtractive = 0, JumpOwnFactor = 0 };
        return new NeuronStep
        {
            Threshold = (float)model.Threshold,
            Reset = (float)model.Reset,
            Leak = (float)model.Leak,
            Subtractive = model.ResetMode == ResetMode.Subtract ? 1 : 0,
            JumpOwnFactor = (float)(model.Leak * (model.Threshold - model.Reset)),
        };
    }
}
