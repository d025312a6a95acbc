using System.Text.Json;
using Eventprop.Cli;
using Eventprop.Core.Model.Connectivities;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// Convolutional layers in configs: <c>network.input_shape</c>, a layer's <c>connectivity: {"conv": …}</c> and
/// <c>pool</c>, <c>network.readout_pool</c>. The shapes chain as seed 004's MNIST network (28 → 24 → pooled 12 → 8 →
/// pooled 4), the config writes back and reads to the same network, and mistakes are one line naming the key.
/// </summary>
public sealed class ConvLayerConfigTests
{
    private const string Seed004 = """
        network.hidden=[{"connectivity": {"conv": {"channels": 32, "kernel": 5}}, "model": "if", "reset_mode": "subtract"},
                        {"connectivity": {"conv": {"channels": 64, "kernel": 5}}, "pool": 2, "model": "if", "reset_mode": "subtract"},
                        {"size": 1024, "pool": 2, "model": "if", "reset_mode": "subtract", "recurrent": false}]
        """;

    [Fact]
    public void SeedFoursMnistNetworkChainsItsShapes()
    {
        var config = RunConfig.Load(null, ["network.input_shape=[1, 28, 28]", Seed004.Replace("\n", " ")]);
        var net = config.Network.Build(config.Seed, 784, 10, spikingReadout: false);
        Assert.Equal([784, 32 * 24 * 24, 64 * 8 * 8, 1024, 10], net.Populations.Select(p => p.Size));
        var first = Assert.IsType<Conv2dConnectivity>(net.Connections[0].Connectivity).Geometry;
        Assert.Equal((1, 28, 28, 1, 32, 24, 24), (first.InChannels, first.InHeight, first.InWidth, first.Pool, first.OutChannels, first.OutHeight, first.OutWidth));
        var second = Assert.IsType<Conv2dConnectivity>(net.Connections[1].Connectivity).Geometry;
        Assert.Equal((32, 2, 12, 64, 8), (second.InChannels, second.Pool, second.PooledHeight, second.OutChannels, second.OutHeight));
        // 4 × 4 × 64 = 1,024 pooled features into the dense layer of 1,024
        var dense = Assert.IsType<Conv2dConnectivity>(net.Connections[2].Connectivity).Geometry;
        Assert.Equal((4, 4, 1024, 64 * 4 * 4), (dense.PooledHeight, dense.PooledWidth, dense.OutChannels, dense.FanIn));
        Assert.IsType<DenseConnectivity>(net.Connections[3].Connectivity);
        // conv layers are feed-forward although network.recurrent defaults to true; none of these layers is recurrent
        Assert.DoesNotContain(net.Connections, c => c.IsRecurrent);
        Assert.Equal("conv 32×5×5 (if, subtractive reset) → conv 64×5×5 (if, subtractive reset, pooled 2×2 in) → 1024 (if, subtractive reset, pooled 2×2 in)", config.Network.DescribeHidden());
    }

    [Fact]
    public void AConvConfigWritesBackAndReadsToTheSameNetwork()
    {
        var config = RunConfig.Load(null, ["network.input_shape=[2, 6, 6]", "network.readout_pool=2",
            """network.hidden=[{"connectivity": {"conv": {"channels": 3, "kernel": 3, "stride": 1, "padding": 1}}, "init": [0.5, 0.1]}]"""]);
        string written = JsonSerializer.Serialize(config, RunConfig.Json);
        var again = RunConfig.FromJson(System.Text.Json.Nodes.JsonNode.Parse(written)!, "", []);
        var a = config.Network.Build(3, 72, 4, false);
        var b = again.Network.Build(3, 72, 4, false);
        Assert.Equal(a.Populations.Select(p => p.Size), b.Populations.Select(p => p.Size));
        foreach (var p in a.Parameters) Assert.Equal(p.Values, b.Parameters[p.Name].Values);
        var readout = Assert.IsType<Conv2dConnectivity>(a.Connections[^1].Connectivity).Geometry;
        Assert.Equal((2, 3, 3), (readout.Pool, readout.PooledHeight, readout.PooledWidth));
    }

    [Theory]
    [InlineData("""network.hidden=[{"connectivity": {"conv": {"channels": 4, "kernel": 3}}}]""", "", "network.hidden[0].connectivity.conv needs a shaped input: set network.input_shape")]
    [InlineData("""network.hidden=[{"connectivity": {"conv": {"channels": 4, "kernel": 9}}}]""", "network.input_shape=[1, 5, 6]", "network.hidden[0].connectivity.conv: The conv2d kernel 9×9 is larger than its input 5×6")]
    [InlineData("""network.hidden=[{"connectivity": {"conv": {"channels": 4, "kernel": 3, "stride": 0}}}]""", "network.input_shape=[1, 5, 6]", "network.hidden[0].connectivity.conv.stride must be ≥ 1, got 0")]
    [InlineData("""network.hidden=[{"size": 8}, {"size": 4, "pool": 2}]""", "network.input_shape=[1, 5, 6]", "network.hidden[1].pool needs a shaped layer before it, but network.hidden[0] is a flat layer")]
    [InlineData("""network.hidden=[{"size": 8, "connectivity": {"conv": {"channels": 4, "kernel": 3}}}]""", "network.input_shape=[1, 5, 6]", "network.hidden[0].size is 8 but the convolution makes 4×3×4 = 48 neurons")]
    [InlineData("""network.hidden=[{"connectivity": {"conv": {"channels": 4, "kernel": 3}}}]""", "network.input_shape=[1, 5, 5]", "network.input_shape [1, 5, 5] has 25 channels but the data has 30")]
    [InlineData("""network.hidden=[{"connectivity": {"conv": {"channels": 4, "kernels": 3}}}]""", "network.input_shape=[1, 5, 6]", "unknown key 'kernels' in network.hidden[0].connectivity.conv")]
    [InlineData("""network.hidden=[{"size": 8}]""", "network.readout_pool=2", "network.readout_pool needs a shaped last layer, but network.hidden[0] is flat")]
    public void ConvMistakesAreOneLineNamingTheKey(string layers, string extra, string expected)
    {
        var sets = extra.Length == 0 ? new[] { layers } : new[] { layers, extra };
        var e = Assert.Throws<UserError>(() =>
        {
            var config = RunConfig.Load(null, sets);
            config.Network.Build(1, 30, 10, false);
        });
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
