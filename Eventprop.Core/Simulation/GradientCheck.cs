using Eventprop.Core.Model;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;

namespace Eventprop.Core.Simulation;

/// <summary>Settings of <see cref="GradientCheck"/>.</summary>
public sealed record GradientCheckOptions
{
    /// <summary>A gradient passes when its relative error is at most this (default 1e-5)…</summary>
    public double RelativeTolerance { get; init; } = 1e-5;

    /// <summary>…or its absolute error at most this (default 1e-9, for tiny gradients).</summary>
    public double AbsoluteTolerance { get; init; } = 1e-9;

    /// <summary>
    /// The nominal step h (default 1e-6): a case is discarded when perturbing any parameter by ±h changes a spike count.
    /// </summary>
    public double Step { get; init; } = 1e-6;

    /// <summary>
    /// The largest step the finite-difference estimate starts from (default 1e-4); it shrinks (÷4) until every neuron sees
    /// the same order of events at ±step as unperturbed, so the estimate stays inside one smooth piece of the loss.
    /// </summary>
    public double MaxStep { get; init; } = 1e-4;

    /// <summary>
    /// A case is discarded as grazing when some spike has τ_mem·V̇ at threshold (I − ϑ) below this (default 1e-3):
    /// there the spike time is a near-singular function of the parameters and finite differences stop being a
    /// reliable reference.
    /// </summary>
    public double GrazingBound { get; init; } = 1e-3;
}

/// <summary>How one gradient check ended.</summary>
public enum GradientCheckOutcome
{
    /// <summary>Every gradient agreed with finite differences.</summary>
    Passed,
    /// <summary>At least one gradient disagreed.</summary>
    Failed,
    /// <summary>Discarded: a spike count changed within ±h for some parameter, so the loss is not smooth there.</summary>
    DiscardedSpikeCountChanged,
    /// <summary>Discarded: a spike grazes the threshold (τ_mem·V̇ below <see cref="GradientCheckOptions.GrazingBound"/>).</summary>
    DiscardedGrazingSpike,
}

/// <summary>One parameter element compared.</summary>
/// <param name="Parameter">Parameter name, e.g. <c>"in->hidden"</c>.</param>
/// <param name="Index">Flat index in the parameter.</param>
/// <param name="Eventprop">The Eventprop gradient.</param>
/// <param name="FiniteDifference">The finite-difference estimate.</param>
/// <param name="Passed">Whether the two agree within tolerance.</param>
public sealed record GradientComparison(string Parameter, int Index, double Eventprop, double FiniteDifference, bool Passed)
{
    /// <summary>|Eventprop − FD|.</summary>
    public double AbsoluteError => Math.Abs(Eventprop - FiniteDifference);

    /// <summary>|Eventprop − FD| / |FD| (∞ when FD is 0 and they differ).</summary>
    public double RelativeError => AbsoluteError == 0 ? 0 : AbsoluteError / Math.Abs(FiniteDifference);
}

/// <summary>The result of checking every gradient of one trial.</summary>
/// <param name="Outcome">Passed, failed or discarded (with the reason).</param>
/// <param name="Loss">The loss of the trial.</param>
/// <param name="Comparisons">Every compared element (empty when discarded before comparing).</param>
/// <param name="Detail">For discards and failures, a one-line explanation.</param>
/// <param name="TotalSpikes">Spikes of non-input neurons in the unperturbed trial.</param>
public sealed record GradientCheckReport(GradientCheckOutcome Outcome, double Loss, IReadOnlyList<GradientComparison> Comparisons, string? Detail, int TotalSpikes)
{
    /// <summary>Whether the case was discarded (for either reason).</summary>
    public bool Discarded => Outcome is GradientCheckOutcome.DiscardedGrazingSpike or GradientCheckOutcome.DiscardedSpikeCountChanged;

    /// <summary>The worst relative error per parameter, in network order.</summary>
    public IEnumerable<(string Parameter, double WorstRelativeError, double WorstAbsoluteError)> ByParameter() =>
        Comparisons.GroupBy(c => c.Parameter)
            .Select(g => (g.Key, g.Max(c => c.RelativeError), g.Max(c => c.AbsoluteError)));
}

