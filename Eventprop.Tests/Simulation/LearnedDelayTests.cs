using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Nir;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Losses;
using Xunit;

namespace Eventprop.Tests.Simulation;

/// <summary>
/// Learned delays in the exact engine against oracles that do not use the delay code: a delay equals moving the input
/// spike; axonal delays equal synaptic delays that repeat along each row; zero delays equal no delays (gradients included);
/// arrivals at or after T do nothing. And the refusals: bad delays, delays the builder cannot attach, engines without delays.
/// </summary>
public class LearnedDelayTests
{
    private static Network TwoLayers(DelayKind? delays, IWeightInit delayInit, bool recurrent = false, int seed = 3)
    {
        var b = Network.Create(seed)
            .Input("in", 3)
            .Lif("h", 4, tauMem: 12, tauSyn: 4)
            .Lif("g", 3, tauMem: 9, tauSyn: 6)
            .Readout("out", 2)
            .Connect("in", "h", Init.Normal(1.2, 0.4))
            .Connect("h", "g", Init.Normal(0.9, 0.3))
            .Connect("g", "out", Init.Normal(0.2, 0.5));
        if (recurrent) b.Connect("h", "h", Init.Normal(0, 0.3));
        if (delays is { } kind)
        {
            b.LearnedDelays("in", "h", delayInit, kind).LearnedDelays("h", "g", delayInit, kind);
            if (recurrent) b.LearnedDelays("h", "h", delayInit, kind);
        }
        return b.Build();
    }

    private static SpikeSample Input() =>
        new([1.0, 2.5, 3.0, 6.0, 7.5, 9.0, 12.0, 15.0], [0, 1, 2, 0, 1, 2, 0, 1], label: 1);

    [Fact]
    public void ADelayEqualsMovingTheInputSpike()
    {
        var delayed = Network.Create().Input("in", 1).Lif("h", 1, tauMem: 10, tauSyn: 5).Readout("out", 1)
            .Connect("in", "h", Init.Constant(5)).Connect("h", "out", Init.Constant(1))
            .LearnedDelays("in", "h", Init.Constant(4.25)).Build();
        var moved = Network.Create().Input("in", 1).Lif("h", 1, tauMem: 10, tauSyn: 5).Readout("out", 1)
            .Connect("in", "h", Init.Constant(5)).Connect("h", "out", Init.Constant(1)).Build();
        var a = new ExactEngine(30).Simulate(delayed, new SpikeSample([1.0], [0], 0));
        var b = new ExactEngine(30).Simulate(moved, new SpikeSample([5.25], [0], 0));
        Assert.Equal(1, b.TotalSpikes);
        Assert.Equal(b.SpikeTimes("h", 0)[0], a.SpikeTimes("h", 0)[0], 12);
        Assert.Equal(b.Readout.IntegrateVoltage(0), a.Readout.IntegrateVoltage(0), 12);
    }

