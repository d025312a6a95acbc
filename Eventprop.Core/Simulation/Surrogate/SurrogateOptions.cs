namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>How <see cref="SurrogateEngine"/> discretises the LIF dynamics in time.</summary>
public enum Discretisation
{
    /// <summary>
    /// The time-stepped Eventprop engine's scheme (as <see cref="Stepped.SteppedEngine"/>'s forward pass): exact per-step
    /// propagators V ← e^{−dt/τm}V + a·I, I ← e^{−dt/τs}I with a = τs/(τm − τs)(e^{−dt/τm} − e^{−dt/τs}); the threshold is
    /// checked after the step, the neuron reset, and the step's spikes delivered into I at the same grid point.
    /// </summary>
    ExactPropagator,
    /// <summary>
    /// Zenke &amp; Vogels eq. 4.1: U[n+1] = (βU[n] + (1 − β)I[n])(1 − S[n]), S[n] = Θ(U[n] − 1),
    /// I[n+1] = αI[n] + Σ W S_pre[n], with β = e^{−dt/τm}, α = e^{−dt/τs} (published setups step for step).
    /// </summary>
    ZenkeVogels,
}

/// <summary>Whether the gradient flows through the reset term of the membrane update.</summary>
public enum ResetGradient
{
    /// <summary>The reset is detached: ∂U/∂S is dropped (seed 001's default).</summary>
    Detached,
    /// <summary>The reset is differentiated: U·(1 − S) + S·V_r contributes (V_r − U)·h(x) through S (a subtractive reset,
    /// U − S(ϑ − V_r), contributes −(ϑ − V_r)·h(x)).</summary>
    Differentiable,
}

/// <summary>What the forward pass uses as the spike nonlinearity.</summary>
public enum ForwardSpike
{
    /// <summary>The hard threshold S = Θ(U − ϑ) (normal use).</summary>
    Heaviside,
    /// <summary>
    /// A smooth sigmoid S = s(β(U − ϑ)) with β the surrogate's scale, delivered densely. With the surrogate set to the exact
    /// derivative (<c>Surrogate.SigmoidDerivative(β, height: β)</c>), a differentiable reset and recurrent gradients on,
    /// the BPTT gradient is the exact gradient of the smooth network: a correctness check against finite differences.
    /// </summary>
    Sigmoid,
}

/// <summary>
/// The activity regularisers of seed 001 §4.2.5, applied to every hidden population separately and averaged over the
/// batch. With ζ_i the spike count of neuron i in a trial and M the population size:
/// per-neuron lower bound λ_lower·(1/M)Σ_i [ν_lower − ζ_i]₊², and population upper bound
/// λ_upper·([(1/M)Σ_i ζ_i − ν_upper]₊)^L with L ∈ {1, 2}. Unlike <see cref="Losses.ActivityRegularization"/> (Eventprop's
/// heuristic), these are terms of the loss that BPTT differentiates through the surrogate.
/// </summary>
/// <param name="LowerStrength">λ_lower (≥ 0; 0 switches the lower bound off).</param>
/// <param name="LowerTarget">ν_lower, spikes per neuron per trial.</param>
/// <param name="UpperStrength">λ_upper (≥ 0; 0 switches the upper bound off).</param>
/// <param name="UpperTarget">ν_upper, mean spikes per neuron per trial.</param>
/// <param name="UpperExponent">L: 1 or 2.</param>
public sealed record SpikeCountRegularization(double LowerStrength = 0, double LowerTarget = 0, double UpperStrength = 0, double UpperTarget = 0, int UpperExponent = 2)
{
    /// <summary>Throws unless the strengths and targets are finite and ≥ 0 and L is 1 or 2.</summary>
    public void Validate()
    {
        Check(LowerStrength, nameof(LowerStrength), "λ_lower");
        Check(LowerTarget, nameof(LowerTarget), "ν_lower");
        Check(UpperStrength, nameof(UpperStrength), "λ_upper");
        Check(UpperTarget, nameof(UpperTarget), "ν_upper");
        if (UpperExponent is not (1 or 2))
            throw new ArgumentOutOfRangeException(nameof(UpperExponent), UpperExponent, "The upper-bound exponent L must be 1 or 2.");
    }

