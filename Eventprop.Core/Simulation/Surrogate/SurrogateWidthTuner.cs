using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>Settings of <see cref="SurrogateWidthTuner"/>: the γ bracket, the tolerance on the log-ratio and the cap.</summary>
/// <param name="MinGamma">The bracket's lower end γ_min (&gt; 0; a wide surrogate: gradients explode).</param>
/// <param name="MaxGamma">The bracket's upper end γ_max (&gt; γ_min; a narrow surrogate: gradients vanish).</param>
/// <param name="Tolerance">Stop when |ln(first-half mean / second-half mean)| ≤ this (default 0.01).</param>
/// <param name="MaxIterations">At most this many bisection midpoints after the two ends (default 40).</param>
public sealed record SurrogateWidthTuning(double MinGamma = 0.01, double MaxGamma = 1000, double Tolerance = 0.01, int MaxIterations = 40)
{
    /// <summary>The bracket is bisected in ln γ until narrower than this (1e-6: γ to six digits).</summary>
    public const double LogGammaTolerance = 1e-6;

    /// <summary>Throws a one-line <see cref="ArgumentException"/> unless 0 &lt; γ_min &lt; γ_max (finite), tolerance &gt; 0, cap ≥ 1.</summary>
    public void Validate()
    {
        if (!double.IsFinite(MinGamma) || !double.IsFinite(MaxGamma) || !(MinGamma > 0) || !(MaxGamma > MinGamma))
            throw new ArgumentException($"The γ bracket must satisfy 0 < min < max (finite), got [{MinGamma}, {MaxGamma}].", nameof(MinGamma));
        if (!(Tolerance > 0) || !double.IsFinite(Tolerance))
            throw new ArgumentException($"The log-ratio tolerance must be finite and > 0, got {Tolerance}.", nameof(Tolerance));
        if (MaxIterations < 1) throw new ArgumentException($"The iteration cap must be ≥ 1, got {MaxIterations}.", nameof(MaxIterations));
    }
}

/// <summary>One γ tried by <see cref="SurrogateWidthTuner"/>.</summary>
/// <param name="Index">0 and 1: γ_min and γ_max; then the bisection midpoints.</param>
/// <param name="Gamma">γ (the surrogate's scale).</param>
/// <param name="LogRatio">ln(first-half mean |∂L/∂U| / second-half mean).</param>
/// <param name="Report">The gradient magnitudes at this γ.</param>
public sealed record SurrogateWidthIteration(int Index, double Gamma, double LogRatio, GradientMagnitudeReport Report);

/// <summary>The result of <see cref="SurrogateWidthTuner.Tune"/>.</summary>
/// <param name="Gamma">The chosen γ (the iteration with the smallest |log-ratio|).</param>
/// <param name="LogRatio">Its log-ratio.</param>
/// <param name="Converged">Whether |log-ratio| ≤ the tolerance (or the bracket shrank below <see cref="SurrogateWidthTuning.LogGammaTolerance"/>) within the cap.</param>
/// <param name="HalfLayers">The layers in each half (⌊L/2⌋; the middle layer of an odd L is in neither).</param>
/// <param name="Settings">The bracket, tolerance and cap used.</param>
/// <param name="Iterations">Every γ tried, in order.</param>
public sealed record SurrogateWidthResult(double Gamma, double LogRatio, bool Converged, int HalfLayers, SurrogateWidthTuning Settings, IReadOnlyList<SurrogateWidthIteration> Iterations);

/// <summary>
/// Seed 004 §2.5: chooses the surrogate width γ (our <see cref="Surrogate.Scale"/>) so that the mean gradient magnitude
/// |∂L/∂U| of the first half of the hidden layers equals that of the second half: bisection of ln(first/second) over ln γ.
/// The forward pass does not depend on γ, so for fixed batches and weights the log-ratio is a continuous function of γ;
/// seed 004 finds it monotone (small γ: gradients explode towards the input, large γ: they vanish).
/// </summary>
public static class SurrogateWidthTuner
{
    /// <summary>ln(mean of the first ⌊L/2⌋ layer values / mean of the last ⌊L/2⌋); NaN or ±∞ when a half is 0.</summary>
    /// <exception cref="ArgumentException">Fewer than two layers (halves make no sense).</exception>
    public static double LogRatio(IReadOnlyList<double> layerMeans)
    {
        ArgumentNullException.ThrowIfNull(layerMeans);
        int half = RequireHalves(layerMeans.Count);
        double first = 0, second = 0;
        for (int l = 0; l < half; l++)
        {
            first += layerMeans[l];
            second += layerMeans[layerMeans.Count - half + l];
        }
        return Math.Log(first / second);
    }

