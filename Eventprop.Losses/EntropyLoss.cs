using Eventprop.Core.Losses;

namespace Eventprop.Losses;

/// <summary>
/// <c>entropy</c>: the original Eventprop loss, the per-time cross-entropy averaged over the trial,
/// L = −(1/T)∫₀ᵀ log softmax(V(t))_y dt. Seed 003 shows it fails on SHD (it rewards the readout during the silent
/// start and end of each digit); it is here so that failure can be reproduced. The adjoint drive is
/// ∂l_V/∂V_k = (softmax(V(t))_k − δ_ky)/T, a function of the instantaneous voltages, integrated by quadrature.
/// The prediction is the class with the largest (1/T)∫ log softmax(V(t))_k dt.
/// </summary>
public sealed class EntropyLoss : ILoss
{
    /// <inheritdoc />
    public string Name => "entropy";

    /// <inheritdoc />
    public ReadoutKind Readout => ReadoutKind.LeakyIntegrator;

    /// <inheritdoc />
    public LossEvaluation Evaluate(ReadoutTrace trace, int label)
    {
        int k = trace.Size;
        Softmax.RequireLabel(Name, label, k);
        double T = trace.Duration;
        var outputs = new double[k];
        for (int i = 0; i < k; i++)
        {
            int c = i;
            outputs[i] = -trace.Integrate((_, v) => Softmax.CrossEntropy(v, c)) / T;
        }
        double loss = -outputs[label];
        var drive = new AdjointDrive().AddVoltageDependent((_, v, d) =>
        {
            Softmax.Into(v, d);
            d[label] -= 1;
            for (int i = 0; i < d.Length; i++) d[i] /= T;
        });
        return new LossEvaluation(loss, outputs, drive);
    }
}
