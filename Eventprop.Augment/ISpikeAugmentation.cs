using Eventprop.Core.Data;

namespace Eventprop.Augment;

/// <summary>
/// A per-sample augmentation: a pure function of (sample, random source). The same sample and a random source in
/// the same state give the same result; nothing else is read or changed.
/// </summary>
public interface ISpikeAugmentation
{
    /// <summary>Returns the augmented copy of <paramref name="sample"/>, drawing every random choice from <paramref name="random"/>.</summary>
    /// <param name="sample">The sample to augment (unchanged; samples are immutable).</param>
    /// <param name="random">The only source of randomness.</param>
    SpikeSample Apply(SpikeSample sample, Random random);

    /// <summary>Number of input channels after the augmentation, given the number before (most keep it; a delay line multiplies it).</summary>
    /// <param name="inputChannelCount">Channels of the samples going in.</param>
    int OutputChannelCount(int inputChannelCount) => inputChannelCount;
}

/// <summary>Applying augmentations to whole datasets.</summary>
public static class SpikeAugmentationExtensions
{
    /// <summary>
    /// Augments every sample of <paramref name="data"/> in order, drawing from <paramref name="random"/> sample after sample,
    /// and returns a dataset with the channel count the augmentation produces.
    /// </summary>
    /// <param name="augmentation">The augmentation.</param>
    /// <param name="data">The samples to augment.</param>
    /// <param name="random">The only source of randomness.</param>
    public static SpikeDataset ApplyToAll(this ISpikeAugmentation augmentation, SpikeDataset data, Random random)
    {
        ArgumentNullException.ThrowIfNull(augmentation);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(random);
        var augmented = new SpikeSample[data.Count];
        for (int i = 0; i < augmented.Length; i++) augmented[i] = augmentation.Apply(data[i], random);
        return data.WithSamples(augmented, augmentation.OutputChannelCount(data.ChannelCount));
    }
}
