using Eventprop.Core.Losses;

namespace Eventprop.Losses;

/// <summary>The density l_V(t, V) of a <see cref="CustomLoss"/>: writes its components into <paramref name="values"/>.</summary>
public delegate void LossDensity(double time, ReadOnlySpan<double> voltages, Span<double> values);

/// <summary>
/// The vector–Jacobian product of a <see cref="CustomLoss"/> density: drive_k = Σ_n weights_n ∂l_V^n/∂V_k at (t, V).
/// </summary>
public delegate void LossDensityGradient(double time, ReadOnlySpan<double> voltages, ReadOnlySpan<double> weights, Span<double> drive);

/// <summary>
/// The outer function F of a <see cref="CustomLoss"/>: returns F(integrals, label) and writes ∂F/∂integrals into
/// <paramref name="gradient"/>.
/// </summary>
public delegate double LossOuterFunction(ReadOnlySpan<double> integrals, int label, Span<double> gradient);

/// <summary>
/// A loss of the extended Eventprop form L = F(∫₀ᵀ l_V(t, V(t)) dt) defined by the user, with no change to any engine:
/// supply the density l_V (n components), its vector–Jacobian product, and F with its gradient. The engine applies the
/// drive Σ_n ∂F/∂(∫l_V^n) · ∂l_V^n/∂V_k. The prediction is the argmax of the integrals (use n = readout size for that
/// to be meaningful).
/// </summary>
/// <example>Mean squared error of z = (1/T)∫V dt against a one-hot target: see <see cref="MeanSquaredError"/>.</example>
public sealed class CustomLoss(string name, int components, LossDensity density, LossDensityGradient densityGradient, LossOuterFunction outer) : ILoss
{
    /// <inheritdoc />
    public string Name { get; } = string.IsNullOrWhiteSpace(name) ? throw new ArgumentException("A custom loss needs a name.") : name;

    /// <inheritdoc />
    public ReadoutKind Readout => ReadoutKind.LeakyIntegrator;

    /// <summary>Number of components n of the density.</summary>
    public int Components { get; } = components > 0 ? components : throw new ArgumentOutOfRangeException(nameof(components), components, "A custom loss needs at least one density component.");

    /// <inheritdoc />
    public LossEvaluation Evaluate(ReadoutTrace trace, int label)
    {
        Softmax.RequireLabel(Name, label, trace.Size);
        var integrals = new double[Components];
        for (int n = 0; n < Components; n++)
        {
            int c = n;
            integrals[n] = trace.Integrate((t, v) =>
            {
                Span<double> values = stackalloc double[Components];
                density(t, v, values);
                return values[c];
            });
        }
        var gradient = new double[Components];
        double value = outer(integrals, label, gradient);
        var drive = new AdjointDrive().AddVoltageDependent((t, v, d) => densityGradient(t, v, gradient, d));
        return new LossEvaluation(value, integrals, drive);
    }

    /// <summary>
    /// Example custom loss: L = Σ_k (z_k − δ_ky)² with z_k = (1/T)∫₀ᵀ V_k dt (trial length T ms, K readout neurons).
    /// </summary>
    public static CustomLoss MeanSquaredError(double duration, int readoutSize) => new(
        "mse", readoutSize,
        (_, v, values) =>
        {
            for (int k = 0; k < v.Length; k++) values[k] = v[k] / duration;
        },
        (_, v, weights, drive) =>
        {
            for (int k = 0; k < v.Length; k++) drive[k] = weights[k] / duration;
        },
        (z, label, gradient) =>
        {
            double sum = 0;
            for (int k = 0; k < z.Length; k++)
            {
                double e = z[k] - (k == label ? 1 : 0);
                sum += e * e;
                gradient[k] = 2 * e;
            }
            return sum;
        });
}
