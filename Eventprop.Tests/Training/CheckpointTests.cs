using Eventprop.Core.Model;
using Eventprop.Core.Training;
using Eventprop.Losses;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Training;

public class CheckpointTests
{
    private static Trainer TrainedOneEpoch(Network net)
    {
        var trainer = new Trainer(net, new ScriptedEngine(gradient: n =>
        {
            var g = n.Parameters.ZerosLike();
            foreach (var p in g) Array.Fill(p.Values, 0.1);
            return g;
        }), Loss.Sum(), new TrainingOptions { Epochs = 1, BatchSize = 8, LearnTauMem = true, EarlyStopping = new EarlyStopping(TrainingMetric.TrainingLoss, RestoreBest: true) });
        trainer.Fit(TrainingTestData.TwoClassTask(16, 1));
        return trainer;
    }

    [Fact]
    public void Round_trip_restores_every_part_of_the_state()
    {
        using var dir = new TempDirectory();
        var path = dir.File("sub/run.h5");
        var trainer = TrainedOneEpoch(TrainingTestData.TwoClassNetwork());
        trainer.SaveCheckpoint(path);
        trainer.SaveCheckpoint(path); // overwriting works
        Assert.Equal(["run.h5"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));

        var other = new Trainer(TrainingTestData.TwoClassNetwork(seed: 9), new ScriptedEngine(), Loss.Sum());
        other.LoadCheckpoint(path);
        for (int p = 0; p < trainer.Network.Parameters.Count; p++)
        {
            Assert.Equal(trainer.Network.Parameters[p].Values, other.Network.Parameters[p].Values);
            Assert.Equal(trainer.Optimizer.FirstMoment![p].Values, other.Optimizer.FirstMoment![p].Values);
            Assert.Equal(trainer.Optimizer.SecondMoment![p].Values, other.Optimizer.SecondMoment![p].Values);
            Assert.Equal(trainer.BestParameters![p].Values, other.BestParameters![p].Values);
        }
        Assert.Equal(trainer.Optimizer.Step, other.Optimizer.Step);
        var (a, b) = (trainer.State, other.State);
        Assert.Equal((a.Epoch, a.Step, a.LearningRate, a.TargetLearningRate, a.EmaFast, a.EmaSlow, a.LastHalvingEpoch, a.BestMetric, a.BestEpoch, a.EpochsWithoutImprovement, a.Stopped),
            (b.Epoch, b.Step, b.LearningRate, b.TargetLearningRate, b.EmaFast, b.EmaSlow, b.LastHalvingEpoch, b.BestMetric, b.BestEpoch, b.EpochsWithoutImprovement, b.Stopped));
        Assert.Equal(a.RandomState, b.RandomState);
    }

    [Fact]
    public void Corrupt_or_wrong_files_give_one_line_errors()
    {
        using var dir = new TempDirectory();
        var trainer = TrainedOneEpoch(TrainingTestData.TwoClassNetwork());
        var good = dir.File("good.h5");
        trainer.SaveCheckpoint(good);
        var bytes = File.ReadAllBytes(good);

        var garbage = dir.File("garbage.h5");
        File.WriteAllBytes(garbage, Enumerable.Range(0, 4096).Select(i => (byte)(i * 37)).ToArray());
        var truncated = dir.File("truncated.h5");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 3)]);
        var notCheckpoint = dir.File("shd.h5");
        HeidelbergLayout.Valid().Write(notCheckpoint);
        var otherNet = Network.Create(1).Input("in", 20).Lif("hidden", 8).Readout("out", 2)
            .Connect("in", "hidden", Init.Constant(0.1)).Connect("hidden", "out", Init.Constant(0.1)).Build();

        var fresh = new Trainer(TrainingTestData.TwoClassNetwork(), new ScriptedEngine(), Loss.Sum());
        foreach (var (path, net, expected) in new[]
                 {
                     (garbage, fresh.Network, "garbage.h5"), (truncated, fresh.Network, "truncated.h5"), (notCheckpoint, fresh.Network, "not an Eventprop checkpoint"),
                     (dir.File("missing.h5"), fresh.Network, "not found"), (good, otherNet, "another network"),
                 })
        {
            var t = ReferenceEquals(net, fresh.Network) ? fresh : new Trainer(net, new ScriptedEngine(), Loss.Sum());
            var e = Assert.Throws<InvalidDataException>(() => t.LoadCheckpoint(path));
            Assert.Contains(expected, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
    }
}
