using Eventprop.Core.Data;

namespace Eventprop.Augment;

/// <summary>
/// Delayed input copies, the "delay line" of Nowotny et al. §4.4 (config keys <c>augment.delay_line_copies</c>,
/// <c>augment.delay_line_ms</c>): every input channel is presented <see cref="Copies"/> times, copy n delayed by the fixed
/// n × <see cref="DelayMs"/>. Deterministic (the random source is not used). Nothing here is trained; for trainable
/// per-synapse delays see <see cref="Core.Model.NetworkBuilder.LearnedDelays"/>.
/// </summary>
/// <remarks>
/// Layout: with C = <see cref="InputChannelCount"/>, copy n ∈ {0, …, Copies − 1} of channel c goes to channel
/// n·C + c, so the output has Copies × C channels arranged as Copies blocks of C; block 0 is the undelayed input.
/// A delayed copy (n ≥ 1) whose time t + n·DelayMs exceeds <see cref="TrialDurationMs"/> is dropped; the undelayed
/// copy is always kept. The paper's SHD/SSC setting is 10 copies × 30 ms (and divides the input→hidden weight
/// initialisation by 10).
/// </remarks>
public sealed class DelayedInputCopies : ISpikeAugmentation
{
    /// <summary>Creates the delayed copies.</summary>
    /// <param name="trialDurationMs">End of the trial in ms; delayed spikes beyond it are dropped.</param>
    /// <param name="copies">Number of copies including the undelayed one (default 10); ≥ 1.</param>
    /// <param name="delayMs">Delay between successive copies in ms (default 30); ≥ 0.</param>
    /// <param name="inputChannelCount">Channels C of the input (default 700, SHD/SSC); inputs must use channels below it.</param>
    public DelayedInputCopies(double trialDurationMs, int copies = 10, double delayMs = 30.0, int inputChannelCount = HeidelbergSpikeFile.DefaultChannelCount)
    {
        if (!(trialDurationMs >= 0) || !double.IsFinite(trialDurationMs)) throw new ArgumentOutOfRangeException(nameof(trialDurationMs), trialDurationMs, "The trial duration must be finite and ≥ 0.");
        ArgumentOutOfRangeException.ThrowIfLessThan(copies, 1);
        if (!(delayMs >= 0) || !double.IsFinite(delayMs)) throw new ArgumentOutOfRangeException(nameof(delayMs), delayMs, "The delay must be finite and ≥ 0.");
        ArgumentOutOfRangeException.ThrowIfLessThan(inputChannelCount, 1);
        if ((long)copies * inputChannelCount > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(copies), copies, "Copies × channels exceeds the channel range.");
        TrialDurationMs = trialDurationMs;
        Copies = copies;
        DelayMs = delayMs;
        InputChannelCount = inputChannelCount;
    }

    /// <summary>End of the trial in ms.</summary>
    public double TrialDurationMs { get; }

    /// <summary>Number of copies, including the undelayed one.</summary>
    public int Copies { get; }

    /// <summary>Delay between successive copies in ms.</summary>
    public double DelayMs { get; }

    /// <summary>Channels C of the input.</summary>
    public int InputChannelCount { get; }

    /// <inheritdoc />
    public int OutputChannelCount(int inputChannelCount)
    {
        if (inputChannelCount != InputChannelCount)
            throw new ArgumentException($"This delay line expects {InputChannelCount} input channels, not {inputChannelCount}.", nameof(inputChannelCount));
        return Copies * InputChannelCount;
    }

    /// <summary>Applies the delay line; <paramref name="random"/> is not used.</summary>
    /// <param name="sample">The sample; its channels must lie below <see cref="InputChannelCount"/>.</param>
    /// <param name="random">Unused (the delay line is deterministic).</param>
    public SpikeSample Apply(SpikeSample sample, Random random) => Apply(sample);

    /// <summary>Applies the delay line (deterministic).</summary>
    /// <param name="sample">The sample; its channels must lie below <see cref="InputChannelCount"/>.</param>
    /// <exception cref="ArgumentException">A spike's channel is ≥ <see cref="InputChannelCount"/>, which would break the layout.</exception>
    public SpikeSample Apply(SpikeSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        sample.RequireSpikes("The delay line (augment.delay_line_copies)");
        if (sample.MaxChannel >= InputChannelCount)
            throw new ArgumentException($"The sample uses channel {sample.MaxChannel}, but this delay line has {InputChannelCount} input channels.", nameof(sample));
        var times = sample.Times;
        var channels = sample.Channels;
        var outTimes = new List<double>(times.Length * Copies);
        var outChannels = new List<int>(times.Length * Copies);
        for (int n = 0; n < Copies; n++)
        {
            double delay = n * DelayMs;
            for (int i = 0; i < times.Length; i++)
            {
                double t = times[i] + delay;
                if (n > 0 && t > TrialDurationMs) continue;
                outTimes.Add(t);
                outChannels.Add(n * InputChannelCount + channels[i]);
            }
        }
        return new SpikeSample(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(outTimes),
            System.Runtime.InteropServices.CollectionsMarshal.AsSpan(outChannels), sample.Label, sample.Speaker);
    }
}
