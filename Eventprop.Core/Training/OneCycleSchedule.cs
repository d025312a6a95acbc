namespace Eventprop.Core.Training;

/// <summary>How the one-cycle schedule moves between its end points.</summary>
public enum AnnealStrategy
{
    /// <summary>Half a cosine: end + (start − end)·(1 + cos πp)/2 (PyTorch's default).</summary>
    Cosine,
    /// <summary>A straight line: start + (end − start)·p.</summary>
    Linear,
}

/// <summary>
/// The one-cycle learning-rate schedule (Smith &amp; Topin; Smith 2018, as seed 004 §3.1 uses it), with PyTorch's
/// <c>OneCycleLR</c> definition and defaults: over the first <see cref="WarmupFraction"/> of the run's updates the learning
/// rate rises from η_max/<see cref="DivFactor"/> to η_max, then it anneals to η_max/(<see cref="DivFactor"/>·<see cref="FinalDivFactor"/>);
/// with <see cref="CycleMomentum"/> Adam's β1 moves the other way (<see cref="MaxMomentum"/> → <see cref="BaseMomentum"/> → <see cref="MaxMomentum"/>).
/// η_max is <see cref="TrainingOptions.LearningRate"/>. It replaces the ease-in and the halving schedule.
/// </summary>
/// <remarks>
/// Update k (0-based) of T: the warm-up ends at k₁ = <see cref="WarmupFraction"/>·T − 1 and the anneal at T − 1; in the
/// warm-up p = k/k₁ and η = anneal(η_max/div, η_max, p), after it p = (k − k₁)/(T − 1 − k₁) and
/// η = anneal(η_max, η_max/(div·final_div), p). Updates after the T-th (a resume that raised the epochs) keep the last value.
/// Seed 004 does not say whether it cycles the momentum; Smith (2018), which it follows, recommends it and PyTorch does it
/// by default, so it is on by default here.
/// </remarks>
/// <param name="WarmupFraction">Fraction of the updates spent warming up (PyTorch's <c>pct_start</c>, default 0.3; in (0, 1)).</param>
/// <param name="DivFactor">η at the start = η_max / this (default 25; ≥ 1).</param>
/// <param name="FinalDivFactor">η at the end = η at the start / this (default 1e4; ≥ 1).</param>
/// <param name="Anneal">Cosine (default) or linear.</param>
/// <param name="CycleMomentum">Whether Adam's β1 cycles inversely to the learning rate (default true).</param>
/// <param name="BaseMomentum">β1 at the peak learning rate (default 0.85).</param>
/// <param name="MaxMomentum">β1 at the start and the end (default 0.95).</param>
public sealed record OneCycleSchedule(double WarmupFraction = 0.3, double DivFactor = 25, double FinalDivFactor = 1e4,
    AnnealStrategy Anneal = AnnealStrategy.Cosine, bool CycleMomentum = true, double BaseMomentum = 0.85, double MaxMomentum = 0.95)
{
    /// <summary>The learning rate of update <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>, for peak <paramref name="maxLearningRate"/>.</summary>
    public double LearningRate(long step, long totalSteps, double maxLearningRate)
    {
        double initial = maxLearningRate / DivFactor, final = initial / FinalDivFactor;
        return Value(step, totalSteps, initial, maxLearningRate, final);
    }

    /// <summary>Adam's β1 at update <paramref name="step"/> of <paramref name="totalSteps"/> (null without <see cref="CycleMomentum"/>).</summary>
    public double? Beta1(long step, long totalSteps) =>
        CycleMomentum ? Value(step, totalSteps, MaxMomentum, BaseMomentum, MaxMomentum) : null;

    /// <summary>Throws with a one-line message naming the first bad setting.</summary>
    public void Validate()
    {
        if (!(WarmupFraction > 0 && WarmupFraction < 1)) throw new ArgumentOutOfRangeException(nameof(WarmupFraction), WarmupFraction, "The one-cycle warm-up fraction must lie in (0, 1).");
        if (!(DivFactor >= 1) || !double.IsFinite(DivFactor)) throw new ArgumentOutOfRangeException(nameof(DivFactor), DivFactor, "The one-cycle div factor must be finite and ≥ 1.");
        if (!(FinalDivFactor >= 1) || !double.IsFinite(FinalDivFactor)) throw new ArgumentOutOfRangeException(nameof(FinalDivFactor), FinalDivFactor, "The one-cycle final div factor must be finite and ≥ 1.");
        if (!Enum.IsDefined(Anneal)) throw new ArgumentOutOfRangeException(nameof(Anneal), Anneal, "Unknown anneal strategy.");
        if (CycleMomentum && !(BaseMomentum >= 0 && BaseMomentum <= MaxMomentum && MaxMomentum < 1))
            throw new ArgumentOutOfRangeException(nameof(BaseMomentum), BaseMomentum, "The one-cycle momenta must satisfy 0 ≤ base ≤ max < 1.");
    }

    private double Value(long step, long totalSteps, double start, double peak, double end)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        double k = Math.Min(step, totalSteps - 1);
        double warmupEnd = WarmupFraction * totalSteps - 1, last = totalSteps - 1;
        if (k <= warmupEnd)
            return Interpolate(start, peak, warmupEnd <= 0 ? 1 : k / warmupEnd);
        return Interpolate(peak, end, last - warmupEnd <= 0 ? 1 : (k - warmupEnd) / (last - warmupEnd));
    }

    private double Interpolate(double from, double to, double p) => Anneal == AnnealStrategy.Cosine
        ? to + (from - to) / 2 * (Math.Cos(Math.PI * p) + 1)
        : (to - from) * p + from;
}
