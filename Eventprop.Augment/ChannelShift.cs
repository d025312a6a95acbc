using Eventprop.Core.Data;

namespace Eventprop.Augment;

/// <summary>
/// Shift (Nowotny et al. §4.4): every spike of a sample moves by the same integer channel offset drawn uniformly
/// from {−<see cref="MaxShift"/>, …, +<see cref="MaxShift"/>}; spikes that leave [0, <see cref="ChannelCount"/>) are dropped.
/// Times, label and speaker are unchanged.
/// </summary>
public sealed class ChannelShift : ISpikeAugmentation
{
    /// <summary>Creates the augmentation.</summary>
    /// <param name="maxShift">Largest offset in either direction (default 40, as for SHD/SSC); ≥ 0.</param>
    /// <param name="channelCount">Number of input channels (default 700, SHD/SSC).</param>
    public ChannelShift(int maxShift = 40, int channelCount = HeidelbergSpikeFile.DefaultChannelCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxShift);
        ArgumentOutOfRangeException.ThrowIfLessThan(channelCount, 1);
        MaxShift = maxShift;
        ChannelCount = channelCount;
    }

    /// <summary>Largest offset in either direction.</summary>
    public int MaxShift { get; }

    /// <summary>Number of input channels; shifted spikes outside [0, ChannelCount) are dropped.</summary>
    public int ChannelCount { get; }

    /// <summary>Draws one offset from {−MaxShift, …, MaxShift} and shifts the sample by it.</summary>
    /// <param name="sample">The sample.</param>
    /// <param name="random">Source of the offset (one draw).</param>
    public SpikeSample Apply(SpikeSample sample, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return Shift(sample, random.Next(-MaxShift, MaxShift + 1), ChannelCount);
    }

    /// <summary>Moves every spike by <paramref name="offset"/> channels, dropping spikes that leave [0, channelCount).</summary>
    /// <param name="sample">The sample.</param>
    /// <param name="offset">Channel offset (any sign).</param>
    /// <param name="channelCount">Number of input channels.</param>
    public static SpikeSample Shift(SpikeSample sample, int offset, int channelCount)
    {
        ArgumentNullException.ThrowIfNull(sample);
        sample.RequireSpikes("The channel shift augmentation (augment.shift)");
        return SpikeFilter.Map(sample, (int _, double t, int c, out double newTime, out int newChannel) =>
        {
            newTime = t;
            newChannel = c + offset;
            return newChannel >= 0 && newChannel < channelCount;
        });
    }
}