/// <summary>
/// Compares Eventprop gradients of the exact engine with finite differences of its forward pass. The finite-difference
/// check is the arbiter of gradient correctness.
/// </summary>
/// <remarks>
/// <para>The loss of a spiking network is continuous but only piecewise smooth: its derivative jumps where a spike time
/// crosses the arrival of another event at the same neuron, and it is not even continuous where a spike appears or
/// disappears. The reference derivative is therefore taken inside the smooth piece that contains the parameter value:
/// the starting step is the largest (≤ <see cref="GradientCheckOptions.MaxStep"/>) at which every neuron sees the same
/// order of events at ±step and the loss reports the same <see cref="LossEvaluation.Structure"/>, and Ridders' method (Richardson extrapolation of central differences over steps shrinking
/// by 1.4, keeping the estimate with the smallest internal error) removes truncation error without descending into
/// rounding noise; where its internal error stays large (near a grazing spike) it restarts from smaller steps.</para>
/// <para>A case is discarded only when a spike count changes within the nominal ±<see cref="GradientCheckOptions.Step"/>,
/// or when a spike grazes the threshold. If no kink-free step exists down to 1e-9, the comparison fails.</para>
/// </remarks>
public static class GradientCheck
{
    private const double SmallestWindow = 1e-9;

    /// <summary>Checks every gradient (all weights and τ's) of <paramref name="network"/> on one trial.</summary>
    /// <remarks>The network is not modified (a copy is perturbed).</remarks>
    public static GradientCheckReport Run(ExactEngine engine, Network network, SpikeSample sample, ILoss loss, GradientCheckOptions? options = null) =>
        Run(engine, engine, network, sample, loss, options);

    /// <summary>As <see cref="Run(ExactEngine, Network, SpikeSample, ILoss, GradientCheckOptions?)"/>, with the gradient taken from <paramref name="gradientEngine"/> (tests use it to inject faults).</summary>
    internal static GradientCheckReport Run(ExactEngine gradientEngine, ExactEngine referenceEngine, Network network, SpikeSample sample, ILoss loss, GradientCheckOptions? options = null)
    {
        options ??= new GradientCheckOptions();
        var net = network.Clone();
        var result = gradientEngine.Gradient(net, sample, loss);
        var baseTrial = result.Trials[0];
        int spikes = baseTrial.TotalSpikes;
        double minSlope = baseTrial.MinThresholdSlope;
        if (minSlope < options.GrazingBound)
            return new GradientCheckReport(GradientCheckOutcome.DiscardedGrazingSpike, result.Loss, [],
                $"a spike has τ_mem·V̇ = {minSlope:E3} at threshold (bound {options.GrazingBound:E1})", spikes);
        var baseCounts = baseTrial.AllSpikeCounts();
        string? baseStructure = loss.Evaluate(baseTrial.Readout, sample.Label).Structure;

        var comparisons = new List<GradientComparison>(net.Parameters.TotalLength);
        foreach (var p in net.Parameters)
        {
            var values = p.Values;
            var grad = result.Gradient[p.Name].Values;
            for (int i = 0; i < values.Length; i++)
            {
                double x = values[i];
                (double Loss, bool SameCounts, bool SameOrder) At(double step)
                {
                    values[i] = x + step;
                    var trial = referenceEngine.Simulate(net, sample);
                    values[i] = x;
                    var evaluation = loss.Evaluate(trial.Readout, sample.Label);
                    trial.ReleaseRecords(); // counts and event pattern stay readable
                    return (evaluation.Value,
                            trial.AllSpikeCounts().AsSpan().SequenceEqual(baseCounts),
                            trial.HasSameEventOrder(baseTrial) && evaluation.Structure == baseStructure);
                }

                var (_, plusCounts, _) = At(options.Step);
                var (_, minusCounts, _) = At(-options.Step);
                if (!plusCounts || !minusCounts)
                    return new GradientCheckReport(GradientCheckOutcome.DiscardedSpikeCountChanged, result.Loss, comparisons,
                        $"the spike count changes when perturbing {p.Name}[{i}] by {(plusCounts ? "−" : "+")}{options.Step:E0}", spikes);

                double ep = grad[i];
                double? fd = SmoothDerivative(At, options.MaxStep);
                if (fd is null)
                {
                    comparisons.Add(new GradientComparison(p.Name, i, ep, double.NaN, false));
                    continue;
                }
                double abs = Math.Abs(ep - fd.Value);
                bool ok = abs <= options.AbsoluteTolerance || abs <= options.RelativeTolerance * Math.Abs(fd.Value);
                comparisons.Add(new GradientComparison(p.Name, i, ep, fd.Value, ok));
            }
        }
        var failed = comparisons.Where(c => !c.Passed).ToList();
        if (failed.Count == 0)
            return new GradientCheckReport(GradientCheckOutcome.Passed, result.Loss, comparisons, null, spikes);
        var worst = failed.MaxBy(c => double.IsNaN(c.FiniteDifference) ? double.PositiveInfinity : c.RelativeError)!;
        string what = double.IsNaN(worst.FiniteDifference)
            ? "no step down to 1e-9 keeps the event order unchanged"
            : $"eventprop {worst.Eventprop:E6}, fd {worst.FiniteDifference:E6}, rel {worst.RelativeError:E2}";
        return new GradientCheckReport(GradientCheckOutcome.Failed, result.Loss, comparisons,
            $"{failed.Count} of {comparisons.Count} gradients disagree; worst {worst.Parameter}[{worst.Index}]: {what}", spikes);
    }

