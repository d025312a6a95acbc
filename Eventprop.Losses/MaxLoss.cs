using Eventprop.Core.Losses;

namespace Eventprop.Losses;

/// <summary>
/// <c>max</c>: cross-entropy of the maximum readout voltage, z_k = max over [0, T] of V_k(t), L = −log softmax(z)_y
/// (Wunderlich &amp; Pehle eq. 4). The maximum may fall between events (a turning point of V), at an event, or at T;
/// the adjoint is an impulse ∂L/∂V_k = softmax(z)_k − δ_ky at the time of each maximum.
/// </summary>
public sealed class MaxLoss : ILoss
{
    /// <inheritdoc />
    public string Name => "max";

    /// <inheritdoc />
    public ReadoutKind Readout => ReadoutKind.LeakyIntegrator;

    /// <inheritdoc />
    public LossEvaluation Evaluate(ReadoutTrace trace, int label)
    {
        int k = trace.Size;
        Softmax.RequireLabel(Name, label, k);
        var z = new double[k];
        var at = new double[k];
        var pieces = new long[k];
        for (int i = 0; i < k; i++) (at[i], z[i], pieces[i]) = trace.Maximum(i);
        var p = Softmax.Of(z);
        var drive = new AdjointDrive();
        for (int i = 0; i < k; i++) drive.AddImpulse(i, at[i], p[i] - (i == label ? 1 : 0));
        return new LossEvaluation(Softmax.CrossEntropy(z, label), z, drive) { Structure = string.Join(",", pieces) };
    }
}
