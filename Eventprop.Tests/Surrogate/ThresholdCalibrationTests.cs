using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Losses;
using Xunit;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// Seed 004's threshold initialisation (§3): each layer's threshold becomes the largest per-step voltage increase A·I of its
/// neurons over the samples and steps, layer by layer. Checked against hand-computed propagators, for the layer order, and
/// for <see cref="Network.WithThresholds"/> and the refusals.
/// </summary>
public class ThresholdCalibrationTests
{
    private const double Dt = 1, Duration = 40, TauMem = 10, TauSyn = 5;

    private static SurrogateEngine Engine(Discretisation scheme, bool doublePrecision = true, int threads = 2) =>
        new(Dt, Duration, new SurrogateOptions { Discretisation = scheme, DoublePrecision = doublePrecision, Threads = threads });

    /// <summary>in(2) → h(3, integrate-and-fire, weights w[in, h]) → out(2).</summary>
    private static Network OneLayer(double[,] w, double threshold = 1) => Network.Create(seed: 1).Input("in", 2)
        .IntegrateAndFire("h", 3, tauMem: TauMem, tauSyn: TauSyn, threshold: threshold)
        .Readout("out", 2, tauMem: TauMem, tauSyn: TauSyn)
        .Connect("in", "h", Init.Values(w)).Connect("h", "out", Init.Constant(0.1)).Build();

    /// <summary>The step's current-to-voltage propagator of τm V̇ = I, τs İ = −I, computed here by hand: for the exact
    /// propagator (1/τm)∫₀^dt e^{−s/τs} ds = (τs/τm)(1 − e^{−dt/τs}); for Zenke–Vogels' Euler step dt/τm.</summary>
    private static double Propagator(Discretisation scheme) =>
        scheme == Discretisation.ExactPropagator ? TauSyn / TauMem * (1 - Math.Exp(-Dt / TauSyn)) : Dt / TauMem;

    private static readonly double[,] Weights = { { 0.3, -0.2, 0.1 }, { 0.5, 0.4, -0.1 } };

    /// <summary>Sample A: channel 0 alone at 2 ms; sample B: both channels together at 6 ms (currents add in one bin).</summary>
    private static SpikeSample[] Samples() =>
    [
        new SpikeSample([2.0], [0], label: 0),
        new SpikeSample([6.0, 6.0], [0, 1], label: 1),
    ];

    [Theory]
    [InlineData(Discretisation.ExactPropagator, 1)]
    [InlineData(Discretisation.ExactPropagator, 2)]
    [InlineData(Discretisation.ZenkeVogels, 1)]
    [InlineData(Discretisation.ZenkeVogels, 2)]
    public void OneLayersThresholdIsThePropagatorTimesTheLargestSummedWeight(Discretisation scheme, int batchSize)
    {
        // The largest current any h neuron gets is neuron 0's 0.3 + 0.5 = 0.8 in sample B (neuron 1: 0.4 − 0.2 = 0.2;
        // neuron 2 at most 0.1); it decays afterwards, so the largest step drive is A·0.8.
        var network = OneLayer(Weights);
        var result = ThresholdCalibration.Calibrate(Engine(scheme), network, Samples(), Loss.Sum(), batchSize);
        double expected = Propagator(scheme) * 0.8;
        var layer = Assert.Single(result.Layers);
        Assert.Equal("h", layer.Layer);
        Assert.Equal(1.0, layer.Before);
        Assert.Equal(expected, layer.After, 1e-12);
        Assert.Equal(expected, result.Network["h"].Model!.Threshold, 1e-12);
        Assert.Equal(1, result.Passes);
        Assert.Equal(2, result.Samples);
        Assert.Equal(1.0, network["h"].Model!.Threshold); // the input network is unchanged
    }

    [Fact]
    public void SinglePrecisionGivesTheSameThresholdToFloatAccuracy()
    {
        var result = ThresholdCalibration.Calibrate(Engine(Discretisation.ExactPropagator, doublePrecision: false), OneLayer(Weights), Samples(), Loss.Sum());
        double expected = Propagator(Discretisation.ExactPropagator) * 0.8;
        Assert.True(Math.Abs(result.Layers[0].After - expected) < 1e-6 * expected, $"{result.Layers[0].After} vs {expected}");
    }

