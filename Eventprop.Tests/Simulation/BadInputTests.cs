using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using Xunit;

namespace Eventprop.Tests.Simulation;

public class BadInputTests
{
    private static Network Net(bool spikingReadout = false) => Network.Create(1)
        .Input("in", 3)
        .Lif("h", 4, tauMem: 10, tauSyn: 5)
        .Readout("out", 2, spiking: spikingReadout)
        .Connect("in", "h", Init.Normal(1.5, 0.3))
        .Connect("h", "h", Init.Normal(0, 0.2))
        .Connect("h", "out", Init.Normal(0, 1))
        .Build();

    private static SpikeSample Sample(int label = 0) => new([1.0, 2.0, 3.5, 4.0, 9.0], [0, 1, 2, 0, 1], label);

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void NonFiniteWeightsAreRejectedByTheEngine(double bad)
    {
        var net = Net();
        net.Weights("h", "out")[1, 0] = bad;
        var e = Assert.Throws<ArgumentException>(() => new ExactEngine(20).Gradient(net, Sample(), Loss.Sum()));
        Assert.Contains("h->out[1, 0]", e.Message);
        Assert.Contains("finite", e.Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-5.0)]
    [InlineData(double.NaN)]
    public void NonPositiveOrNaNTimeConstantsAreRejected(double bad)
    {
        var net = Net();
        net.TauSyn("h")[2] = bad;
        var e = Assert.Throws<ArgumentException>(() => new ExactEngine(20).Simulate(net, Sample()));
        Assert.Contains("h.tau_syn[2]", e.Message);
        Assert.Contains("> 0", e.Message);
    }

    [Fact]
    public void SpikeSampleRejectsBadTimesAndChannels()
    {
        Assert.Contains("negative time", Assert.Throws<ArgumentException>(() => new SpikeSample([1, -0.5], [0, 1])).Message);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => new SpikeSample([double.NaN], [0])).Message);
        Assert.Contains("negative channel", Assert.Throws<ArgumentException>(() => new SpikeSample([1], [-1])).Message);
        Assert.Contains("2 times but 1 channels", Assert.Throws<ArgumentException>(() => new SpikeSample([1, 2], [0])).Message);
        Assert.Contains("label", Assert.Throws<ArgumentException>(() => new SpikeSample([1], [0], label: -2)).Message);
    }

    [Fact]
    public void UnsortedSpikesAreSortedStablyAndGiveTheSameResult()
    {
        var sorted = Sample();
        var shuffled = new SpikeSample([9.0, 3.5, 1.0, 4.0, 2.0], [1, 2, 0, 0, 1], label: 0);
        Assert.Equal(sorted.Times.ToArray(), shuffled.Times.ToArray());
        Assert.Equal(sorted.Channels.ToArray(), shuffled.Channels.ToArray());
        var tie = new SpikeSample([2.0, 1.0, 2.0], [5, 0, 7]);
        Assert.Equal([0, 5, 7], tie.Channels.ToArray());
        var engine = new ExactEngine(20);
        Assert.Equal(engine.Evaluate(Net(), sorted, Loss.Sum()).Value, engine.Evaluate(Net(), shuffled, Loss.Sum()).Value);
    }

    [Fact]
    public void ChannelsOutOfRangeNameTheSpikeAndTheInputSize()
    {
        var e = Assert.Throws<ArgumentException>(() => new ExactEngine(20).Simulate(Net(), new SpikeSample([1, 2], [0, 3])));
        Assert.Contains("channel 3", e.Message);
        Assert.Contains("3 channels", e.Message);
    }

    [Fact]
    public void LabelsAndReadoutKindsMustFitTheLoss()
    {
        var engine = new ExactEngine(20);
        Assert.Contains("label 5", Assert.Throws<ArgumentException>(() => engine.Gradient(Net(), Sample(label: 5), Loss.Sum())).Message);
        Assert.Contains("spiking", Assert.Throws<ArgumentException>(() => engine.Gradient(Net(spikingReadout: true), Sample(), Loss.Sum())).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => engine.Gradient(Net(), Array.Empty<SpikeSample>(), Loss.Sum())).Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void TheTrialDurationMustBePositiveAndFinite(double duration) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExactEngine(duration));

    [Fact]
    public void InputSpikesAtOrAfterTheEndOfTheTrialAreRejectedNamingTrialChannelTimeAndT()
    {
        // Sample() has a spike on channel 1 at 9 ms: past T = 5 ms. The engines take [0, T) only; the loaders crop.
        var engine = new ExactEngine(5);
        var batch = new[] { new SpikeSample([1.0], [0], 0), Sample() };
        var e = Assert.Throws<ArgumentException>(() => engine.Evaluate(Net(), batch, Loss.Sum()));
        Assert.Contains("Sample 1 of the batch", e.Message);
        Assert.Contains("channel 1", e.Message);
        Assert.Contains("at 9 ms", e.Message);
        Assert.Contains("[0, 5) ms", e.Message);
        Assert.Contains("crop", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Throws<ArgumentException>(() => engine.Simulate(Net(), Sample()));
        // A spike exactly at T is outside [0, T) too; one just before T is inside.
        Assert.Contains("at 5 ms", Assert.Throws<ArgumentException>(() => engine.Simulate(Net(), new SpikeSample([5.0], [2]))).Message);
        Assert.Equal(1, engine.Simulate(Net(), new SpikeSample([4.999], [2])).InputSpikeCount);
    }

    [Fact]
    public void RunawayRecurrenceStopsAtTheSpikeLimitNamingThePopulation()
    {
        var net = Network.Create(1).Input("in", 1).Lif("runaway", 3).Readout("out", 2)
            .Connect("in", "runaway", Init.Constant(10)).Connect("runaway", "runaway", Init.Constant(2))
            .Connect("runaway", "out", Init.Constant(1)).Build();
        var e = Assert.Throws<SpikeLimitExceededException>(() => new ExactEngine(100, maxSpikesPerNeuron: 50).Simulate(net, new SpikeSample([1.0], [0])));
        Assert.Equal("runaway", e.Population);
        Assert.Contains("'runaway' exceeded 50 spikes per neuron", e.Message);
    }

    [Fact]
    public void TheActivityRegularizationRejectsBadValues()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActivityRegularization(-1, 14).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActivityRegularization(1e-9, double.NaN).Validate());
    }
}
