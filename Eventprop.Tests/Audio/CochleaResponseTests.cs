using Eventprop.Core.Audio;
using Eventprop.Core.Training;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Audio;

/// <summary>The whole cochlea on signals whose answer is known: tones, levels, silence, seeds.</summary>
public sealed class CochleaResponseTests(ITestOutputHelper output)
{
    private const double Rate = 8000;

    private static AudioClip Tone(double frequency, double amplitude, double seconds = 0.25) =>
        new(Enumerable.Range(0, (int)(seconds * Rate)).Select(n => amplitude * Math.Sin(2 * Math.PI * frequency * n / Rate)).ToArray(), Rate);

    private static int[] CountsPerChannel(Core.Data.SpikeSample s, int channels)
    {
        var counts = new int[channels];
        foreach (int c in s.Channels) counts[c]++;
        return counts;
    }

    [Fact]
    public void APureToneExcitesOneBandThatMovesTowardsTheBaseAsItsFrequencyRises()
    {
        const int channels = 140;
        var encoder = new CochleaEncoder(new CochleaOptions { ChannelCount = channels, Threads = 2 });
        double previousCentre = double.PositiveInfinity;
        int previousPeak = int.MaxValue;
        foreach (double f in new[] { 250.0, 500, 1000, 2000, 3000 })
        {
            var clip = Tone(f, 0.3);
            var rms = new double[channels];
            for (int k = 0; k < channels; k++)
            {
                var v = encoder.MembraneVelocity(clip, k, out _);
                rms[k] = Math.Sqrt(v.Average(x => x * x));
            }
            // The band: channels within 20 dB of the strongest (membrane RMS); it must be one run of channels. (Within
            // 6 dB it need not be: the response near the peak ripples by ±6 dB from channel to channel at 2 kHz.)
            double max = rms.Max();
            var band = Enumerable.Range(0, channels).Where(k => rms[k] >= max / 10).ToArray();
            Assert.True(band[^1] - band[0] + 1 == band.Length, $"{f} Hz: the excited channels {string.Join(",", band)} are not contiguous");
            double centre = band.Sum(k => k * rms[k]) / band.Sum(k => rms[k]);
            Assert.True(centre < previousCentre, $"{f} Hz: band centre {centre:F1} did not move towards the base (previous {previousCentre:F1})");
            // The spikes follow: the channel that fires most moves the same way.
            var counts = CountsPerChannel(encoder.Encode(clip, seed: 5), channels);
            int peak = Array.IndexOf(counts, counts.Max());
            Assert.True(peak <= previousPeak, $"{f} Hz: the busiest channel {peak} lies apical of the previous tone's {previousPeak}");
            Assert.InRange(peak, band[0] - 3, band[^1] + 3);
            double cf = encoder.Options.Membrane.CharacteristicFrequency(encoder.Membrane.Position((int)Math.Round(centre), channels));
            output.WriteLine($"{f} Hz: band channels {band[0]}-{band[^1]} (centre {centre:F1}, CF there {cf:F0} Hz), busiest channel {peak} ({counts[peak]} spikes)");
            previousCentre = centre;
            previousPeak = peak;
        }
    }

    [Fact]
    public void WithoutRmsNormalisationSpikesGrowWithLevelAndSaturate()
    {
        const int channels = 100;
        var encoder = new CochleaEncoder(new CochleaOptions { ChannelCount = channels, NormaliseRms = false, Threads = 2 });
        double[] levels = [1e-3, 1e-2, 0.1, 1, 10, 100, 1000, 1e4];
        var totals = levels.Select(a => (double)encoder.Encode(Tone(1000, a), seed: 3).Count).ToArray();
        output.WriteLine(string.Join(", ", levels.Select((a, i) => $"amplitude {a}: {totals[i]} spikes")));
        for (int i = 1; i < levels.Length; i++)
            Assert.True(totals[i] >= totals[i - 1] - 4 * Math.Sqrt(totals[i - 1]), $"fewer spikes at amplitude {levels[i]} ({totals[i]}) than at {levels[i - 1]} ({totals[i - 1]})");
        Assert.True(totals[3] > 2 * totals[0], $"no growth: {totals[0]} → {totals[3]}");
        // Saturation: past the steepest decade the gain per tenfold level shrinks, the last to under a quarter of the steepest.
        var gains = Enumerable.Range(1, levels.Length - 1).Select(i => totals[i] - totals[i - 1]).ToArray();
        int steepest = Array.IndexOf(gains, gains.Max());
        Assert.True(steepest < gains.Length - 2, $"the steepest decade is one of the last two: {string.Join(", ", gains)}");
        for (int i = steepest + 1; i < gains.Length; i++) Assert.True(gains[i] < gains[i - 1], $"the gains per decade grow again: {string.Join(", ", gains)}");
        Assert.True(gains[^1] < 0.25 * gains[steepest], $"no saturation: gains per decade {string.Join(", ", gains)}");
    }

