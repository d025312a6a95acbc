using Eventprop.Core.Data;

namespace Eventprop.Core.Training;

/// <summary>Settings of a <see cref="LearningRateRangeTest"/>.</summary>
/// <param name="MinimumLearningRate">Learning rate of the first update (&gt; 0; default 1e−6).</param>
/// <param name="MaximumLearningRate">Learning rate of the last update (&gt; minimum; default 1).</param>
/// <param name="Steps">Updates (minibatches) in the sweep (≥ 3; default 100).</param>
/// <param name="Smoothing">β of the bias-corrected exponential moving average of the loss (in [0, 1); default 0.98, as fastai).</param>
/// <param name="DivergenceFactor">Stop once the smoothed loss exceeds this many times its minimum (&gt; 1; default 4, as fastai).</param>
/// <param name="SkipStart">Points at the start left out of the steepest-descent search, where the moving average has not
/// settled (default 10, fastai v1's <c>skip_start</c>; used only when more than this + 2 points were recorded).</param>
public sealed record LearningRateRangeTestOptions(double MinimumLearningRate = 1e-6, double MaximumLearningRate = 1, int Steps = 100,
    double Smoothing = 0.98, double DivergenceFactor = 4, int SkipStart = 10)
{
    /// <summary>Throws with a one-line message naming the first bad setting.</summary>
    public void Validate()
    {
        if (!(MinimumLearningRate > 0) || !double.IsFinite(MinimumLearningRate)) throw new ArgumentOutOfRangeException(nameof(MinimumLearningRate), MinimumLearningRate, "The range test's minimum learning rate must be finite and > 0.");
        if (!(MaximumLearningRate > MinimumLearningRate) || !double.IsFinite(MaximumLearningRate)) throw new ArgumentOutOfRangeException(nameof(MaximumLearningRate), MaximumLearningRate, "The range test's maximum learning rate must be finite and above the minimum.");
        if (Steps < 3) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "The range test needs at least 3 steps.");
        if (!(Smoothing >= 0 && Smoothing < 1)) throw new ArgumentOutOfRangeException(nameof(Smoothing), Smoothing, "The range test's smoothing must lie in [0, 1).");
        if (SkipStart < 0) throw new ArgumentOutOfRangeException(nameof(SkipStart), SkipStart, "The range test's skip-start must be ≥ 0 points.");
        if (!(DivergenceFactor > 1)) throw new ArgumentOutOfRangeException(nameof(DivergenceFactor), DivergenceFactor, "The range test's divergence factor must be > 1.");
    }

    /// <summary>The learning rate of update <paramref name="step"/> (0-based): min·(max/min)^(step/(steps − 1)).</summary>
    public double LearningRate(int step) => MinimumLearningRate * Math.Pow(MaximumLearningRate / MinimumLearningRate, (double)step / (Steps - 1));
}

/// <summary>One update of the sweep.</summary>
/// <param name="Step">Update number (0-based).</param>
/// <param name="LearningRate">Its learning rate.</param>
/// <param name="Loss">The minibatch's loss, before the update.</param>
/// <param name="SmoothedLoss">Bias-corrected exponential moving average of the losses so far.</param>
public sealed record LearningRatePoint(int Step, double LearningRate, double Loss, double SmoothedLoss);

/// <summary>The outcome of a range test.</summary>
/// <param name="Points">The updates run.</param>
/// <param name="SuggestedLearningRate">The learning rate of the steepest descent of the smoothed loss over log η, up to its minimum.</param>
/// <param name="MinimumLossLearningRate">The learning rate at the smoothed loss's minimum (the other usual choice is a tenth of it).</param>
/// <param name="StopReason">Null when the sweep ran to the maximum; else why it stopped early (divergence).</param>
public sealed record LearningRateRangeResult(IReadOnlyList<LearningRatePoint> Points, double SuggestedLearningRate, double MinimumLossLearningRate, string? StopReason);

