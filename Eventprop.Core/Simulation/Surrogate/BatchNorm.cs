using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>
/// The batch-norm statistics of one layer's input current over one batch: per channel (a dense layer's neurons, or a
/// convolution's output channels) the mean and the biased variance of the per-step drive x over the
/// <see cref="Count"/> = trials × steps × positions values that the batch produced.
/// </summary>
/// <param name="Mean">Per channel, the batch mean μ_B.</param>
/// <param name="Variance">Per channel, the biased batch variance σ²_B = mean((x − μ_B)²), the one the training forward normalises with.</param>
/// <param name="Count">The number of values each channel's statistics are over (trials × steps × positions per channel).</param>
public sealed record BatchNormStatistics(double[] Mean, double[] Variance, long Count);

/// <summary>
/// Batch normalisation of a hidden layer's input current (seed 004 §2.6): the arithmetic the surrogate engine's passes
/// share — statistics from sums, the affine map y = γ·x̂ + β with x̂ = (x − μ)/√(σ² + ε), the coefficients of the
/// batch-coupled backward dx = γ/σ·(dy − mean(dy) − x̂·mean(dy·x̂)), and the running-statistics update.
/// </summary>
/// <remarks>
/// <para>Training (SurrogateEngine.Gradient)
/// normalises with the batch's statistics over (trials × steps × positions) and reports them in
/// <see cref="GradientResult.BatchNorm"/>; it changes no parameter. The caller folds them into the running statistics with
/// <see cref="UpdateRunningStatistics"/> (the <see cref="Training.Trainer"/> does after each optimiser step). Evaluation
/// normalises with the running statistics: a fixed per-channel affine map, no coupling between trials.</para>
/// <para>As in PyTorch: ε = 1e-5, momentum 0.1 by default, running ← (1 − m)·running + m·batch with the unbiased variance
/// σ²_B·n/(n − 1) for the running estimate, the biased σ²_B in the training forward.</para>
/// </remarks>
public static class BatchNorm
{
    /// <summary>ε added to the variance before the square root (PyTorch's default).</summary>
    public const double Epsilon = 1e-5;

    /// <summary>The default momentum of the running statistics (PyTorch's 0.1).</summary>
    public const double DefaultMomentum = 0.1;

    /// <summary>Name of population <paramref name="layer"/>'s parameter of batch-norm kind <paramref name="kind"/> (<c>layer.bn_scale</c>, …).</summary>
    public static string ParameterName(string layer, ParameterKind kind) => ParameterSet.NeuronParameterName(layer, kind);

    /// <summary>
    /// Folds one batch's statistics into the running statistics of <paramref name="parameters"/> (in place):
    /// mean ← (1 − m)·mean + m·μ_B, var ← (1 − m)·var + m·σ²_B·n/(n − 1) (n = <see cref="BatchNormStatistics.Count"/>;
    /// with n = 1 the biased variance is used).
    /// </summary>
    /// <param name="parameters">The network's parameters (holding <c>layer.bn_running_mean</c> and <c>layer.bn_running_var</c>).</param>
    /// <param name="statistics">Per batch-normalised layer (by name), the batch statistics of <see cref="GradientResult.BatchNorm"/>.</param>
    /// <param name="momentum">m in (0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException">The momentum is not in (0, 1].</exception>
    /// <exception cref="ArgumentException">A layer has no running statistics or another channel count.</exception>
    public static void UpdateRunningStatistics(ParameterSet parameters, IReadOnlyDictionary<string, BatchNormStatistics> statistics, double momentum = DefaultMomentum)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(statistics);
        RequireMomentum(momentum);
        foreach (var (layer, s) in statistics.OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            string meanName = ParameterName(layer, ParameterKind.BatchNormRunningMean), varName = ParameterName(layer, ParameterKind.BatchNormRunningVariance);
            if (!parameters.Contains(meanName) || !parameters.Contains(varName))
                throw new ArgumentException($"Layer '{layer}' has no running batch-norm statistics ({meanName}, {varName}).", nameof(statistics));
            var mean = parameters[meanName].Values;
            var variance = parameters[varName].Values;
            if (mean.Length != s.Mean.Length || variance.Length != s.Variance.Length)
                throw new ArgumentException($"Layer '{layer}': {s.Mean.Length} batch statistics for {mean.Length} running ones.", nameof(statistics));
            double unbias = s.Count > 1 ? s.Count / (s.Count - 1.0) : 1.0;
            for (int c = 0; c < mean.Length; c++)
            {
                mean[c] = (1 - momentum) * mean[c] + momentum * s.Mean[c];
                variance[c] = (1 - momentum) * variance[c] + momentum * s.Variance[c] * unbias;
            }
        }
    }

    /// <summary>Refuses a momentum outside (0, 1] in one line.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The momentum is not in (0, 1].</exception>
    public static void RequireMomentum(double momentum)
    {
        if (!(momentum > 0 && momentum <= 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"The batch-norm momentum must lie in (0, 1] (PyTorch's default is 0.1), not {momentum}.");
    }

    /// <summary>Statistics from per-channel sums Σx and Σx² over <paramref name="count"/> values (double; variance clamped at 0).</summary>
    internal static BatchNormStatistics FromSums(double[] sum, double[] sumOfSquares, long count)
    {
        var mean = new double[sum.Length];
        var variance = new double[sum.Length];
        for (int c = 0; c < sum.Length; c++)
        {
            mean[c] = sum[c] / count;
            variance[c] = Math.Max(0, sumOfSquares[c] / count - mean[c] * mean[c]);
        }
        return new BatchNormStatistics(mean, variance, count);
    }

    /// <summary>1/√(σ² + ε).</summary>
    internal static double InverseDeviation(double variance) => 1.0 / Math.Sqrt(variance + Epsilon);

    /// <summary>The forward map y = γ·(x − μ)/√(σ² + ε) + β as y = multiplier·x + offset.</summary>
    internal static (double Multiplier, double Offset) Affine(double scale, double bias, double mean, double variance)
    {
        double multiplier = scale * InverseDeviation(variance);
        return (multiplier, bias - multiplier * mean);
    }

    /// <summary>
    /// The batch-coupled backward dx = γ/σ·(dy − m₁ − x̂·m₂) (m₁ = mean(dy), m₂ = mean(dy·x̂) over the same values as the
    /// statistics, σ = √(σ²_B + ε)) as dx = a·dy − b − c·x with x the raw drive. With <paramref name="dropCovariance"/> the
    /// m₂ term is left out (the <see cref="SurrogateFault.BatchNormCovarianceTermDropped"/> fault).
    /// </summary>
    internal static (double A, double B, double C) BackwardCoefficients(double scale, double mean, double variance, double meanAdjoint, double meanAdjointTimesNormalised, bool dropCovariance = false)
    {
        double inv = InverseDeviation(variance), a = scale * inv;
        double m2 = dropCovariance ? 0 : meanAdjointTimesNormalised;
        // x̂ = (x − μ)·inv: a·(dy − m₁ − (x − μ)·inv·m₂) = a·dy − a·(m₁ − μ·inv·m₂) − a·inv·m₂·x.
        return (a, a * (meanAdjoint - mean * inv * m2), a * inv * m2);
    }
}
