using Eventprop.Core.Data;
using FsCheck;
using FsCheck.Fluent;

namespace Eventprop.Tests.Augment;

/// <summary>FsCheck generators of spike samples and of (sample, seed) cases.</summary>
internal static class SampleGenerators
{
    public const int Channels = 700;

    /// <summary>A sample of 0..maxSpikes spikes, times on a grid of 1/<paramref name="stepsPerMs"/> ms in [0, maxTimeMs],
    /// channels in [0, channels), label <paramref name="label"/> (or random in 0..4 when below −1).</summary>
    public static Gen<SpikeSample> Sample(int maxSpikes = 80, int channels = Channels, double maxTimeMs = 1000, int label = -2, int stepsPerMs = 100) =>
        from n in Gen.Choose(0, maxSpikes)
        from times in Gen.ArrayOf(Gen.Choose(0, (int)(maxTimeMs * stepsPerMs)), n)
        from chans in Gen.ArrayOf(Gen.Choose(0, channels - 1), n)
        from l in label >= -1 ? Gen.Constant(label) : Gen.Choose(0, 4)
        from speaker in Gen.Choose(-1, 3)
        select new SpikeSample(times.Select(t => t / (double)stepsPerMs).ToArray(), chans, l, speaker);

    public static Arbitrary<(SpikeSample Sample, int Seed)> SampleAndSeed(int maxSpikes = 80, int channels = Channels, double maxTimeMs = 1000) =>
        (from s in Sample(maxSpikes, channels, maxTimeMs)
         from seed in Gen.Choose(0, int.MaxValue - 1)
         select (s, seed)).ToArbitrary();

    public static bool SameSpikes(SpikeSample a, SpikeSample b) =>
        a.Label == b.Label && a.Speaker == b.Speaker
        && a.Times.SequenceEqual(b.Times) && a.Channels.SequenceEqual(b.Channels);
}
