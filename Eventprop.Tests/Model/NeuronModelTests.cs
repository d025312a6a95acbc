using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using Xunit;

namespace Eventprop.Tests.Model;

/// <summary>Neuron models as parts of the network description: parameters, constants, checks, and the exact engine's behaviour.</summary>
public class NeuronModelTests
{
    private static Network Net(NeuronModel hidden, int seed = 3) => Network.Create(seed)
        .Input("in", 3)
        .Hidden("h", hidden, [12.0, 15, 20, 9], [5.0, 4, 6, 3])
        .Readout("out", 2)
        .Connect("in", "h", Init.Normal(2.0, 0.5))
        .Connect("h", "h", Init.Normal(0, 0.2))
        .Connect("h", "out", Init.Normal(0, 1))
        .Build();

    private static SpikeSample Sample() => new([1.0, 2.0, 3.5, 4.0, 9.0, 11, 14, 15.5], [0, 1, 2, 0, 1, 2, 2, 0], label: 1);

    [Fact]
    public void IntegrateAndFireDeclaresAFixedTauMemAndATrainableTauSyn()
    {
        var net = Net(new IntegrateAndFire());
        Assert.False(net.TauMem("h").Trainable);
        Assert.True(net.TauSyn("h").Trainable);
        Assert.True(net.TauMem("out").Trainable);
        Assert.True(Net(new IntegrateAndFire(trainTauMem: true)).TauMem("h").Trainable);
        Assert.Equal("if", net["h"].Model!.Name);
        Assert.Equal(0, net["h"].Model!.Leak);
        Assert.True(net.Weights("in", "h").Trainable);
    }

    [Fact]
    public void AnIntegrateAndFireNeuronFollowsTheClosedForm()
    {
        // One input spike of weight w at t = 0. From V = 0 with current I, V(s) = I (τs/τm)(1 − e^{−s/τs}) crosses ϑ at
        // s = −τs ln(1 − ϑτm/(Iτs)), when I has fallen by ϑτm/τs: each spike uses up ϑτm/τs of current. With w = 7,
        // τm = 10, τs = 5, ϑ = 1.5 that is two spikes (I = 7 → 4 → 1, and 1 < 3 cannot reach ϑ).
        double w = 7, tm = 10, ts = 5, theta = 1.5;
        var net = Network.Create().Input("in", 1)
            .IntegrateAndFire("h", 1, tauMem: tm, tauSyn: ts, threshold: theta)
            .Readout("out", 1).Connect("in", "h", Init.Constant(w)).Connect("h", "out", Init.Constant(1)).Build();
        var trial = new ExactEngine(60).Simulate(net, new SpikeSample([0.0], [0], 0));
        var spikes = trial.SpikeTimes("h", 0).ToArray();
        double first = -ts * Math.Log(1 - theta * tm / (w * ts));
        double second = first - ts * Math.Log(1 - theta * tm / ((w - theta * tm / ts) * ts));
        Assert.Equal(2, spikes.Length);
        Assert.Equal(first, spikes[0], 12);
        Assert.Equal(second, spikes[1], 12);
        // τm V̇ at a crossing is I (no leak term): 4, then 1.
        Assert.Equal(4, trial.ThresholdSlopes("h", 0)[0], 12);
        Assert.Equal(1, trial.ThresholdSlopes("h", 0)[1], 12);
    }

    [Fact]
    public void ThresholdAndResetAreUsedPerPopulation()
    {
        // A LIF neuron driven by a strong constant-ish input: a higher threshold gives fewer spikes, a lower reset fewer too.
        int Count(double threshold, double reset)
        {
            var net = Network.Create().Input("in", 1)
                .Lif("h", 1, tauMem: 10, tauSyn: 5, threshold: threshold, reset: reset)
                .Readout("out", 1).Connect("in", "h", Init.Constant(1.0)).Connect("h", "out", Init.Constant(1)).Build();
            var times = Enumerable.Range(0, 200).Select(i => i * 0.25).ToArray();
            return new ExactEngine(50).Simulate(net, new SpikeSample(times, new int[times.Length], 0)).SpikeTimes("h", 0).Length;
        }
        int standard = Count(1, 0);
        Assert.True(standard > 3, $"{standard} spikes");
        Assert.True(Count(2, 0) < standard, $"threshold 2: {Count(2, 0)} vs {standard}");
        Assert.True(Count(1, -1) < standard, $"reset -1: {Count(1, -1)} vs {standard}");
        Assert.True(Count(1, 0.5) > standard, $"reset 0.5: {Count(1, 0.5)} vs {standard}");
    }

