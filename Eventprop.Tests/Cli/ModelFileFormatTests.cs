using Eventprop.Cli;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Simulation;
using Eventprop.Core.Training;
using Eventprop.Losses;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// The versioned file formats: files written by wave 1 (commit b3b7422, in Fixtures/wave1: a one-epoch quick-start run of
/// 5 → 6 (recurrent) → 3) still load, and format 2 stores neuron models and sparse masks so that they read back exactly.
/// </summary>
public class ModelFileFormatTests
{
    private static string Fixture(string name)
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Eventprop.sln"))) d = d.Parent;
        return Path.Combine(d!.FullName, "Eventprop.Tests", "Fixtures", "wave1", name);
    }

    [Fact]
    public void AWaveOneModelFileAndCheckpointStillLoad()
    {
        var model = ModelFiles.ReadModel(Fixture("model.json"));
        var net = model.Network;
        Assert.Equal(50, model.DurationMs);
        Assert.Equal(["in", "hidden", "out"], net.Populations.Select(p => p.Name));
        Assert.IsType<Lif>(net["hidden"].Model);
        Assert.True(net["hidden"].Model!.IsStandardLif);
        Assert.IsType<LeakyIntegrator>(net.Readout.Model);
        Assert.All(net.Connections, c => Assert.IsType<DenseConnectivity>(c.Connectivity));
        Assert.Equal(6 * 6, net.Weights("hidden", "hidden").Length);

        // The checkpoint of the same run loads into that network (version 1: no masks, wave-1 population descriptions).
        var fresh = net.Clone();
        foreach (var p in fresh.Parameters) Array.Fill(p.Values, 0.5);
        var trainer = new Trainer(fresh, new ExactEngine(model.DurationMs), Loss.SumExp());
        trainer.LoadCheckpoint(Fixture("checkpoint.h5"));
        Assert.Equal(1, trainer.State.Epoch);
        foreach (var p in net.Parameters) Assert.Equal(p.Values, fresh.Parameters[p.Name].Values);
    }

    [Fact]
    public void FormatTwoRoundTripsModelsThresholdsResetsAndMasks()
    {
        using var dir = new TempDirectory();
        var mask = SparseConnectivity.FromMask(new bool[,] { { true, false, true }, { false, true, true }, { true, true, false }, { false, false, true } });
        var net = Network.Create(4).Input("in", 4)
            .IntegrateAndFire("a", 3, tauMem: 12, tauSyn: 4, threshold: 0.8, reset: -0.1, resetMode: ResetMode.Subtract)
            .Lif("b", 2, threshold: 1.5, reset: 0.2)
            .Readout("out", 2)
            .Connect("in", "a", Init.Normal(1, 0.3), mask)
            .ConnectSparse("a", "b", 0.6, Init.Normal(0.5, 0.2))
            .Connect("b", "out", Init.Normal(0, 1))
            .Build();
        string path = dir.File("model.json");
        ModelFiles.WriteModel(path, net, 25);
        var back = ModelFiles.ReadModel(path).Network;
        Assert.Contains("\"format\":2", File.ReadAllText(path));
        var a = Assert.IsType<IntegrateAndFire>(back["a"].Model);
        Assert.Equal((0.8, -0.1, ResetMode.Subtract), (a.Threshold, a.Reset, a.ResetMode));
        Assert.False(back.TauMem("a").Trainable);
        var b = Assert.IsType<Lif>(back["b"].Model);
        Assert.Equal((1.5, 0.2, ResetMode.ToValue), (b.Threshold, b.Reset, b.ResetMode));
        Assert.True(mask.SameMask(Assert.IsType<SparseConnectivity>(back.Connections[0].Connectivity)));
        Assert.True(((SparseConnectivity)net.Connections[1].Connectivity).SameMask((SparseConnectivity)back.Connections[1].Connectivity));
        foreach (var p in net.Parameters) Assert.Equal(p.Values, back.Parameters[p.Name].Values);
        var sample = new SpikeSample([1.0, 2.0, 4.0, 5.0, 7.0], [0, 1, 2, 3, 0], 1);
        var engine = new ExactEngine(25);
        Assert.Equal(engine.Gradient(net, sample, Loss.Sum()).Loss, engine.Gradient(back, sample, Loss.Sum()).Loss);
    }

    [Fact]
    public void ConvolutionsRoundTripWithTheirGeometry()
    {
        using var dir = new TempDirectory();
        var first = Conv2dConnectivity.Create(2, 5, 5, 3, 3, stride: 1, padding: 1);       // 2×5×5 → 3×5×5
        var second = Conv2dConnectivity.Create(3, 5, 5, 2, 2, stride: 1, padding: 0, pool: 2); // pooled 2×2 → 2×1×1
        var net = Network.Create(6).Input("in", 50)
            .IntegrateAndFire("c1", 75, tauMem: 10, tauSyn: 3, resetMode: ResetMode.Subtract)
            .Lif("c2", 2)
            .Readout("out", 2)
            .Connect("in", "c1", Init.Normal(0.4, 0.2), first)
            .Connect("c1", "c2", Init.Normal(0.5, 0.2), second)
            .Connect("c2", "out", Init.Normal(0, 1), Conv2dConnectivity.PooledDense(2, 1, 1, 1, 2))
            .Build();
        string path = dir.File("model.json");
        ModelFiles.WriteModel(path, net, 25);
        var back = ModelFiles.ReadModel(path).Network;
        for (int i = 0; i < 3; i++)
            Assert.True(((Conv2dConnectivity)net.Connections[i].Connectivity).SameGeometry(Assert.IsType<Conv2dConnectivity>(back.Connections[i].Connectivity)));
        foreach (var p in net.Parameters)
        {
            Assert.Equal(p.Values, back.Parameters[p.Name].Values);
            Assert.Equal((p.Rows, p.Columns), (back.Parameters[p.Name].Rows, back.Parameters[p.Name].Columns));
        }
        var sample = new SpikeSample([1.0, 2.0, 4.0, 5.0, 7.0], [0, 11, 23, 37, 49], 1);
        var engine = new ExactEngine(25);
        Assert.Equal(engine.Gradient(net, sample, Loss.Sum()).Loss, engine.Gradient(back, sample, Loss.Sum()).Loss);
    }

    [Theory]
    [InlineData("""{"format": 3, "duration_ms": 10, "populations": [], "connections": []}""", "model format 3 is not one this eventprop reads")]
    [InlineData("""{"duration_ms": 10, "populations": [{"name": "in", "kind": "input", "size": 2}, {"name": "h", "kind": "lif", "size": 1, "tau_mem": 10, "tau_syn": 5, "threshold": 0.5, "reset": 0.5}, {"name": "o", "kind": "readout", "size": 1, "tau_mem": 10, "tau_syn": 5}], "connections": []}""", "the threshold (0.5) must be above the reset value (0.5)")]
    [InlineData("""{"duration_ms": 10, "populations": [{"name": "in", "kind": "input", "size": 2}, {"name": "h", "kind": "lif", "size": 1, "tau_mem": 10, "tau_syn": 5, "reset_mode": "soft"}, {"name": "o", "kind": "readout", "size": 1, "tau_mem": 10, "tau_syn": 5}], "connections": []}""", "use \"value\" or \"subtract\"")]
    [InlineData("""{"duration_ms": 10, "populations": [{"name": "in", "kind": "input", "size": 2}, {"name": "h", "kind": "lif", "size": 2, "tau_mem": 10, "tau_syn": 5}, {"name": "o", "kind": "readout", "size": 1, "tau_mem": 10, "tau_syn": 5}], "connections": [{"pre": "in", "post": "h", "connectivity": {"kind": "sparse", "row_starts": [0, 1, 2], "targets": [0, 5]}, "weights": [1, 1]}]}""", "connection in->h: Sparse mask row 1 targets neuron 5, outside 0 … 1")]
    [InlineData("""{"duration_ms": 10, "populations": [{"name": "in", "kind": "input", "size": 2}, {"name": "h", "kind": "lif", "size": 2, "tau_mem": 10, "tau_syn": 5}, {"name": "o", "kind": "readout", "size": 1, "tau_mem": 10, "tau_syn": 5}], "connections": [{"pre": "in", "post": "h", "connectivity": {"kind": "sparse", "row_starts": [0, 1, 2], "targets": [0, 1]}, "weights": [1, 1, 1]}]}""", "is sparse with 2 synapses; 'weights' must list 2 numbers")]
    [InlineData("""{"duration_ms": 10, "populations": [{"name": "in", "kind": "input", "size": 9}, {"name": "h", "kind": "lif", "size": 2, "tau_mem": 10, "tau_syn": 5}, {"name": "o", "kind": "readout", "size": 1, "tau_mem": 10, "tau_syn": 5}], "connections": [{"pre": "in", "post": "h", "connectivity": {"kind": "conv2d", "in_shape": [1, 3, 3], "out_channels": 2, "kernel": [4, 4]}, "weights": [[1], [1]]}]}""", "connection in->h: The conv2d kernel 4×4 is larger than its input 3×3")]
    [InlineData("""{"duration_ms": 10, "populations": [{"name": "in", "kind": "input", "size": 9}, {"name": "h", "kind": "lif", "size": 2, "tau_mem": 10, "tau_syn": 5}, {"name": "o", "kind": "readout", "size": 1, "tau_mem": 10, "tau_syn": 5}], "connections": [{"pre": "in", "post": "h", "connectivity": {"kind": "conv2d", "in_shape": [1, 3, 3], "out_channels": 2, "kernel": [3, 3]}, "weights": [[1, 1], [1]]}]}""", "kernel row 0 must have 9 numbers")]
    public void BadModelFilesAreOneLineErrors(string json, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<UserError>(() => ModelFiles.ReadModel(path));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