    private static void Check(double x, string name, string symbol)
    {
        if (!double.IsFinite(x) || x < 0)
            throw new ArgumentOutOfRangeException(name, x, $"The regulariser's {symbol} must be finite and ≥ 0.");
    }

    /// <summary>The regulariser's value for one population's spike counts of one trial.</summary>
    public double Value(ReadOnlySpan<double> counts)
    {
        int m = counts.Length;
        if (m == 0) return 0;
        double lower = 0, mean = 0;
        for (int i = 0; i < m; i++)
        {
            double d = Math.Max(0, LowerTarget - counts[i]);
            lower += d * d;
            mean += counts[i];
        }
        mean /= m;
        double excess = Math.Max(0, mean - UpperTarget);
        double upper = UpperExponent == 1 ? excess : excess * excess;
        return LowerStrength * lower / m + UpperStrength * upper;
    }

    /// <summary>∂(value)/∂ζ_i for one population's spike counts of one trial, written into <paramref name="gradient"/>.</summary>
    public void Gradient(ReadOnlySpan<double> counts, Span<double> gradient)
    {
        int m = counts.Length;
        if (m == 0) return;
        double mean = 0;
        for (int i = 0; i < m; i++) mean += counts[i];
        mean /= m;
        double excess = mean - UpperTarget;
        double upper = excess <= 0 ? 0 : UpperExponent == 1 ? UpperStrength / m : 2 * UpperStrength * excess / m;
        for (int i = 0; i < m; i++)
        {
            double d = Math.Max(0, LowerTarget - counts[i]);
            gradient[i] = -2 * LowerStrength * d / m + upper;
        }
    }
}

/// <summary>Settings of <see cref="SurrogateEngine"/>.</summary>
public sealed record SurrogateOptions
{
    /// <summary>The surrogate derivative (default SuperSpike with β = 10).</summary>
    public Surrogate Surrogate { get; init; } = Surrogate.SuperSpike();

    /// <summary>The time discretisation (default: the stepped engine's exact propagators).</summary>
    public Discretisation Discretisation { get; init; } = Discretisation.ExactPropagator;

    /// <summary>Whether the reset is differentiated (default detached).</summary>
    public ResetGradient Reset { get; init; } = ResetGradient.Detached;

    /// <summary>
    /// Whether the gradient flows back through recurrent (population-to-itself) connections (default true). When false,
    /// ∂L/∂S of a neuron omits the terms through its own population's recurrent weights (their weight gradients are still computed).
    /// </summary>
    public bool RecurrentGradient { get; init; } = true;

    /// <summary>The forward spike nonlinearity (default the hard threshold; <see cref="ForwardSpike.Sigmoid"/> for checks).</summary>
    public ForwardSpike ForwardSpike { get; init; } = ForwardSpike.Heaviside;

    /// <summary>The seed-001 activity regularisers (null: none).</summary>
    public SpikeCountRegularization? Regularization { get; init; }

    /// <summary>Run in double precision instead of float32 (slower; for gradient checks).</summary>
    public bool DoublePrecision { get; init; }

    /// <summary>Worker threads over trials (null: the processor count). Results are bit-identical for a given value.</summary>
    public int? Threads { get; init; }

    /// <summary>A one-line description, e.g. for logs.</summary>
    public override string ToString() =>
        $"{Surrogate}, {Discretisation}, reset {Reset.ToString().ToLowerInvariant()}, recurrent gradient {(RecurrentGradient ? "on" : "off")}"
        + (ForwardSpike == ForwardSpike.Sigmoid ? ", sigmoid forward" : "") + (DoublePrecision ? ", double" : "");
}
