namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>One evaluation of a <see cref="Bisection"/> search.</summary>
/// <param name="Index">0 and 1: the bracket's ends; then 2, 3, …: the midpoints.</param>
/// <param name="X">Where f was evaluated.</param>
/// <param name="Value">f(x).</param>
/// <param name="Lower">The bracket's lower end after this evaluation.</param>
/// <param name="Upper">The bracket's upper end after this evaluation.</param>
public sealed record BisectionStep(int Index, double X, double Value, double Lower, double Upper);

/// <summary>The result of <see cref="Bisection.FindRoot"/>.</summary>
/// <param name="Root">The best x found (the evaluated point with the smallest |f|).</param>
/// <param name="Value">f(Root).</param>
/// <param name="Converged">Whether |f(Root)| ≤ the tolerance, or the bracket shrank below the x tolerance, within the cap.</param>
/// <param name="Steps">Every evaluation, in order.</param>
public sealed record BisectionResult(double Root, double Value, bool Converged, IReadOnlyList<BisectionStep> Steps);

/// <summary>Root finding by bisection of a bracket on which a continuous f changes sign.</summary>
public static class Bisection
{
    /// <summary>
    /// Finds x in [<paramref name="lower"/>, <paramref name="upper"/>] with |f(x)| ≤ <paramref name="tolerance"/>: evaluates both
    /// ends (they must differ in sign, or one is already within the tolerance), then halves the bracket, keeping the half
    /// whose ends differ in sign, until |f(mid)| ≤ tolerance, the bracket is narrower than <paramref name="xTolerance"/>, or
    /// <paramref name="maxIterations"/> midpoints were evaluated (then <see cref="BisectionResult.Converged"/> is false).
    /// </summary>
    /// <exception cref="ArgumentException">A bad bracket or setting, f not finite, or no sign change over the bracket (one line).</exception>
    public static BisectionResult FindRoot(Func<double, double> f, double lower, double upper, double tolerance, double xTolerance, int maxIterations,
        Action<BisectionStep>? onStep = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (!double.IsFinite(lower) || !double.IsFinite(upper) || !(lower < upper))
            throw new ArgumentException($"The bisection bracket must be finite with lower < upper, got [{lower}, {upper}].", nameof(lower));
        if (!(tolerance > 0) || !double.IsFinite(tolerance)) throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must be finite and > 0.");
        if (!(xTolerance >= 0) || !double.IsFinite(xTolerance)) throw new ArgumentOutOfRangeException(nameof(xTolerance), xTolerance, "The x tolerance must be finite and ≥ 0.");
        if (maxIterations < 1) throw new ArgumentOutOfRangeException(nameof(maxIterations), maxIterations, "The iteration cap must be ≥ 1.");
        var steps = new List<BisectionStep>();
        double Eval(double x, double lo, double hi)
        {
            double v = f(x);
            if (!double.IsFinite(v)) throw new ArgumentException($"The function is not finite at x = {x} (f = {v}); narrow the bracket.", nameof(f));
            var step = new BisectionStep(steps.Count, x, v, lo, hi);
            steps.Add(step);
            onStep?.Invoke(step);
            return v;
        }
        BisectionResult Best(bool converged)
        {
            var best = steps.MinBy(s => Math.Abs(s.Value))!;
            return new BisectionResult(best.X, best.Value, converged, steps);
        }
        double fLo = Eval(lower, lower, upper);
        if (Math.Abs(fLo) <= tolerance) return Best(true);
        double fHi = Eval(upper, lower, upper);
        if (Math.Abs(fHi) <= tolerance) return Best(true);
        if (Math.Sign(fLo) == Math.Sign(fHi))
            throw new ArgumentException($"The function has the same sign at both ends of the bracket [{lower:G6}, {upper:G6}] (f = {fLo:G4} and {fHi:G4}); widen the bracket so that it changes sign.", nameof(lower));
        double lo = lower, hi = upper;
        for (int i = 0; i < maxIterations; i++)
        {
            double mid = 0.5 * (lo + hi);
            double v = f(mid);
            if (!double.IsFinite(v)) throw new ArgumentException($"The function is not finite at x = {mid} (f = {v}); narrow the bracket.", nameof(f));
            if (Math.Sign(v) == Math.Sign(fLo)) { lo = mid; fLo = v; } else hi = mid;
            var step = new BisectionStep(steps.Count, mid, v, lo, hi);
            steps.Add(step);
            onStep?.Invoke(step);
            if (Math.Abs(v) <= tolerance || hi - lo <= xTolerance) return Best(true);
        }
        return Best(false);
    }
}
