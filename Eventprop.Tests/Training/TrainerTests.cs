using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Training;
using Eventprop.Losses;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Training;

public class TrainerTests(ITestOutputHelper output)
{
    [Fact]
    public void Stepped_engine_and_trainer_learn_a_two_class_spike_task()
    {
        var train = TrainingTestData.TwoClassTask(120, seed: 1);
        var test = TrainingTestData.TwoClassTask(60, seed: 2);
        var net = TrainingTestData.TwoClassNetwork();
        var trainer = new Trainer(net, new SteppedEngine(dt: 1, duration: 50), Loss.Sum(),
            new TrainingOptions { Epochs = 15, BatchSize = 16, LearningRate = 1e-2, EaseIn = false, Seed = 3 });
        var before = trainer.Evaluate(test).Accuracy;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var history = trainer.Fit(train, test);
        var after = trainer.Evaluate(test).Accuracy;
        output.WriteLine($"test accuracy {before:P0} → {after:P0} in {watch.Elapsed.TotalSeconds:F2} s; last epoch {history[^1]}");
        Assert.True(after >= 0.9, $"test accuracy {after:P1} after training (was {before:P1})");
        Assert.Equal(15, history.Count);
        Assert.Equal(15, trainer.State.Epoch);
    }

    private static TrainingOptions RichOptions(int epochs = 2) => new()
    {
        Epochs = epochs, BatchSize = 16, LearningRate = 5e-3, Seed = 11, InputDropout = 0.2, LearnTauMem = true, LearnTauSyn = true,
        HeterogeneousTauInit = true, Regularization = new Core.Losses.ActivityRegularization(1e-3, 2),
        EarlyStopping = new EarlyStopping(TrainingMetric.ValidationLoss, Patience: 5),
    };

    [Fact]
    public void Same_seed_gives_bit_identical_weights_after_an_epoch()
    {
        var train = TrainingTestData.TwoClassTask(48, seed: 1);
        var val = TrainingTestData.TwoClassTask(16, seed: 2);
        ParameterSet Run(long seed)
        {
            var net = TrainingTestData.TwoClassNetwork();
            var trainer = new Trainer(net, new SteppedEngine(1, 50, threads: 2), Loss.Sum(), RichOptions(1) with { Seed = seed });
            trainer.Fit(train, val);
            return net.Parameters;
        }
        var a = Run(11);
        var b = Run(11);
        var c = Run(12);
        for (int p = 0; p < a.Count; p++) Assert.Equal(a[p].Values, b[p].Values);
        Assert.NotEqual(a["in->hidden"].Values, c["in->hidden"].Values);
    }

    [Fact]
    public void Resuming_from_a_checkpoint_gives_the_same_weights_as_an_uninterrupted_run()
    {
        var train = TrainingTestData.TwoClassTask(48, seed: 1);
        var val = TrainingTestData.TwoClassTask(16, seed: 2);
        using var dir = new Data.TempDirectory();

        var straightNet = TrainingTestData.TwoClassNetwork();
        var straight = new Trainer(straightNet, new SteppedEngine(1, 50, threads: 2), Loss.Sum(), RichOptions(3));
        straight.Fit(train, val);

        var firstNet = TrainingTestData.TwoClassNetwork();
        var first = new Trainer(firstNet, new SteppedEngine(1, 50, threads: 2), Loss.Sum(), RichOptions(3));
        var checkpoints = new CheckpointCallback(dir.Path);
        first.TrainEpoch(train, val, [checkpoints]);

        var resumedNet = TrainingTestData.TwoClassNetwork();
        var resumed = new Trainer(resumedNet, new SteppedEngine(1, 50, threads: 2), Loss.Sum(), RichOptions(3));
        resumed.LoadCheckpoint(checkpoints.LatestPath);
        Assert.Equal(1, resumed.State.Epoch);
        var rest = resumed.Fit(train, val);
        Assert.Equal(2, rest.Count);

        for (int p = 0; p < straightNet.Parameters.Count; p++)
        {
            Assert.Equal(straightNet.Parameters[p].Values, resumedNet.Parameters[p].Values);
            Assert.Equal(straight.Optimizer.FirstMoment![p].Values, resumed.Optimizer.FirstMoment![p].Values);
            Assert.Equal(straight.Optimizer.SecondMoment![p].Values, resumed.Optimizer.SecondMoment![p].Values);
        }
        Assert.Equal(straight.State.RandomState, resumed.State.RandomState);
        Assert.Equal(straight.State.LearningRate, resumed.State.LearningRate);
        Assert.Equal(straight.State.Step, resumed.State.Step);
        Assert.Equal(straight.State.EmaSlow, resumed.State.EmaSlow);
        Assert.Equal(straight.State.BestMetric, resumed.State.BestMetric);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Fact]
    public void Resuming_an_AdamW_one_cycle_run_gives_the_same_weights_as_an_uninterrupted_run()
    {
        // The schedule is a function of the update count, which the checkpoint holds; β1 cycles with it.
        var train = TrainingTestData.TwoClassTask(48, seed: 1);
        var options = RichOptions(3) with { WeightDecay = 0.05, OneCycle = new OneCycleSchedule(), LearningRate = 2e-2 };
        using var dir = new Data.TempDirectory();
        var straightNet = TrainingTestData.TwoClassNetwork();
        var straight = new Trainer(straightNet, new SteppedEngine(1, 50, threads: 2), Loss.Sum(), options with { EarlyStopping = null });
        straight.Fit(train);
        var firstNet = TrainingTestData.TwoClassNetwork();
        var first = new Trainer(firstNet, new SteppedEngine(1, 50, threads: 2), Loss.Sum(), options with { EarlyStopping = null });
        var checkpoints = new CheckpointCallback(dir.Path);
        first.TrainEpoch(train, null, [checkpoints]);
        var resumedNet = TrainingTestData.TwoClassNetwork();
        var resumed = new Trainer(resumedNet, new SteppedEngine(1, 50, threads: 2), Loss.Sum(), options with { EarlyStopping = null });
        resumed.LoadCheckpoint(checkpoints.LatestPath);
        resumed.Fit(train);
        for (int p = 0; p < straightNet.Parameters.Count; p++)
        {
            Assert.Equal(straightNet.Parameters[p].Values, resumedNet.Parameters[p].Values);
            Assert.Equal(straight.Optimizer.FirstMoment![p].Values, resumed.Optimizer.FirstMoment![p].Values);
        }
        Assert.Equal(straight.State.LearningRate, resumed.State.LearningRate);
        Assert.NotEqual(firstNet.Parameters["in->hidden"].Values, resumedNet.Parameters["in->hidden"].Values);
    }

