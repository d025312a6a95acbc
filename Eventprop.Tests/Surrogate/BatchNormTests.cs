using Eventprop.Cli;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Nir;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Core.Training;
using Eventprop.Losses;
using Eventprop.Tests.Training;
using Xunit;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// Batch norm of hidden input currents outside the gradient: evaluation with the running statistics (a per-channel affine
/// map, no coupling of trials), the batch statistics and the running update against hand computation, checkpoint resume
/// and the model file, and the one-line refusals (Eventprop engines, NIR, recurrent layers, config keys).
/// </summary>
public class BatchNormTests
{
    private static Network OneInputNetwork(bool batchNorm, double inputWeight = 2.0)
    {
        var b = Network.Create(1).Input("in", 2)
            .Lif("h", 3, tauMem: 10, tauSyn: 4, threshold: 0.5)
            .Readout("out", 2, tauMem: 10, tauSyn: 4)
            .Connect("in", "h", Init.Constant(inputWeight))
            .Connect("h", "out", Init.Normal(0, 1));
        if (batchNorm) b.BatchNorm("h");
        return b.Build();
    }

    private static SpikeSample[] Batch() =>
    [
        new SpikeSample([0.1, 2.0, 2.1, 5.0], [0, 1, 0, 0], label: 0),
        new SpikeSample([1.0, 1.1, 3.0], [1, 1, 0], label: 1),
        new SpikeSample([4.0], [0], label: 0),
    ];

    /// <summary>
    /// (d) Evaluation is the running statistics' affine map y = m·x + (β − m·μ_run), m = γ/√(σ²_run + ε): with β = m·μ_run it
    /// equals the plain network whose input weights are scaled by m; a β off that value changes the result; and the batch
    /// loss is the mean of the single-trial losses (no coupling), unlike the training loss.
    /// </summary>
    [Fact]
    public void EvaluationUsesTheRunningStatistics()
    {
        var engine = new SurrogateEngine(0.5, 8, new SurrogateOptions { DoublePrecision = true, Threads = 1 });
        var net = OneInputNetwork(true);
        double mean = 0.3, variance = 0.7, gamma = 1.3, m = gamma / Math.Sqrt(variance + BatchNorm.Epsilon);
        Array.Fill(net.Parameters["h.bn_running_mean"].Values, mean);
        Array.Fill(net.Parameters["h.bn_running_var"].Values, variance);
        Array.Fill(net.Parameters["h.bn_scale"].Values, gamma);
        Array.Fill(net.Parameters["h.bn_bias"].Values, m * mean);
        var plain = OneInputNetwork(false, 2.0 * m);
        net.Parameters["h->out"].Values.CopyTo(plain.Parameters["h->out"].Values, 0);
        var batch = Batch();
        var a = engine.Evaluate(net, batch, Loss.SumExp());
        var b = engine.Evaluate(plain, batch, Loss.SumExp());
        Assert.Equal(b.Loss, a.Loss, 12);
        Assert.Equal(b.HiddenSpikeCounts["h"], a.HiddenSpikeCounts["h"]);
        Assert.True(b.HiddenSpikeCounts["h"].Sum() > 0);
        double single = batch.Average(s => engine.Evaluate(net, [s], Loss.SumExp()).Loss);
        Assert.Equal(single, a.Loss, 12);
        Array.Fill(net.Parameters["h.bn_bias"].Values, m * mean + 0.5);
        Assert.NotEqual(a.Loss, engine.Evaluate(net, batch, Loss.SumExp()).Loss, 6);
        double trainingSingle = batch.Average(s => engine.Gradient(net, [s], Loss.SumExp()).Loss);
        Assert.NotEqual(trainingSingle, engine.Gradient(net, batch, Loss.SumExp()).Loss, 6);
    }

