using Eventprop.Core.Data;
using Xunit;

namespace Eventprop.Tests.Data;

public sealed class DatasetSplitsTests
{
    private static SpikeDataset Data(int count, int classes, int speakers, int seed = 1)
    {
        var random = new Random(seed);
        var samples = Enumerable.Range(0, count).Select(i =>
            new SpikeSample([random.NextDouble() * 10], [random.Next(5)], label: random.Next(classes), speaker: speakers > 0 ? random.Next(speakers) : -1));
        return new SpikeDataset(samples, 5, Enumerable.Range(0, classes).Select(k => $"c{k}").ToArray(), "test data");
    }

    [Fact]
    public void Leave_one_speaker_out_holds_out_each_speaker_once()
    {
        var data = Data(200, 4, speakers: 5);

        var folds = DatasetSplits.LeaveOneSpeakerOut(data);

        Assert.Equal([0, 1, 2, 3, 4], folds.Select(f => f.HeldOutSpeaker));
        foreach (var fold in folds)
        {
            Assert.All(fold.Validation, s => Assert.Equal(fold.HeldOutSpeaker, s.Speaker));
            Assert.All(fold.Train, s => Assert.NotEqual(fold.HeldOutSpeaker, s.Speaker));
            Assert.Equal(data.Count, fold.Train.Count + fold.Validation.Count);
            Assert.Equal(data.Count(s => s.Speaker == fold.HeldOutSpeaker), fold.Validation.Count);
            Assert.Equal(data.ClassNames, fold.Train.ClassNames);
        }
        Assert.Equal(data.Count, folds.Sum(f => f.Validation.Count)); // every sample validated exactly once

        Assert.Throws<ArgumentException>(() => DatasetSplits.LeaveOneSpeakerOut(Data(10, 2, speakers: 0)));
    }

    [Fact]
    public void Stratified_split_is_seeded_disjoint_and_keeps_class_proportions()
    {
        var data = Data(500, 5, speakers: 0);

        var split = DatasetSplits.Stratified(data, 0.2, seed: 4);
        var again = DatasetSplits.Stratified(data, 0.2, seed: 4);
        var other = DatasetSplits.Stratified(data, 0.2, seed: 5);

        Assert.Equal(data.Count, split.Train.Count + split.Validation.Count);
        var validation = split.Validation.Samples.ToHashSet(ReferenceEqualityComparer.Instance);
        Assert.All(split.Train, s => Assert.DoesNotContain(s, validation));
        var perClass = data.CountPerClass();
        var validationPerClass = split.Validation.CountPerClass();
        for (int k = 0; k < 5; k++)
            Assert.Equal((int)Math.Round(0.2 * perClass[k], MidpointRounding.AwayFromZero), validationPerClass[k]);
        Assert.Equal(split.Validation.Samples, again.Validation.Samples);
        Assert.NotEqual(split.Validation.Samples, other.Validation.Samples);
    }

    [Fact]
    public void Separate_sets_must_agree_on_channels_and_classes()
    {
        var train = Data(20, 3, 0);
        var valid = Data(10, 3, 0, seed: 2);
        var split = DatasetSplits.FromSeparateSets(train, valid);
        Assert.Same(train, split.Train);
        Assert.Same(valid, split.Validation);

        var otherClasses = new SpikeDataset(valid.Samples, 5, ["a", "b", "c"], "other");
        Assert.Throws<ArgumentException>(() => DatasetSplits.FromSeparateSets(train, otherClasses));
        var otherChannels = new SpikeDataset(valid.Samples, 6, valid.ClassNames, "wide");
        Assert.Throws<ArgumentException>(() => DatasetSplits.FromSeparateSets(train, otherChannels));
    }
}