    [Fact]
    public void The_exact_engine_trains_through_the_same_trainer()
    {
        var train = TrainingTestData.TwoClassTask(16, seed: 1);
        var net = TrainingTestData.TwoClassNetwork();
        var before = net.Parameters.Clone();
        var trainer = new Trainer(net, new ExactEngine(50), Loss.Sum(), new TrainingOptions { Epochs = 1, BatchSize = 8, LearningRate = 1e-2, EaseIn = false });
        var m = trainer.Fit(train);
        Assert.Single(m);
        Assert.NotEqual(before["hidden->out"].Values, net.Parameters["hidden->out"].Values);
    }

    [Fact]
    public void Learning_rate_eases_in_by_five_percent_per_minibatch()
    {
        var engine = new ScriptedEngine();
        var trainer = new Trainer(TrainingTestData.TwoClassNetwork(), engine, Loss.Sum(),
            new TrainingOptions { Epochs = 1, BatchSize = 4, LearningRate = 1e-2, HalvingSchedule = false, SilentNeuronBoost = 0 });
        var seen = new List<double>();
        trainer.Fit(TrainingTestData.TwoClassTask(40, 1), callbacks: [new ProgressCallback(p => seen.Add(p.LearningRate))]);
        Assert.Equal(10, seen.Count);
        for (int i = 0; i < seen.Count; i++) Assert.Equal(1e-5 * Math.Pow(1.05, i), seen[i], 1e-15);
        // Reaches η and stays there.
        var fast = new Trainer(TrainingTestData.TwoClassNetwork(), engine, Loss.Sum(),
            new TrainingOptions { Epochs = 1, BatchSize = 1, LearningRate = 1e-2, EaseInStartFactor = 0.5, HalvingSchedule = false });
        fast.Fit(TrainingTestData.TwoClassTask(40, 1));
        Assert.Equal(1e-2, fast.State.LearningRate);
    }