    /// <summary>
    /// (d) The batch statistics of a layer fed only by the input are those of x_d = w·(spikes in bin d) over trials × steps,
    /// computed by hand; the running update is (1 − m)·old + m·batch with the unbiased variance, and the trainer applies it
    /// after its step with training.batch_norm_momentum.
    /// </summary>
    [Theory]
    [InlineData(Discretisation.ExactPropagator)]
    [InlineData(Discretisation.ZenkeVogels)]
    public void BatchStatisticsAndTheRunningUpdateMatchHandComputation(Discretisation scheme)
    {
        var net = OneInputNetwork(true);
        var engine = new SurrogateEngine(1.0, 8, new SurrogateOptions { DoublePrecision = true, Threads = 2, Discretisation = scheme });
        var batch = Batch();
        var result = engine.Gradient(net, batch, Loss.SumExp());
        // dt = 1: bins round to the nearest grid point; 8 bins per trial, 3 trials. Spikes (bin): trial 0: 0, 2, 2, 5; trial 1: 1, 1, 3; trial 2: 4.
        // Each h neuron gets w = 2 per spike of either channel: x ∈ {2 (bins 0, 5 of trial 0; 3 of trial 1; 4 of trial 2), 4 (bin 2 of trial 0; bin 1 of trial 1)}.
        double[] values = [2, 0, 4, 0, 0, 2, 0, 0, /**/ 0, 4, 0, 2, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 2, 0, 0, 0];
        double mu = values.Average(), var = values.Select(x => (x - mu) * (x - mu)).Average();
        var stats = result.BatchNorm!["h"];
        Assert.Equal(24, stats.Count);
        foreach (double x in stats.Mean) Assert.Equal(mu, x, 12);
        foreach (double x in stats.Variance) Assert.Equal(var, x, 12);
        Assert.All(net.Parameters["h.bn_running_mean"].Values, x => Assert.Equal(0, x));
        var updated = net.Parameters.Clone();
        BatchNorm.UpdateRunningStatistics(updated, result.BatchNorm!, 0.25);
        foreach (double x in updated["h.bn_running_mean"].Values) Assert.Equal(0.25 * mu, x, 12);
        foreach (double x in updated["h.bn_running_var"].Values) Assert.Equal(0.75 * 1 + 0.25 * var * 24 / 23, x, 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchNorm.UpdateRunningStatistics(updated, result.BatchNorm!, 0));
        // The trainer folds the statistics of its step in (learning rate tiny so the weights hardly move; statistics come from the pre-step network).
        var trainer = new Trainer(net, engine, Loss.SumExp(), new TrainingOptions { Epochs = 1, BatchSize = 3, LearningRate = 1e-12, EaseIn = false, HalvingSchedule = false, Seed = 1, BatchNormMomentum = 0.25 });
        trainer.TrainEpoch(batch, null, []);
        foreach (double x in net.Parameters["h.bn_running_mean"].Values) Assert.Equal(0.25 * mu, x, 12);
        foreach (double x in net.Parameters["h.bn_running_var"].Values) Assert.Equal(0.75 + 0.25 * var * 24 / 23, x, 12);
    }

    /// <summary>(e) Resuming a batch-norm run from its checkpoint (running statistics included) gives the uninterrupted run's state bit for bit.</summary>
    [Fact]
    public void ResumingABatchNormRunIsBitIdentical()
    {
        var train = TrainingTestData.TwoClassTask(24, seed: 1);
        using var dir = new Data.TempDirectory();
        static Network Net() => Network.Create(1).Input("in", 20).Lif("hidden", 8, tauMem: 20, tauSyn: 5).Lif("h2", 6, tauMem: 20, tauSyn: 5)
            .Readout("out", 2, tauMem: 20, tauSyn: 5).Connect("in", "hidden", Init.Normal(0.8, 0.4)).Connect("hidden", "h2", Init.Normal(0.2, 0.5))
            .Connect("h2", "out", Init.Normal(0, 0.3)).BatchNorm("hidden").BatchNorm("h2").Build();
        static SurrogateEngine Engine() => new(1, 40, new SurrogateOptions { Threads = 2 });
        var options = new TrainingOptions { Epochs = 3, BatchSize = 8, LearningRate = 5e-3, Seed = 11, InputDropout = 0.1, LearnTauMem = true, BatchNormMomentum = 0.2 };
        var straightNet = Net();
        new Trainer(straightNet, Engine(), Loss.Sum(), options).Fit(train, null);
        var firstNet = Net();
        var first = new Trainer(firstNet, Engine(), Loss.Sum(), options);
        var checkpoints = new CheckpointCallback(dir.Path);
        first.TrainEpoch(train, null, [checkpoints]);
        var resumedNet = Net();
        var resumed = new Trainer(resumedNet, Engine(), Loss.Sum(), options);
        resumed.LoadCheckpoint(checkpoints.LatestPath);
        Assert.Equal(firstNet.Parameters["h2.bn_running_var"].Values, resumedNet.Parameters["h2.bn_running_var"].Values);
        resumed.Fit(train, null);
        for (int p = 0; p < straightNet.Parameters.Count; p++) Assert.Equal(straightNet.Parameters[p].Values, resumedNet.Parameters[p].Values);
        Assert.NotEqual(1.0, straightNet.Parameters["hidden.bn_running_var"].Values[0]);
        Assert.NotEqual(1.0, straightNet.Parameters["hidden.bn_scale"].Values[0]);
    }