    [Fact]
    public void InTheExactEngineSubtractiveResetEqualsResetToValue()
    {
        // A spike happens at V = ϑ exactly, so V − (ϑ − V_r) = V_r: same spikes, same loss, same gradient.
        foreach (var (toValue, subtract) in new (NeuronModel, NeuronModel)[]
                 {
                     (new Lif(1.3, -0.2), new Lif(1.3, -0.2, ResetMode.Subtract)),
                     (new IntegrateAndFire(0.8, 0.1), new IntegrateAndFire(0.8, 0.1, ResetMode.Subtract)),
                 })
        {
            var engine = new ExactEngine(20);
            var a = engine.Gradient(Net(toValue), Sample(), Loss.Sum());
            var b = engine.Gradient(Net(subtract), Sample(), Loss.Sum());
            Assert.True(a.Trials[0].SpikeTimes("h", 0).Length + a.Trials[0].SpikeTimes("h", 1).Length > 0);
            Assert.Equal(a.Loss, b.Loss);
            foreach (var p in a.Gradient) Assert.Equal(p.Values, b.Gradient[p.Name].Values);
        }
    }

    [Theory]
    [InlineData(1.0, 1.0, "must be above the reset value")]
    [InlineData(0.5, 0.8, "must be above the reset value")]
    [InlineData(-0.5, -1.0, "a LIF threshold must be > 0")]
    [InlineData(double.NaN, 0.0, "must be finite")]
    public void BadThresholdsAndResetsAreOneLineErrorsNamingThePopulation(double threshold, double reset, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => Network.Create().Input("in", 1)
            .Lif("hidden1", 2, threshold: threshold, reset: reset).Readout("out", 1)
            .Connect("in", "hidden1", Init.Constant(1)).Connect("hidden1", "out", Init.Constant(1)).Build());
        Assert.Contains(expected, e.Message);
        Assert.Contains("'hidden1'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AnIntegrateAndFireThresholdMayBeNegativeButNotBelowItsReset()
    {
        var net = Network.Create().Input("in", 1).IntegrateAndFire("h", 1, threshold: -0.5, reset: -1).Readout("out", 1)
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1)).Build();
        Assert.Equal(-0.5, net["h"].Model!.Threshold);
    }

    [Fact]
    public void HiddenPopulationsMustSpikeAndReadoutsMustLeak()
    {
        var e = Assert.Throws<ArgumentException>(() => Network.Create().Input("in", 1).Hidden("h", LeakyIntegrator.Instance, [10.0], [5.0]));
        Assert.Contains("must spike", e.Message);
        var net = Network.Create().Input("in", 1).Lif("h", 1).Readout("out", new IntegrateAndFire(), [10.0], [5.0])
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1)).Build();
        var f = Assert.Throws<ArgumentException>(() => new ExactEngine(10).Simulate(net, new SpikeSample([1.0], [0], 0)));
        Assert.Contains("readouts must be li, integrator, or lif when spiking", f.Message);
    }

    [Fact]
    public void TheSurrogateEngineSimulatesTheOtherModelsAndRefusesANonLeakyReadoutWithOneLine()
    {
        foreach (var model in new NeuronModel[] { new IntegrateAndFire(), new Lif(1.5), new Lif(0.8, 0.2, ResetMode.Subtract) })
        {
            double loss = new Core.Simulation.Surrogate.SurrogateEngine(1.0, 20).Evaluate(Net(model), [Sample()], Loss.Sum()).Loss;
            Assert.True(double.IsFinite(loss), $"{model}: loss {loss}");
        }
        var net = Network.Create().Input("in", 1).Lif("h", 1).Readout("out", new IntegrateAndFire(), [10.0], [5.0])
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1)).Build();
        var e = Assert.Throws<ArgumentException>(() => new Core.Simulation.Surrogate.SurrogateEngine(1.0, 20).Evaluate(net, [Sample()], Loss.Sum()));
        Assert.Contains("needs a non-spiking readout (li or integrator)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TheTimeSteppedEnginesRefuseANonLeakyReadoutWithOneLine()
    {
        var net = Network.Create().Input("in", 1).Lif("h", 1).Readout("out", new IntegrateAndFire(), [10.0], [5.0])
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1)).Build();
        var e = Assert.Throws<ArgumentException>(() => new Core.Simulation.Stepped.SteppedEngine(1.0, 20).Evaluate(net, [Sample()], Loss.Sum()));
        Assert.Contains("readouts must be leaky", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TheTrainerLeavesParametersThatAreNotTrainableAlone()
    {
        var net = Net(new IntegrateAndFire());
        var before = (double[])net.TauMem("h").Values.Clone();
        var trainer = new Core.Training.Trainer(net, new ExactEngine(20), Loss.Sum(),
            new Core.Training.TrainingOptions { LearningRate = 0.05, BatchSize = 1, LearnTauMem = true, LearnTauSyn = true, Seed = 1, Epochs = 2, EaseIn = false });
        var other = new SpikeSample([0.5, 3.0, 6.0, 8.0], [2, 1, 0, 2], label: 0);
        trainer.Fit([Sample(), other]);
        Assert.Equal(before, net.TauMem("h").Values);
        Assert.NotEqual(net.TauSyn("h").Values, Net(new IntegrateAndFire()).TauSyn("h").Values);
    }
}
