using Eventprop.Core.Losses;

namespace Eventprop.Core.Training;

/// <summary>A quantity measured once per epoch that schedules and early stopping can watch.</summary>
public enum TrainingMetric
{
    /// <summary>Mean loss over the epoch's training minibatches (lower is better).</summary>
    TrainingLoss,
    /// <summary>Accuracy over the epoch's training minibatches (higher is better).</summary>
    TrainingAccuracy,
    /// <summary>Mean loss on the validation set (lower is better).</summary>
    ValidationLoss,
    /// <summary>Accuracy on the validation set (higher is better).</summary>
    ValidationAccuracy,
}

/// <summary>Stop training when <see cref="Metric"/> has not improved by more than <see cref="MinimumImprovement"/> for <see cref="Patience"/> epochs.</summary>
/// <param name="Metric">The watched metric.</param>
/// <param name="Patience">Epochs without improvement before stopping (≥ 1).</param>
/// <param name="MinimumImprovement">Smallest change that counts as an improvement (≥ 0).</param>
/// <param name="RestoreBest">Whether to put the best epoch's parameters back into the network when training stops.</param>
public sealed record EarlyStopping(TrainingMetric Metric = TrainingMetric.ValidationAccuracy, int Patience = 20, double MinimumImprovement = 0, bool RestoreBest = false);

