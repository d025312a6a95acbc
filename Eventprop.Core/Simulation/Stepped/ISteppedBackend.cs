using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// Where the time-stepped Eventprop passes of a minibatch run: the CPU provider of <see cref="SteppedEngine"/> (trial-parallel,
/// vectorised over neurons) or the ILGPU provider of <c>Eventprop.Gpu</c> (kernels over trial × neuron).
/// </summary>
/// <remarks>
/// <para>For engine implementers. <see cref="SteppedPipeline"/> runs the phases of a batch once for every provider:
/// validate the batch, compile or refresh the <see cref="SteppedPlan"/>, <see cref="Forward"/>, the hidden spike counts
/// and the activity-regulariser jumps from the pass's counts, <see cref="Backward"/>, the gradient. A provider is called
/// once per phase and batch, never per neuron or step: its loops (threads, kernels) stay inside the call.</para>
/// <para>Both methods receive a plan that <see cref="SteppedPipeline"/> compiled for the provider's grid and refreshed
/// from the network, and a batch that has been validated (labels, channels, spike times in [0, T)). Losses are evaluated
/// by the provider (on the host, or on the device for the losses it knows) and must be checked with
/// <see cref="Pipeline.BatchLoss"/>. A provider runs one batch at a time; the pipeline's callers serialise the calls.</para>
/// </remarks>
public interface ISteppedBackend
{
    /// <summary>Whether the provider simulates analog samples (<see cref="SpikeSample.IsAnalog"/>: a constant input current
    /// per channel); the pipeline refuses them with one line for a provider that does not.</summary>
    bool AcceptsAnalogInput => false;

    /// <summary>Whether the provider simulates learned delays (<see cref="SteppedPlan.Delayed"/>); the pipeline refuses a
    /// network with learned delays otherwise. Default: false.</summary>
    bool AcceptsLearnedDelays => false;

    /// <summary>
    /// Runs the forward pass of every trial of <paramref name="batch"/> and evaluates <paramref name="loss"/> on each.
    /// </summary>
    /// <param name="plan">The compiled, refreshed network on the provider's grid.</param>
    /// <param name="batch">The validated trials (at least one).</param>
    /// <param name="labels">The class of each trial, from <see cref="Pipeline.BatchValidation.CheckBatch"/>.</param>
    /// <param name="loss">The loss evaluated on each trial's readout.</param>
    /// <param name="forBackward">Whether <see cref="Backward"/> follows: the pass then keeps what the backward pass needs
    /// (state snapshots, loss drives); an evaluation-only pass may skip it.</param>
    /// <returns>The pass's losses, predictions and spike counts, and whatever the provider's backward pass needs.</returns>
    /// <exception cref="SpikeBufferLimitException">A population fired more than the provider's spike cap.</exception>
    /// <exception cref="InvalidOperationException">The loss returned a non-finite value or the wrong number of outputs.</exception>
    SteppedForwardPass Forward(SteppedPlan plan, IReadOnlyList<SpikeSample> batch, int[] labels, ILoss loss, bool forBackward);

    /// <summary>
    /// Runs the Eventprop backward pass of the batch of <paramref name="forward"/> and adds the batch-mean gradient
    /// (the loss drives scaled by 1/B) to <paramref name="gradient"/>.
    /// </summary>
    /// <param name="plan">The plan of the forward pass.</param>
    /// <param name="forward">What this provider's <see cref="Forward"/> returned, with <c>forBackward</c> true.</param>
    /// <param name="regularizationJumps">The activity-regulariser jump of each neuron of the plan (global index; zeros when no
    /// regulariser is active), from <see cref="Pipeline.RegularizationJumps"/>.</param>
    /// <param name="gradient">A zero parameter set of the plan's network; receives dL/dW, dL/dτm and dL/dτs.</param>
    void Backward(SteppedPlan plan, SteppedForwardPass forward, float[] regularizationJumps, ParameterSet gradient);
}
