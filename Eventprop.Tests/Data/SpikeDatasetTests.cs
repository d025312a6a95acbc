using Eventprop.Core.Data;
using Xunit;

namespace Eventprop.Tests.Data;

public sealed class SpikeDatasetTests
{
    private static SpikeSample Sample(int channel, int label) => new([1.0], [channel], label);

    [Fact]
    public void Checks_channels_and_labels_against_the_dataset()
    {
        var e = Assert.Throws<ArgumentException>(() => new SpikeDataset([Sample(3, 0), Sample(10, 0)], 10, name: "tiny"));
        Assert.Contains("sample 1 uses channel 10", e.Message);
        e = Assert.Throws<ArgumentException>(() => new SpikeDataset([Sample(3, 2)], 10, ["a", "b"], "tiny"));
        Assert.Contains("sample 0 has label 2", e.Message);
    }

    [Fact]
    public void Names_classes_by_number_when_unnamed_and_derives_subsets()
    {
        var data = new SpikeDataset([Sample(1, 2), Sample(2, 0), Sample(3, 2)], 5, name: "tiny");
        Assert.Equal(["0", "1", "2"], data.ClassNames);
        Assert.Equal([1, 0, 2], data.CountPerClass());
        Assert.Equal(3, data.SpikeCount);

        var subset = data.Subset([2, 0], "sub");
        Assert.Same(data[2], subset[0]);
        Assert.Same(data[0], subset[1]);
        Assert.Equal("sub", subset.Name);
        Assert.Equal(data.ClassNames, subset.ClassNames);

        var wider = data.WithSamples([Sample(40, 1)], channelCount: 50);
        Assert.Equal(50, wider.ChannelCount);
        Assert.Equal(data.ClassNames, wider.ClassNames);
    }
}
