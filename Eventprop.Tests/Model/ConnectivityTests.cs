using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Simulation;
using Eventprop.Core.Training;
using Eventprop.Losses;
using Eventprop.Tests.Data;
using Eventprop.Tests.Training;
using Xunit;

namespace Eventprop.Tests.Model;

/// <summary>Connectivities as parts: the sparse mask's layout, checks, storage in files and its agreement with dense connections.</summary>
public class ConnectivityTests
{
    private static readonly double[,] InputWeights = { { 2.0, 0.5, 1.2 }, { 0.3, 1.8, 0.9 } };

    private static Network Net(Connectivity inToHidden, Connectivity hiddenToOut, double[,]? w = null) => Network.Create(2)
        .Input("in", 2)
        .Lif("h", 3, tauMem: 10, tauSyn: 4)
        .Readout("out", 2)
        .Connect("in", "h", Init.Values(w ?? InputWeights), inToHidden)
        .Connect("h", "out", Init.Values(new[,] { { 1.0, -0.5 }, { 0.4, 0.8 }, { -0.7, 0.2 } }), hiddenToOut)
        .Build();

    private static SpikeSample Sample() => new([0.5, 1.0, 2.5, 3.0, 4.0, 6.5, 8.0], [0, 1, 0, 1, 0, 1, 0], label: 1);

    [Fact]
    public void AFullMaskGivesExactlyTheDenseResult()
    {
        var full = SparseConnectivity.FromMask(new bool[,] { { true, true, true }, { true, true, true } });
        var fullOut = SparseConnectivity.FromMask(new bool[3, 2] { { true, true }, { true, true }, { true, true } });
        var engine = new ExactEngine(15);
        var dense = engine.Gradient(Net(Connectivity.Dense, Connectivity.Dense), Sample(), Loss.SumExp());
        var sparse = engine.Gradient(Net(full, fullOut), Sample(), Loss.SumExp());
        Assert.True(dense.Trials[0].SpikeTimes("h", 0).Length > 0);
        Assert.Equal(dense.Loss, sparse.Loss);
        // Row-major dense storage and row-order mask storage coincide for a full mask.
        foreach (var p in dense.Gradient) Assert.Equal(p.Values, sparse.Gradient[p.Name].Values);
    }

    [Fact]
    public void AMaskEqualsDenseWeightsThatAreZeroWhereTheMaskIsEmpty()
    {
        var mask = new bool[,] { { true, false, true }, { false, true, true } };
        var zeroed = (double[,])InputWeights.Clone();
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                if (!mask[i, j]) zeroed[i, j] = 0;
        var engine = new ExactEngine(15);
        var dense = engine.Gradient(Net(Connectivity.Dense, Connectivity.Dense, zeroed), Sample(), Loss.Sum());
        var sparse = engine.Gradient(Net(SparseConnectivity.FromMask(mask), Connectivity.Dense), Sample(), Loss.Sum());
        Assert.Equal(dense.Loss, sparse.Loss, 14);
        var g = dense.Gradient.Weights("in", "h");
        var s = sparse.Gradient.Weights("in", "h");
        Assert.Equal(4, s.Length);
        int k = 0;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                if (mask[i, j]) Assert.Equal(g[i, j], s[k++], 12);
        Assert.NotEqual(0, s.Values.Sum(Math.Abs));
    }

    [Fact]
    public void ARandomMaskIsDrawnFromTheSeedAndKeepsTheDenseDrawsAtItsSynapses()
    {
        Network Build(int seed, bool sparse)
        {
            var b = Network.Create(seed).Input("in", 40).Lif("h", 50).Readout("out", 3);
            b = sparse ? b.ConnectSparse("in", "h", 0.3, Init.Normal(0.1, 0.05)) : b.Connect("in", "h", Init.Normal(0.1, 0.05));
            return b.Connect("h", "out", Init.Normal(0, 0.1)).Build();
        }
        var a = Build(5, true);
        var mask = Assert.IsType<SparseConnectivity>(a.Connections[0].Connectivity);
        Assert.InRange(mask.Density, 0.25, 0.35);
        Assert.Equal(mask.Count, a.Weights("in", "h").Length);
        Assert.True(mask.SameMask((SparseConnectivity)Build(5, true).Connections[0].Connectivity));
        Assert.False(mask.SameMask((SparseConnectivity)Build(6, true).Connections[0].Connectivity));
        var dense = Build(5, false).Weights("in", "h");
        var rows = a.Connections[0].Synapses;
        for (int i = 0; i < 40; i++)
            for (int k = rows.Start(i); k < rows.Start(i) + rows.Length(i); k++)
                Assert.Equal(dense[i, rows.Targets![k]], a.Weights("in", "h")[k]);
    }