    /// <summary>(e) model.json keeps the scale, bias and running statistics exactly, per channel for a conv layer.</summary>
    [Fact]
    public void TheModelFileRoundTripsBatchNorm()
    {
        var (net, _) = new BatchNormCase(5, Conv: true, Deep: true, SecondNormalised: true, Trials: 3).Build();
        var rng = new Random(3);
        foreach (var p in net.Parameters.Where(p => p.Kind == ParameterKind.BatchNormRunningMean || p.Kind == ParameterKind.BatchNormRunningVariance))
            for (int i = 0; i < p.Length; i++) p.Values[i] = rng.NextDouble();
        Assert.Equal(2, net.Parameters["h0.bn_scale"].Length); // per channel
        using var dir = new Data.TempDirectory();
        string path = Path.Combine(dir.Path, "model.json");
        ModelFiles.WriteModel(path, net, 8);
        var back = ModelFiles.ReadModel(path).Network;
        Assert.Equal(net.BatchNormalized.Select(p => p.Name), back.BatchNormalized.Select(p => p.Name));
        Assert.Equal(net.Parameters.Select(p => (p.Name, p.Trainable)), back.Parameters.Select(p => (p.Name, p.Trainable)));
        for (int i = 0; i < net.Parameters.Count; i++) Assert.Equal(net.Parameters[i].Values, back.Parameters[i].Values);
    }

    private static void AssertOneLine(Exception e, params string[] contains)
    {
        Assert.DoesNotContain('\n', e.Message);
        foreach (var s in contains) Assert.Contains(s, e.Message);
    }

    /// <summary>(f) The Eventprop engines and NIR export refuse a batch-norm network in one line naming the layer and the fix.</summary>
    [Fact]
    public void EventpropEnginesAndNirRefuseBatchNorm()
    {
        var net = OneInputNetwork(true);
        var batch = Batch();
        AssertOneLine(Assert.Throws<ArgumentException>(() => new ExactEngine(8).Gradient(net, batch, Loss.Sum())), "'h'", "method surrogate", "per trial");
        AssertOneLine(Assert.Throws<ArgumentException>(() => new SteppedEngine(1, 8).Evaluate(net, batch, Loss.Sum())), "'h'", "method surrogate");
        AssertOneLine(Assert.Throws<ArgumentException>(() => NirExport.ToGraph(net)), "'h'", "batch norm");
    }

    /// <summary>(f) Batch norm on a recurrent layer, or in a network with a backward connection, is refused by the builder in one line.</summary>
    [Fact]
    public void BatchNormOnARecurrentLayerIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => Network.Create(1).Input("in", 2).Lif("h", 3).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1)).Connect("h", "h", Init.Constant(0.1)).Connect("h", "out", Init.Constant(1)).BatchNorm("h").Build());
        AssertOneLine(e, "h->h", "recurrent", "feed-forward");
        e = Assert.Throws<ArgumentException>(() => Network.Create(1).Input("in", 2).Lif("h", 3).Readout("out", 2)
            .Connect("in", "h", Init.Constant(1)).Connect("h", "out", Init.Constant(1)).BatchNorm("out").Build());
        AssertOneLine(e, "'out' is not a hidden population");
    }

    /// <summary>(f) The config keys: batch_norm with method eventprop, on a recurrent layer, a bad momentum, a non-boolean value — one line each in the user's words.</summary>
    [Fact]
    public void ConfigMistakesAreOneLine()
    {
        string[] layers = ["""network.hidden=[{"size": 8}, {"size": 6, "batch_norm": true}]""", "network.recurrent=false"];
        AssertOneLine(Assert.Throws<UserError>(() => RunConfig.Load(null, [.. layers, "method=eventprop"])), "network.hidden[1].batch_norm needs method surrogate");
        AssertOneLine(Assert.Throws<UserError>(() => RunConfig.Load(null, [.. layers, "method=surrogate", "training.batch_norm_momentum=0"])), "training.batch_norm_momentum must be in (0, 1]");
        AssertOneLine(Assert.Throws<UserError>(() => RunConfig.Load(null, [.. layers, "method=surrogate", "training.batch_norm_momentum=1.5"])), "training.batch_norm_momentum");
        AssertOneLine(Assert.Throws<UserError>(() => RunConfig.Load(null, ["""network.hidden=[{"size": 8, "batch_norm": true}]""", "network.recurrent=true", "method=surrogate"])),
            "network.hidden[0].batch_norm needs a feed-forward layer", "network.recurrent");
        AssertOneLine(Assert.Throws<UserError>(() => RunConfig.Load(null, ["""network.hidden=[{"size": 8, "batch_norm": 1}]""", "method=surrogate"])), "network.hidden[0].batch_norm must be true or false");
        var ok = RunConfig.Load(null, [.. layers, "method=surrogate", "training.batch_norm_momentum=0.2"]);
        Assert.Equal(0.2, ok.Training.BatchNormMomentum);
        Assert.True(ok.Network.Hidden[1].BatchNorm);
        var net = ok.Network.Build(1, 20, 2, spikingReadout: false);
        Assert.Equal(["hidden1"], net.BatchNormalized.Select(p => p.Name));
    }
}
