using Eventprop.Core.Data;

namespace Eventprop.Augment;

/// <summary>
/// ID jitter (Nowotny et al. §4.4): each spike independently moves to channel c + round(N(0, σ)); spikes that
/// leave [0, <see cref="ChannelCount"/>) are dropped. Times, label and speaker are unchanged.
/// </summary>
public sealed class ChannelJitter : ISpikeAugmentation
{
    /// <summary>Creates the augmentation.</summary>
    /// <param name="sigma">Standard deviation σ of the channel displacement, in channels; ≥ 0.</param>
    /// <param name="channelCount">Number of input channels (default 700, SHD/SSC).</param>
    public ChannelJitter(double sigma, int channelCount = HeidelbergSpikeFile.DefaultChannelCount)
    {
        if (!(sigma >= 0) || !double.IsFinite(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "σ must be finite and ≥ 0.");
        ArgumentOutOfRangeException.ThrowIfLessThan(channelCount, 1);
        Sigma = sigma;
        ChannelCount = channelCount;
    }

    /// <summary>Standard deviation of the displacement, in channels.</summary>
    public double Sigma { get; }

    /// <summary>Number of input channels; jittered spikes outside [0, ChannelCount) are dropped.</summary>
    public int ChannelCount { get; }

    /// <summary>Jitters every spike's channel (one normal draw per spike, in spike order).</summary>
    /// <param name="sample">The sample.</param>
    /// <param name="random">Source of the displacements.</param>
    public SpikeSample Apply(SpikeSample sample, Random random)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(random);
        sample.RequireSpikes("The channel jitter augmentation");
        int channelCount = ChannelCount;
        double sigma = Sigma;
        return SpikeFilter.Map(sample, (int _, double t, int c, out double newTime, out int newChannel) =>
        {
            newTime = t;
            double displacement = Math.Round(sigma * StandardNormal(random), MidpointRounding.AwayFromZero);
            newChannel = c + (int)Math.Clamp(displacement, -channelCount, channelCount);
            return newChannel >= 0 && newChannel < channelCount;
        });
    }

    /// <summary>A standard normal deviate from two uniform draws (Box–Muller).</summary>
    internal static double StandardNormal(Random random)
    {
        double u1 = 1.0 - random.NextDouble(); // (0, 1], keeps the log finite
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
