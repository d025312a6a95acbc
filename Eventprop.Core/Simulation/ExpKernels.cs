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
public static class ExpKernels
{
    /// <summary>Spread (in units of 1/Δ) below which the Taylor form is used; above it the recursion loses &lt; 1 digit.</summary>
    private const double TaylorSpread = 0.5;

    /// <summary>(e^x − 1)/x, accurate for all x (1 at x = 0).</summary>
    public static double Exprel(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 0.03)
        {
            // Σ_{i≤7} x^i/(i+1)!: the first omitted term is < 0.03^8/9! ≈ 1.8e-18.
            return 1 + x * (1.0 / 2 + x * (1.0 / 6 + x * (1.0 / 24 + x * (1.0 / 120 + x * (1.0 / 720 + x * (1.0 / 5040
                + x * (1.0 / 40320)))))));
        }
        if (ax < 0.1)
        {
            // Σ_{i≤9} x^i/(i+1)!: the first omitted term is < 0.1^10/11! ≈ 2.5e-18.
            return 1 + x * (1.0 / 2 + x * (1.0 / 6 + x * (1.0 / 24 + x * (1.0 / 120 + x * (1.0 / 720 + x * (1.0 / 5040
                + x * (1.0 / 40320 + x * (1.0 / 362880 + x * (1.0 / 3628800)))))))));
        }
        if (ax < 0.5)
        {
            // Σ_{i≤15} x^i/(i+1)!: the first omitted term is < 0.5^16/17! ≈ 4e-20.
            double p = 1.0 / 20922789888000; // 1/16!
            for (int i = 14; i >= 0; i--) p = p * x + InverseFactorial[i + 1];
            return p;
        }
        return (Math.Exp(x) - 1.0) / x;
    }

    /// <summary>(e^x − 1 − x)/x², accurate for all x (1/2 at x = 0).</summary>
    public static double Exprel2(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 0.05)
        {
            // Σ x^i/(i+2)! for i ≤ 7: the first omitted term is < 0.05^8/10! ≈ 2e-17 relative to 1/2.
            return 1.0 / 2 + x * (1.0 / 6 + x * (1.0 / 24 + x * (1.0 / 120 + x * (1.0 / 720 + x * (1.0 / 5040
                + x * (1.0 / 40320 + x * (1.0 / 362880)))))));
        }
        if (ax < 0.5)
        {
            // Σ x^i/(i+2)! for i ≤ 15: the first omitted term is < 0.5^16/18! ≈ 2e-21.
            double p = InverseFactorial[17];
            for (int i = 14; i >= 0; i--) p = p * x + InverseFactorial[i + 2];
            return p;
        }
        return (Math.Exp(x) - 1.0 - x) / (x * x);
    }

    /// <summary>1/k! for k = 0…17.</summary>
    private static readonly double[] InverseFactorial = BuildInverseFactorials(18);

    private static double[] BuildInverseFactorials(int n)
    {
        var f = new double[n];
        double k = 1;
        for (int i = 0; i < n; i++)
        {
            if (i > 0) k *= i;
            f[i] = 1.0 / k;
        }
        return f;
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

    /// <summary>Psi(Δ; a, a, b) given ea = e^{−aΔ}, eb = e^{−bΔ}: a double node, as in the τ-gradient integrals.</summary>
    public static double PsiDoubleNode(double delta, double a, double b, double ea, double eb)
    {
        double d = b - a;
        double x = d * delta;
        if (Math.Abs(x) < TaylorSpread)
            return delta * delta * ea * Exprel2(-x); // e^{−aΔ} ∫₀^Δ (Δ − u) e^{−(b−a)u} du
        return (delta * ea - Psi2(delta, a, b, ea, eb)) / d;
    }

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
    /// <summary>Psi(Δ; a, b, c, d): the convolution of four exponential kernels at Δ (the integrator readout's drive integrals).</summary>
    public static double Psi4(double delta, double a, double b, double c, double d)
    {
        Span<double> z = [a, b, c, d];
        z.Sort();
        double spread = (z[3] - z[0]) * delta;
        if (spread < TaylorSpread)
        {
            double mu = (z[0] + z[3]) * 0.5;
            // Psi = e^{−μΔ} Δ³ Σ_i h_i(x)/(i+3)!, x_j = −(z_j − μ)Δ, h_i the complete homogeneous symmetric polynomials of
            // the four x_j (built one node at a time: h^{(j)}_i = h^{(j−1)}_i + x_j h^{(j)}_{i−1}). |x| ≤ 0.25: 16 terms
            // give < 1e-18 relative error.
            Span<double> h = stackalloc double[16];
            double p = 1.0, x0 = -(z[0] - mu) * delta;
            for (int i = 0; i < 16; i++)
            {
                h[i] = p;
                p *= x0;
            }
            for (int j = 1; j < 4; j++)
            {
                double xj = -(z[j] - mu) * delta;
                for (int i = 1; i < 16; i++) h[i] += xj * h[i - 1];
            }
            double sum = 0.0, fact = 6.0; // (i+3)! for i = 0
            for (int i = 0; i < 16; i++)
            {
                if (i > 0) fact *= i + 3;
                sum += h[i] / fact;
            }
            return Math.Exp(-mu * delta) * delta * delta * delta * sum;
        }
        return (Psi3(delta, z[0], z[1], z[2]) - Psi3(delta, z[1], z[2], z[3])) / (z[3] - z[0]);
    }
}
