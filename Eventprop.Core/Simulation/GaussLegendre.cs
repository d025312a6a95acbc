namespace Eventprop.Core.Simulation;

/// <summary>8-point Gauss–Legendre nodes and weights on [0, 1], and the panel rule the exact engine uses.</summary>
internal static class GaussLegendre
{
    /// <summary>Nodes on [0, 1].</summary>
    public static readonly double[] Nodes;

    /// <summary>Weights on [0, 1] (sum 1).</summary>
    public static readonly double[] Weights;

    static GaussLegendre()
    {
        var rule = new MathNet.Numerics.Integration.GaussLegendreRule(0, 1, 8);
        Nodes = rule.Abscissas;
        Weights = rule.Weights;
    }

    /// <summary>
    /// Number of equal panels for an interval of length <paramref name="length"/> where the integrand varies on the scale
    /// <paramref name="scale"/>: panels no longer than scale/4, so the 8-point rule's error, ~(h/scale)^16/16!, is far
    /// below double precision.
    /// </summary>
    public static int Panels(double length, double scale) => Math.Max(1, (int)Math.Ceiling(4 * length / scale));
}

/// <summary>
/// Composite 8-point Gauss–Legendre quadrature of a vector-valued integrand on equal panels no longer than scale/4
/// (see <see cref="GaussLegendre.Panels"/>). The caller chooses the scale on which the integrand varies; the rule is
/// fixed by the interval, so the result is a smooth function of the parameters (no adaptive switching).
/// </summary>
internal static class PanelQuadrature
{
    /// <summary>Adds ∫ₐᵇ f to <paramref name="result"/> (dims components); f(x, values) writes the integrand at x.</summary>
    public static void Integrate(double a, double b, int dims, Action<double, double[]> f, double[] result, double scale)
    {
        double length = b - a;
        if (!(length > 0)) return;
        int panels = GaussLegendre.Panels(length, scale);
        double h = length / panels;
        var values = new double[dims];
        for (int p = 0; p < panels; p++)
        {
            double lo = a + p * h;
            for (int q = 0; q < GaussLegendre.Nodes.Length; q++)
            {
                f(lo + h * GaussLegendre.Nodes[q], values);
                double w = h * GaussLegendre.Weights[q];
                for (int d = 0; d < dims; d++) result[d] += w * values[d];
            }
        }
    }
}
