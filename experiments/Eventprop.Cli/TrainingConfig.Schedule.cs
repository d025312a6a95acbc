using System.Globalization;
using Eventprop.Core.Training;

namespace Eventprop.Cli;

/// <summary>The optimiser (Adam or AdamW) and learning-rate schedule keys of the training section (docs/cli.md, docs/training.md).</summary>
public sealed partial record TrainingConfig
{
    /// <summary><c>adam</c> (default) or <c>adamw</c> (decoupled weight decay <see cref="WeightDecay"/> on the weights).</summary>
    public string Optimizer { get; init; } = "adam";

    /// <summary>AdamW's decoupled weight decay λ (null: 0.01 with <c>adamw</c>, as PyTorch and seed 004; only with <c>adamw</c>).</summary>
    public double? WeightDecay { get; init; }

    /// <summary><c>ease_in_halving</c> (default: the ease-in and the two-EMA halving) or <c>one_cycle</c> (peak = <see cref="LearningRate"/>).</summary>
    public string Schedule { get; init; } = "ease_in_halving";

    /// <summary>One-cycle: fraction of the updates spent warming up (PyTorch's pct_start; default 0.3).</summary>
    public double OneCycleWarmupFraction { get; init; } = 0.3;

    /// <summary>One-cycle: the start rate is learning_rate / this (default 25).</summary>
    public double OneCycleDivFactor { get; init; } = 25;

    /// <summary>One-cycle: the end rate is the start rate / this (default 1e4).</summary>
    public double OneCycleFinalDivFactor { get; init; } = 1e4;

    /// <summary>One-cycle: <c>cos</c> (default) or <c>linear</c>.</summary>
    public string OneCycleAnneal { get; init; } = "cos";

    /// <summary>One-cycle: whether Adam's β1 cycles from max to base momentum and back (default true, as PyTorch).</summary>
    public bool OneCycleCycleMomentum { get; init; } = true;

    /// <summary>One-cycle: β1 at the peak learning rate (default 0.85).</summary>
    public double OneCycleBaseMomentum { get; init; } = 0.85;

    /// <summary>One-cycle: β1 at the start and the end (default 0.95).</summary>
    public double OneCycleMaxMomentum { get; init; } = 0.95;

    /// <summary>Learned delays are clipped to [0, max_delay_ms] after every step (null: no upper clip).</summary>
    public double? MaxDelayMs { get; init; }

    /// <summary>The learning rate of learned delays as a multiple of <see cref="LearningRate"/> (default 1).</summary>
    public double DelayLearningRateScale { get; init; } = 1;

    /// <summary>Whether <see cref="Schedule"/> is <c>one_cycle</c>.</summary>
    internal bool IsOneCycle => Schedule == "one_cycle";

    /// <summary>The λ the trainer applies (0 for plain Adam).</summary>
    internal double DecoupledWeightDecay => Optimizer == "adamw" ? WeightDecay ?? 0.01 : 0;

    /// <summary>The one-cycle schedule these keys describe, or null for <c>ease_in_halving</c>.</summary>
    internal OneCycleSchedule? OneCycleSchedule() => IsOneCycle
        ? new OneCycleSchedule(OneCycleWarmupFraction, OneCycleDivFactor, OneCycleFinalDivFactor,
            OneCycleAnneal == "linear" ? AnnealStrategy.Linear : AnnealStrategy.Cosine, OneCycleCycleMomentum, OneCycleBaseMomentum, OneCycleMaxMomentum)
        : null;

    /// <summary>One-line <see cref="UserError"/>s for the optimiser and schedule keys.</summary>
    internal void ValidateOptimizerAndSchedule()
    {
        if (MaxDelayMs is { } dMax && !(dMax > 0 && double.IsFinite(dMax))) throw new UserError($"training.max_delay_ms must be a number of ms > 0, e.g. 150, got {Inv(dMax)}.");
        if (!(DelayLearningRateScale > 0 && double.IsFinite(DelayLearningRateScale))) throw new UserError($"training.delay_learning_rate_scale must be a finite number > 0, e.g. 100, got {Inv(DelayLearningRateScale)}.");
        if (Optimizer is not ("adam" or "adamw")) throw new UserError($"training.optimizer must be 'adam' or 'adamw', got '{Optimizer}'.");
        if (WeightDecay is { } wd)
        {
            if (!(wd >= 0) || !double.IsFinite(wd)) throw new UserError($"training.weight_decay must be a finite number ≥ 0, got {Inv(wd)}.");
            if (Optimizer == "adam" && wd > 0)
                throw new UserError("training.weight_decay is AdamW's decoupled weight decay; set training.optimizer=adamw as well (or remove training.weight_decay).");
        }
        if (Schedule is not ("ease_in_halving" or "one_cycle")) throw new UserError($"training.schedule must be 'ease_in_halving' or 'one_cycle', got '{Schedule}'.");
        if (!IsOneCycle) return;
        if (EaseIn == true || HalvingSchedule == true)
            throw new UserError($"training.schedule=one_cycle replaces the ease-in and the halving schedule; remove training.{(EaseIn == true ? "ease_in" : "halving_schedule")} (or set it to false).");
        if (!(OneCycleWarmupFraction > 0 && OneCycleWarmupFraction < 1)) throw new UserError($"training.one_cycle_warmup_fraction must lie in (0, 1), got {Inv(OneCycleWarmupFraction)}.");
        if (!(OneCycleDivFactor >= 1) || !double.IsFinite(OneCycleDivFactor)) throw new UserError($"training.one_cycle_div_factor must be ≥ 1, got {Inv(OneCycleDivFactor)}.");
        if (!(OneCycleFinalDivFactor >= 1) || !double.IsFinite(OneCycleFinalDivFactor)) throw new UserError($"training.one_cycle_final_div_factor must be ≥ 1, got {Inv(OneCycleFinalDivFactor)}.");
        if (OneCycleAnneal is not ("cos" or "linear")) throw new UserError($"training.one_cycle_anneal must be 'cos' or 'linear', got '{OneCycleAnneal}'.");
        if (OneCycleCycleMomentum && !(OneCycleBaseMomentum >= 0 && OneCycleBaseMomentum <= OneCycleMaxMomentum && OneCycleMaxMomentum < 1))
            throw new UserError($"training.one_cycle_base_momentum and .one_cycle_max_momentum must satisfy 0 ≤ base ≤ max < 1, got {Inv(OneCycleBaseMomentum)} and {Inv(OneCycleMaxMomentum)}.");
    }

    private static string Inv(double x) => x.ToString(CultureInfo.InvariantCulture);
}
