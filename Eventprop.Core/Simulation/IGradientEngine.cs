using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation;

/// <summary>
/// An engine that simulates a network on a batch of trials and computes the loss and, with Eventprop, its gradient.
/// Every engine reads the same <see cref="Network"/> and fills a gradient <see cref="ParameterSet"/> of the
/// same layout, so trainers and optimisers never special-case an engine.
/// </summary>
public interface IGradientEngine
{
    /// <summary>Trial duration T (ms).</summary>
    double Duration { get; }

    /// <summary>Mean loss over the batch, predictions and spike counts (no gradient).</summary>
    EvaluationResult Evaluate(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss);

    /// <summary>Mean loss over the batch and the gradient of that mean (plus the regulariser's heuristic term, if given).</summary>
    GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization = null);
}

/// <summary>The loss, predictions and hidden spike counts of a batch.</summary>
/// <param name="Loss">Mean loss over the batch.</param>
/// <param name="Predictions">Predicted class per trial, in batch order.</param>
/// <param name="Labels">Label per trial, in batch order.</param>
/// <param name="HiddenSpikeCounts">Per hidden population, per neuron: spikes summed over the batch.</param>
public record EvaluationResult(double Loss, int[] Predictions, int[] Labels, IReadOnlyDictionary<string, long[]> HiddenSpikeCounts)
{
    /// <summary>Trials in the batch.</summary>
    public int Count => Predictions.Length;

    /// <summary>Trials classified correctly.</summary>
    public int Correct
    {
        get
        {
            int c = 0;
            for (int i = 0; i < Predictions.Length; i++)
                if (Predictions[i] == Labels[i]) c++;
            return c;
        }
    }

    /// <summary>Fraction of trials classified correctly.</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;
}

/// <summary>An <see cref="EvaluationResult"/> with the gradient of the mean loss.</summary>
/// <param name="Loss">Mean loss over the batch.</param>
/// <param name="Predictions">Predicted class per trial.</param>
/// <param name="Labels">Label per trial.</param>
/// <param name="HiddenSpikeCounts">Per hidden population, per neuron: spikes summed over the batch.</param>
/// <param name="Gradient">Gradient with the names and shapes of the network's parameters.</param>
public record GradientResult(double Loss, int[] Predictions, int[] Labels, IReadOnlyDictionary<string, long[]> HiddenSpikeCounts, ParameterSet Gradient)
    : EvaluationResult(Loss, Predictions, Labels, HiddenSpikeCounts)
{
    /// <summary>
    /// Per batch-normalised hidden layer (by name), the batch statistics the training forward normalised with; null when
    /// the network has no batch norm. State, not a gradient: fold it into the running statistics with
    /// <see cref="Surrogate.BatchNorm.UpdateRunningStatistics"/> (the trainer does after each step).
    /// </summary>
    public IReadOnlyDictionary<string, Surrogate.BatchNormStatistics>? BatchNorm { get; init; }
}

/// <summary>A <see cref="GradientResult"/> of the exact engine, with every recorded trial.</summary>
/// <param name="Loss">Mean loss over the batch.</param>
/// <param name="Predictions">Predicted class per trial.</param>
/// <param name="Labels">Label per trial.</param>
/// <param name="HiddenSpikeCounts">Per hidden population, per neuron: spikes summed over the batch.</param>
/// <param name="Gradient">Gradient with the names and shapes of the network's parameters.</param>
/// <param name="Trials">The recorded forward pass of each trial, in batch order.</param>
public sealed record ExactGradientResult(double Loss, int[] Predictions, int[] Labels, IReadOnlyDictionary<string, long[]> HiddenSpikeCounts, ParameterSet Gradient, IReadOnlyList<ExactTrial> Trials)
    : GradientResult(Loss, Predictions, Labels, HiddenSpikeCounts, Gradient);
