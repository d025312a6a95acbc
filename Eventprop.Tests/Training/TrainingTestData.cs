using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;

namespace Eventprop.Tests.Training;

/// <summary>A small synthetic two-class spike task and a scripted engine for testing the training machinery.</summary>
internal static class TrainingTestData
{
    /// <summary>
    /// Two classes over 20 channels: class 0 fires channels 0–9 once each, class 1 channels 10–19, at random times in
    /// [0, 30) ms; every sample also has 4 noise spikes on random channels.
    /// </summary>
    public static SpikeSample[] TwoClassTask(int count, int seed)
    {
        var rng = new Random(seed);
        var samples = new SpikeSample[count];
        for (int s = 0; s < count; s++)
        {
            int label = s % 2;
            var times = new List<double>();
            var channels = new List<int>();
            for (int c = 0; c < 10; c++)
            {
                times.Add(30 * rng.NextDouble());
                channels.Add(label * 10 + c);
            }
            for (int n = 0; n < 4; n++)
            {
                times.Add(30 * rng.NextDouble());
                channels.Add(rng.Next(20));
            }
            samples[s] = new SpikeSample(times.ToArray(), channels.ToArray(), label);
        }
        return samples;
    }

    public static Network TwoClassNetwork(int seed = 1) =>
        Network.Create(seed).Input("in", 20)
            .Lif("hidden", 16, tauMem: 20, tauSyn: 5)
            .Readout("out", 2, tauMem: 20, tauSyn: 5)
            .Connect("in", "hidden", Init.Normal(0.8, 0.4))
            .Connect("hidden", "hidden", Init.Normal(0, 0.05))
            .Connect("hidden", "out", Init.Normal(0, 0.3))
            .Build();
}

/// <summary>An engine that returns scripted results: a gradient from a function, accuracy from a function of the call number, spike counts as given.</summary>
internal sealed class ScriptedEngine(Func<Network, ParameterSet>? gradient = null, Func<int, double>? accuracy = null, Func<Population, long[]>? counts = null) : IGradientEngine
{
    public int Calls { get; private set; }
    public List<int> InputSpikesSeen { get; } = [];
    public double Duration => 10;

    public EvaluationResult Evaluate(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        var r = Gradient(network, batch, loss);
        return new EvaluationResult(r.Loss, r.Predictions, r.Labels, r.HiddenSpikeCounts);
    }

    public GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization = null)
    {
        Calls++;
        double acc = accuracy?.Invoke(Calls) ?? 0.5;
        int correct = (int)Math.Round(acc * batch.Count);
        var labels = batch.Select(s => s.Label).ToArray();
        var predictions = labels.Select((l, i) => i < correct ? l : (l + 1) % network.Readout.Size).ToArray();
        foreach (var s in batch) InputSpikesSeen.Add(s.Count);
        var hidden = network.Hidden.ToDictionary(p => p.Name, p => counts?.Invoke(p) ?? Enumerable.Repeat(1L, p.Size).ToArray());
        return new GradientResult(1.0 - acc, predictions, labels, hidden, gradient?.Invoke(network) ?? network.Parameters.ZerosLike());
    }
}