    [Fact]
    public void SilenceGivesNoMoreThanTheSpontaneousRate()
    {
        const int channels = 40;
        var options = new CochleaOptions { ChannelCount = channels, Threads = 2 };
        var encoder = new CochleaEncoder(options);
        var silence = new AudioClip(new double[8000], Rate); // 1 s; all-zero input skips the RMS normalisation
        for (int k = 0; k < channels; k += 13) Assert.All(encoder.MembraneVelocity(silence, k, out _), v => Assert.Equal(0.0, v));

        // The spontaneous rate: a bushy cell fed the hair cell's resting probability for 100 s at the membrane's rate.
        double dt = 2 / Rate;
        var resting = Enumerable.Repeat(options.HairCell.SpontaneousProbability(dt), (int)(100 / dt)).ToArray();
        var spikes = new List<int>();
        options.BushyCell.Run(resting, dt, new TrainingRandom(17), spikes);
        double spontaneous = spikes.Count / 100.0;
        var counts = CountsPerChannel(encoder.Encode(silence, seed: 11), channels);
        double mean = counts.Average();
        output.WriteLine($"spontaneous rate {spontaneous:F1} spikes/s per channel (fibre probability {options.HairCell.SpontaneousProbability(dt):F5} per 0.25 ms sample); silence: mean {mean:F1}, max {counts.Max()} spikes/s over {channels} channels");
        Assert.InRange(spontaneous, 1, 1000); // the model is not silent at rest
        // Counts of one second per channel are at most Poisson-spread (refractoriness makes them more regular).
        Assert.All(counts, c => Assert.True(c <= spontaneous + 5 * Math.Sqrt(spontaneous) + 1, $"{c} spikes/s in silence vs spontaneous {spontaneous:F1}"));
        Assert.True(Math.Abs(mean - spontaneous) <= 5 * Math.Sqrt(spontaneous / channels) + 0.5, $"silence mean {mean:F2} vs spontaneous {spontaneous:F2}");
    }

    [Fact]
    public void TheSameSeedGivesTheSameSpikesWhateverTheThreadCount()
    {
        var clip = Tone(700, 0.2, 0.1);
        SpikeSampleKey Encode(int threads, long seed, long index) =>
            new(new CochleaEncoder(new CochleaOptions { ChannelCount = 64, Threads = threads }).Encode(clip, seed, index));
        var a = Encode(1, 42, 0);
        Assert.Equal(a, Encode(1, 42, 0));
        Assert.Equal(a, Encode(2, 42, 0));
        Assert.NotEqual(a, Encode(1, 43, 0));
        Assert.NotEqual(a, Encode(1, 42, 1));
    }

    private sealed record SpikeSampleKey(string Value)
    {
        public SpikeSampleKey(Core.Data.SpikeSample s)
            : this(string.Join(';', s.Channels.ToArray()) + "|" + string.Join(';', s.Times.ToArray().Select(t => t.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))) { }
    }

    [Theory]
    [InlineData(4094, 4094)]
    [InlineData(4095, 8190)] // ⌊n/2⌋ + 1 = 2048 is a power of two, yet 2·2048 − 2 < n: the FSDD holds such a file
    [InlineData(4096, 8190)]
    [InlineData(2, 2)]
    [InlineData(3, 6)]
    public void ThePaddedFftHoldsTheWholeRecording(int samples, int fftLength)
    {
        var encoder = new CochleaEncoder(new CochleaOptions { ChannelCount = 4 });
        Assert.Equal(fftLength, encoder.FftLengthFor(samples));
        var spikes = encoder.Encode(new AudioClip(Enumerable.Range(0, samples).Select(n => Math.Sin(n * 0.3)).ToArray(), Rate), seed: 1);
        Assert.All(spikes.Times.ToArray(), t => Assert.True(t < samples * 1000 / Rate));
    }
}
