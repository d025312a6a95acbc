using Eventprop.Core.Losses;

namespace Eventprop.Losses;

/// <summary>Numerically stable softmax and cross-entropy helpers shared by the losses.</summary>
internal static class Softmax
{
    /// <summary>softmax(z), computed with the maximum subtracted.</summary>
    public static double[] Of(ReadOnlySpan<double> z)
    {
        double max = double.NegativeInfinity;
        foreach (double x in z) max = Math.Max(max, x);
        var p = new double[z.Length];
        double sum = 0;
        for (int k = 0; k < z.Length; k++) sum += p[k] = Math.Exp(z[k] - max);
        for (int k = 0; k < z.Length; k++) p[k] /= sum;
        return p;
    }

    /// <summary>softmax(z) written into <paramref name="p"/> (no allocation).</summary>
    public static void Into(ReadOnlySpan<double> z, Span<double> p)
    {
        double max = double.NegativeInfinity;
        foreach (double x in z) max = Math.Max(max, x);
        double sum = 0;
        for (int k = 0; k < z.Length; k++) sum += p[k] = Math.Exp(z[k] - max);
        for (int k = 0; k < z.Length; k++) p[k] /= sum;
    }

    /// <summary>−log softmax(z)_label.</summary>
    public static double CrossEntropy(ReadOnlySpan<double> z, int label)
    {
        double max = double.NegativeInfinity;
        foreach (double x in z) max = Math.Max(max, x);
        double sum = 0;
        foreach (double x in z) sum += Math.Exp(x - max);
        return Math.Log(sum) + max - z[label];
    }

    /// <summary>
    /// Cross-entropy of z_k = (1/T)∫₀ᵀ e^{−rate·t} V_k dt, with the matching drive (softmax(z)_k − δ_ky)·e^{−rate·t}/T:
    /// the shared body of <c>sum</c> (rate 0) and <c>sum_exp</c> (rate 1/T).
    /// </summary>
    public static LossEvaluation WeightedVoltageCrossEntropy(string loss, ReadoutTrace trace, int label, double rate)
    {
        int k = trace.Size;
        RequireLabel(loss, label, k);
        double T = trace.Duration;
        var z = new double[k];
        for (int i = 0; i < k; i++) z[i] = trace.IntegrateVoltage(i, rate) / T;
        var p = Of(z);
        var drive = new AdjointDrive();
        for (int i = 0; i < k; i++) drive.AddExponential(i, (p[i] - (i == label ? 1 : 0)) / T, rate);
        return new LossEvaluation(CrossEntropy(z, label), z, drive);
    }

    public static void RequireLabel(string loss, int label, int classes)
    {
        if ((uint)label >= (uint)classes)
            throw new ArgumentOutOfRangeException(nameof(label), label, $"Loss '{loss}': label {label} is not a readout neuron (0…{classes - 1}).");
    }
}