    [Fact]
    public void Two_ema_schedule_halves_the_learning_rate_when_the_metric_falls()
    {
        // Accuracy rises for 4 epochs, then falls: the fast EMA drops below the slow one and η halves, at most every 3 epochs.
        int batchesPerEpoch = 2;
        var engine = new ScriptedEngine(accuracy: call => { int epoch = (call - 1) / batchesPerEpoch; return epoch < 4 ? 0.25 * epoch : 0.0; });
        var trainer = new Trainer(TrainingTestData.TwoClassNetwork(), engine, Loss.Sum(),
            new TrainingOptions { Epochs = 12, BatchSize = 8, LearningRate = 1e-2, EaseIn = false, HalvingMinimumEpochs = 3, SilentNeuronBoost = 0 });
        var history = trainer.Fit(TrainingTestData.TwoClassTask(16, 1));
        var rates = history.Select(h => h.LearningRate).ToArray();
        output.WriteLine(string.Join(", ", rates));
        // x = 0, .25, .5, .75, 0, 0, …: fast EMA .262 vs slow .203 after epoch 4, and the fast one first falls below the
        // slow one after epoch 9 (.0858 < .0902); then both keep decaying with fast < slow, so η halves again 3 epochs later.
        Assert.All(rates[..8], r => Assert.Equal(1e-2, r));
        Assert.Equal(5e-3, rates[8]);
        Assert.Equal(5e-3, rates[9]);
        Assert.Equal(5e-3, rates[10]);
        Assert.Equal(2.5e-3, rates[11]);
        Assert.Equal(12, trainer.State.LastHalvingEpoch);
        Assert.Equal(history.Count, trainer.State.Epoch);
    }

    [Fact]
    public void Silent_hidden_neurons_get_a_boost_on_all_incoming_weights()
    {
        var engine = new ScriptedEngine(counts: p => Enumerable.Range(0, p.Size).Select(i => i == 3 ? 0L : 5L).ToArray());
        var net = TrainingTestData.TwoClassNetwork();
        var before = net.Parameters.Clone();
        var trainer = new Trainer(net, engine, Loss.Sum(), new TrainingOptions { Epochs = 1, BatchSize = 8, HalvingSchedule = false });
        var m = trainer.Fit(TrainingTestData.TwoClassTask(16, 1));
        Assert.Equal(1, m[0].SilentNeurons);
        foreach (var name in new[] { "in->hidden", "hidden->hidden" })
        {
            var w = net.Parameters[name];
            for (int pre = 0; pre < w.Rows; pre++)
                for (int post = 0; post < w.Columns; post++)
                    Assert.Equal(before[name][pre, post] + (post == 3 ? 0.002 : 0), w[pre, post], 1e-15);
        }
        Assert.Equal(before["hidden->out"].Values, net.Parameters["hidden->out"].Values);
    }

    [Fact]
    public void Learned_time_constants_are_clipped_and_frozen_ones_untouched()
    {
        // A huge positive τ gradient drives every τ down; clipping keeps τm ≥ 3 ms and τs ≥ 1 ms.
        var engine = new ScriptedEngine(gradient: n =>
        {
            var g = n.Parameters.ZerosLike();
            foreach (var p in g)
                if (p.Kind != ParameterKind.Weight) Array.Fill(p.Values, 1e6);
            return g;
        });
        var net = TrainingTestData.TwoClassNetwork();
        var trainer = new Trainer(net, engine, Loss.Sum(), new TrainingOptions { Epochs = 30, BatchSize = 8, LearningRate = 1, EaseIn = false, LearnTauMem = true, HalvingSchedule = false });
        trainer.Fit(TrainingTestData.TwoClassTask(16, 1));
        Assert.All(net.TauMem("hidden").Values, t => Assert.Equal(3, t));
        Assert.All(net.TauMem("out").Values, t => Assert.Equal(3, t));
        Assert.All(net.TauSyn("hidden").Values, t => Assert.Equal(5, t)); // τs not learned

        var net2 = TrainingTestData.TwoClassNetwork();
        new Trainer(net2, engine, Loss.Sum(), new TrainingOptions { Epochs = 30, BatchSize = 8, LearningRate = 1, EaseIn = false, LearnTauSyn = true, HalvingSchedule = false })
            .Fit(TrainingTestData.TwoClassTask(16, 1));
        Assert.All(net2.TauSyn("hidden").Values, t => Assert.Equal(1, t));
        Assert.All(net2.TauMem("hidden").Values, t => Assert.Equal(20, t));
    }

    [Fact]
    public void Heterogeneous_tau_initialisation_draws_gamma_values_within_the_clip()
    {
        var net = Network.Create(1).Input("in", 4).Lif("hidden", 2000, tauMem: 20, tauSyn: 5).Readout("out", 2)
            .Connect("in", "hidden", Init.Constant(0.1)).Connect("hidden", "out", Init.Constant(0.1)).Build();
        _ = new Trainer(net, new ScriptedEngine(), Loss.Sum(), new TrainingOptions { HeterogeneousTauInit = true, Seed = 5 });
        var tm = net.TauMem("hidden").Values;
        var ts = net.TauSyn("hidden").Values;
        Assert.All(tm, t => Assert.InRange(t, 3, 60));
        Assert.All(ts, t => Assert.InRange(t, 1, 15));
        Assert.InRange(tm.Average(), 18.5, 21); // Gamma(3, τ̄/3) has mean τ̄ (the clip trims a little of the tail)
        Assert.InRange(ts.Average(), 4.6, 5.25);
        double sd = Math.Sqrt(tm.Select(t => (t - tm.Average()) * (t - tm.Average())).Average());
        Assert.InRange(sd, 20 / Math.Sqrt(3) * 0.85, 20 / Math.Sqrt(3) * 1.1); // sd of Gamma(3, θ) is √3·θ
        Assert.All(net.TauMem("out").Values, t => Assert.Equal(20, t));
    }

