using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Training;
using Eventprop.Losses;

namespace Eventprop.Example;

/// <summary>The library as an outside researcher uses it; docs/library.md walks through it step by step.</summary>
public static class LibraryExample
{
    /// <summary>Trains a small recurrent network on generated randman data and prints the gradients of one trial.</summary>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="output">Where the progress and the gradient table go.</param>
    /// <param name="checkpointDirectory">If given, the trained state is saved there as <c>checkpoint.h5</c>.</param>
    /// <returns>The test accuracy after training.</returns>
    public static double Run(int epochs, TextWriter output, string? checkpointDirectory = null)
    {
        // 1. Data: 5 classes of spike patterns on 20 channels, 300 trials each, 50 ms; hold out 20 % per class for testing.
        var data = Randman.Generate(new RandmanOptions { ClassCount = 5, UnitCount = 20, SamplesPerClass = 300, DurationMs = 50, Seed = 1 });
        var (train, test, _, _) = DatasetSplits.Stratified(data, validationFraction: 0.2, seed: 1);

        // 2. Network: 20 inputs → 64 LIF neurons (recurrent) → 5 leaky-integrator readouts. Units are ms.
        var network = Network.Create(seed: 1)
            .Input("in", data.ChannelCount)
            .Lif("hidden", 64, tauMem: 20, tauSyn: 5)
            .Readout("out", data.ClassCount, tauMem: 20, tauSyn: 5)
            .Connect("in", "hidden", Init.Normal(1.0, 0.5))
            .Connect("hidden", "hidden", Init.Normal(0, 0.02))
            .Connect("hidden", "out", Init.Normal(0, 0.5))
            .Build();

        // 3. Loss and engine: sum_exp; the batched time-stepped engine (dt 1 ms) for training.
        ILoss loss = Loss.SumExp();
        var engine = new SteppedEngine(dt: 1.0, duration: 50, timeConstantGradients: false);

        // 4. Training: Adam with the paper's ease-in and halving schedule, one line per epoch.
        var trainer = new Trainer(network, engine, loss, new TrainingOptions { Epochs = epochs, BatchSize = 16, LearningRate = 1e-2, Seed = 1 });
        var callbacks = new List<ITrainingCallback>
        {
            new EpochMetricsCallback(m => output.WriteLine($"epoch {m.Epoch,3}: loss {m.TrainingLoss:F3}, train accuracy {m.TrainingAccuracy:P1}")),
        };
        if (checkpointDirectory is not null) callbacks.Add(new CheckpointCallback(checkpointDirectory));
        trainer.Fit(train, validation: null, callbacks);
        var (testLoss, testAccuracy) = trainer.Evaluate(test);
        output.WriteLine($"test: loss {testLoss:F3}, accuracy {testAccuracy:P1} (chance {1.0 / data.ClassCount:P1})");

        // 5. Exact gradients of one test trial with the event-driven engine: every weight matrix and every neuron's τ.
        var trial = new ExactEngine(duration: 50).Gradient(network, test[0], loss);
        output.WriteLine($"one trial (label {test[0].Label}): loss {trial.Loss:F4}, {trial.Trials[0].TotalSpikes} hidden spikes");
        foreach (var p in trial.Gradient)
            output.WriteLine($"  {p.Name,-14} {p.Rows,3} x {p.Columns,-3} gradient norm {Math.Sqrt(p.Values.Sum(g => g * g)):E3}");
        return testAccuracy;
    }
}
