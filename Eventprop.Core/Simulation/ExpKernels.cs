namespace Eventprop.Core.Simulation;

/// <summary>
/// Cancellation-free building blocks for sums of decaying exponentials.
/// </summary>
/// <remarks>
/// <para><c>Psi(Δ; a₀, …, a_k)</c> is the k-fold convolution of the kernels e^{−a_i t}, evaluated at Δ.
/// It equals (−1)^k times the divided difference of f(x) = e^{−xΔ} at the nodes a_i, so
/// Psi(Δ; a) = e^{−aΔ}, Psi(Δ; a, b) = (e^{−aΔ} − e^{−bΔ})/(b − a), and Psi(Δ; a, 0) = ∫₀^Δ e^{−as} ds.</para>
/// <para>Every closed form of the exact engine is a combination of these: the membrane potential
/// V(s) = V₀ e^{−s/τm} + (I₀/τm)·Psi(s; 1/τm, 1/τs), integrals of V, and the integrals of adjoint × state that
/// give the τ gradients. Coincident or nearly coincident rates (τm = τs) are handled by a Taylor expansion
/// about the mean node, so the results are smooth in the rates to full double precision.</para>
/// <para>All rates must be ≥ 0 and Δ ≥ 0, so no term overflows.</para>
/// </remarks>
internal static class ExpKernels
{
    /// <summary>Spread (in units of 1/Δ) below which the Taylor form is used; above it the recursion loses &lt; 1 digit.</summary>
    private const double TaylorSpread = 0.5;

    /// <summary>(e^x − 1)/x, accurate for all x (1 at x = 0).</summary>
    public static double Exprel(double x)
    {
        if (Math.Abs(x) < 0.5)
        {
            // Σ x^i/(i+1)!; 18 terms give < 1e-19 relative error for |x| < 0.5.
            double term = 1.0, sum = 1.0;
            for (int i = 1; i < 18; i++)
            {
                term *= x / (i + 1);
                sum += term;
            }
            return sum;
        }
        return (Math.Exp(x) - 1.0) / x;
    }

    /// <summary>log(1 + x), accurate for small x (x &gt; −1).</summary>
    public static double Log1P(double x)
    {
        double u = 1.0 + x;
        if (u == 1.0) return x;
        return Math.Log(u) * x / (u - 1.0);
    }

    /// <summary>log(1 + x)/x, accurate near 0 (1 at x = 0; x &gt; −1).</summary>
    public static double Log1PRel(double x)
    {
        double u = 1.0 + x;
        if (u == 1.0) return 1.0;
        return Math.Log(u) / (u - 1.0);
    }

    /// <summary>Psi(Δ; a, b) = (e^{−aΔ} − e^{−bΔ})/(b − a), given ea = e^{−aΔ} and eb = e^{−bΔ}.</summary>
    public static double Psi2(double delta, double a, double b, double ea, double eb)
    {
        double d = b - a;
        double x = Math.Abs(d) * delta;
        if (x < TaylorSpread)
        {
            // e^{−min·Δ} · Δ · (1 − e^{−|d|Δ})/(|d|Δ)
            return (d >= 0 ? ea : eb) * delta * Exprel(-x);
        }
        return (ea - eb) / d;
    }

    /// <summary>Psi(Δ; a, b).</summary>
    public static double Psi2(double delta, double a, double b) =>
        Psi2(delta, a, b, Math.Exp(-a * delta), Math.Exp(-b * delta));

    /// <summary>Psi(Δ; a, b, c): the convolution of three exponential kernels at Δ.</summary>
    public static double Psi3(double delta, double a, double b, double c)
    {
        // Sort so that the recursion divides by the full spread.
        if (a > b) (a, b) = (b, a);
        if (b > c) (b, c) = (c, b);
        if (a > b) (a, b) = (b, a);
        double spread = (c - a) * delta;
        if (spread < TaylorSpread)
        {
            double mu = (a + c) * 0.5;
            double z0 = -(a - mu) * delta, z1 = -(b - mu) * delta, z2 = -(c - mu) * delta;
            // Psi = e^{−μΔ} Δ² Σ_i h_i(z)/(i+2)!, h_i the complete homogeneous symmetric polynomials.
            // |z| ≤ 0.25 so 16 terms give < 1e-18 relative error.
            Span<double> h0 = stackalloc double[16];
            Span<double> h1 = stackalloc double[16];
            double p = 1.0;
            for (int i = 0; i < 16; i++)
            {
                h0[i] = p;
                p *= z0;
            }
            h1[0] = 1.0;
            for (int i = 1; i < 16; i++) h1[i] = h0[i] + z1 * h1[i - 1];
            double h2 = 1.0, sum = 0.0, fact = 2.0; // (i+2)! for i = 0
            for (int i = 0; i < 16; i++)
            {
                if (i > 0)
                {
                    h2 = h1[i] + z2 * h2;
                    fact *= i + 2;
                }
                sum += h2 / fact;
            }
            return Math.Exp(-mu * delta) * delta * delta * sum;
        }
        return (Psi2(delta, a, b) - Psi2(delta, b, c)) / (c - a);
    }
}
