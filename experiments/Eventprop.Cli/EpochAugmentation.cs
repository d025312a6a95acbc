using Eventprop.Augment;
using Eventprop.Core.Data;

namespace Eventprop.Cli;

/// <summary>
/// The training data of one epoch: the training trials, plus (with <c>augment.blend_probability</c> &gt; 0) as many
/// fresh blends, each then shifted (<c>augment.shift</c>), then passed through the delay line (if any). Augmentations
/// act on the 700 input channels before the delay line, so a shifted spike leaves the input rather than moving into a
/// neighbouring delayed copy. Epoch e's random choices come from (seed, e) alone, so a resumed run draws the same
/// augmentations as a straight one.
/// </summary>
internal static class EpochAugmentation
{
    /// <summary>The training trials for the epoch after <paramref name="completedEpochs"/> completed ones.</summary>
    public static IReadOnlyList<SpikeSample> TrainingData(TrainCommand.Prepared p, int completedEpochs)
    {
        var a = p.Config.Augment;
        if (a.Shift == 0 && a.BlendProbability == 0) return p.Train;
        var random = new Random(unchecked(p.Config.Seed * 1_000_003 + completedEpochs + 0x5eed));
        SpikeDataset raw = p.UndelayedTrain ?? p.Train;
        IReadOnlyList<SpikeSample> samples = raw;
        if (a.BlendProbability > 0)
        {
            var blends = new Blend(a.BlendProbability, raw.ChannelCount).CreateBlends(raw.Samples, random);
            samples = [.. raw, .. blends];
        }
        if (a.Shift > 0)
        {
            var shift = new ChannelShift(a.Shift, raw.ChannelCount);
            samples = samples.Select(s => shift.Apply(s, random)).ToArray();
        }
        if (p.DelayedInputCopies is { } line) samples = samples.Select(line.Apply).ToArray();
        var (kept, cropped) = SplitChecks.Crop(samples, p.KeepsSpikeAt); // counted in summary.json, never dropped silently by the engine
        p.AugmentedSpikesCropped.Value += cropped;
        return kept;
    }
}