    /// <summary>
    /// Ridders' extrapolated difference inside the smooth piece of the loss that contains the parameter value; null when
    /// the piece is narrower than 1e-9 on both sides. The piece's extent is probed on each side separately: the largest
    /// step ≤ <paramref name="maxStep"/> (÷4) at which the event order is unchanged. The central difference starts from the
    /// smaller of the two; when a kink is close on one side only (the other side reaching ≥ 16× further), a one-sided
    /// extrapolation from the far side is also computed, since its larger steps suffer less rounding. Near a grazing spike
    /// the loss's Taylor radius can be smaller than the starting step, which spoils the extrapolation: then the tableau is
    /// restarted from a ten times smaller step (down to 1e-8). The estimate with the smallest error bound is kept.
    /// </summary>
    /// <remarks>
    /// The error bound of each tableau entry is the larger of Ridders' internal estimate and the entry's rounding noise:
    /// the loss's own rounding level N (see <see cref="RoundingLevel"/>) divided by the step, propagated through the
    /// extrapolation weights. Without that floor, two differences that happen to round to the same value (their loss
    /// differences are a few ulps, so this is common once truncation error is below rounding) give a spurious internal
    /// error of 0, and a deeper, noise-amplified entry is taken as exact.
    /// </remarks>
    /// <param name="at">The function at parameter offset <c>step</c>, and whether the spike counts and the event order
    /// there are the unperturbed ones.</param>
    /// <param name="maxStep">The largest step tried.</param>
    internal static double? SmoothDerivative(Func<double, (double Loss, bool SameCounts, bool SameOrder)> at, double maxStep)
    {
        double Reach(int side)
        {
            for (double step = maxStep; step >= SmallestWindow; step /= 4)
            {
                var r = at(side * step);
                if (r.SameCounts && r.SameOrder) return step;
            }
            return 0;
        }
        double plus = Reach(+1), minus = Reach(-1);
        double central = Math.Min(plus, minus), far = Math.Max(plus, minus);
        if (far == 0) return null;
        int farSide = plus >= minus ? +1 : -1;
        double l0 = at(0).Loss; // the unperturbed value, shared by the rounding estimate and the one-sided tableaux
        double noise = RoundingLevel(at, l0, far, farSide);
        double best = double.NaN, bestError = double.PositiveInfinity;
        bool Converged() => bestError <= 1e-7 * Math.Abs(best) + 1e-10; // well inside the comparison tolerance
        // One tableau per start step; restart from a ten times smaller step only while the best entry's error is
        // truncation, not rounding (smaller steps only add rounding).
        void Extrapolate(double from, int side)
        {
            for (double start = from; start >= 1e-8; start /= 10)
            {
                var (estimate, error, truncationLimited) = Ridders(at, l0, start, noise, side);
                if (error < bestError) (best, bestError) = (estimate, error);
                if (Converged() || !truncationLimited) return;
            }
        }
        if (central > 0) Extrapolate(central, 0);
        if (!Converged() && far >= 16 * central) Extrapolate(far, farSide);
        return best;
    }

