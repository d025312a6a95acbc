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
/// rounding noise.</para>
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
    /// Ridders' extrapolated central difference, started from the largest step ≤ <paramref name="maxStep"/> at which the
    /// event order is unchanged on both sides; null when there is none down to 1e-9.
    /// </summary>
    private static double? SmoothDerivative(Func<double, (double Loss, bool SameCounts, bool SameOrder)> at, double maxStep)
    {
        const double shrink = 1.4, shrink2 = shrink * shrink, safe = 2.0;
        const int table = 10;
        double h = maxStep;
        double central;
        while (true)
        {
            var plus = at(h);
            var minus = at(-h);
            if (plus.SameCounts && minus.SameCounts && plus.SameOrder && minus.SameOrder)
            {
                central = (plus.Loss - minus.Loss) / (2 * h);
                break;
            }
            h /= 4;
            if (h < SmallestWindow) return null;
        }
        var a = new double[table, table];
        a[0, 0] = central;
        double best = central, error = double.MaxValue;
        for (int i = 1; i < table; i++)
        {
            h /= shrink;
            a[0, i] = (at(h).Loss - at(-h).Loss) / (2 * h);
            double fac = shrink2;
            for (int j = 1; j <= i; j++)
            {
                a[j, i] = (a[j - 1, i] * fac - a[j - 1, i - 1]) / (fac - 1);
                fac *= shrink2;
                double e = Math.Max(Math.Abs(a[j, i] - a[j - 1, i]), Math.Abs(a[j, i] - a[j - 1, i - 1]));
                if (e <= error)
                {
                    error = e;
                    best = a[j, i];
                }
            }
            if (Math.Abs(a[i, i] - a[i - 1, i - 1]) >= safe * error) break;
        }
        return best;
    }
}
