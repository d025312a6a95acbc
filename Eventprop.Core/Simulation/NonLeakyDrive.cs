namespace Eventprop.Core.Simulation;

/// <summary>
/// The exponential loss drive ∂l_V/∂V = c·e^{−ρt} on a readout without leak (the integrator, τm V̇ = I) over one reverse
/// interval [t, t + Δ], in closed form. The leaky readout's particular solution −c/(1 + ρτm)·e^{−ρt} becomes
/// −c/(ρτm)·e^{−ρt} without leak, singular at ρ = 0 (the <c>sum</c> loss: λV grows linearly), so here λ is the drive's
/// response started from 0 at t + Δ, written with Psi kernels that stay finite for every ρ ≥ 0.
/// </summary>
/// <remarks>
/// With K = −c·m·e^{−ρt} and x ∈ [0, Δ] the time after t: λV(x) = K e^{−ρx} Psi(Δ − x; ρ, 0),
/// λI(x) = rs ∫ₓ^Δ e^{−rs(y − x)} λV(y) dy, and I(x) = I_a e^{−rs x}. Then λV(0) = K Psi(Δ; ρ, 0),
/// λI(0) = K rs Psi(Δ; ρ + rs, ρ, 0), ∫λV I = K I_a Psi(Δ; ρ + rs, ρ, 0), ∫λI I = K I_a rs Psi(Δ; ρ + rs, ρ + rs, ρ, 0).
/// ∫λV V is not needed: it enters dL/dτm multiplied by ℓ = 0.
/// </remarks>
internal static class NonLeakyDrive
{
    /// <summary>Adds the drive's λ at t and its τ-gradient integrals (a = ∫λV I, c = ∫λI I) over the interval.</summary>
    public static void Add(double coefficient, double rho, double t, double delta, double m, double rs, double ia,
        ref double a, ref double c, ref double lvStart, ref double liStart)
    {
        double k = -coefficient * m * (rho == 0 ? 1 : Math.Exp(-rho * t));
        double syn = ExpKernels.Psi3(delta, rho + rs, rho, 0);
        lvStart += k * ExpKernels.Psi2(delta, rho, 0);
        liStart += k * rs * syn;
        a += k * ia * syn;
        c += k * ia * rs * ExpKernels.Psi4(delta, rho + rs, rho + rs, rho, 0);
    }
}
