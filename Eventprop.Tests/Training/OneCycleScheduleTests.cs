using Eventprop.Core.Model;
using Eventprop.Core.Training;
using Xunit;

namespace Eventprop.Tests.Training;

public class OneCycleScheduleTests
{
    [Fact]
    public void Learning_rate_and_momentum_at_the_start_the_peak_and_the_end_follow_PyTorch_OneCycleLR()
    {
        // PyTorch defaults: pct_start 0.3, div 25, final_div 1e4, cosine; 100 updates → warm-up ends at 0.3·100 − 1 = 29.
        var s = new OneCycleSchedule();
        const double max = 0.01;
        Assert.Equal(4e-4, s.LearningRate(0, 100, max), 15);         // η_max/25
        Assert.Equal(0.01, s.LearningRate(29, 100, max), 15);        // the peak
        Assert.Equal(4e-8, s.LearningRate(99, 100, max), 15);        // η_max/(25·1e4)
        Assert.Equal(0.00500002, s.LearningRate(64, 100, max), 15);  // half-way down (35 of 70): the mean of 0.01 and 4e-8
        Assert.Equal(4e-8, s.LearningRate(150, 100, max), 15);       // past the end: the last value
        // Warm-up update 10: p = 10/29, η = 0.01 + (4e-4 − 0.01)/2·(cos(π·10/29) + 1).
        Assert.Equal(0.01 + (4e-4 - 0.01) / 2 * (Math.Cos(Math.PI * 10 / 29) + 1), s.LearningRate(10, 100, max), 15);
        Assert.Equal(0.95, s.Beta1(0, 100)!.Value, 15);
        Assert.Equal(0.85, s.Beta1(29, 100)!.Value, 15);
        Assert.Equal(0.90, s.Beta1(64, 100)!.Value, 15);
        Assert.Equal(0.95, s.Beta1(99, 100)!.Value, 15);
        Assert.Null((s with { CycleMomentum = false }).Beta1(0, 100));
    }

    [Fact]
    public void Linear_anneal_is_a_straight_line_between_the_same_end_points()
    {
        var s = new OneCycleSchedule(WarmupFraction: 0.5, DivFactor: 10, FinalDivFactor: 100, Anneal: AnnealStrategy.Linear);
        // 11 updates: warm-up ends at 0.5·11 − 1 = 4.5; from 0.1 to 1 over 0–4.5, then to 0.001 over 4.5–10.
        Assert.Equal(0.1, s.LearningRate(0, 11, 1), 15);
        Assert.Equal(0.1 + 0.9 * 4 / 4.5, s.LearningRate(4, 11, 1), 15);
        Assert.Equal(1 + (0.001 - 1) * (7 - 4.5) / 5.5, s.LearningRate(7, 11, 1), 15);
        Assert.Equal(0.001, s.LearningRate(10, 11, 1), 15);
    }

    [Fact]
    public void The_trainer_steps_the_schedule_over_all_epochs_and_cycles_Adams_beta1()
    {
        var net = TrainingTestData.TwoClassNetwork();
        var engine = new ScriptedEngine(gradient: n => { var g = n.Parameters.ZerosLike(); foreach (var p in g) Array.Fill(p.Values, 1.0); return g; });
        const double max = 0.02;
        var trainer = new Trainer(net, engine, Eventprop.Losses.Loss.Sum(), new TrainingOptions
        {
            Epochs = 2, BatchSize = 4, LearningRate = max, OneCycle = new OneCycleSchedule(), SilentNeuronBoost = 0,
        });
        var rates = new List<double>();
        double? firstMoment = null;
        var train = TrainingTestData.TwoClassTask(20, seed: 1); // 5 minibatches per epoch, 10 updates: warm-up ends at update 2
        trainer.Fit(train, callbacks: [new ProgressCallback(p => rates.Add(p.LearningRate)),
            new FirstMomentProbe(t => firstMoment ??= t.Optimizer.FirstMoment![0].Values[0])]);
        Assert.Equal(10, rates.Count);
        Assert.Equal(max / 25, rates[0], 15);
        Assert.Equal(max + (max / 25 - max) / 2 * (Math.Cos(Math.PI * 0.5) + 1), rates[1], 15);
        Assert.Equal(max, rates[2], 15);
        Assert.Equal(max / 25 / 1e4 + (max - max / 25 / 1e4) / 2 * (Math.Cos(Math.PI * 3 / 7) + 1), rates[5], 15);
        Assert.Equal(max / 25 / 1e4, rates[9], 15);
        Assert.Equal(1 - 0.95, firstMoment!.Value, 15); // m₁ = (1 − β1(0))·g with β1(0) = 0.95, not 0.9
        Assert.Equal(max / 25 / 1e4, trainer.State.LearningRate, 15);
    }

    [Fact]
    public void Bad_one_cycle_settings_are_refused_naming_them()
    {
        Assert.Contains("warm-up fraction", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { OneCycle = new(WarmupFraction: 1) }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("div factor", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { OneCycle = new(DivFactor: 0.5) }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("momenta", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { OneCycle = new(BaseMomentum: 0.99) }.Validate()).Message, StringComparison.Ordinal);
    }

    private sealed class FirstMomentProbe(Action<Trainer> onBatch) : ITrainingCallback
    {
        public void OnBatchEnd(Trainer trainer, BatchProgress progress) => onBatch(trainer);
    }
}