    [Theory]
    [InlineData(new[] { 0, 1 }, new[] { 0 }, "needs 3 row starts")]
    [InlineData(new[] { 0, 2, 1 }, new[] { 0 }, "decrease at row 1")]
    [InlineData(new[] { 0, 1, 2 }, new[] { 0, 3 }, "targets neuron 3, outside 0 … 2")]
    [InlineData(new[] { 0, 2, 2 }, new[] { 1, 1 }, "out of order or twice")]
    [InlineData(new[] { 1, 1, 2 }, new[] { 0, 1 }, "must run from 0")]
    public void ABadMaskIsAOneLineError(int[] rowStarts, int[] targets, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => SparseConnectivity.FromRows(2, 3, rowStarts, targets));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AMaskOfTheWrongShapeNamesTheConnection()
    {
        var mask = SparseConnectivity.FromMask(new bool[3, 3]);
        var e = Assert.Throws<ArgumentException>(() => Net(mask, Connectivity.Dense));
        Assert.Contains("Connection in->h: the sparse mask is 3 × 3 but the populations are 2 → 3", e.Message);
        Assert.Throws<ArgumentException>(() => Network.Create().Input("in", 2).Lif("h", 2).Readout("o", 1).ConnectSparse("in", "h", 0, Init.Constant(1)));
    }

    /// <summary>The time-stepped engine runs sparse masks (it refused them before): the same loss and spikes as the dense
    /// network with zeros off the mask (detailed checks: Eventprop.Tests/Stepped/SteppedSparseTests.cs).</summary>
    [Fact]
    public void TheTimeSteppedEngineRunsSparseConnectionsLikeDenseWithZeros()
    {
        var mask = new bool[,] { { true, false, true }, { false, true, true } };
        var zeroed = (double[,])InputWeights.Clone();
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                if (!mask[i, j]) zeroed[i, j] = 0;
        var engine = new Core.Simulation.Stepped.SteppedEngine(0.5, 15);
        var sparse = engine.Evaluate(Net(SparseConnectivity.FromMask(mask), Connectivity.Dense), [Sample()], Loss.Sum());
        var dense = engine.Evaluate(Net(Connectivity.Dense, Connectivity.Dense, zeroed), [Sample()], Loss.Sum());
        Assert.Equal(dense.Loss, sparse.Loss);
        Assert.Equal(dense.HiddenSpikeCounts["h"], sparse.HiddenSpikeCounts["h"]);
    }

    [Fact]
    public void CheckpointsStoreTheMaskAndRefuseAnotherOne()
    {
        using var dir = new TempDirectory();
        var path = dir.File("run.h5");
        Network Build(int seed) => Network.Create(seed).Input("in", 20).Lif("h", 5).Readout("out", 2)
            .ConnectSparse("in", "h", 0.5, Init.Normal(1, 0.2)).Connect("h", "out", Init.Normal(0, 1)).Build();
        var trainer = new Trainer(Build(1), new ExactEngine(30), Loss.Sum(), new TrainingOptions { Epochs = 1, BatchSize = 2 });
        trainer.Fit(TrainingTestData.TwoClassTask(4, 1));
        trainer.SaveCheckpoint(path);
        var same = new Trainer(Build(1), new ExactEngine(30), Loss.Sum());
        same.LoadCheckpoint(path);
        Assert.Equal(trainer.Network.Weights("in", "h").Values, same.Network.Weights("in", "h").Values);
        var other = new Trainer(Build(2), new ExactEngine(30), Loss.Sum());
        var e = Assert.ThrowsAny<Exception>(() => other.LoadCheckpoint(path));
        Assert.Contains("mask", e.Message);
    }
}
