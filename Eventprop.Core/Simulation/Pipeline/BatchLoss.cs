using Eventprop.Core.Losses;

namespace Eventprop.Core.Simulation.Pipeline;

/// <summary>
/// What every engine does with the losses of a batch: check each trial's evaluation, and reduce them to the batch-mean
/// loss and the predictions.
/// </summary>
/// <remarks>For engine implementers. The mean is summed in batch order and divided by the batch size, so it is the same
/// bit for bit whichever engine computed the evaluations.</remarks>
public static class BatchLoss
{
    /// <summary>Rejects a non-finite loss value or an evaluation with the wrong number of outputs.</summary>
    /// <param name="loss">The loss that produced <paramref name="evaluation"/>.</param>
    /// <param name="evaluation">One trial's evaluation.</param>
    /// <param name="readoutSize">Neurons of the readout.</param>
    /// <param name="index">The trial's index in its batch.</param>
    /// <exception cref="InvalidOperationException">The value is NaN or infinite, or the outputs do not match the readout.</exception>
    public static void CheckEvaluation(ILoss loss, LossEvaluation evaluation, int readoutSize, int index)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(evaluation);
        CheckValue(loss, evaluation.Value, index);
        if (evaluation.Outputs.Length != readoutSize)
            throw new InvalidOperationException($"Loss '{loss.Name}' returned {evaluation.Outputs.Length} outputs but the readout has {readoutSize} neurons.");
    }

    /// <summary>Rejects a non-finite loss value of trial <paramref name="index"/>.</summary>
    /// <exception cref="InvalidOperationException">The value is NaN or infinite.</exception>
    public static void CheckValue(ILoss loss, double value, int index)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (!double.IsFinite(value))
            throw new InvalidOperationException($"Loss '{loss.Name}' is {value} on sample {index} of the batch; the readout voltages have probably diverged (lower the learning rate or check the weights).");
    }

    /// <summary>The batch-mean loss: the values summed in batch order, divided by their count.</summary>
    public static double MeanLoss(IReadOnlyList<LossEvaluation> evaluations)
    {
        ArgumentNullException.ThrowIfNull(evaluations);
        double sum = 0;
        for (int b = 0; b < evaluations.Count; b++) sum += evaluations[b].Value;
        return sum / evaluations.Count;
    }

    /// <summary>The predicted class of every trial, in batch order.</summary>
    public static int[] Predictions(IReadOnlyList<LossEvaluation> evaluations)
    {
        ArgumentNullException.ThrowIfNull(evaluations);
        var p = new int[evaluations.Count];
        for (int b = 0; b < p.Length; b++) p[b] = evaluations[b].Prediction;
        return p;
    }
}
