using Eventprop.Core.Audio;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Audio;

/// <summary>
/// Our cochlea against the reference implementation's outputs for three FSDD recordings (shared/data/cochlea-reference):
/// the deterministic stages sample by sample, the spikes statistically.
/// </summary>
public sealed class CochleaReferenceTests(ITestOutputHelper output)
{
    /// <summary>The bound for the deterministic stages: 1e-6 of each series' largest magnitude.</summary>
    private const double RelativeTolerance = 1e-6;

    public static TheoryData<string> Recordings() => new(CochleaReference.Names);

    /// <summary>Largest |ours − reference| over the series, divided by the reference's largest |value|.</summary>
    internal static double RelativeError(IReadOnlyList<double> ours, IReadOnlyList<double> reference)
    {
        Assert.Equal(reference.Count, ours.Count);
        double scale = reference.Max(Math.Abs), worst = 0;
        Assert.True(scale > 0, "the reference series is all zero");
        for (int i = 0; i < reference.Count; i++) worst = Math.Max(worst, Math.Abs(ours[i] - reference[i]));
        return worst / scale;
    }

    [Theory]
    [MemberData(nameof(Recordings))]
    public void ExactFftMatchesTheReferenceMembraneAndHairCellTo1e6(string name)
    {
        var reference = CochleaReference.Load(name);
        var clip = WaveFile.Read(reference.RecordingPath);
        Assert.Equal(reference.InputSamples, clip.Samples.Length);
        var encoder = new CochleaEncoder(new CochleaOptions { FftLength = CochleaFftLength.Exact });
        foreach (int channel in reference.Channels)
        {
            var velocity = encoder.MembraneVelocity(clip, channel, out double rate);
            Assert.Equal(reference.BmSampleRate, rate);
            double ve = RelativeError(velocity, reference.Velocity[channel]);
            var probability = encoder.HairCellProbability(clip, channel, out _);
            double pe = RelativeError(probability, reference.Probability[channel]);
            output.WriteLine($"{name} channel {channel}: velocity {ve:E2}, probability {pe:E2}");
            Assert.True(ve <= RelativeTolerance, $"{name} channel {channel}: membrane velocity differs by {ve:E2} of its maximum");
            Assert.True(pe <= RelativeTolerance, $"{name} channel {channel}: hair-cell probability differs by {pe:E2} of its maximum");
        }
    }

    /// <summary>Seeds of our encoder whose spread estimates what the bushy cells' randomness allows.</summary>
    private const int Seeds = 8;

    /// <summary>
    /// The reference's spikes are one draw of the bushy cells; our eight seeds estimate the mean and the seed-to-seed sd
    /// of the same statistics. The total, the counts of 14 groups of 50 channels and the counts per 10 ms must each lie
    /// within 5 sd (of the difference between one draw and our eight-seed mean) of ours, and the mean squared z-score
    /// over all of them must stay below 3 (1 when the two agree in distribution).
    /// </summary>
    [Theory]
    [MemberData(nameof(Recordings))]
    public void SpikeStatisticsMatchTheReferenceWithinTheBushyCellsRandomness(string name)
    {
        var reference = CochleaReference.Load(name);
        var clip = WaveFile.Read(reference.RecordingPath);
        var encoder = new CochleaEncoder(new CochleaOptions { FftLength = CochleaFftLength.Exact, Threads = 2 });
        int groups = reference.SpikesPerChannel.Length / 50, bins = reference.SpikesPer10Ms.Length;
        var ours = new double[Seeds][];
        for (int s = 0; s < Seeds; s++)
        {
            var sample = encoder.Encode(clip, seed: 1000 + s);
            var stats = new double[1 + groups + bins];
            stats[0] = sample.Count;
            for (int i = 0; i < sample.Count; i++)
            {
                stats[1 + sample.Channels[i] / 50]++;
                int bin = (int)(sample.Times[i] / 10);
                Assert.InRange(bin, 0, bins - 1);
                stats[1 + groups + bin]++;
            }
            ours[s] = stats;
        }
        var expected = new double[1 + groups + bins];
        expected[0] = reference.SpikesTotal;
        for (int k = 0; k < reference.SpikesPerChannel.Length; k++) expected[1 + k / 50] += reference.SpikesPerChannel[k];
        for (int b = 0; b < bins; b++) expected[1 + groups + b] = reference.SpikesPer10Ms[b];

        // The seed-to-seed variance of a count, pooled as a Fano factor (variance / mean) per kind of statistic: eight
        // seeds estimate one count's sd only to about ±25 %, the pooled factor to a few per cent.
        var means = Enumerable.Range(0, expected.Length).Select(j => ours.Average(o => o[j])).ToArray();
        var variances = Enumerable.Range(0, expected.Length).Select(j => ours.Sum(o => (o[j] - means[j]) * (o[j] - means[j])) / (Seeds - 1)).ToArray();
        double Fano(int from, int count) => variances.Skip(from).Take(count).Sum() / means.Skip(from).Take(count).Sum();
        double groupFano = Fano(1, groups), binFano = Fano(1 + groups, bins);
        output.WriteLine($"{name}: reference {expected[0]} spikes, ours {means[0]:F0} ± {Math.Sqrt(variances[0]):F0} (8 seeds); Fano factor per channel group {groupFano:F3}, per 10 ms {binFano:F3}");
        double sumZ2 = 0, worst = 0;
        string worstName = "";
        for (int j = 0; j < expected.Length; j++)
        {
            double variance = j == 0 ? variances[0] : (j <= groups ? groupFano : binFano) * means[j];
            double spread = Math.Sqrt(Math.Max(1, variance) * (1 + 1.0 / Seeds)); // sd of (one draw − mean of eight)
            double z = (expected[j] - means[j]) / spread;
            sumZ2 += z * z;
            string what = j == 0 ? "total" : j <= groups ? $"channels {50 * (j - 1)}-{50 * j - 1}" : $"{10 * (j - 1 - groups)}-{10 * (j - groups)} ms";
            if (Math.Abs(z) > Math.Abs(worst)) (worst, worstName) = (z, what);
        }
        double meanZ2 = sumZ2 / expected.Length;
        output.WriteLine($"{name}: mean z² {meanZ2:F2} over {expected.Length} statistics, worst z {worst:F2} ({worstName})");
        Assert.True(Math.Abs(worst) <= 5, $"{name}: {worstName}: the reference lies {worst:F1} sd from our mean");
        Assert.True(meanZ2 < 3, $"{name}: mean z² {meanZ2:F2} over {expected.Length} statistics");
    }
}
