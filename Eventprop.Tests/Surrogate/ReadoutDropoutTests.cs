using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Core.Training;
using Eventprop.Losses;
using Xunit;
using SurrogateFn = Eventprop.Core.Simulation.Surrogate.Surrogate;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// Dropout before the last layer (seed 004): a trial's mask m on the neurons into the readout makes the thinned network
/// the same as one whose readout weights are W·diag(m). So the engine's gradient with dropout must equal, trial by trial,
/// the chain rule through that reweighted network computed without dropout: dL/dW_ro[i,k] = m_i·G'[i,k] and every other
/// gradient G' unchanged. The masks themselves are checked for rate, determinism and independence of trials.
/// </summary>
public class ReadoutDropoutTests
{
    private const double Dt = 1, Duration = 30;

    /// <summary>in(8) → h0(10, recurrent when asked) → h1(12) → out(3): dropout acts on h1 → out only.</summary>
    private static Network Net(bool recurrent, bool subtractive = false)
    {
        var b = Network.Create(seed: 5).Input("in", 8).Lif("h0", 10, tauMem: 10, tauSyn: 4)
            .Lif("h1", 12, tauMem: 10, tauSyn: 4, resetMode: subtractive ? Core.Model.Neurons.ResetMode.Subtract : Core.Model.Neurons.ResetMode.ToValue)
            .Readout("out", 3, tauMem: 10, tauSyn: 4)
            .Connect("in", "h0", Init.Normal(0.9, 0.6)).Connect("h0", "h1", Init.Normal(0.5, 0.5));
        if (recurrent) b = b.Connect("h1", "h1", Init.Normal(0, 0.3));
        return b.Connect("h1", "out", Init.Normal(0, 0.5)).Build();
    }

    private static SurrogateEngine Engine(Discretisation scheme, ForwardSpike forward, SurrogateFault fault = SurrogateFault.None) =>
        new(Dt, Duration, new SurrogateOptions
        {
            Surrogate = SurrogateFn.SuperSpike(10), DoublePrecision = true, Threads = 2, Discretisation = scheme, ForwardSpike = forward,
        }) { Fault = fault };

    /// <summary>The engine's neuron index of h1's neuron i: the populations with dynamics in network order (h0, h1, out).</summary>
    private static int H1Neuron(int i) => 10 + i;

    /// <summary>Batch-mean gradient of the thinned network, computed without dropout through readout weights W·diag(m_b).</summary>
    private static ParameterSet ChainRuleReference(Network network, SpikeSample[] batch, ReadoutDropout dropout, SurrogateEngine engine)
    {
        var total = network.Parameters.ZerosLike();
        for (int b = 0; b < batch.Length; b++)
        {
            var thinned = network.Clone();
            var w = thinned.Parameters["h1->out"];
            var m = Enumerable.Range(0, 12).Select(i => dropout.Keep(b, H1Neuron(i))).ToArray();
            for (int i = 0; i < 12; i++)
                for (int k = 0; k < 3; k++) w[i, k] *= m[i];
            var g = engine.Gradient(thinned, [batch[b]], Loss.SumExp()).Gradient;
            var gw = g["h1->out"];
            for (int i = 0; i < 12; i++)
                for (int k = 0; k < 3; k++) gw.Values[i * 3 + k] *= m[i];
            total.AddScaled(g, 1.0 / batch.Length);
        }
        return total;
    }

