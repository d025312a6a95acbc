using Eventprop.Core.Model;
using Xunit;

namespace Eventprop.Tests.Model;

public class NetworkBuilderTests
{
    private static NetworkBuilder Basic(int seed = 1) => Network.Create(seed)
        .Input("in", 4)
        .Lif("h", 3, tauMem: 20, tauSyn: 5)
        .Readout("out", 2)
        .Connect("in", "h", Init.Normal(0.5, 0.1))
        .Connect("h", "h", Init.Normal(0, 0.1))
        .Connect("h", "out", Init.Normal(0, 0.3));

    [Fact]
    public void BuildsNamedParametersWithTheRightShapes()
    {
        var net = Basic().Build();
        Assert.Equal(["in->h", "h->h", "h->out", "h.tau_mem", "h.tau_syn", "out.tau_mem", "out.tau_syn"], net.Parameters.Select(p => p.Name));
        Assert.Equal((4, 3), (net.Weights("in", "h").Rows, net.Weights("in", "h").Columns));
        Assert.All(net.TauMem("h").Values, t => Assert.Equal(20, t));
        Assert.True(net.Connections.Single(c => c.Name == "h->h").IsRecurrent);
        Assert.False(net.Readout.IsSpiking);
        Assert.Equal(12 + 9 + 6 + 3 + 3 + 2 + 2, net.Parameters.TotalLength);
    }

    [Fact]
    public void TheSameSeedGivesTheSameWeightsAndConnectionsDrawIndependentStreams()
    {
        var a = Basic(7).Build();
        var b = Basic(7).Build();
        var c = Basic(8).Build();
        Assert.Equal(a.Weights("in", "h").Values, b.Weights("in", "h").Values);
        Assert.NotEqual(a.Weights("in", "h").Values, c.Weights("in", "h").Values);
        // Dropping the recurrent connection leaves the other connections' draws unchanged.
        var d = Network.Create(7).Input("in", 4).Lif("h", 3).Readout("out", 2)
            .Connect("in", "h", Init.Normal(0.5, 0.1)).Connect("h", "out", Init.Normal(0, 0.3)).Build();
        Assert.Equal(a.Weights("h", "out").Values, d.Weights("h", "out").Values);
    }

    [Fact]
    public void InitNormalHasTheRequestedMoments()
    {
        var net = Network.Create(3).Input("in", 200).Lif("h", 200).Readout("out", 2)
            .Connect("in", "h", Init.Normal(0.03, 0.01)).Connect("h", "out", Init.Uniform(-1, 1)).Build();
        var w = net.Weights("in", "h").Values;
        double mean = w.Average(), std = Math.Sqrt(w.Select(x => (x - mean) * (x - mean)).Average());
        Assert.Equal(0.03, mean, 0.0005);
        Assert.Equal(0.01, std, 0.0005);
        Assert.All(net.Weights("h", "out").Values, x => Assert.InRange(x, -1, 1));
    }

    public static TheoryData<string, Func<NetworkBuilder>> BadStructures() => new()
    {
        { "exactly one Input", () => Network.Create().Lif("h", 2).Readout("out", 2).Connect("h", "out", Init.Constant(1)) },
        { "exactly one Readout", () => Network.Create().Input("in", 2).Lif("h", 2).Connect("in", "h", Init.Constant(1)) },
        { "no population 'x'", () => Basic().Connect("x", "h", Init.Constant(1)) },
        { "cannot receive", () => Basic().Connect("h", "in", Init.Constant(1)) },
        { "declared twice", () => Basic().Connect("in", "h", Init.Constant(1)) },
        { "receives no feed-forward", () => Network.Create().Input("in", 2).Lif("h", 2).Lif("g", 2).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1)).Connect("g", "g", Init.Constant(0)).Connect("h", "out", Init.Constant(1)) },
        { "must be the input or a hidden", () => Basic().Connect("out", "h", Init.Constant(1)) },
        { "needs 4×3", () => Network.Create().Input("in", 4).Lif("h", 3).Readout("out", 2)
            .Connect("in", "h", Init.Values(new double[2, 2])).Connect("h", "out", Init.Constant(1)) },
        { "must be finite and > 0", () => Network.Create().Input("in", 2).Lif("h", 2, tauMem: 0).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1)) },
        { "must be finite and > 0", () => Network.Create().Input("in", 2).Lif("h", 2, tauSyn: double.NaN).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1)) },
        { "weights must be finite", () => Network.Create().Input("in", 2).Lif("h", 2).Readout("out", 2)
            .Connect("in", "h", Init.Constant(double.NaN)).Connect("h", "out", Init.Constant(1)) },
    };

    [Theory]
    [MemberData(nameof(BadStructures))]
    public void BadStructuresGiveOneLineErrorsNamingTheProblem(string expected, Func<NetworkBuilder> make)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => make().Build());
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void BadPopulationDeclarationsAreRejectedWhereTheyAreMade()
    {
        Assert.Contains("at least one neuron", Assert.Throws<ArgumentException>(() => Network.Create().Lif("h", 0)).Message);
        Assert.Contains("may not contain", Assert.Throws<ArgumentException>(() => Network.Create().Lif("a.b", 2)).Message);
        Assert.Contains("declared twice", Assert.Throws<ArgumentException>(() => Network.Create().Lif("h", 2).Lif("h", 2)).Message);
    }

    [Fact]
    public void ParameterSetArithmeticAndLayoutChecks()
    {
        var net = Basic().Build();
        var g = net.Parameters.ZerosLike();
        Assert.All(g, p => Assert.All(p.Values, v => Assert.Equal(0, v)));
        g.AddScaled(net.Parameters, 2);
        Assert.Equal(2 * net.Weights("in", "h")[1, 2], g.Weights("in", "h")[1, 2]);
        g.Scale(0.5);
        Assert.Equal(net.Weights("in", "h").Values, g.Weights("in", "h").Values);
        var clone = net.Clone();
        clone.Weights("in", "h")[0] = 99;
        Assert.NotEqual(99, net.Weights("in", "h")[0]);
        var other = Network.Create().Input("in", 4).Lif("h", 2).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1)).Build();
        Assert.Throws<ArgumentException>(() => net.WithParameters(other.Parameters));
        Assert.Contains("the set has", Assert.Throws<KeyNotFoundException>(() => net.Parameters["nope"]).Message);
    }
}
