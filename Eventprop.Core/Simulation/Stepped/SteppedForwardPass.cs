using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// What an <see cref="ISteppedBackend"/>'s forward pass of one batch returns to <see cref="SteppedPipeline"/>: each trial's
/// loss and prediction and each population's spike counts. Providers subclass it to keep what their backward pass needs.
/// </summary>
public abstract class SteppedForwardPass
{
    /// <summary>Creates a pass result.</summary>
    /// <param name="losses">The loss value of each trial, in batch order (checked finite by the provider).</param>
    /// <param name="predictions">The predicted class of each trial, in batch order.</param>
    /// <exception cref="ArgumentException">The two arrays differ in length or are empty.</exception>
    protected SteppedForwardPass(double[] losses, int[] predictions)
    {
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentNullException.ThrowIfNull(predictions);
        if (losses.Length == 0 || losses.Length != predictions.Length)
            throw new ArgumentException($"A forward pass needs one loss and one prediction per trial (got {losses.Length} and {predictions.Length}).", nameof(predictions));
        Losses = losses;
        Predictions = predictions;
    }

    /// <summary>Trials in the batch.</summary>
    public int Count => Losses.Length;

    /// <summary>The loss value of each trial, in batch order.</summary>
    public double[] Losses { get; }

    /// <summary>The predicted class of each trial, in batch order.</summary>
    public int[] Predictions { get; }

    /// <summary>The batch-mean loss: the values summed in batch order, divided by the batch size.</summary>
    public double MeanLoss
    {
        get
        {
            double sum = 0;
            foreach (double v in Losses) sum += v;
            return sum / Losses.Length;
        }
    }

    /// <summary>The spikes each neuron of the spiking population <paramref name="population"/> fired in trial <paramref name="trial"/>.</summary>
    /// <param name="trial">Index in the batch.</param>
    /// <param name="population">A spiking population of the plan's network.</param>
    /// <returns>One count per neuron of the population.</returns>
    public abstract ReadOnlySpan<int> SpikeCounts(int trial, Population population);
}
