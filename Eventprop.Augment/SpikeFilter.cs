using Eventprop.Core.Data;

namespace Eventprop.Augment;

/// <summary>Builds a sample from spikes mapped one by one, dropping the ones a mapping rejects.</summary>
internal static class SpikeFilter
{
    /// <summary>A mapping of one spike: returns false to drop it.</summary>
    internal delegate bool SpikeMap(int index, double time, int channel, out double newTime, out int newChannel);

    /// <summary>Maps every spike of <paramref name="sample"/> with <paramref name="map"/>, keeps label and speaker.</summary>
    internal static SpikeSample Map(SpikeSample sample, SpikeMap map)
    {
        var times = sample.Times;
        var channels = sample.Channels;
        var newTimes = new double[times.Length];
        var newChannels = new int[times.Length];
        int kept = 0;
        for (int i = 0; i < times.Length; i++)
        {
            if (!map(i, times[i], channels[i], out double t, out int c)) continue;
            newTimes[kept] = t;
            newChannels[kept] = c;
            kept++;
        }
        return new SpikeSample(newTimes.AsSpan(0, kept), newChannels.AsSpan(0, kept), sample.Label, sample.Speaker);
    }
}
