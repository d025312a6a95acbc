using Eventprop.Core.Losses;

namespace Eventprop.Losses;

/// <summary>
/// <c>last_voltage</c>: cross-entropy of the readout voltage at the end of the trial, z_k = V_k(T), L = −log softmax(z)_y
/// (seed 004 §2.1: with the non-leaky <c>integrator</c> readout, V_k(T) = ∫₀ᵀ I_k dt/τm is the summed input current).
/// It works with the leaky (<c>li</c>) readout as well. The adjoint is one impulse at t = T,
/// ∂L/∂V_k(T) = softmax(z)_k − δ_ky, i.e. the terminal condition λ_V,k(T) = −(softmax(z)_k − δ_ky)/τm,k.
/// </summary>
public sealed class LastVoltageLoss : ILoss
{
    /// <inheritdoc />
    public string Name => "last_voltage";

    /// <inheritdoc />
    public ReadoutKind Readout => ReadoutKind.LeakyIntegrator;

    /// <inheritdoc />
    public LossEvaluation Evaluate(ReadoutTrace trace, int label)
    {
        ArgumentNullException.ThrowIfNull(trace);
        int k = trace.Size;
        Softmax.RequireLabel(Name, label, k);
        double T = trace.Duration;
        var z = new double[k];
        for (int i = 0; i < k; i++) z[i] = trace.Voltage(i, T);
        var p = Softmax.Of(z);
        var drive = new AdjointDrive();
        for (int i = 0; i < k; i++) drive.AddImpulse(i, T, p[i] - (i == label ? 1 : 0));
        return new LossEvaluation(Softmax.CrossEntropy(z, label), z, drive);
    }
}
