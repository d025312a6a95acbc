using Eventprop.Core.Data;

namespace Eventprop.Augment;

/// <summary>
/// Random dilation: all spike times of a sample are multiplied by one factor drawn uniformly from
/// [<see cref="MinFactor"/>, <see cref="MaxFactor"/>]. Channels, label and speaker are unchanged; no spike is dropped.
/// </summary>
public sealed class TimeDilation : ISpikeAugmentation
{
    /// <summary>Creates the augmentation.</summary>
    /// <param name="minFactor">Smallest factor (default 0.9); &gt; 0.</param>
    /// <param name="maxFactor">Largest factor (default 1.1); ≥ <paramref name="minFactor"/>.</param>
    public TimeDilation(double minFactor = 0.9, double maxFactor = 1.1)
    {
        if (!(minFactor > 0) || !double.IsFinite(maxFactor) || maxFactor < minFactor)
            throw new ArgumentOutOfRangeException(nameof(minFactor), $"Dilation factors need 0 < min ≤ max < ∞; got [{minFactor}, {maxFactor}].");
        MinFactor = minFactor;
        MaxFactor = maxFactor;
    }

    /// <summary>Smallest factor.</summary>
    public double MinFactor { get; }

    /// <summary>Largest factor.</summary>
    public double MaxFactor { get; }

    /// <summary>Draws one factor and multiplies every spike time by it.</summary>
    /// <param name="sample">The sample.</param>
    /// <param name="random">Source of the factor (one draw).</param>
    public SpikeSample Apply(SpikeSample sample, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return Dilate(sample, MinFactor + (MaxFactor - MinFactor) * random.NextDouble());
    }

    /// <summary>Multiplies every spike time of <paramref name="sample"/> by <paramref name="factor"/> (&gt; 0).</summary>
    /// <param name="sample">The sample.</param>
    /// <param name="factor">The factor.</param>
    public static SpikeSample Dilate(SpikeSample sample, double factor)
    {
        ArgumentNullException.ThrowIfNull(sample);
        sample.RequireSpikes("The time dilation augmentation");
        if (!(factor > 0) || !double.IsFinite(factor)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "The dilation factor must be positive and finite.");
        return SpikeFilter.Map(sample, (int _, double t, int c, out double newTime, out int newChannel) =>
        {
            newTime = t * factor;
            newChannel = c;
            return true;
        });
    }
}
