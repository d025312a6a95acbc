using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Xunit;
using SurrogateFn = Eventprop.Core.Simulation.Surrogate.Surrogate;

namespace Eventprop.Tests.Surrogate;

/// <summary>The surrogate shapes, the regulariser formula and the engine's one-line errors.</summary>
public class SurrogateOptionTests
{
    public static TheoryData<string> Names => new(SurrogateFn.Names);

    /// <summary>Every shape is even, peaks at x = 0, never rises away from it, and decays to (near) zero far away.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void ShapesArePeakedAndEven(string name)
    {
        foreach (double beta in new[] { 1.0, 10.0, 100.0 })
        {
            var s = SurrogateFn.FromName(name, beta);
            Assert.Equal(name, s.Name);
            double prev = s.Derivative(0);
            Assert.True(prev > 0);
            for (int k = 1; k <= 200; k++)
            {
                double x = k * 0.01;
                double h = s.Derivative(x);
                Assert.Equal(h, s.Derivative(-x), 15);
                Assert.True(h <= prev, $"{s} rises at x = {x}");
                prev = h;
            }
            Assert.True(s.Derivative(1e6) < 1e-6 * s.Derivative(0), $"{s} does not decay");
        }
    }

    /// <summary>The shapes' defining properties, from their definitions (seed 001 §4.2.6, seed 004).</summary>
    [Fact]
    public void ShapesHaveTheirDefiningProperties()
    {
        const double b = 10;
        // The normalised shapes peak at 1 (times the height); the asymptotic SuperSpike peaks at β.
        foreach (var name in new[] { "superspike", "esser", "exponential", "rectangular" })
            Assert.Equal(3.0, SurrogateFn.FromName(name, b, height: 3).Derivative(0), 12);
        Assert.Equal(b, SurrogateFn.AsymptoticSuperSpike(b).Derivative(0), 12);
        Assert.Equal(0.25, SurrogateFn.SigmoidDerivative(b).Derivative(0), 12);
        // The asymptotic SuperSpike is β times SuperSpike; it integrates to 2 for every β (so it tends to 2δ… of the step's scale).
        for (double x = -1; x <= 1; x += 0.125)
            Assert.Equal(b * SurrogateFn.SuperSpike(b).Derivative(x), SurrogateFn.AsymptoticSuperSpike(b).Derivative(x), 12);
        // Esser: support |x| < 1/β; rectangular: support |x| < 1/(2β).
        Assert.Equal(0, SurrogateFn.PiecewiseLinear(b).Derivative(1.0 / b));
        Assert.True(SurrogateFn.PiecewiseLinear(b).Derivative(0.99 / b) > 0);
        Assert.Equal(1, SurrogateFn.Rectangular(b).Derivative(0.49 / b));
        Assert.Equal(0, SurrogateFn.Rectangular(b).Derivative(0.51 / b));
        // Sigmoid′ with height β is the derivative of the logistic s(βx): compare with a central difference.
        var sig = SurrogateFn.SigmoidDerivative(b, height: b);
        foreach (double x in new[] { -0.3, -0.05, 0.0, 0.02, 0.2 })
        {
            double s(double y) => 1 / (1 + Math.Exp(-b * y));
            Assert.Equal((s(x + 1e-6) - s(x - 1e-6)) / 2e-6, sig.Derivative(x), 6);
        }
    }

    [Fact]
    public void UnknownSurrogateNameListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => SurrogateFn.FromName("tanh"));
        Assert.Contains("superspike", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SurrogateFn.SuperSpike(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SurrogateFn.Rectangular(0));
    }

    /// <summary>The regulariser's gradient is the derivative of its value (central differences over the counts).</summary>
    [Fact]
    public void RegulariserGradientIsDerivativeOfValue()
    {
        var rng = new Random(4);
        foreach (int exponent in new[] { 1, 2 })
        {
            var reg = new SpikeCountRegularization(0.7, 3, 0.2, 1.5, exponent);
            for (int trial = 0; trial < 20; trial++)
            {
                var counts = Enumerable.Range(0, 6).Select(_ => 6 * rng.NextDouble()).ToArray();
                var grad = new double[6];
                reg.Gradient(counts, grad);
                for (int i = 0; i < 6; i++)
                {
                    var up = (double[])counts.Clone();
                    var down = (double[])counts.Clone();
                    up[i] += 1e-6;
                    down[i] -= 1e-6;
                    Assert.Equal((reg.Value(up) - reg.Value(down)) / 2e-6, grad[i], 6);
                }
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpikeCountRegularization(UpperExponent: 3).Validate());
    }

    [Fact]
    public void EngineRejectsWhatItCannotDo()
    {
        var (net, sample) = GradientCase.Sample(CaseKind.FeedForward, 1, seed: 2)[0].Build();
        var engine = new SurrogateEngine(1, 40);
        var e = Assert.Throws<ArgumentException>(() => engine.Gradient(net, [sample], Loss.Sum(), new ActivityRegularization(1e-3, 14)));
        Assert.Contains("SurrogateOptions.Regularization", e.Message);
        var spiking = new GradientCase(CaseKind.FeedForward, 2, 3, [4], [false], 2, 20, 40, SpikingReadout: true).Build();
        Assert.Contains("needs a non-spiking readout", Assert.Throws<ArgumentException>(() => engine.Gradient(spiking.Network, [spiking.Sample], Loss.FirstSpike())).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SurrogateEngine(0.3, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SurrogateEngine(1, 10, new SurrogateOptions { Threads = 0 }));
        Assert.Throws<ArgumentException>(() => engine.Gradient(net, [new SpikeSample([1.0], [99], 0)], Loss.Sum()));
    }
}
