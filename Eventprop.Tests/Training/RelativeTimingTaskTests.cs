using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Training;
using Eventprop.Losses;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Training;

/// <summary>
/// The acceptance run of issue 17 for learned delays, small enough for a test: on <see cref="RelativeTimingTask"/> a network
/// without delays stays at chance, the same network with learned delays beats it by ≥ 20 points, over 3 seeds.
/// </summary>
/// <remarks>With 16 hidden neurons and initial delays uniform in [0, 30] ms some neurons already see the two spikes
/// coincide for one class, so the initial delays frozen solve the task as well (printed): this run shows that delays are
/// simulated and trained end to end, not that learning them is needed. With 4 neurons, learned delays beat frozen ones in
/// 1 of 3 seeds (100 % vs 50 %); in the others no hidden neuron fires, and without spikes there is no gradient.</remarks>
public class RelativeTimingTaskTests(ITestOutputHelper output)
{
    private static Network Build(int seed, bool delays)
    {
        var b = Network.Create(seed).Input("in", 2).Lif("h", 16, tauMem: 2, tauSyn: 1).Readout("out", 2, tauMem: 10, tauSyn: 5)
            .Connect("in", "h", Init.Normal(3.2, 0.4)).Connect("h", "out", Init.Normal(0, 0.5));
        if (delays) b.LearnedDelays("in", "h", Init.Uniform(0, 30));
        return b.Build();
    }

    [Fact]
    public void LearnedDelaysSolveWhatFixedTimingCannot()
    {
        const double duration = 80;
        var results = new List<(double Without, double With, double Moved)>();
        for (int seed = 1; seed <= 3; seed++)
        {
            var training = RelativeTimingTask.Generate(200, seed, duration);
            var test = RelativeTimingTask.Generate(200, 1000 + seed, duration);
            double Run(bool delays, out double moved, double delayRate = 50)
            {
                var network = Build(seed, delays);
                var initial = delays ? (double[])network.Parameters["in->h.delay"].Values.Clone() : [];
                var trainer = new Trainer(network, new ExactEngine(duration), Loss.Sum(),
                    new TrainingOptions { Epochs = 30, BatchSize = 20, LearningRate = 0.01, DelayLearningRateScale = delayRate, MaxDelay = 40, Seed = seed });
                trainer.Fit(training);
                moved = delays ? trainer.Network.Parameters["in->h.delay"].Values.Zip(initial).Average(x => Math.Abs(x.First - x.Second)) : 0;
                return trainer.Evaluate(test).Accuracy;
            }
            double without = Run(false, out _);
            double with = Run(true, out double moved);
            double frozen = Run(true, out _, delayRate: 1e-9); // the initial random delays, (practically) not trained
            results.Add((without, with, moved));
            Assert.True(with >= frozen, $"training the delays lost accuracy: {with:P1} against {frozen:P1} with them frozen");
            output.WriteLine($"seed {seed}: without delays {without:P1}, with learned delays {with:P1} (mean |Δd| {moved:F2} ms), with the initial delays frozen {frozen:P1}");
        }
        foreach (var (without, with, _) in results)
        {
            Assert.InRange(without, 0.45, 0.55);
            Assert.True(with >= without + 0.20, $"learned delays reached {with:P1} against {without:P1} without");
        }
    }
}
