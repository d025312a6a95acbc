namespace Eventprop.Core.Data;

/// <summary>
/// A generated task that only delays can solve: each sample is one spike on each of two input channels, at a random
/// onset t and at t + <see cref="Gap"/>; class 0 fires channel 0 first, class 1 channel 1 first. With time constants well
/// below the gap, a network without delays responds to the two spikes separately whatever their order, so its summed
/// responses — and any readout that integrates over the trial — are the same for both classes (chance); a learned delay
/// of about the gap on one channel makes the two spikes coincide for one class only.
/// </summary>
public static class RelativeTimingTask
{
    /// <summary>The time between the two spikes of a sample (ms).</summary>
    public const double Gap = 15;

    /// <summary><paramref name="count"/> samples (classes alternate), onsets uniform in [2, <paramref name="duration"/> − Gap − 30] ms, from <paramref name="seed"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The count is negative or the trial too short for the gap and 30 ms of response.</exception>
    public static SpikeSample[] Generate(int count, int seed, double duration = 80)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        double latest = duration - Gap - 30;
        if (!(latest > 2)) throw new ArgumentOutOfRangeException(nameof(duration), duration, $"The trial must be longer than {Gap + 32} ms (the gap and 30 ms of response after it).");
        var rng = new Random(seed);
        var samples = new SpikeSample[count];
        for (int s = 0; s < count; s++)
        {
            int label = s % 2;
            double onset = 2 + (latest - 2) * rng.NextDouble();
            samples[s] = new SpikeSample([onset, onset + Gap], label == 0 ? [0, 1] : [1, 0], label);
        }
        return samples;
    }
}
