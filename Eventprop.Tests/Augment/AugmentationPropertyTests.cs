using Eventprop.Augment;
using Eventprop.Core.Data;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Eventprop.Tests.Augment.SampleGenerators;

namespace Eventprop.Tests.Augment;

public sealed class AugmentationPropertyTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(200);

    /// <summary>The sample's spikes moved by <paramref name="offset"/> channels, dropping those outside [0, channels), computed here.</summary>
    private static (double[] Times, int[] Channels) ShiftedByHand(SpikeSample s, int offset, int channels)
    {
        var kept = Enumerable.Range(0, s.Count).Where(i => s.Channels[i] + offset >= 0 && s.Channels[i] + offset < channels).ToArray();
        return (kept.Select(i => s.Times[i]).ToArray(), kept.Select(i => s.Channels[i] + offset).ToArray());
    }

    [Fact]
    public void Shift_moves_every_kept_spike_by_one_offset_and_drops_only_out_of_range_spikes()
    {
        var shift = new ChannelShift(maxShift: 40, channelCount: Channels);
        Check.One(Runs, Prop.ForAll(SampleAndSeed(), c =>
        {
            var result = shift.Apply(c.Sample, new Random(c.Seed));
            bool matchesSomeOffset = Enumerable.Range(-40, 81).Any(d =>
            {
                var (times, channels) = ShiftedByHand(c.Sample, d, Channels);
                return result.Times.SequenceEqual(times) && result.Channels.SequenceEqual(channels);
            });
            return matchesSomeOffset && result.Label == c.Sample.Label && result.Speaker == c.Sample.Speaker;
        }));
    }

    [Fact]
    public void Shift_offsets_cover_minus_40_to_40_and_nothing_else()
    {
        // a single spike in the middle reveals the offset
        var probe = new SpikeSample([1.0], [350], label: 0);
        var shift = new ChannelShift();
        var random = new Random(123);
        var offsets = Enumerable.Range(0, 4000).Select(_ => shift.Apply(probe, random).Channels[0] - 350).ToHashSet();
        Assert.Equal(Enumerable.Range(-40, 81).ToHashSet(), offsets);
    }

    /// <summary>A parent moved to the common centre of mass, computed here from the description of blend.</summary>
    private static List<(double Time, int Channel)> AlignedByHand(SpikeSample s, (double C, double T) own, (double C, double T) common, int channels)
    {
        int dc = (int)Math.Round(common.C - own.C, MidpointRounding.AwayFromZero);
        double dt = common.T - own.T;
        return Enumerable.Range(0, s.Count)
            .Select(i => (Time: s.Times[i] + dt, Channel: s.Channels[i] + dc))
            .Where(x => x.Channel >= 0 && x.Channel < channels && x.Time >= 0).ToList();
    }

    private static (double C, double T) Centre(SpikeSample s) =>
        (s.Channels.ToArray().Average(), s.Times.ToArray().Average());

    private static bool TakeMatch(List<(double Time, int Channel)> pool, double time, int channel)
    {
        int k = pool.FindIndex(x => x.Channel == channel && Math.Abs(x.Time - time) < 1e-9);
        if (k < 0) return false;
        pool.RemoveAt(k);
        return true;
    }

    [Fact]
    public void Blend_spikes_come_only_from_the_two_aligned_parents_roughly_half_of_each_with_their_label()
    {
        var blend = new Blend(keepProbability: 0.5, channelCount: Channels);
        var pairs = (from label in Gen.Choose(0, 4)
                     from a in Sample(maxSpikes: 300, label: label).Where(s => s.Count > 0)
                     from b in Sample(maxSpikes: 300, label: label).Where(s => s.Count > 0)
                     from seed in Gen.Choose(0, int.MaxValue - 1)
                     select (a, b, seed)).ToArbitrary();
        Check.One(Runs, Prop.ForAll(pairs, c =>
        {
            var (a, b, seed) = c;
            var result = blend.Apply(a, b, new Random(seed));
            var ca = Centre(a);
            var cb = Centre(b);
            var common = ((ca.C + cb.C) / 2, (ca.T + cb.T) / 2);
            var poolA = AlignedByHand(a, ca, common, Channels);
            var poolB = AlignedByHand(b, cb, common, Channels);
            int sizeA = poolA.Count, sizeB = poolB.Count;
            int fromA = 0, fromB = 0;
            for (int i = 0; i < result.Count; i++)
            {
                if (TakeMatch(poolA, result.Times[i], result.Channels[i])) fromA++;
                else if (TakeMatch(poolB, result.Times[i], result.Channels[i])) fromB++;
                else return false.Label($"spike ({result.Times[i]}, {result.Channels[i]}) is in neither aligned parent");
            }
            // keep probability 0.5: binomial counts within 5 standard deviations (+1 for tiny parents)
            bool RoughlyHalf(int kept, int n) => Math.Abs(kept - n / 2.0) <= 5 * Math.Sqrt(n / 4.0) + 1;
            return (RoughlyHalf(fromA, sizeA) && RoughlyHalf(fromB, sizeB)).Label($"kept {fromA}/{sizeA} and {fromB}/{sizeB}")
                .And((result.Label == a.Label).Label("label"));
        }));
    }

    [Fact]
    public void Blend_keeps_half_of_the_spikes_on_average()
    {
        var blend = new Blend();
        var random = new Random(9);
        var a = new SpikeSample(Enumerable.Range(0, 400).Select(i => i * 0.5).ToArray(), Enumerable.Range(0, 400).Select(i => 100 + i % 300).ToArray(), 2);
        var b = new SpikeSample(Enumerable.Range(0, 400).Select(i => 3 + i * 0.25).ToArray(), Enumerable.Range(0, 400).Select(i => 200 + i % 200).ToArray(), 2);
        var (alignedA, alignedB) = blend.Align(a, b); // alignment drops the spikes it moves before t = 0
        Assert.True(alignedA.Count + alignedB.Count > 600);
        double mean = Enumerable.Range(0, 200).Average(_ => blend.Apply(a, b, random).Count) / (alignedA.Count + alignedB.Count);
        Assert.InRange(mean, 0.49, 0.51); // σ of the mean ≈ 0.0013
    }

    [Fact]
    public void Blend_set_has_one_blend_per_original_each_within_its_class()
    {
        var random = new Random(4);
        var samples = Enumerable.Range(0, 30).Select(i =>
            new SpikeSample(Enumerable.Range(0, 20).Select(k => (double)(k + i)).ToArray(), Enumerable.Range(0, 20).Select(k => (k * 7 + i) % 100).ToArray(), label: i % 3)).ToArray();
        var data = new SpikeDataset(samples, Channels, ["a", "b", "c"], "small");

        var blends = new Blend().CreateBlends(data, random);

        Assert.Equal(data.Count, blends.Count);
        Assert.Equal(data.CountPerClass(), blends.CountPerClass());
        Assert.Equal(data.Select(s => s.Label), blends.Select(s => s.Label));
        Assert.Throws<ArgumentException>(() => new Blend().Apply(samples[0], samples[1], random)); // labels 0 and 1
    }

    [Fact]
    public void Delay_line_multiplies_the_spike_count_by_the_copies_minus_those_pushed_past_the_trial_end()
    {
        const int inputChannels = 50;
        // whole-ms times, delays and ends, so that delayed spikes often land exactly on the trial end (kept)
        var cases = (from s in Sample(maxSpikes: 60, channels: inputChannels, maxTimeMs: 200, stepsPerMs: 1)
                     from copies in Gen.Choose(1, 12)
                     from delay in Gen.Choose(0, 40)
                     from end in Gen.Choose(0, 300)
                     select (s, copies, delay, end)).ToArbitrary();
        Check.One(Runs, Prop.ForAll(cases, c =>
        {
            var line = new DelayedInputCopies(c.end, c.copies, c.delay, inputChannels);
            var result = line.Apply(c.s);
            var expected = new List<(double Time, int Channel)>();
            for (int n = 0; n < c.copies; n++)
                for (int i = 0; i < c.s.Count; i++)
                    if (n == 0 || c.s.Times[i] + n * c.delay <= c.end)
                        expected.Add((c.s.Times[i] + n * c.delay, n * inputChannels + c.s.Channels[i]));
            int pushedOut = c.copies * c.s.Count - expected.Count;
            var actual = Enumerable.Range(0, result.Count).Select(i => (result.Times[i], result.Channels[i])).Order().ToList();
            return (result.Count == c.copies * c.s.Count - pushedOut).Label("count")
                .And(actual.SequenceEqual(expected.Order())).Label("spikes")
                .And(result.MaxChannel < line.OutputChannelCount(inputChannels)).Label("layout");
        }));
    }

    [Fact]
    public void Delay_line_defaults_are_10_copies_of_30_ms_over_700_channels()
    {
        var line = new DelayedInputCopies(trialDurationMs: 1000);
        var result = line.Apply(new SpikeSample([100.0], [5], label: 1));
        Assert.Equal(7000, line.OutputChannelCount(700));
        Assert.Equal(Enumerable.Range(0, 10).Select(n => 100.0 + 30 * n), result.Times.ToArray());
        Assert.Equal(Enumerable.Range(0, 10).Select(n => n * 700 + 5), result.Channels.ToArray());
        Assert.Throws<ArgumentException>(() => line.Apply(new SpikeSample([1.0], [700])));
    }

    [Fact]
    public void Jitter_moves_channels_by_rounded_normal_steps_and_drops_out_of_range_spikes()
    {
        const double sigma = 4;
        var jitter = new ChannelJitter(sigma, Channels);
        var middle = new SpikeSample(Enumerable.Range(0, 20000).Select(i => i * 0.01).ToArray(), Enumerable.Repeat(350, 20000).ToArray(), label: 0);
        var result = jitter.Apply(middle, new Random(2));
        Assert.Equal(middle.Count, result.Count);
        Assert.Equal(middle.Times.ToArray(), result.Times.ToArray());
        var steps = result.Channels.ToArray().Select(c => (double)(c - 350)).ToArray();
        Assert.All(steps, d => Assert.Equal(Math.Round(d), d));
        double mean = steps.Average();
        double sd = Math.Sqrt(steps.Select(d => (d - mean) * (d - mean)).Average());
        Assert.InRange(mean, -0.15, 0.15);
        Assert.InRange(sd, sigma * 0.97, sigma * 1.05); // rounding adds variance 1/12

        var edge = new SpikeSample(Enumerable.Range(0, 4000).Select(i => i * 0.01).ToArray(), new int[4000], label: 0);
        var dropped = jitter.Apply(edge, new Random(3));
        Assert.All(dropped.Channels.ToArray(), c => Assert.InRange(c, 0, Channels - 1));
        // P(round(N(0, 4)) < 0) = P(N < -0.5) ≈ 0.45
        Assert.InRange(dropped.Count / 4000.0, 0.5, 0.6);
    }

    [Fact]
    public void Dilation_scales_all_times_by_one_factor_within_the_range()
    {
        var dilation = new TimeDilation(0.8, 1.25);
        Check.One(Runs, Prop.ForAll(SampleAndSeed(), c =>
        {
            var result = dilation.Apply(c.Sample, new Random(c.Seed));
            if (c.Sample.Count == 0) return result.Count == 0;
            int first = Enumerable.Range(0, c.Sample.Count).FirstOrDefault(i => c.Sample.Times[i] > 0, -1);
            if (first < 0) return result.Times.SequenceEqual(c.Sample.Times) && result.Channels.SequenceEqual(c.Sample.Channels);
            double factor = result.Times[first] / c.Sample.Times[first];
            return factor >= 0.8 && factor <= 1.25
                && result.Channels.SequenceEqual(c.Sample.Channels)
                && Enumerable.Range(0, c.Sample.Count).All(i => Math.Abs(result.Times[i] - c.Sample.Times[i] * factor) <= 1e-9 * (1 + c.Sample.Times[i]));
        }));
    }

    [Fact]
    public void Every_augmentation_is_reproducible_from_its_seed()
    {
        ISpikeAugmentation[] augmentations =
        [
            new ChannelShift(), new ChannelJitter(3.0), new TimeDilation(), new DelayedInputCopies(1000, inputChannelCount: Channels),
        ];
        var blend = new Blend();
        Check.One(Runs, Prop.ForAll(SampleAndSeed(), c =>
        {
            bool perSample = augmentations.All(a => SameSpikes(a.Apply(c.Sample, new Random(c.Seed)), a.Apply(c.Sample, new Random(c.Seed))));
            var partner = new SpikeSample(c.Sample.Times.ToArray().Select(t => t + 1).ToArray(), c.Sample.Channels, c.Sample.Label, c.Sample.Speaker);
            bool blended = SameSpikes(blend.Apply(c.Sample, partner, new Random(c.Seed)), blend.Apply(c.Sample, partner, new Random(c.Seed)));
            return perSample && blended;
        }));

        var data = new SpikeDataset(Enumerable.Range(0, 12).Select(i => new SpikeSample([i, i + 1.5], [i, 2 * i], label: i % 2)), Channels);
        var first = blend.CreateBlends(data, new Random(77));
        var second = blend.CreateBlends(data, new Random(77));
        Assert.All(Enumerable.Range(0, data.Count), i => Assert.True(SameSpikes(first[i], second[i])));
        var shifted = new ChannelShift().ApplyToAll(data, new Random(5));
        var shiftedAgain = new ChannelShift().ApplyToAll(data, new Random(5));
        Assert.All(Enumerable.Range(0, data.Count), i => Assert.True(SameSpikes(shifted[i], shiftedAgain[i])));
    }
}