    [Fact]
    public void ArrivalsAtOrAfterTheEndDoNothing()
    {
        var net = Network.Create().Input("in", 1).Lif("h", 1).Readout("out", 1)
            .Connect("in", "h", Init.Constant(5)).Connect("h", "out", Init.Constant(1))
            .LearnedDelays("in", "h", Init.Constant(25)).Build();
        var trial = new ExactEngine(20).Simulate(net, new SpikeSample([1.0], [0], 0));
        Assert.Equal(0, trial.TotalSpikes);
        Assert.Equal(0, trial.Readout.IntegrateVoltage(0));
        var gradient = new ExactEngine(20).Gradient(net, new SpikeSample([1.0], [0], 0), Loss.Sum()).Gradient;
        Assert.All(gradient["in->h.delay"].Values, g => Assert.Equal(0, g));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ZeroDelaysGiveTheUndelayedGradients(bool recurrent)
    {
        var plain = TwoLayers(null, Init.Constant(0), recurrent);
        var zero = TwoLayers(DelayKind.Synaptic, Init.Constant(0), recurrent);
        var engine = new ExactEngine(25);
        var expected = engine.Gradient(plain, Input(), Loss.Sum());
        var actual = engine.Gradient(zero, Input(), Loss.Sum());
        Assert.True(expected.Trials[0].TotalSpikes >= 4, $"only {expected.Trials[0].TotalSpikes} hidden spikes");
        Assert.Equal(expected.Loss, actual.Loss, 12);
        Stepped.SteppedTestCases.AssertClose(expected.Gradient, actual.Gradient, plain.Parameters, 1e-10, 1e-12);
        Assert.Contains(actual.Gradient["h->g.delay"].Values, g => Math.Abs(g) > 1e-6);
    }

    [Fact]
    public void AxonalDelaysEqualRepeatedSynapticDelays()
    {
        var axonal = TwoLayers(DelayKind.Axonal, Init.Uniform(0.5, 4), recurrent: true);
        var synaptic = TwoLayers(DelayKind.Synaptic, Init.Constant(0), recurrent: true);
        foreach (var c in axonal.Delayed)
        {
            var d = axonal.DelaysOf(c)!.Value.Delays;
            var s = synaptic.DelaysOf(c)!.Value.Delays;
            for (int r = 0; r < s.Rows; r++)
                for (int j = 0; j < s.Columns; j++) s.Values[r * s.Columns + j] = d.Values[r];
        }
        var engine = new ExactEngine(25);
        var a = engine.Gradient(axonal, Input(), Loss.Sum());
        var s2 = engine.Gradient(synaptic, Input(), Loss.Sum());
        Assert.Equal(s2.Trials[0].AllSpikeCounts(), a.Trials[0].AllSpikeCounts());
        Assert.Equal(s2.Loss, a.Loss, 12);
        foreach (var c in axonal.Delayed)
        {
            var ga = a.Gradient[ParameterSet.DelayName(c.Pre.Name, c.Post.Name, DelayKind.Axonal)];
            var gs = s2.Gradient[ParameterSet.DelayName(c.Pre.Name, c.Post.Name, DelayKind.Synaptic)];
            for (int r = 0; r < gs.Rows; r++)
            {
                double sum = 0;
                for (int j = 0; j < gs.Columns; j++) sum += gs.Values[r * gs.Columns + j];
                Assert.Equal(sum, ga.Values[r], 10);
            }
            var wa = a.Gradient[c.Name].Values;
            var ws = s2.Gradient[c.Name].Values;
            for (int i = 0; i < wa.Length; i++) Assert.Equal(ws[i], wa[i], 10);
        }
    }

    [Fact]
    public void DelaysAreNamedAndShapedAsDocumented()
    {
        var net = TwoLayers(DelayKind.Synaptic, Init.Uniform(0, 5));
        var d = net.Parameters["in->h.delay"];
        Assert.Equal((3, 4), (d.Rows, d.Columns));
        Assert.Equal(ParameterKind.Delay, d.Kind);
        Assert.All(d.Values, v => Assert.InRange(v, 0, 5));
        var axonal = TwoLayers(DelayKind.Axonal, Init.Uniform(0, 5));
        var a = axonal.Parameters["h->g.axonal_delay"];
        Assert.Equal((1, 4), (a.Rows, a.Columns));
        Assert.Equal(["in->h", "h->g"], axonal.Delayed.Select(c => c.Name));
        // Same seed, same draws.
        Assert.Equal(d.Values, TwoLayers(DelayKind.Synaptic, Init.Uniform(0, 5)).Parameters["in->h.delay"].Values);
    }

    [Fact]
    public void BadDelaysAreRefusedInOneLine()
    {
        var negative = Assert.Throws<ArgumentException>(() => TwoLayers(DelayKind.Synaptic, Init.Constant(-1)));
        Assert.Equal("Delay in->h.delay[0] is -1 ms; delays must be finite and ≥ 0 (clip them to [0, d_max]).", negative.Message);

        var missing = Assert.Throws<ArgumentException>(() => Network.Create().Input("in", 2).Lif("h", 2).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1)).LearnedDelays("h", "h", Init.Constant(1)).Build());
        Assert.Contains("there is no connection h->h; declare it with Connect first", missing.Message);

        var readout = Assert.Throws<ArgumentException>(() => Network.Create().Input("in", 2).Lif("h", 2).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1)).LearnedDelays("h", "out", Init.Constant(1)).Build());
        Assert.Contains("ends at the readout", readout.Message);

        var conv = Conv2dConnectivity.Create(1, 4, 4, 2, 3, 1, 0, 1);
        var convError = Assert.Throws<ArgumentException>(() => Network.Create().Input("in", 16).Lif("h", conv.Geometry.PostSize).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1), conv).Connect("h", "out", Init.Constant(1)).LearnedDelays("in", "h", Init.Constant(1)).Build());
        Assert.Contains("is a convolution", convError.Message);

        var twice = Assert.Throws<ArgumentException>(() => Network.Create().Input("in", 2).Lif("h", 2).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1))
            .LearnedDelays("in", "h", Init.Constant(1)).LearnedDelays("in", "h", Init.Constant(1), DelayKind.Axonal).Build());
        Assert.Contains("declared twice", twice.Message);
        foreach (var e in new[] { negative, missing, readout, convError, twice }) Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void EnginesWithoutDelaysRefuseThem()
    {
        var net = TwoLayers(DelayKind.Synaptic, Init.Constant(1));
        var surrogate = Assert.Throws<ArgumentException>(() => new SurrogateEngine(1, 25).Gradient(net, [Input()], Loss.Sum()));
        Assert.Contains("the surrogate-gradient engine does not simulate yet", surrogate.Message);
        var nir = Assert.Throws<ArgumentException>(() => NirExport.Write(net, Path.Combine(Path.GetTempPath(), "never-written.nir")));
        Assert.Contains("has learned delays", nir.Message);
    }
}