    /// <summary>
    /// in(1) → h0(1) → h1(1) → out: h0 starts with a threshold it never reaches, so measured on the original network h1 gets
    /// no input at all. Layer by layer, h0 is first set to A·2 (its peak drive; its voltage then crosses it several times as
    /// the current integrates to 2·τs/τm = 1), so h1 is measured with h0 spiking and gets a positive threshold.
    /// </summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator)]
    [InlineData(Discretisation.ZenkeVogels)]
    public void LayersAreCalibratedInOrderWithTheEarlierLayersAlreadySet(Discretisation scheme)
    {
        var network = Network.Create(seed: 1).Input("in", 1)
            .IntegrateAndFire("h0", 1, tauMem: TauMem, tauSyn: TauSyn, threshold: 100)
            .IntegrateAndFire("h1", 1, tauMem: TauMem, tauSyn: TauSyn, threshold: 100)
            .Readout("out", 2, tauMem: TauMem, tauSyn: TauSyn)
            .Connect("in", "h0", Init.Constant(2.0)).Connect("h0", "h1", Init.Constant(1.5)).Connect("h1", "out", Init.Constant(0.1)).Build();
        var samples = new[] { new SpikeSample([5.0], [0], label: 0) };
        var engine = Engine(scheme);
        Assert.Equal(0.0, engine.MaxInputDrive(network, samples, Loss.Sum())["h1"]);

        var result = ThresholdCalibration.Calibrate(engine, network, samples, Loss.Sum());
        Assert.Equal(2, result.Passes);
        Assert.Equal(Propagator(scheme) * 2.0, result.Layers[0].After, 1e-12);
        var h0Only = network.WithThresholds(new Dictionary<string, double> { ["h0"] = result.Layers[0].After });
        double h1Drive = engine.MaxInputDrive(h0Only, samples, Loss.Sum())["h1"];
        Assert.True(h1Drive > 0);
        Assert.Equal(h1Drive, result.Layers[1].After);
        // h0 spiked at least once: each of its spikes adds 1.5 to h1's current, so the peak is a multiple of A·1.5 (with decay in between).
        Assert.True(h1Drive >= Propagator(scheme) * 1.5 * Math.Exp(-Dt / TauSyn) - 1e-12, $"{h1Drive}");
        Assert.Equal(result.Layers[1].After, result.Network["h1"].Model!.Threshold);
    }

    [Fact]
    public void ALayerWithoutPositiveInputIsRefusedByName()
    {
        var network = OneLayer(new double[,] { { -0.3, -0.2, -0.1 }, { -0.5, -0.4, -0.1 } });
        var e = Assert.Throws<ArgumentException>(() => ThresholdCalibration.Calibrate(Engine(Discretisation.ExactPropagator), network, Samples(), Loss.Sum()));
        Assert.Contains("layer 'h' received no positive input current over 2 samples", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TheExactEngineAndEmptySamplesAreRefused()
    {
        var network = OneLayer(Weights);
        var exact = new Core.Simulation.ExactEngine(Duration);
        var e = Assert.Throws<ArgumentException>(() => ThresholdCalibration.Calibrate(exact, network, Samples(), Loss.Sum()));
        Assert.Contains("Threshold calibration needs the surrogate-gradient engine", e.Message);
        Assert.Throws<ArgumentException>(() => ThresholdCalibration.Calibrate(Engine(Discretisation.ExactPropagator), network, [], Loss.Sum()));
        Assert.Throws<ArgumentOutOfRangeException>(() => ThresholdCalibration.Calibrate(Engine(Discretisation.ExactPropagator), network, Samples(), Loss.Sum(), batchSize: 0));
    }

    [Fact]
    public void WithThresholdsChangesOnlyTheThresholds()
    {
        var network = Network.Create(seed: 3).Input("in", 2)
            .IntegrateAndFire("a", 3, tauMem: 7, tauSyn: 3, threshold: 1, reset: -0.5, resetMode: ResetMode.Subtract)
            .Lif("b", 2, tauMem: 12, tauSyn: 4, threshold: 2, reset: 0.25)
            .Readout("out", 2)
            .Connect("in", "a", Init.Normal(0, 1)).Connect("a", "a", Init.Normal(0, 1)).Connect("a", "b", Init.Normal(0, 1)).Connect("b", "out", Init.Normal(0, 1)).Build();
        var changed = network.WithThresholds(new Dictionary<string, double> { ["a"] = 0.7 });
        var a = changed["a"].Model!;
        Assert.IsType<IntegrateAndFire>(a);
        Assert.Equal((0.7, -0.5, ResetMode.Subtract), (a.Threshold, a.Reset, a.ResetMode));
        Assert.Same(network["b"].Model, changed["b"].Model);
        Assert.Equal(network.Connections.Select(c => (c.Name, c.Connectivity)), changed.Connections.Select(c => (c.Name, c.Connectivity)));
        Assert.Equal(network.Parameters.Select(p => p.Values), changed.Parameters.Select(p => p.Values));
        changed.Parameters[0].Values[0] += 1; // a deep copy
        Assert.NotEqual(network.Parameters[0].Values[0], changed.Parameters[0].Values[0]);
        var lif = network.WithThresholds(new Dictionary<string, double> { ["b"] = 3 })["b"].Model!;
        Assert.Equal((3.0, 0.25, ResetMode.ToValue), (lif.Threshold, lif.Reset, lif.ResetMode));

        var unknown = Assert.Throws<ArgumentException>(() => network.WithThresholds(new Dictionary<string, double> { ["out"] = 1 }));
        Assert.Contains("'out' is not a spiking hidden population; thresholds can be set on: a, b", unknown.Message);
        var low = Assert.Throws<ArgumentException>(() => network.WithThresholds(new Dictionary<string, double> { ["a"] = -0.6 }));
        Assert.Contains("'a'", low.Message);
        Assert.Contains("above the reset value", low.Message);
    }
}
