namespace Eventprop.Core.Training;

/// <summary>
/// Everything about a training run that is not a parameter or an Adam moment: counters, the learning-rate schedule,
/// early-stopping bookkeeping and the random state. Saved in checkpoints (docs/checkpoint.md).
/// </summary>
public sealed class TrainingState
{
    /// <summary>Completed epochs.</summary>
    public int Epoch { get; set; }

    /// <summary>Minibatch updates applied so far.</summary>
    public long Step { get; set; }

    /// <summary>The learning rate of the next update (below <see cref="TargetLearningRate"/> during the ease-in).</summary>
    public double LearningRate { get; set; }

    /// <summary>η: the ease-in target, halved by the schedule.</summary>
    public double TargetLearningRate { get; set; }

    /// <summary>Fast EMA (0.8/0.2) of the scheduled metric.</summary>
    public double EmaFast { get; set; }

    /// <summary>Slow EMA (0.85/0.15) of the scheduled metric.</summary>
    public double EmaSlow { get; set; }

    /// <summary>Epoch of the last learning-rate halving (0: none yet).</summary>
    public int LastHalvingEpoch { get; set; }

    /// <summary>Best value of the early-stopping metric so far (NaN: none yet).</summary>
    public double BestMetric { get; set; } = double.NaN;

    /// <summary>Epoch at which <see cref="BestMetric"/> was reached.</summary>
    public int BestEpoch { get; set; }

    /// <summary>Epochs since the early-stopping metric last improved.</summary>
    public int EpochsWithoutImprovement { get; set; }

    /// <summary>Whether early stopping ended the run.</summary>
    public bool Stopped { get; set; }

    /// <summary>The trainer's random state (xoshiro256** words).</summary>
    public ulong[] RandomState { get; set; } = new ulong[4];
}

/// <summary>Progress after one minibatch.</summary>
/// <param name="Epoch">The epoch being run (1-based).</param>
/// <param name="Batch">The minibatch just finished (1-based).</param>
/// <param name="Batches">Minibatches in this epoch.</param>
/// <param name="Loss">Mean loss of the minibatch.</param>
/// <param name="Accuracy">Accuracy of the minibatch.</param>
/// <param name="LearningRate">The learning rate used for its update.</param>
public sealed record BatchProgress(int Epoch, int Batch, int Batches, double Loss, double Accuracy, double LearningRate);

/// <summary>Metrics of one finished epoch.</summary>
/// <param name="Epoch">Epoch number (1-based).</param>
/// <param name="TrainingLoss">Mean loss over the epoch's training trials (before each update).</param>
/// <param name="TrainingAccuracy">Accuracy over the epoch's training trials.</param>
/// <param name="ValidationLoss">Mean validation loss, or null without validation data.</param>
/// <param name="ValidationAccuracy">Validation accuracy, or null without validation data.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch (after a possible halving).</param>
/// <param name="MeanHiddenSpikes">Mean spikes per hidden neuron per training trial, per hidden population.</param>
/// <param name="SilentNeurons">Hidden neurons that fired no spike in the epoch (and were rescued when the boost is on).</param>
/// <param name="Seconds">Wall-clock time of the epoch.</param>
public sealed record EpochMetrics(int Epoch, double TrainingLoss, double TrainingAccuracy, double? ValidationLoss, double? ValidationAccuracy,
    double LearningRate, IReadOnlyDictionary<string, double> MeanHiddenSpikes, int SilentNeurons, double Seconds)
{
    /// <summary>The value of <paramref name="metric"/> in this epoch.</summary>
    /// <exception cref="InvalidOperationException">A validation metric was asked for but the run has no validation data.</exception>
    public double Get(TrainingMetric metric) => metric switch
    {
        TrainingMetric.TrainingLoss => TrainingLoss,
        TrainingMetric.TrainingAccuracy => TrainingAccuracy,
        TrainingMetric.ValidationLoss => ValidationLoss ?? throw new InvalidOperationException("The metric ValidationLoss needs validation data; pass a validation set to Fit or watch a training metric."),
        TrainingMetric.ValidationAccuracy => ValidationAccuracy ?? throw new InvalidOperationException("The metric ValidationAccuracy needs validation data; pass a validation set to Fit or watch a training metric."),
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown metric."),
    };

    /// <summary>Whether larger values of <paramref name="metric"/> are better.</summary>
    public static bool HigherIsBetter(TrainingMetric metric) => metric is TrainingMetric.TrainingAccuracy or TrainingMetric.ValidationAccuracy;
}

/// <summary>Training produced a non-finite gradient or parameter; the run stops before anything is saved.</summary>
public sealed class TrainingDivergedException(int epoch, int batch, string parameter, string what)
    : InvalidOperationException($"Training diverged in epoch {epoch}, minibatch {batch}: {what} of '{parameter}' is not finite. The last checkpoint written is still good; lower the learning rate or check the data and weights.")
{
    /// <summary>Epoch (1-based).</summary>
    public int Epoch { get; } = epoch;

    /// <summary>Minibatch (1-based).</summary>
    public int Batch { get; } = batch;

    /// <summary>Name of the parameter with a non-finite value.</summary>
    public string Parameter { get; } = parameter;
}

/// <summary>Hooks into a training run. Every method has an empty default; implement the ones you need.</summary>
public interface ITrainingCallback
{
    /// <summary>Called after every minibatch update.</summary>
    void OnBatchEnd(Trainer trainer, BatchProgress progress) { }

    /// <summary>Called after every epoch, once its metrics and the schedule are updated (a checkpoint written here holds the whole epoch).</summary>
    void OnEpochEnd(Trainer trainer, EpochMetrics metrics) { }
}

/// <summary>Calls an action after every minibatch (e.g. a progress bar).</summary>
public sealed class ProgressCallback(Action<BatchProgress> onBatch) : ITrainingCallback
{
    /// <inheritdoc />
    public void OnBatchEnd(Trainer trainer, BatchProgress progress) => onBatch(progress);
}

/// <summary>Calls an action after every epoch with its metrics (e.g. to log or plot them).</summary>
public sealed class EpochMetricsCallback(Action<EpochMetrics> onEpoch) : ITrainingCallback
{
    /// <inheritdoc />
    public void OnEpochEnd(Trainer trainer, EpochMetrics metrics) => onEpoch(metrics);
}

/// <summary>
/// Writes a checkpoint (<see cref="Trainer.SaveCheckpoint"/>, atomic) every <paramref name="everyEpochs"/> epochs and after
/// the last one, to <c>directory/checkpoint.h5</c> (overwritten), and with <paramref name="keepEach"/> also to
/// <c>directory/epoch-NNNN.h5</c>.
/// </summary>
public sealed class CheckpointCallback(string directory, int everyEpochs = 1, bool keepEach = false) : ITrainingCallback
{
    /// <summary>The path of the latest checkpoint.</summary>
    public string LatestPath => Path.Combine(directory, "checkpoint.h5");

    /// <inheritdoc />
    public void OnEpochEnd(Trainer trainer, EpochMetrics metrics)
    {
        if (everyEpochs < 1) throw new ArgumentOutOfRangeException(nameof(everyEpochs), everyEpochs, "Checkpoint every ≥ 1 epochs.");
        bool last = metrics.Epoch >= trainer.Options.Epochs || trainer.State.Stopped;
        if (metrics.Epoch % everyEpochs != 0 && !last) return;
        Directory.CreateDirectory(directory);
        trainer.SaveCheckpoint(LatestPath);
        if (keepEach) trainer.SaveCheckpoint(Path.Combine(directory, $"epoch-{metrics.Epoch:D4}.h5"));
    }
}