/// <summary>
/// Settings of a <see cref="Trainer"/>: the training machinery of loss-shaped Eventprop (Nowotny et al., §4;
/// docs/training.md). Defaults follow the paper.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Number of epochs <see cref="Trainer.Fit"/> runs to (counting epochs already done before a resume).</summary>
    public int Epochs { get; init; } = 100;

    /// <summary>Trials per minibatch (default 32; the last minibatch of an epoch may be smaller).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Target learning rate η of Adam.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Seed of every random choice of the trainer (shuffling, dropout, τ initialisation).</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Adam β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam β2.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Adam ε.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>
    /// Decoupled weight decay λ (Loshchilov &amp; Hutter): with λ &gt; 0 the optimiser is AdamW, θ ← θ − η·(Adam step) − η·λ·θ,
    /// applied to the connection weights only (τ's and other per-neuron parameters are not decayed). 0 (default): plain Adam.
    /// Seed 004 uses 0.01.
    /// </summary>
    public double WeightDecay { get; init; }

    /// <summary>
    /// The one-cycle learning-rate schedule with peak η = <see cref="LearningRate"/> over all <see cref="Epochs"/> × minibatches
    /// updates; when set it replaces the ease-in and the halving schedule (<see cref="EaseIn"/> and <see cref="HalvingSchedule"/>
    /// are ignored). Null (default): ease-in and halving.
    /// </summary>
    public OneCycleSchedule? OneCycle { get; init; }

    /// <summary>Learning-rate ease-in: start at η·<see cref="EaseInStartFactor"/> and multiply by <see cref="EaseInGrowth"/> after every minibatch until η.</summary>
    public bool EaseIn { get; init; } = true;

    /// <summary>Starting fraction of η for the ease-in (default 1/1000).</summary>
    public double EaseInStartFactor { get; init; } = 1e-3;

    /// <summary>Growth of the learning rate per minibatch during the ease-in (default 1.05).</summary>
    public double EaseInGrowth { get; init; } = 1.05;

    /// <summary>
    /// The two-EMA halving schedule: after each epoch with metric x, m_fast ← 0.8·m_fast + 0.2·x and
    /// m_slow ← 0.85·m_slow + 0.15·x; when m_fast &lt; m_slow and at least <see cref="HalvingMinimumEpochs"/> epochs
    /// passed since the last change, η is halved.
    /// </summary>
    public bool HalvingSchedule { get; init; } = true;

    /// <summary>Epochs between two halvings at least (default 50).</summary>
    public int HalvingMinimumEpochs { get; init; } = 50;

    /// <summary>The metric the halving schedule watches; null: validation accuracy when there is validation data, else training accuracy.</summary>
    public TrainingMetric? ScheduleMetric { get; init; }

    /// <summary>
    /// Silent-neuron rescue: a hidden neuron that fired no spike in a whole epoch gets this much added to all its incoming
    /// weights (default 0.002; 0 switches it off). Over a convolution, whose kernels are shared, each silent neuron adds
    /// this / (output height · width) to its channel's kernel (an all-silent channel: this much per kernel weight).
    /// </summary>
    public double SilentNeuronBoost { get; init; } = 0.002;

    /// <summary>Whether τ_mem of the hidden and readout populations is trained.</summary>
    public bool LearnTauMem { get; init; }

    /// <summary>Whether τ_syn of the hidden and readout populations is trained.</summary>
    public bool LearnTauSyn { get; init; }

    /// <summary>Learned delays are clipped to [0, <see cref="MaxDelay"/>] ms after every step (default +∞: only d ≥ 0).</summary>
    public double MaxDelay { get; init; } = double.PositiveInfinity;

    /// <summary>The learning rate of learned delays (ms) as a multiple of the weights' (default 1). Adam moves every value by
    /// about η per step whatever its gradient's scale, so delays in ms usually want a far larger rate than weights.</summary>
    public double DelayLearningRateScale { get; init; } = 1;

    /// <summary>Lower clip of learned τ_mem (ms; default 3).</summary>
    public double TauMemMinimum { get; init; } = 3;

    /// <summary>Lower clip of learned τ_syn (ms; default 1).</summary>
    public double TauSynMinimum { get; init; } = 1;

    /// <summary>
    /// Heterogeneous τ initialisation of the hidden populations: each τ ~ Gamma(3, τ̄/3) with τ̄ the population's mean,
    /// clipped to τm ∈ [3, 3τ̄m] and τs ∈ [1, 3τ̄s] ms. Done once when the trainer is created.
    /// </summary>
    public bool HeterogeneousTauInit { get; init; }

    /// <summary>Input dropout p_drop: every input spike of a training trial is delivered with probability 1 − p_drop.</summary>
    public double InputDropout { get; init; }

    /// <summary>
    /// Dropout before the last layer (seed 004): in each training step every neuron projecting into the readout is dropped
    /// for the whole trial with this probability, its kept spikes scaled by 1/(1 − p) (<see cref="Simulation.ReadoutDropout"/>);
    /// evaluation is unchanged. Needs an engine that implements <see cref="Simulation.IReadoutDropoutEngine"/> (the
    /// surrogate engine). 0 = off.
    /// </summary>
    public double ReadoutDropout { get; init; }

    /// <summary>
    /// Momentum m of the batch-norm running statistics (0.1, PyTorch's default, in (0, 1]): after each step the trainer folds
    /// the step's <see cref="Simulation.GradientResult.BatchNorm"/> statistics in (<see cref="Simulation.Surrogate.BatchNorm.UpdateRunningStatistics"/>).
    /// Used only by a network with batch norm.
    /// </summary>
    public double BatchNormMomentum { get; init; } = Simulation.Surrogate.BatchNorm.DefaultMomentum;

    /// <summary>Optional hidden-activity regulariser (counts come from training trials only).</summary>
    public ActivityRegularization? Regularization { get; init; }

    /// <summary>Optional early stopping.</summary>
    public EarlyStopping? EarlyStopping { get; init; }

    /// <summary>Throws with a one-line message naming the first bad setting.</summary>
    public void Validate()
    {
        if (Epochs < 0) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be ≥ 0.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "The batch size must be ≥ 1.");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be finite and > 0.");
        if (!(EaseInStartFactor > 0 && EaseInStartFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(EaseInStartFactor), EaseInStartFactor, "The ease-in start factor must lie in (0, 1].");
        if (!(EaseInGrowth > 1) || !double.IsFinite(EaseInGrowth)) throw new ArgumentOutOfRangeException(nameof(EaseInGrowth), EaseInGrowth, "The ease-in growth must be finite and > 1.");
        if (HalvingMinimumEpochs < 1) throw new ArgumentOutOfRangeException(nameof(HalvingMinimumEpochs), HalvingMinimumEpochs, "The epochs between halvings must be ≥ 1.");
        if (!(SilentNeuronBoost >= 0) || !double.IsFinite(SilentNeuronBoost)) throw new ArgumentOutOfRangeException(nameof(SilentNeuronBoost), SilentNeuronBoost, "The silent-neuron boost must be finite and ≥ 0.");
        if (!(MaxDelay > 0)) throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, "The delay clip d_max must be > 0 ms (+∞ for none).");
        if (!(DelayLearningRateScale > 0) || !double.IsFinite(DelayLearningRateScale)) throw new ArgumentOutOfRangeException(nameof(DelayLearningRateScale), DelayLearningRateScale, "The delay learning-rate scale must be finite and > 0.");
        if (!(TauMemMinimum > 0) || !double.IsFinite(TauMemMinimum)) throw new ArgumentOutOfRangeException(nameof(TauMemMinimum), TauMemMinimum, "The τ_mem clip must be finite and > 0 ms.");
        if (!(TauSynMinimum > 0) || !double.IsFinite(TauSynMinimum)) throw new ArgumentOutOfRangeException(nameof(TauSynMinimum), TauSynMinimum, "The τ_syn clip must be finite and > 0 ms.");
        if (!(InputDropout >= 0 && InputDropout < 1)) throw new ArgumentOutOfRangeException(nameof(InputDropout), InputDropout, "Input dropout must lie in [0, 1).");
        if (!(ReadoutDropout >= 0 && ReadoutDropout < 1)) throw new ArgumentOutOfRangeException(nameof(ReadoutDropout), ReadoutDropout, "Readout dropout must lie in [0, 1) (seed 004 uses 0.5).");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "The weight decay must be finite and ≥ 0.");
        Simulation.Surrogate.BatchNorm.RequireMomentum(BatchNormMomentum);
        OneCycle?.Validate();
        Regularization?.Validate();
        if (EarlyStopping is { } es)
        {
            if (es.Patience < 1) throw new ArgumentOutOfRangeException(nameof(EarlyStopping), es.Patience, "Early-stopping patience must be ≥ 1 epoch.");
            if (!(es.MinimumImprovement >= 0)) throw new ArgumentOutOfRangeException(nameof(EarlyStopping), es.MinimumImprovement, "Early-stopping minimum improvement must be ≥ 0.");
        }
    }
}
