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
    /// Central finite-difference step h (default 1e-6, absolute, the same for weights and τ's). Small steps matter:
    /// the loss is continuous but only piecewise smooth (its derivative jumps where a spike time crosses the
    /// arrival of another spike), so a larger step straddles such kinks more often; at 1e-6 the rounding noise of
    /// the loss (~1e-16) contributes ~1e-10 to the estimate, inside the absolute tolerance.
    /// </summary>
    public double Step { get; init; } = 1e-6;

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
/// Compares Eventprop gradients of the exact engine with central finite differences of its forward pass
/// (step h, default 1e-6). The finite-difference check is the arbiter of gradient correctness.
/// </summary>
public static class GradientCheck
{
    /// <summary>Checks every gradient (all weights and τ's) of <paramref name="network"/> on one trial.</summary>
    /// <remarks>The network is not modified (a copy is perturbed).</remarks>
    public static GradientCheckReport Run(ExactEngine engine, Network.Network network, SpikeSample sample, ILoss loss, GradientCheckOptions? options = null) =>
        Run(engine, engine, network, sample, loss, options);

    /// <summary>As <see cref="Run(ExactEngine, Network.Network, SpikeSample, ILoss, GradientCheckOptions?)"/>, with the gradient taken from <paramref name="gradientEngine"/> (tests use it to inject faults).</summary>
    internal static GradientCheckReport Run(ExactEngine gradientEngine, ExactEngine referenceEngine, Network.Network network, SpikeSample sample, ILoss loss, GradientCheckOptions? options = null)
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

        var comparisons = new List<GradientComparison>(net.Parameters.TotalLength);
        foreach (var p in net.Parameters)
        {
            var values = p.Values;
            var grad = result.Gradient[p.Name].Values;
            for (int i = 0; i < values.Length; i++)
            {
                double x = values[i];
                double h = options.Step;
                double lp = 0, lm = 0;
                string? changed = null;
                foreach (double step in (ReadOnlySpan<double>)[h, -h])
                {
                    values[i] = x + step;
                    var trial = referenceEngine.Simulate(net, sample);
                    double l = loss.Evaluate(trial.Readout, sample.Label).Value;
                    if (!trial.AllSpikeCounts().AsSpan().SequenceEqual(baseCounts))
                        changed = $"{p.Name}[{i}] {(step > 0 ? "+" : "−")}{Math.Abs(step):E1}";
                    if (step > 0) lp = l;
                    else lm = l;
                }
                values[i] = x;
                if (changed is not null)
                    return new GradientCheckReport(GradientCheckOutcome.DiscardedSpikeCountChanged, result.Loss, comparisons,
                        $"the spike count changes when perturbing {changed}", spikes);
                double fd = (lp - lm) / (2 * h);
                double ep = grad[i];
                double abs = Math.Abs(ep - fd);
                bool ok = abs <= options.AbsoluteTolerance || abs <= options.RelativeTolerance * Math.Abs(fd);
                comparisons.Add(new GradientComparison(p.Name, i, ep, fd, ok));
            }
        }
        var failed = comparisons.Where(c => !c.Passed).ToList();
        if (failed.Count == 0)
            return new GradientCheckReport(GradientCheckOutcome.Passed, result.Loss, comparisons, null, spikes);
        var worst = failed.MaxBy(c => c.RelativeError)!;
        return new GradientCheckReport(GradientCheckOutcome.Failed, result.Loss, comparisons,
            $"{failed.Count} of {comparisons.Count} gradients disagree; worst {worst.Parameter}[{worst.Index}]: eventprop {worst.Eventprop:E6}, fd {worst.FiniteDifference:E6}, rel {worst.RelativeError:E2}",
            spikes);
    }
}
