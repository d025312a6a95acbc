using Eventprop.Core.Losses;

namespace Eventprop.Losses;

/// <summary>
/// <c>sum</c>: cross-entropy of the time-averaged readout voltage, z_k = (1/T)∫₀ᵀ V_k dt,
/// L = −log softmax(z)_y (seed 003 §2.1). The adjoint drive is ∂l_V/∂V_k = (softmax(z)_k − δ_ky)/T.
/// </summary>
public sealed class SumLoss : ILoss
{
    /// <inheritdoc />
    public string Name => "sum";

    /// <inheritdoc />
    public ReadoutKind Readout => ReadoutKind.LeakyIntegrator;

    /// <inheritdoc />
    public LossEvaluation Evaluate(ReadoutTrace trace, int label)
    {
        int k = trace.Size;
        Softmax.RequireLabel(Name, label, k);
        double T = trace.Duration;
        var z = new double[k];
        for (int i = 0; i < k; i++) z[i] = trace.IntegrateVoltage(i) / T;
        var p = Softmax.Of(z);
        var drive = new AdjointDrive();
        for (int i = 0; i < k; i++) drive.AddExponential(i, (p[i] - (i == label ? 1 : 0)) / T);
        return new LossEvaluation(Softmax.CrossEntropy(z, label), z, drive);
    }
}
