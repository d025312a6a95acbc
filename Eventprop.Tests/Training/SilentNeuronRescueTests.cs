using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Simulation;
using Eventprop.Core.Training;
using Eventprop.Losses;
using Xunit;

namespace Eventprop.Tests.Training;

/// <summary>
/// The silent-neuron rescue adds the boost to exactly the synapses onto each silent neuron, whatever the connectivity
/// stores: a dense column, a sparse mask's entries (found by target, not by position), a convolution's shared kernel.
/// The learning rate is 1e-12, so Adam moves no weight by more than ~1e-11 and the boost is what changes.
/// </summary>
public class SilentNeuronRescueTests
{
    private const double Boost = 0.5;

    private static Network Train(Network net)
    {
        var samples = Enumerable.Range(0, 4).Select(s => new SpikeSample([1.0 + s, 3.0, 5.0, 7.0 + s], [0, 1, 2, 3], s % 2)).ToArray();
        var trainer = new Trainer(net, new ExactEngine(30), Loss.Sum(),
            new TrainingOptions { Epochs = 1, BatchSize = 2, LearningRate = 1e-12, EaseIn = false, SilentNeuronBoost = Boost });
        trainer.Fit(samples);
        return trainer.Network;
    }

    private static void AssertChange(double[] before, double[] after, Func<int, double> expected)
    {
        for (int k = 0; k < before.Length; k++)
            Assert.True(Math.Abs(after[k] - before[k] - expected(k)) < 1e-9, $"weight {k}: changed by {after[k] - before[k]}, expected {expected(k)}");
    }

    [Fact]
    public void DenseAndSparseConnectionsBoostTheSilentNeuronsSynapsesOnly()
    {
        // h2 gets only inhibition and stays silent; h0 and h1 fire.
        var w = new double[,] { { 3, 3, -1 }, { 3, 3, -1 }, { 3, 3, -1 }, { 3, 3, -1 } };
        var mask = SparseConnectivity.FromMask(new bool[,] { { true, false, true }, { true, true, false }, { false, true, true }, { true, true, true } });
        foreach (var connectivity in new Connectivity[] { Connectivity.Dense, mask })
        {
            var net = Network.Create(1).Input("in", 4).Lif("h", 3).Readout("out", 2)
                .Connect("in", "h", Init.Values(w), connectivity).Connect("h", "out", Init.Constant(0.1)).Build();
            var before = (double[])net.Weights("in", "h").Values.Clone();
            var after = Train(net).Weights("in", "h").Values;
            var rows = net.Connections[0].Synapses;
            var ontoSilent = Enumerable.Range(0, 4).Select(pre => rows.IndexOf(pre, 2)).Where(k => k >= 0).ToHashSet();
            Assert.Equal(connectivity is SparseConnectivity ? 3 : 4, ontoSilent.Count);
            AssertChange(before, after, k => ontoSilent.Contains(k) ? Boost : 0);
        }
    }

    [Fact]
    public void AConvolutionBoostsTheKernelOfTheSilentChannelByTheBoost()
    {
        // 1×2×2 → two 1×1 kernels → 2×2×2: channel 0 excitatory, channel 1 inhibitory (all four of its neurons silent).
        var conv = Conv2dConnectivity.Create(1, 2, 2, 2, 1);
        var net = Network.Create(1).Input("in", 4).Lif("h", 8).Readout("out", 2)
            .Connect("in", "h", Init.Values(new double[,] { { 8 }, { -1 } }), conv).Connect("h", "out", Init.Constant(0.1)).Build();
        var before = (double[])net.Weights("in", "h").Values.Clone();
        var after = Train(net).Weights("in", "h").Values;
        AssertChange(before, after, k => k == 1 ? Boost : 0);
    }
}
