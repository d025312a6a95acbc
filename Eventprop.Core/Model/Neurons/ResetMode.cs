namespace Eventprop.Core.Model.Neurons;

/// <summary>What a spike does to the membrane potential of the neuron that fired.</summary>
public enum ResetMode
{
    /// <summary>V ← V_reset ("hard" reset).</summary>
    ToValue,

    /// <summary>
    /// V ← V − (ϑ − V_reset) ("soft" or subtractive reset; seed 004's choice with V_reset = 0). In the exact engine a
    /// spike happens exactly at V = ϑ, so this gives V_reset as <see cref="ToValue"/> does, with the same gradients; in the
    /// time-stepped engines V has overshot ϑ when the step detects the crossing, and the overshoot is kept.
    /// </summary>
    Subtract,
}
