namespace Eventprop.Core.Simulation;

/// <summary>
/// The exact engine's threshold-crossing search for the current-based family (τm V̇ = I − ℓV, τs İ = −I): a cheap lower
/// bound that defers the exact search until it becomes the earliest event, and the exact next crossing (closed form for
/// integrate-and-fire, bracketed safeguarded Newton for LIF).
/// </summary>
internal static class ExactCrossing
{
    /// <summary>
    /// A cheap lower bound on neuron g's next threshold crossing after t (exact when there is none). With τm V̇ = I − ℓV
    /// and I decaying, V̈ = (İ − ℓV̇)/τm &lt; 0 while V rises (I &gt; 0), so V(t + s) ≤ V₀ + s(I₀ − ℓV₀)/τm and no crossing
    /// comes before s = (ϑ − V₀)τm/(I₀ − ℓV₀). A crossing from below needs V̇ &gt; 0 at V = ϑ, i.e. I &gt; ℓϑ, and |I| only
    /// decays, so I₀ ≤ ℓϑ means none. The exact time is computed only if this bound becomes the earliest event.
    /// </summary>
    public static void Bound(ExactPlan plan, int g, double t, double v0, double i0, double[] next, bool[] exact)
        => Bound(plan.Threshold[g], plan.Leak[g] * plan.Threshold[g], plan.Leak[g], plan.TauMem[g], t, v0, i0, out next[g], out exact[g]);

    /// <summary>
    /// <see cref="Bound(ExactPlan, int, double, double, double, double[], bool[])"/> with the neuron's constants passed in,
    /// so that loops over one population's targets load its threshold and leak once (ℓϑ precomputed as
    /// <paramref name="leakTheta"/>).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static void Bound(double theta, double leakTheta, double leak, double tauMem, double t, double v0, double i0, out double next, out bool exact)
    {
        if (v0 >= theta)
        {
            next = t;
            exact = true;
        }
        else if (i0 <= leakTheta)
        {
            next = double.PositiveInfinity;
            exact = true;
        }
        else
        {
            next = t + (theta - v0) * tauMem / (i0 - leak * v0);
            exact = false;
        }
    }

    /// <summary>Time from now until V first reaches ϑ, or +∞, for a neuron with state (v0, i0).</summary>
    public static double Next(ExactPlan plan, int g, double v0, double i0)
    {
        double theta = plan.Threshold[g];
        if (v0 >= theta) return 0; // can only happen through rounding right at a crossing
        if (plan.Leak[g] == 0) return IntegrateAndFire(theta - v0, i0, plan.TauMem[g], plan.TauSyn[g]);
        if (i0 <= theta) return double.PositiveInfinity; // V̇ > 0 at threshold needs I > ϑ, and |I| only decays
        double tm = plan.TauMem[g], m = plan.RateMem[g], r = plan.RateSyn[g];
        // Turning point of V: e^{−d s*} = (1 + x1)/(1 + x2), d = 1/τs − 1/τm, x2 = τm d, x1 = (v0/i0) x2.
        double x2 = tm * (r - m);
        double ratio = v0 / i0;
        double x1 = ratio * x2;
        if (1.0 + x1 <= 0) return double.PositiveInfinity; // V rises monotonically towards 0 from below
        double sStar = tm * (ExpKernels.Log1PRel(x2) - ratio * ExpKernels.Log1PRel(x1));
        if (!(sStar > 0)) return double.PositiveInfinity;
        double vMax = VoltageAfter(v0, i0, m, r, sStar, out _);
        if (vMax < theta) return double.PositiveInfinity;

        // V is increasing on [0, s*] with V(0) < ϑ ≤ V(s*): safeguarded Newton.
        double lo = 0, hi = sStar;
        double s = sStar * (theta - v0) / (vMax - v0);
        for (int iter = 0; iter < 100; iter++)
        {
            double vs = VoltageAfter(v0, i0, m, r, s, out double es);
            double f = vs - theta;
            if (f == 0) return s;
            if (f < 0) lo = s;
            else hi = s;
            double slope = (i0 * es - vs) * m;
            double sn = slope > 0 ? s - f / slope : double.NaN;
            if (!(sn > lo && sn < hi)) sn = 0.5 * (lo + hi);
            if (Math.Abs(sn - s) <= 2e-16 * s || hi - lo <= 4e-16 * hi)
                return sn;
            s = sn;
        }
        return s;
    }

    /// <summary>
    /// Integrate-and-fire: V(s) = V₀ + I₀ (τs/τm)(1 − e^{−s/τs}) rises monotonically towards V₀ + I₀τs/τm when I₀ &gt; 0,
    /// so the crossing of ϑ = V₀ + <paramref name="gap"/> is s = −τs ln(1 − x), x = gap·τm/(I₀τs), when x &lt; 1.
    /// </summary>
    public static double IntegrateAndFire(double gap, double i0, double tauMem, double tauSyn)
    {
        if (i0 <= 0) return double.PositiveInfinity;
        double x = gap * tauMem / (i0 * tauSyn);
        if (!(x < 1)) return double.PositiveInfinity;
        return -tauSyn * ExpKernels.Log1P(-x);
    }

    private static double VoltageAfter(double v0, double i0, double m, double r, double s, out double es)
    {
        double em = Math.Exp(-m * s);
        es = Math.Exp(-r * s);
        return v0 * em + i0 * m * ExpKernels.Psi2(s, m, r, em, es);
    }
}