    /// <summary>
    /// The absolute rounding level N of the loss near the parameter value: the larger of 32·ε·max(|L|, 1) (a loss built
    /// from O(1) quantities such as logits carries their absolute rounding even when L itself is tiny) and the measured
    /// scatter of L at three points δ ≤ 1e-9 apart inside the smooth piece, towards <paramref name="side"/> (their second
    /// difference, in which the smooth part is L″·δ² ≲ 1e-18·L″ and negligible, so what remains is rounding; divided by
    /// √6, its noise gain, times 3).
    /// </summary>
    private static double RoundingLevel(Func<double, (double Loss, bool SameCounts, bool SameOrder)> at, double l0, double reach, int side)
    {
        const double machineEpsilon = 2.220446049250313e-16; // 2^-52
        double floor = 32 * machineEpsilon * Math.Max(Math.Abs(l0), 1);
        double delta = side * Math.Min(1e-9, reach / 4);
        double second = l0 - 2 * at(delta).Loss + at(2 * delta).Loss;
        return Math.Max(floor, 3 * Math.Abs(second) / Math.Sqrt(6));
    }

    /// <summary>
    /// One Ridders tableau from step <paramref name="h"/>: central differences (error series in h², <paramref name="side"/> 0)
    /// or one-sided differences from the unperturbed value <paramref name="l0"/> towards <paramref name="side"/> = ±1
    /// (error series in h).
    /// </summary>
    private static (double Estimate, double Error, bool TruncationLimited) Ridders(Func<double, (double Loss, bool SameCounts, bool SameOrder)> at, double l0, double h, double noise, int side)
    {
        const double shrink = 1.4, safe = 2.0;
        const int table = 10;
        double ratio = side == 0 ? shrink * shrink : shrink;
        double Difference(double step) => side == 0
            ? (at(step).Loss - at(-step).Loss) / (2 * step)
            : (at(side * step).Loss - l0) / (side * step);
        double Noise(double step) => side == 0 ? noise / step : 2 * noise / step;
        var a = new double[table, table];
        var n = new double[table, table]; // rounding noise of each entry
        a[0, 0] = Difference(h);
        n[0, 0] = Noise(h);
        double best = a[0, 0], error = double.MaxValue;
        bool truncation = true;
        for (int i = 1; i < table; i++)
        {
            h /= shrink;
            // Every entry of a column carries at least the rounding of its first entry, which grows as h shrinks:
            // once that reaches the best error so far, no later column can improve on it.
            if (Noise(h) >= error) break;
            a[0, i] = Difference(h);
            n[0, i] = Noise(h);
            double fac = ratio;
            for (int j = 1; j <= i; j++)
            {
                a[j, i] = (a[j - 1, i] * fac - a[j - 1, i - 1]) / (fac - 1);
                n[j, i] = (n[j - 1, i] * fac + n[j - 1, i - 1]) / (fac - 1);
                fac *= ratio;
                double internalError = Math.Max(Math.Abs(a[j, i] - a[j - 1, i]), Math.Abs(a[j, i] - a[j - 1, i - 1]));
                double e = Math.Max(internalError, n[j, i]);
                if (e < error)
                {
                    error = e;
                    best = a[j, i];
                    truncation = internalError > n[j, i];
                }
            }
            if (Math.Abs(a[i, i] - a[i - 1, i - 1]) >= safe * error) break;
        }
        return (best, error, truncation);
    }
}
