using System.Collections;

namespace Eventprop.Core.Data;

/// <summary>
/// An immutable, ordered collection of <see cref="SpikeSample"/>s that share one input population
/// (<see cref="ChannelCount"/> channels) and one set of classes (<see cref="ClassNames"/>).
/// </summary>
/// <remarks>
/// Readers (<see cref="HeidelbergSpikeFile"/>, <see cref="MnistLatency"/>) and generators (<see cref="Randman"/>)
/// return this type; splits (<see cref="DatasetSplits"/>) and augmentations produce new instances that share
/// the samples (samples are immutable, so sharing is safe). The constructor checks that every sample fits:
/// channels in [0, <see cref="ChannelCount"/>), labels in [−1, <see cref="ClassCount"/>).
/// </remarks>
public sealed class SpikeDataset : IReadOnlyList<SpikeSample>
{
    private readonly SpikeSample[] _samples;

    /// <summary>Builds a dataset and checks that every sample fits its channels and classes.</summary>
    /// <param name="samples">The samples, in the order the dataset keeps.</param>
    /// <param name="channelCount">Number of input channels (e.g. 700 for SHD/SSC); ≥ 1.</param>
    /// <param name="classNames">One name per class, indexed by label. When null, the classes are named "0", "1", …
    /// up to the largest label in <paramref name="samples"/>.</param>
    /// <param name="name">Where the data came from (a file name or a generator description), for messages and logs.</param>
    /// <param name="metaInfo">Extra per-file information (SHD/SSC <c>extra/meta_info</c>), or null for none.</param>
    /// <exception cref="ArgumentException">A sample uses a channel ≥ <paramref name="channelCount"/> or a label ≥ the number of classes.</exception>
    public SpikeDataset(IEnumerable<SpikeSample> samples, int channelCount, IReadOnlyList<string>? classNames = null,
        string name = "", IReadOnlyDictionary<string, IReadOnlyList<string>>? metaInfo = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (channelCount < 1)
            throw new ArgumentOutOfRangeException(nameof(channelCount), channelCount, "A dataset needs at least one input channel.");
        _samples = samples.ToArray();
        Name = name ?? "";
        ChannelCount = channelCount;
        for (int i = 0; i < _samples.Length; i++)
        {
            var s = _samples[i] ?? throw new ArgumentException($"Dataset '{Name}': sample {i} is null.");
            if (s.IsAnalog != _samples[0].IsAnalog)
                throw new ArgumentException($"Dataset '{Name}': sample {i} is {(s.IsAnalog ? "analog" : "a spike sample")} but sample 0 is {(_samples[0].IsAnalog ? "analog" : "a spike sample")}; a dataset holds one kind of input.");
            if (s.IsAnalog && s.Currents.Length != channelCount)
                throw new ArgumentException($"Dataset '{Name}': analog sample {i} has {s.Currents.Length} input values, but the dataset has {channelCount} channels; give one value per channel.");
            if (s.MaxChannel >= channelCount)
                throw new ArgumentException($"Dataset '{Name}': sample {i} uses channel {s.MaxChannel}, but the dataset has {channelCount} channels (0..{channelCount - 1}).");
        }
        if (classNames is null)
        {
            int maxLabel = _samples.Length == 0 ? -1 : _samples.Max(s => s.Label);
            ClassNames = NumberedClassNames(maxLabel + 1);
        }
        else
        {
            ClassNames = classNames.ToArray();
            for (int i = 0; i < _samples.Length; i++)
                if (_samples[i].Label >= ClassNames.Count)
                    throw new ArgumentException($"Dataset '{Name}': sample {i} has label {_samples[i].Label}, but there are only {ClassNames.Count} classes (0..{ClassNames.Count - 1}).");
        }
        MetaInfo = metaInfo ?? new Dictionary<string, IReadOnlyList<string>>();
    }

    /// <summary>Class names "0", "1", …, "count − 1", for data whose classes have no names.</summary>
    /// <param name="count">Number of classes.</param>
    public static string[] NumberedClassNames(int count) =>
        Enumerable.Range(0, count).Select(k => k.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>The samples, in dataset order.</summary>
    public IReadOnlyList<SpikeSample> Samples => _samples;

    /// <summary>Number of input channels every sample fits into (SHD/SSC: 700; latency MNIST: 784).</summary>
    public int ChannelCount { get; }

    /// <summary>Class names indexed by label (SHD/SSC: <c>extra/keys</c>).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of classes (= <see cref="ClassNames"/>.Count).</summary>
    public int ClassCount => ClassNames.Count;

    /// <summary>Where the data came from: a file name, or a description of the generator or split.</summary>
    public string Name { get; }

    /// <summary>Extra information carried by the file (SHD/SSC <c>extra/meta_info</c>: one list of values per entry), empty when none.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> MetaInfo { get; }

    /// <summary>Number of samples.</summary>
    public int Count => _samples.Length;

    /// <summary>Whether the samples are analog (<see cref="SpikeSample.FromCurrents"/>: constant input values, no spikes); false when empty.</summary>
    public bool IsAnalog => _samples.Length > 0 && _samples[0].IsAnalog;

    /// <summary>The sample at <paramref name="index"/>.</summary>
    public SpikeSample this[int index] => _samples[index];

    /// <summary>Total number of spikes over all samples.</summary>
    public long SpikeCount => _samples.Sum(s => (long)s.Count);

    /// <summary>The latest spike time over all samples in ms (0 for an empty dataset).</summary>
    public double LastSpikeTime => _samples.Length == 0 ? 0 : _samples.Max(s => s.LastSpikeTime);

    /// <summary>Number of samples of each class, indexed by label (unlabelled samples are not counted).</summary>
    public int[] CountPerClass()
    {
        var counts = new int[ClassCount];
        foreach (var s in _samples)
            if (s.Label >= 0) counts[s.Label]++;
        return counts;
    }

    /// <summary>A dataset of the samples at <paramref name="indices"/> (in that order), with the same channels and classes.</summary>
    /// <param name="indices">Indices into this dataset; repeats are allowed.</param>
    /// <param name="name">Name of the new dataset; defaults to this dataset's name.</param>
    public SpikeDataset Subset(IEnumerable<int> indices, string? name = null) =>
        new(indices.Select(i => _samples[i]), ChannelCount, ClassNames, name ?? Name, MetaInfo);

    /// <summary>A dataset with other samples but this dataset's classes and meta information, e.g. after an augmentation.</summary>
    /// <param name="samples">The new samples.</param>
    /// <param name="channelCount">Channel count of the new samples; defaults to this dataset's (a delay line widens it).</param>
    /// <param name="name">Name of the new dataset; defaults to this dataset's name.</param>
    public SpikeDataset WithSamples(IEnumerable<SpikeSample> samples, int? channelCount = null, string? name = null) =>
        new(samples, channelCount ?? ChannelCount, ClassNames, name ?? Name, MetaInfo);

    /// <summary>Enumerates the samples in dataset order.</summary>
    public IEnumerator<SpikeSample> GetEnumerator() => ((IEnumerable<SpikeSample>)_samples).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public override string ToString() => $"SpikeDataset '{Name}': {Count} samples, {ChannelCount} channels, {ClassCount} classes";
}
