using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Pipeline;

/// <summary>
/// The checks every engine makes on a batch before it simulates: a non-empty batch, a loss that fits the readout, and per
/// sample a label of the readout, input channels of the network's input and input spikes inside the trial [0, T).
/// </summary>
/// <remarks>For engine implementers: call <see cref="CheckBatch"/> once per batch (or <see cref="CheckReadout"/> and
/// <see cref="CheckInput"/> for single-trial APIs) so that every engine rejects the same input with the same one-line
/// message. Spikes outside [0, T) are an error, not silently ignored: the data loaders crop them to the trial and report
/// how many they dropped.</remarks>
public static class BatchValidation
{
    /// <summary>Rejects a loss that needs a spiking readout on a leaky-integrator readout, or the other way round.</summary>
    /// <exception cref="ArgumentException">The loss and the readout do not fit; the message says how to build the readout.</exception>
    public static void CheckReadout(Network network, ILoss loss)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(loss);
        bool spiking = network.Readout.IsSpiking;
        if (loss.Readout == ReadoutKind.Spiking && !spiking)
            throw new ArgumentException($"Loss '{loss.Name}' needs a spiking readout but '{network.Readout.Name}' is a leaky integrator; build it with Readout(..., spiking: true).");
        if (loss.Readout == ReadoutKind.LeakyIntegrator && spiking)
            throw new ArgumentException($"Loss '{loss.Name}' reads readout voltages but '{network.Readout.Name}' is spiking; build it with Readout(..., spiking: false).");
    }

    /// <summary>Checks a whole batch (see the class remarks) and returns its labels in batch order.</summary>
    /// <param name="network">The network the batch is for.</param>
    /// <param name="batch">The samples (non-empty, none null).</param>
    /// <param name="loss">The loss; it must fit the readout (<see cref="CheckReadout"/>).</param>
    /// <param name="duration">The trial length T (ms): every input spike must lie in [0, T).</param>
    /// <param name="acceptsAnalog">Whether the engine takes analog samples (<see cref="SpikeSample.IsAnalog"/>); the
    /// surrogate-gradient engine and the CPU time-stepped Eventprop engine do, the exact and ILGPU engines refuse them.</param>
    /// <exception cref="ArgumentException">The batch is empty, a sample is null or has a label, channel or spike time the network
    /// cannot take, or is analog and the engine needs spikes; the message names the sample and the fix.</exception>
    public static int[] CheckBatch(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, double duration, bool acceptsAnalog = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0) throw new ArgumentException("The batch is empty; pass at least one sample.", nameof(batch));
        CheckReadout(network, loss);
        var labels = new int[batch.Count];
        for (int b = 0; b < batch.Count; b++)
        {
            var s = batch[b] ?? throw new ArgumentException($"Sample {b} of the batch is null.", nameof(batch));
            labels[b] = CheckLabel(network, s, b);
            CheckInput(network, s, b, duration, acceptsAnalog);
        }
        return labels;
    }

    /// <summary>Returns the sample's label after checking it is a class of the readout.</summary>
    /// <param name="network">The network.</param>
    /// <param name="sample">The sample.</param>
    /// <param name="index">The sample's index in its batch, for the message (null: a single sample).</param>
    /// <exception cref="ArgumentException">The label is not in 0…readout size − 1.</exception>
    public static int CheckLabel(Network network, SpikeSample sample, int? index)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.Label < 0 || sample.Label >= network.Readout.Size)
            throw new ArgumentException($"{Which(index)} has label {sample.Label}, which is not a class of readout '{network.Readout.Name}' (0…{network.Readout.Size - 1}).");
        return sample.Label;
    }

    /// <summary>Checks that every input spike is on a channel of the network's input and at a time in [0, <paramref name="duration"/>).</summary>
    /// <param name="network">The network.</param>
    /// <param name="sample">The sample.</param>
    /// <param name="index">The sample's index in its batch, for the message (null: a single sample).</param>
    /// <param name="duration">The trial length T (ms).</param>
    /// <param name="acceptsAnalog">Whether the engine takes analog samples (see <see cref="CheckBatch"/>).</param>
    /// <exception cref="ArgumentException">A spike is on a channel the input does not have, or outside the trial; or the sample
    /// is analog and the engine needs spikes, or has not one value per input channel.</exception>
    public static void CheckInput(Network network, SpikeSample sample, int? index, double duration, bool acceptsAnalog = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(sample);
        int inputs = network.Input.Size;
        if (sample.IsAnalog)
        {
            if (!acceptsAnalog)
                throw new ArgumentException($"{Which(index)} is analog (a constant input current per channel, dataset.encoding current), which this engine (exact or ILGPU) cannot take: a constant current is not an input spike. Use the CPU time-stepped Eventprop engine (engine.kind stepped, engine.device cpu), the surrogate engine (method surrogate) or latency-encoded input (dataset.encoding latency).");
            if (sample.Currents.Length != inputs)
                throw new ArgumentException($"{Which(index)} has {sample.Currents.Length} analog input values but input '{network.Input.Name}' has {inputs} channels; the data and the network's input size do not match.");
            return;
        }
        var channels = sample.Channels;
        if (sample.MaxChannel >= inputs)
        {
            int bad = 0;
            while (channels[bad] < inputs) bad++;
            throw new ArgumentException($"{Which(index)} uses input channel {channels[bad]} (spike {bad}) but input '{network.Input.Name}' has {inputs} channels (0…{inputs - 1}); the data and the network's input size do not match.");
        }
        var times = sample.Times; // sorted, finite and ≥ 0 (SpikeSample checks that)
        if (times.Length > 0 && times[^1] >= duration)
        {
            int bad = 0;
            while (times[bad] < duration) bad++;
            throw new ArgumentException($"{Which(index)} has an input spike on channel {channels[bad]} at {times[bad]:R} ms, outside the trial [0, {duration:R}) ms; the engines take spikes in [0, T) only: crop the sample to the trial (the data loaders of the CLI crop and report them) or lengthen the trial.");
        }
    }

    private static string Which(int? index) => index is int b ? $"Sample {b} of the batch" : "The sample";
}
