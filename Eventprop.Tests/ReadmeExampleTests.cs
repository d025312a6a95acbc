using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using Xunit;

namespace Eventprop.Tests;

/// <summary>The library example in README.md, kept in step with it: if this breaks, fix both.</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void TheReadmeExampleRunsAndItsGradientsPassTheCheck()
    {
        var net = Network.Create(seed: 1)
            .Input("in", 20)
            .Lif("hidden", 30, tauMem: 20, tauSyn: 5)
            .Readout("out", 3, tauMem: 20, tauSyn: 5)
            .Connect("in", "hidden", Init.Normal(0.5, 0.2))
            .Connect("hidden", "hidden", Init.Normal(0, 0.1))
            .Connect("hidden", "out", Init.Normal(0, 0.3))
            .Build();
        var random = new Random(0);
        var times = Enumerable.Range(0, 100).Select(_ => 40 * random.NextDouble()).ToArray();
        var channels = Enumerable.Range(0, 100).Select(_ => random.Next(20)).ToArray();
        var sample = new SpikeSample(times, channels, label: 2);
        var engine = new ExactEngine(duration: 50);
        var result = engine.Gradient(net, sample, Loss.Sum());
        Assert.True(double.IsFinite(result.Loss) && result.Loss > 0);
        Assert.NotEqual(0, result.Gradient["hidden->out"][0, 2]);
        Assert.True(result.Trials[0].TotalSpikes > 0, "the example should make the hidden layer spike");
        var check = GradientCheck.Run(engine, net, sample, Loss.Sum());
        Assert.Equal(GradientCheckOutcome.Passed, check.Outcome);
    }
}