    [Fact]
    public void Input_dropout_delivers_about_one_minus_p_of_the_spikes()
    {
        var engine = new ScriptedEngine();
        var data = TrainingTestData.TwoClassTask(200, 1);
        new Trainer(TrainingTestData.TwoClassNetwork(), engine, Loss.Sum(), new TrainingOptions { Epochs = 1, InputDropout = 0.25 }).Fit(data);
        double fraction = engine.InputSpikesSeen.Sum() / (double)data.Sum(s => s.Count);
        Assert.InRange(fraction, 0.72, 0.78);
    }

    [Fact]
    public void Early_stopping_ends_the_run_and_can_restore_the_best_parameters()
    {
        // Validation accuracy: 0.5 in epoch 1, then 0.25 forever; the weights keep changing through a constant gradient.
        int call = 0;
        var engine = new ScriptedEngine(gradient: n =>
        {
            var g = n.Parameters.ZerosLike();
            Array.Fill(g["hidden->out"].Values, 1.0);
            return g;
        }, accuracy: c => { call = c; return c <= 3 ? 0.5 : 0.25; });
        var net = TrainingTestData.TwoClassNetwork();
        var trainer = new Trainer(net, engine, Loss.Sum(), new TrainingOptions
        {
            Epochs = 50, BatchSize = 8, EaseIn = false, LearningRate = 0.1, HalvingSchedule = false,
            EarlyStopping = new EarlyStopping(TrainingMetric.ValidationAccuracy, Patience: 3, RestoreBest: true),
        });
        var history = trainer.Fit(TrainingTestData.TwoClassTask(16, 1), TrainingTestData.TwoClassTask(8, 2));
        Assert.Equal(4, history.Count); // best at epoch 1, then 3 epochs without improvement
        Assert.True(trainer.State.Stopped);
        Assert.Equal(1, trainer.State.BestEpoch);
        Assert.NotNull(trainer.BestParameters);
        Assert.Equal(trainer.BestParameters!["hidden->out"].Values, net.Parameters["hidden->out"].Values);
    }

    [Fact]
    public void A_non_finite_gradient_stops_training_naming_epoch_batch_and_parameter()
    {
        var engine = new ScriptedEngine(gradient: n =>
        {
            var g = n.Parameters.ZerosLike();
            g["hidden->out"].Values[2] = double.NaN;
            return g;
        });
        var net = TrainingTestData.TwoClassNetwork();
        var before = net.Parameters.Clone();
        var trainer = new Trainer(net, engine, Loss.Sum(), new TrainingOptions { Epochs = 2 });
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(TrainingTestData.TwoClassTask(16, 1)));
        Assert.Equal(1, e.Epoch);
        Assert.Equal(1, e.Batch);
        Assert.Equal("hidden->out", e.Parameter);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(before["hidden->out"].Values, net.Parameters["hidden->out"].Values); // nothing applied
    }

    [Fact]
    public void Bad_options_give_one_line_errors()
    {
        var net = TrainingTestData.TwoClassNetwork();
        foreach (var o in new[]
                 {
                     new TrainingOptions { BatchSize = 0 }, new TrainingOptions { LearningRate = double.NaN }, new TrainingOptions { InputDropout = 1 },
                     new TrainingOptions { EaseInGrowth = 1 }, new TrainingOptions { TauMemMinimum = 0 },
                     new TrainingOptions { EarlyStopping = new EarlyStopping(Patience: 0) },
                 })
        {
            var e = Assert.ThrowsAny<ArgumentException>(() => new Trainer(net, new ScriptedEngine(), Loss.Sum(), o));
            Assert.DoesNotContain('\n', e.Message.Split(" (Parameter")[0]);
        }
        var t = new Trainer(net, new ScriptedEngine(), Loss.Sum());
        Assert.Throws<ArgumentException>(() => t.Fit(Array.Empty<SpikeSample>()));
        var noValidation = new Trainer(net, new ScriptedEngine(), Loss.Sum(), new TrainingOptions { EarlyStopping = new EarlyStopping(TrainingMetric.ValidationAccuracy) });
        var e2 = Assert.Throws<ArgumentException>(() => noValidation.Fit(TrainingTestData.TwoClassTask(8, 1)));
        Assert.Contains("validation", e2.Message);
        Assert.Equal(0, noValidation.State.Epoch);
    }
}
