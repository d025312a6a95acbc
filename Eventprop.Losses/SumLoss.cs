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
    public LossEvaluation Evaluate(ReadoutTrace trace, int label) =>
        Softmax.WeightedVoltageCrossEntropy(Name, trace, label, 0);
}