/// <summary>
/// The learning-rate range test (Smith 2018, as seed 004 §3.1 uses it to choose the one-cycle peak): train from the given
/// network with an exponentially rising learning rate, one minibatch per rate, and record the loss. The suggestion is
/// the rate where the smoothed loss falls fastest (the most negative central difference of the smoothed loss over log η,
/// before its minimum); the rate at the minimum is reported too (a tenth of it is the other common rule).
/// </summary>
/// <remarks>The network's parameters change in place: run it on a fresh network, then train another one. Minibatches are
/// drawn like an epoch's (shuffled with a <see cref="TrainingRandom"/> of the trainer's seed, reshuffled after each pass).
/// The trainer's weight decay applies; its schedule, dropout and callbacks do not.</remarks>
public static class LearningRateRangeTest
{
    /// <summary>Runs the sweep.</summary>
    /// <param name="trainer">The trainer (network, engine, loss, batch size, weight decay, seed).</param>
    /// <param name="training">Training trials.</param>
    /// <param name="options">The sweep.</param>
    /// <param name="onStep">Called after every update (progress).</param>
    /// <param name="cancellation">Checked between updates.</param>
    public static LearningRateRangeResult Run(Trainer trainer, IReadOnlyList<SpikeSample> training, LearningRateRangeTestOptions? options = null,
        Action<LearningRatePoint>? onStep = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(training);
        if (training.Count == 0) throw new ArgumentException("The training set is empty; pass at least one sample.", nameof(training));
        var o = options ?? new LearningRateRangeTestOptions();
        o.Validate();
        var random = new TrainingRandom(trainer.Options.Seed);
        var order = new int[training.Count];
        int size = Math.Min(trainer.Options.BatchSize, training.Count), next = order.Length;
        var points = new List<LearningRatePoint>();
        double average = 0, best = double.PositiveInfinity;
        string? stop = null;
        for (int k = 0; k < o.Steps; k++)
        {
            cancellation.ThrowIfCancellationRequested();
            if (next + size > order.Length)
            {
                for (int i = 0; i < order.Length; i++) order[i] = i;
                random.Shuffle(order.AsSpan());
                next = 0;
            }
            var batch = new SpikeSample[size];
            for (int i = 0; i < size; i++) batch[i] = training[order[next + i]];
            next += size;
            double lr = o.LearningRate(k);
            double loss;
            try { loss = trainer.TrainMinibatch(batch, lr).Loss; }
            catch (TrainingDivergedException e)
            {
                stop = FormattableString.Invariant($"diverged at learning rate {lr:G3} ({e.Parameter} not finite)");
                break;
            }
            if (!double.IsFinite(loss))
            {
                stop = FormattableString.Invariant($"the loss is not finite at learning rate {lr:G3}");
                break;
            }
            average = o.Smoothing * average + (1 - o.Smoothing) * loss;
            double smoothed = average / (1 - Math.Pow(o.Smoothing, k + 1));
            var point = new LearningRatePoint(k, lr, loss, smoothed);
            points.Add(point);
            onStep?.Invoke(point);
            best = Math.Min(best, smoothed);
            if (smoothed > o.DivergenceFactor * best && k > 0)
            {
                stop = FormattableString.Invariant($"the smoothed loss exceeded {o.DivergenceFactor:G3}× its minimum at learning rate {lr:G3}");
                break;
            }
        }
        if (points.Count == 0) throw new TrainingDivergedException(1, 1, "(range test)", $"the first update ({stop})");
        var (suggested, atMinimum) = Suggest(points, o.SkipStart);
        return new LearningRateRangeResult(points, suggested, atMinimum, stop);
    }

    /// <summary>
    /// The rate of steepest descent of the smoothed loss over log η (central differences; one-sided at the ends), among the
    /// points up to the smoothed minimum (leaving out the first <paramref name="skipStart"/> when more than skipStart + 2
    /// points are given), and the rate at that minimum.
    /// </summary>
    public static (double Steepest, double AtMinimum) Suggest(IReadOnlyList<LearningRatePoint> points, int skipStart = 0)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count == 0) throw new ArgumentException("No points.", nameof(points));
        int first = points.Count > skipStart + 2 ? Math.Max(0, skipStart) : 0;
        int min = first;
        for (int i = first + 1; i < points.Count; i++)
            if (points[i].SmoothedLoss < points[min].SmoothedLoss) min = i;
        if (min == first || points.Count < 2) return (points[min].LearningRate, points[min].LearningRate);
        int steepest = first;
        double slope = double.PositiveInfinity;
        for (int i = first; i <= min; i++)
        {
            int a = Math.Max(0, i - 1), b = Math.Min(points.Count - 1, i + 1);
            double s = (points[b].SmoothedLoss - points[a].SmoothedLoss) / (Math.Log(points[b].LearningRate) - Math.Log(points[a].LearningRate));
            if (s < slope)
            {
                slope = s;
                steepest = i;
            }
        }
        return (points[steepest].LearningRate, points[min].LearningRate);
    }
}
