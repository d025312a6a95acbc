using Eventprop.Augment;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Losses;
using Xunit;

namespace Eventprop.Tests.Data;

/// <summary>Analog samples (seed 004's constant input current): validation, the MNIST encoder, and the one-line refusals of
/// the engines and augmentations that need spikes.</summary>
public class AnalogSampleTests
{
    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    public void ValuesOutsideTheUnitIntervalAreRefusedInOneLine(double bad)
    {
        var e = Assert.Throws<ArgumentException>(() => SpikeSample.FromCurrents([0.2, bad, 0.7], label: 1));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("value 1", e.Message);
        Assert.Contains("[0, 1]", e.Message);
    }

    [Fact]
    public void AnalogSampleKeepsItsValuesAndHasNoSpikes()
    {
        var s = SpikeSample.FromCurrents([0, 0.5, 1], label: 2);
        Assert.True(s.IsAnalog);
        Assert.Equal(0, s.Count);
        Assert.Equal(new[] { 0, 0.5, 1 }, s.Currents.ToArray());
        Assert.Equal(2, s.MaxChannel);
        var relabelled = s.WithLabel(1);
        Assert.True(relabelled.IsAnalog);
        Assert.Equal(new[] { 0, 0.5, 1 }, relabelled.Currents.ToArray());
        Assert.False(new SpikeSample([1.0], [0]).IsAnalog);
        Assert.Throws<ArgumentException>(() => SpikeSample.FromCurrents([], 0));
    }

    [Fact]
    public void DatasetsHoldOneKindOfInputAndOneValuePerChannel()
    {
        var analog = SpikeSample.FromCurrents([0.1, 0.2], 0);
        Assert.True(new SpikeDataset([analog, analog], 2).IsAnalog);
        var mixed = Assert.Throws<ArgumentException>(() => new SpikeDataset([analog, new SpikeSample([1.0], [0], 0)], 2));
        Assert.Contains("one kind of input", mixed.Message);
        var width = Assert.Throws<ArgumentException>(() => new SpikeDataset([analog], 3));
        Assert.Contains("2 input values", width.Message);
    }

    [Fact]
    public void MnistCurrentEncodingIsGreyOver255InPixelOrder()
    {
        var pixels = new byte[] { 0, 51, 255, 128, 1, 2 }; // two images of 1 × 3
        var images = new MnistImages(2, 1, 3, pixels);
        var data = MnistCurrent.Encode(images, [7, 3]);
        Assert.Equal(3, data.ChannelCount);
        Assert.Equal(10, data.ClassCount);
        Assert.True(data.IsAnalog);
        Assert.Equal(new[] { 0.0, 0.2, 1.0 }, data[0].Currents.ToArray());
        Assert.Equal(new[] { 128 / 255.0, 1 / 255.0, 2 / 255.0 }, data[1].Currents.ToArray());
        Assert.Equal(7, data[0].Label);
        Assert.Equal(new[] { 1, 1, 3 }, MnistCurrent.Shape(images));
        Assert.Throws<InvalidDataException>(() => MnistCurrent.Encode(images, [7, 10]));
    }

    private static Network Net() => Network.Create(1).Input("in", 3).IntegrateAndFire("h", 2).Readout("out", 2)
        .Connect("in", "h", Init.Constant(0.5)).Connect("h", "out", Init.Constant(0.5)).Build();

    /// <summary>The exact and ILGPU engines refuse analog samples in one line naming the engines that take them; the CPU
    /// time-stepped engine takes them (docs/surrogate.md#analog-input; its gradient: Stepped/SteppedAnalogInputTests).</summary>
    [Fact]
    public void TheExactAndGpuEnginesRefuseAnalogSamplesInOneLine()
    {
        var net = Net();
        var sample = SpikeSample.FromCurrents([0.1, 0.2, 0.3], 0);
        using var gpu = new global::Eventprop.Gpu.GpuSteppedEngine(global::Eventprop.Gpu.GpuDevice.IlgpuCpu, 1, 20);
        var messages = new[]
        {
            Assert.Throws<ArgumentException>(() => new ExactEngine(20).Gradient(net, [sample], Loss.Sum())).Message,
            Assert.Throws<ArgumentException>(() => new ExactEngine(20).Simulate(net, sample)).Message,
            Assert.Throws<ArgumentException>(() => gpu.Gradient(net, [sample], Loss.Sum())).Message,
        };
        foreach (var m in messages)
        {
            Assert.DoesNotContain('\n', m);
            Assert.Contains("analog", m);
            Assert.Contains("engine.kind stepped, engine.device cpu", m);
            Assert.Contains("method surrogate", m);
        }
        var stepped = new SteppedEngine(1, 20, threads: 1);
        Assert.True(double.IsFinite(stepped.Gradient(net, [sample], Loss.Sum()).Loss));
        Assert.Equal(2, stepped.Simulate(net, sample).SpikeCounts("h").Length);
        Assert.Contains("2 analog input values", Assert.Throws<ArgumentException>(() =>
            stepped.Gradient(net, [SpikeSample.FromCurrents([0.1, 0.2], 0)], Loss.Sum())).Message);
        // The surrogate engine takes it, but not with the wrong number of values.
        var engine = new Core.Simulation.Surrogate.SurrogateEngine(1, 20);
        Assert.True(double.IsFinite(engine.Gradient(net, [sample], Loss.Sum()).Loss));
        var wrong = Assert.Throws<ArgumentException>(() => engine.Gradient(net, [SpikeSample.FromCurrents([0.1, 0.2], 0)], Loss.Sum()));
        Assert.Contains("2 analog input values", wrong.Message);
    }

    [Fact]
    public void SpikeAugmentationsRefuseAnalogSamplesInOneLine()
    {
        var sample = SpikeSample.FromCurrents([0.1, 0.2, 0.3], 0);
        var random = new Random(1);
        var messages = new[]
        {
            Assert.Throws<ArgumentException>(() => new ChannelShift(2, 3).Apply(sample, random)).Message,
            Assert.Throws<ArgumentException>(() => new ChannelJitter(1, 3).Apply(sample, random)).Message,
            Assert.Throws<ArgumentException>(() => new TimeDilation().Apply(sample, random)).Message,
            Assert.Throws<ArgumentException>(() => new DelayedInputCopies(20, 2, 5, 3).Apply(sample, random)).Message,
            Assert.Throws<ArgumentException>(() => new Blend(0.5, 3).Apply(sample, sample, random)).Message,
        };
        foreach (var m in messages)
        {
            Assert.DoesNotContain('\n', m);
            Assert.Contains("needs input spikes", m);
        }
    }
}
