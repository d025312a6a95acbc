using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Eventprop.Tests.Model;
using Eventprop.Tests.Stepped;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// Convolutions in the surrogate-gradient engine: the smooth-forward finite-difference property on conv networks, a fault
/// that proves it bites, and the hard-threshold engine against its dense twin (every convolution expanded by the
/// plain-loop definition of <see cref="ConvReference"/>; the dense engine is itself checked against the plain-loop
/// <see cref="ReferenceBptt"/>).
/// </summary>
public class SurrogateConvTests(ITestOutputHelper output)
{
    private static Arbitrary<SurrogateCase> ConvCases(Discretisation scheme) => Arb.From(
        from c in ConvGradientCase.Arbitrary().Generator
        from loss in Gen.Elements("sum", "sum_exp", "max", "entropy")
        from beta in Gen.Elements(1.0, 2.0, 5.0)
        from dt in Gen.Elements(0.5, 1.0)
        select new SurrogateCase(c, scheme, loss, false, beta, dt));

    /// <summary>The smooth-forward property on convolutional networks (conv, pooling folded into the next connection, pooled
    /// dense readout; LIF and IF, both reset modes): shared kernel weights collect the gradient of every synapse using them.</summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator, 16)]
    [InlineData(Discretisation.ZenkeVogels, 16)]
    public void SmoothForwardGradientsThroughConvolutionsMatchFiniteDifferences(Discretisation scheme, int cases) =>
        SurrogateGradientTests.AssertSmoothProperty(ConvCases(scheme), cases, "Conv2d " + scheme, output);

    /// <summary>The mirrored-tap transport fault (<see cref="SurrogateFault.SparseTransportMisindexed"/> on a convolution) is
    /// caught by the smooth check wherever it changes the gradient.</summary>
    [Fact]
    public void MirroredConvolutionTransportFailsTheCheck()
    {
        int visible = 0, caught = 0;
        var missed = new List<string>();
        foreach (var c in ConvGradientCase.Sample(12, seed: 42))
        {
            var sc = new SurrogateCase(c, Discretisation.ExactPropagator, "sum", Regularised: false, Beta: 2.0, Dt: 0.5);
            Assert.Null(SurrogateGradientTests.CheckSmooth(sc).Failure);
            var (compared, _, wrong) = SurrogateGradientTests.CheckSmooth(sc, SurrogateFault.SparseTransportMisindexed);
            if (compared == 0 || !SurrogateNeuronModelTests.FaultChangesGradient(sc, SurrogateFault.SparseTransportMisindexed)) continue;
            visible++;
            if (wrong is not null) caught++;
            else missed.Add(c.ToString());
        }
        output.WriteLine($"mirrored conv transport: the fault changed the gradient in {visible} of 12 cases; the check caught {caught}");
        Assert.Empty(missed);
        Assert.True(visible >= 6, $"the fault changed the gradient in only {visible} of 12 cases");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HardThresholdConvolutionsEqualTheirDenseTwin(bool otherSeed)
    {
        int compared = 0;
        foreach (var c in ConvGradientCase.Sample(12, seed: otherSeed ? 7 : 8))
        {
            var (net, _) = c.Build();
            var batch = SteppedTestCases.Batch(net, 2, 0.8 * c.Duration, c.Seed, spikes: c.InputSpikes);
            var engine = new SurrogateEngine(1.0, c.Duration, new SurrogateOptions { Threads = 1 });
            var conv = engine.Gradient(net, batch, Loss.SumExp());
            var dense = engine.Gradient(ConvReference.DenseTwin(net), batch, Loss.SumExp());
            if (dense.HiddenSpikeCounts[net.Hidden[^1].Name].Sum() == 0) continue;
            compared++;
            foreach (var (name, counts) in dense.HiddenSpikeCounts) Assert.Equal(counts, conv.HiddenSpikeCounts[name]);
            Assert.Equal(dense.Loss, conv.Loss, 5);
            double e = SteppedTestCases.RelativeError(conv.Gradient, ConvReference.Fold(net, dense.Gradient));
            output.WriteLine($"{c}: relative difference {e:E2}");
            Assert.True(e <= 1e-5, $"{c}: conv vs dense twin {e:E2}");
        }
        Assert.True(compared >= 4, $"only {compared} of 12 cases had spikes in the last hidden layer");
    }
}