    private static (int Compared, double Worst) Compare(ParameterSet expected, ParameterSet actual)
    {
        int compared = 0;
        double worst = 0;
        for (int p = 0; p < expected.Count; p++)
        {
            double norm = Math.Sqrt(expected[p].Values.Sum(x => x * x)) + 1e-300;
            for (int i = 0; i < expected[p].Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(expected[p].Values[i] - actual[p].Values[i]) / norm);
                compared++;
            }
        }
        return (compared, worst);
    }

    public static TheoryData<Discretisation, ForwardSpike, bool, double> Cases() => new()
    {
        { Discretisation.ZenkeVogels, ForwardSpike.Heaviside, false, 0.5 },
        { Discretisation.ZenkeVogels, ForwardSpike.Heaviside, true, 0.3 },
        { Discretisation.ExactPropagator, ForwardSpike.Heaviside, true, 0.5 },
        { Discretisation.ExactPropagator, ForwardSpike.Sigmoid, false, 0.3 },
        { Discretisation.ZenkeVogels, ForwardSpike.Sigmoid, true, 0.5 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientWithDropoutIsTheChainRuleThroughTheReweightedReadout(Discretisation scheme, ForwardSpike forward, bool recurrent, double rate)
    {
        var network = Net(recurrent, subtractive: recurrent);
        var batch = GradientMagnitudeTests.Samples(6, seed: 21);
        var engine = Engine(scheme, forward);
        var dropout = new ReadoutDropout(rate, 0xC0FFEE);
        var actual = engine.Gradient(network, batch, Loss.SumExp(), null, dropout).Gradient;
        var expected = ChainRuleReference(network, batch, dropout, engine);
        var (compared, worst) = Compare(expected, actual);
        Assert.True(compared >= 286, $"{compared} gradients compared");
        Assert.True(worst < 1e-12, $"worst relative error {worst:g3} over {compared} gradients");
        // The mask matters: the plain gradient differs from it.
        var plain = engine.Gradient(network, batch, Loss.SumExp()).Gradient;
        Assert.True(Compare(plain, actual).Worst > 1e-3);
    }

    [Theory]
    [InlineData(Discretisation.ZenkeVogels)]
    [InlineData(Discretisation.ExactPropagator)]
    public void ATransportThatIgnoresTheMaskIsCaught(Discretisation scheme)
    {
        var network = Net(recurrent: true);
        var batch = GradientMagnitudeTests.Samples(6, seed: 21);
        var dropout = new ReadoutDropout(0.5, 0xC0FFEE);
        var wrong = Engine(scheme, ForwardSpike.Heaviside, SurrogateFault.DropoutIgnoredInTransport).Gradient(network, batch, Loss.SumExp(), null, dropout).Gradient;
        var expected = ChainRuleReference(network, batch, dropout, Engine(scheme, ForwardSpike.Heaviside));
        Assert.True(Compare(expected, wrong).Worst > 1e-3);
    }

    [Fact]
    public void RateZeroIsThePlainGradientBitForBit()
    {
        var network = Net(recurrent: true);
        var batch = GradientMagnitudeTests.Samples(4, seed: 2);
        var engine = Engine(Discretisation.ZenkeVogels, ForwardSpike.Heaviside);
        var a = engine.Gradient(network, batch, Loss.SumExp()).Gradient;
        var b = engine.Gradient(network, batch, Loss.SumExp(), null, new ReadoutDropout(0, 7)).Gradient;
        for (int p = 0; p < a.Count; p++) Assert.Equal(a[p].Values, b[p].Values);
    }

    [Fact]
    public void MasksDropTheStatedFractionAreDeterministicAndDifferBetweenTrialsAndSeeds()
    {
        var d = new ReadoutDropout(0.5, 42);
        int zeros = 0, n = 0;
        for (int t = 0; t < 200; t++)
            for (int i = 0; i < 100; i++, n++)
            {
                double k = d.Keep(t, i);
                Assert.True(k == 0 || k == 2, $"keep factor {k}");
                if (k == 0) zeros++;
            }
        // Binomial(20000, 0.5): σ ≈ 71; 5σ bounds.
        Assert.InRange(zeros, 10000 - 355, 10000 + 355);
        Assert.Equal(d.Keep(3, 9), new ReadoutDropout(0.5, 42).Keep(3, 9));
        int trialDiffers = Enumerable.Range(0, 100).Count(i => d.Keep(0, i) != d.Keep(1, i));
        int seedDiffers = Enumerable.Range(0, 100).Count(i => d.Keep(0, i) != new ReadoutDropout(0.5, 43).Keep(0, i));
        Assert.InRange(trialDiffers, 25, 75);
        Assert.InRange(seedDiffers, 25, 75);
        var third = new ReadoutDropout(0.3, 1);
        Assert.All(Enumerable.Range(0, 50), i => Assert.Contains(third.Keep(0, i), new[] { 0, 1 / 0.7 }));
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void ABadRateIsRefused(double rate)
    {
        var engine = Engine(Discretisation.ZenkeVogels, ForwardSpike.Heaviside);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => engine.Gradient(Net(false), GradientMagnitudeTests.Samples(1, 1), Loss.SumExp(), null, new ReadoutDropout(rate, 1)));
        Assert.Contains("[0, 1)", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { ReadoutDropout = rate }.Validate());
    }

    [Fact]
    public void TheTrainerRefusesAnEngineWithoutDropoutAndTrainsDeterministicallyWithIt()
    {
        var data = GradientMagnitudeTests.Samples(24, seed: 8);
        var options = new TrainingOptions { Epochs = 2, BatchSize = 8, LearningRate = 1e-2, Seed = 3, ReadoutDropout = 0.5 };
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Net(false), new SteppedEngine(1, Duration), Loss.SumExp(), options));
        Assert.Contains("training.readout_dropout", e.Message);

        double[] Train(TrainingOptions o)
        {
            var net = Net(false);
            new Trainer(net, Engine(Discretisation.ZenkeVogels, ForwardSpike.Heaviside), Loss.SumExp(), o).Fit(data);
            return net.Parameters["h1->out"].Values;
        }
        var first = Train(options);
        Assert.Equal(first, Train(options));
        Assert.NotEqual(first, Train(options with { ReadoutDropout = 0 }));
        Assert.NotEqual(first, Train(options with { Seed = 4 }));
    }
}
