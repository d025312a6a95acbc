using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Training;
using Eventprop.Losses;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Training;

/// <summary>Training moves learned delays at their own rate, keeps them in [0, d_max], and checkpoints them.</summary>
public class LearnedDelayTrainingTests
{
    private static Network Build(bool delays = true)
    {
        var b = Network.Create(5).Input("in", 20).Lif("h", 8, tauMem: 10, tauSyn: 5).Readout("out", 2)
            .Connect("in", "h", Init.Normal(0.6, 0.3)).Connect("h", "out", Init.Normal(0, 1));
        if (delays) b.LearnedDelays("in", "h", Init.Uniform(0, 4));
        return b.Build();
    }

    [Fact]
    public void DelaysMoveStayClippedAndAreCheckpointed()
    {
        var network = Build();
        var before = (double[])network.Parameters["in->h.delay"].Values.Clone();
        var options = new TrainingOptions { Epochs = 2, BatchSize = 4, LearningRate = 0.01, DelayLearningRateScale = 200, MaxDelay = 3 };
        var trainer = new Trainer(network, new ExactEngine(40), Loss.Sum(), options);
        trainer.Fit(TrainingTestData.TwoClassTask(8, 2));
        var after = trainer.Network.Parameters["in->h.delay"].Values;
        Assert.All(after, d => Assert.InRange(d, 0, 3));
        int moved = after.Zip(before).Count(x => Math.Abs(x.First - x.Second) > 0.05);
        Assert.True(moved >= after.Length / 4, $"only {moved} of {after.Length} delays moved by more than 0.05 ms");
        Assert.Contains(after, d => d == 3); // the clip at d_max was reached (initial values up to 4 ms are above it)

        using var dir = new TempDirectory();
        var path = dir.File("run.h5");
        trainer.SaveCheckpoint(path);
        var resumed = new Trainer(Build(), new ExactEngine(40), Loss.Sum(), options);
        resumed.LoadCheckpoint(path);
        Assert.Equal(after, resumed.Network.Parameters["in->h.delay"].Values);
        var undelayed = new Trainer(Build(delays: false), new ExactEngine(40), Loss.Sum());
        var e = Assert.ThrowsAny<Exception>(() => undelayed.LoadCheckpoint(path));
        Assert.Contains("'parameters/in->h.delay' is in the checkpoint but this network has no such parameter", e.Message);
    }

    [Fact]
    public void TheDelayRateScalesOnlyTheDelays()
    {
        var scaled = new Trainer(Build(), new ExactEngine(40), Loss.Sum(), new TrainingOptions { Epochs = 1, BatchSize = 8, LearningRate = 0.01, DelayLearningRateScale = 10 });
        var plain = new Trainer(Build(), new ExactEngine(40), Loss.Sum(), new TrainingOptions { Epochs = 1, BatchSize = 8, LearningRate = 0.01 });
        var batch = TrainingTestData.TwoClassTask(8, 3);
        var initial = Build().Parameters;
        scaled.TrainMinibatch(batch, 0.01);
        plain.TrainMinibatch(batch, 0.01);
        // Adam's first step moves every value by ±η (or 0): ×10 for the delays, the weights identical.
        Assert.Equal(plain.Network.Weights("in", "h").Values, scaled.Network.Weights("in", "h").Values);
        var d0 = initial["in->h.delay"].Values;
        var dp = plain.Network.Parameters["in->h.delay"].Values;
        var ds = scaled.Network.Parameters["in->h.delay"].Values;
        // (Delays within 0.1 ms of 0 may be clipped at 0 by the scaled step: left out.)
        for (int i = 0; i < d0.Length; i++)
            if (d0[i] > 0.2) Assert.Equal(10 * (dp[i] - d0[i]), ds[i] - d0[i], 9);
        Assert.Contains(dp.Zip(d0), x => Math.Abs(x.First - x.Second) > 0.009);
    }

    [Fact]
    public void BadDelayOptionsAreRefused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(Build(), new ExactEngine(40), Loss.Sum(), new TrainingOptions { MaxDelay = 0 }));
        Assert.Contains("d_max must be > 0 ms", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(Build(), new ExactEngine(40), Loss.Sum(), new TrainingOptions { DelayLearningRateScale = -1 }));
    }
}
