using Eventprop.Core.Data;

namespace Eventprop.Augment;

/// <summary>
/// Blend (Nowotny et al. §4.4): mixes two samples of the same class. Both are first aligned to their common centre
/// of mass in channel and time, then each spike of either is kept with probability <see cref="KeepProbability"/>.
/// </summary>
/// <remarks>
/// Alignment: with (c̄₁, t̄₁) and (c̄₂, t̄₂) the mean channel and mean time of the two samples and (c̄, t̄) their
/// average, sample k is moved by round(c̄ − c̄ₖ) channels (rounded half away from zero) and by t̄ − t̄ₖ ms. Spikes
/// moved outside [0, <see cref="ChannelCount"/>) or before t = 0 are dropped. An empty sample has no centre and is
/// not moved (the common centre is then the other sample's). The blend keeps the parents' label; its speaker is
/// theirs when they share one, else −1.
/// </remarks>
public sealed class Blend
{
    /// <summary>Creates the augmentation.</summary>
    /// <param name="keepProbability">Probability that a spike of either aligned parent is kept (default 0.5); in [0, 1].</param>
    /// <param name="channelCount">Number of input channels (default 700, SHD/SSC).</param>
    public Blend(double keepProbability = 0.5, int channelCount = HeidelbergSpikeFile.DefaultChannelCount)
    {
        if (!(keepProbability >= 0 && keepProbability <= 1)) throw new ArgumentOutOfRangeException(nameof(keepProbability), keepProbability, "The keep probability must lie in [0, 1].");
        ArgumentOutOfRangeException.ThrowIfLessThan(channelCount, 1);
        KeepProbability = keepProbability;
        ChannelCount = channelCount;
    }

    /// <summary>Probability that a spike of either aligned parent is kept.</summary>
    public double KeepProbability { get; }

    /// <summary>Number of input channels.</summary>
    public int ChannelCount { get; }

    /// <summary>Mean channel and mean time (ms) of a sample's spikes; null for an empty sample.</summary>
    /// <param name="sample">The sample.</param>
    public static (double Channel, double Time)? CentreOfMass(SpikeSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        sample.RequireSpikes("The blend augmentation (augment.blend_probability)");
        if (sample.Count == 0) return null;
        double c = 0, t = 0;
        for (int i = 0; i < sample.Count; i++)
        {
            c += sample.Channels[i];
            t += sample.Times[i];
        }
        return (c / sample.Count, t / sample.Count);
    }

    /// <summary>Both samples moved to their common centre of mass (see remarks); deterministic.</summary>
    /// <param name="first">The first parent.</param>
    /// <param name="second">The second parent.</param>
    public (SpikeSample First, SpikeSample Second) Align(SpikeSample first, SpikeSample second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        first.RequireSpikes("The blend augmentation (augment.blend_probability)");
        second.RequireSpikes("The blend augmentation (augment.blend_probability)");
        var a = CentreOfMass(first) ?? CentreOfMass(second);
        var b = CentreOfMass(second) ?? a;
        if (a is not { } ca || b is not { } cb) return (first, second); // both empty
        double channel = (ca.Channel + cb.Channel) / 2, time = (ca.Time + cb.Time) / 2;
        return (Move(first, channel - ca.Channel, time - ca.Time), Move(second, channel - cb.Channel, time - cb.Time));
    }

    private SpikeSample Move(SpikeSample sample, double channelOffset, double timeOffset)
    {
        int offset = (int)Math.Round(channelOffset, MidpointRounding.AwayFromZero);
        int channelCount = ChannelCount;
        return SpikeFilter.Map(sample, (int _, double t, int c, out double newTime, out int newChannel) =>
        {
            newTime = t + timeOffset;
            newChannel = c + offset;
            return newChannel >= 0 && newChannel < channelCount && newTime >= 0;
        });
    }

    /// <summary>Blends two samples of the same class: align, then keep each spike with <see cref="KeepProbability"/>
    /// (one uniform draw per spike, the first parent's spikes first).</summary>
    /// <param name="first">The first parent.</param>
    /// <param name="second">The second parent; same label as <paramref name="first"/>.</param>
    /// <param name="random">Source of the keep decisions.</param>
    /// <exception cref="ArgumentException">The labels differ.</exception>
    public SpikeSample Apply(SpikeSample first, SpikeSample second, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (first.Label != second.Label)
            throw new ArgumentException($"Blend mixes samples of one class; got labels {first.Label} and {second.Label}.");
        var (a, b) = Align(first, second);
        var times = new List<double>(a.Count / 2 + b.Count / 2 + 1);
        var channels = new List<int>(times.Capacity);
        foreach (var parent in new[] { a, b })
            for (int i = 0; i < parent.Count; i++)
                if (random.NextDouble() < KeepProbability)
                {
                    times.Add(parent.Times[i]);
                    channels.Add(parent.Channels[i]);
                }
        int speaker = first.Speaker == second.Speaker ? first.Speaker : -1;
        return new SpikeSample(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(times),
            System.Runtime.InteropServices.CollectionsMarshal.AsSpan(channels), first.Label, speaker);
    }

    /// <summary>
    /// As many blends as <paramref name="samples"/> has samples: blend i mixes sample i with a partner drawn uniformly
    /// from the other samples of its class (with itself when it is alone in its class).
    /// </summary>
    /// <param name="samples">Labelled samples.</param>
    /// <param name="random">Source of partners and keep decisions.</param>
    /// <returns>The new samples only; concatenate them with the originals to enlarge a training set.</returns>
    /// <exception cref="ArgumentException">A sample is unlabelled.</exception>
    public IReadOnlyList<SpikeSample> CreateBlends(IReadOnlyList<SpikeSample> samples, Random random)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(random);
        var byClass = new Dictionary<int, List<int>>();
        for (int i = 0; i < samples.Count; i++)
        {
            int label = samples[i].Label;
            if (label < 0) throw new ArgumentException($"Sample {i} is unlabelled; blend needs class labels to pair samples.", nameof(samples));
            if (!byClass.TryGetValue(label, out var members)) byClass[label] = members = [];
            members.Add(i);
        }
        var blends = new SpikeSample[samples.Count];
        for (int i = 0; i < samples.Count; i++)
        {
            var members = byClass[samples[i].Label];
            int partner = i;
            if (members.Count > 1)
            {
                partner = members[random.Next(members.Count - 1)];
                if (partner == i) partner = members[^1]; // skip i: draw from the members other than i
            }
            blends[i] = Apply(samples[i], samples[partner], random);
        }
        return blends;
    }

    /// <summary>A dataset of blends of <paramref name="data"/> (see <see cref="CreateBlends(IReadOnlyList{SpikeSample}, Random)"/>), with its channels and classes.</summary>
    /// <param name="data">Labelled data.</param>
    /// <param name="random">Source of partners and keep decisions.</param>
    public SpikeDataset CreateBlends(SpikeDataset data, Random random)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.ChannelCount != ChannelCount)
            throw new ArgumentException($"Dataset '{data.Name}' has {data.ChannelCount} channels but this blend has {ChannelCount}.", nameof(data));
        return data.WithSamples(CreateBlends(data.Samples, random), name: $"{data.Name} (blends)");
    }
}