    /// <summary>
    /// Tunes γ on <paramref name="batches"/> for the settings of <paramref name="engine"/> (a <see cref="SurrogateEngine"/>;
    /// its shape, height, discretisation, reset and threads are kept, only the scale changes). Deterministic: the batches and
    /// the network are fixed, and the engine's results are bit-identical for a given thread count.
    /// </summary>
    /// <exception cref="ArgumentException">Not a surrogate engine, fewer than two hidden layers, a bad bracket, no sign change
    /// of the log-ratio over the bracket, or a gradient that vanishes entirely in a half (one-line messages).</exception>
    public static SurrogateWidthResult Tune(IGradientEngine engine, Network network, IReadOnlyList<IReadOnlyList<SpikeSample>> batches, ILoss loss,
        SurrogateWidthTuning? settings = null, Action<SurrogateWidthIteration>? onIteration = null)
    {
        var surrogateEngine = GradientMagnitudeReport.RequireSurrogate(engine, "Tuning the surrogate width");
        ArgumentNullException.ThrowIfNull(network);
        settings ??= new SurrogateWidthTuning();
        settings.Validate();
        int half = RequireHalves(network.Hidden.Count);
        var options = surrogateEngine.Options;
        var iterations = new List<SurrogateWidthIteration>();
        double F(double logGamma)
        {
            double lo = Math.Log(settings.MinGamma), hi = Math.Log(settings.MaxGamma);
            double gamma = logGamma == lo ? settings.MinGamma : logGamma == hi ? settings.MaxGamma : Math.Exp(logGamma); // the ends as given
            var s = options.Surrogate;
            var e = new SurrogateEngine(surrogateEngine.Dt, surrogateEngine.Duration,
                options with { Surrogate = Surrogate.FromName(s.Name, gamma, s.Height) }, timeConstantGradients: false);
            var report = GradientMagnitudeReport.Measure(e, network, batches, loss);
            double ratio = LogRatio(report.Layers.Select(l => l.MeanAbsVoltageAdjoint).ToArray());
            if (!double.IsFinite(ratio))
                throw new ArgumentException($"At γ = {gamma:G4} no gradient reaches one half of the layers (mean |∂L/∂U| = 0), so the log-ratio is undefined; lower the bracket's upper end or check that the hidden layers spike.", nameof(network));
            var it = new SurrogateWidthIteration(iterations.Count, gamma, ratio, report);
            iterations.Add(it);
            onIteration?.Invoke(it);
            return ratio;
        }
        BisectionResult result;
        try
        {
            result = Bisection.FindRoot(F, Math.Log(settings.MinGamma), Math.Log(settings.MaxGamma), settings.Tolerance, SurrogateWidthTuning.LogGammaTolerance, settings.MaxIterations);
        }
        catch (ArgumentException e) when (e.ParamName == "lower" && iterations.Count == 2)
        {
            throw new ArgumentException($"The log-ratio of first- to second-half gradient magnitudes has the same sign at γ = {settings.MinGamma:G4} ({iterations[0].LogRatio:G4}) and γ = {settings.MaxGamma:G4} ({iterations[1].LogRatio:G4}); widen the γ bracket so that it changes sign.", nameof(settings));
        }
        var best = iterations.MinBy(i => Math.Abs(i.LogRatio))!;
        return new SurrogateWidthResult(best.Gamma, best.LogRatio, result.Converged, half, settings, iterations);
    }

    private static int RequireHalves(int layers)
    {
        if (layers < 2)
            throw new ArgumentException($"Comparing the first and second half of the layers needs at least 2 hidden layers, got {layers}; add hidden layers (network.hidden) or choose γ by hand.", nameof(layers));
        return layers / 2;
    }
}
