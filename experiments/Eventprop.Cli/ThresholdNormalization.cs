using System.Globalization;
using System.Text.Json;
using Eventprop.Core.Data;
using Eventprop.Core.Simulation.Surrogate;

namespace Eventprop.Cli;

/// <summary>
/// <c>network.normalize_thresholds</c>: seed 004's threshold initialisation (<see cref="ThresholdCalibration"/>) run before
/// training, its values written to thresholds.json and into the run's config.
/// </summary>
internal static class ThresholdNormalization
{
    /// <summary>The file in the run directory that records the measured thresholds.</summary>
    internal const string FileName = "thresholds.json";

    /// <summary>
    /// Calibrates the hidden layers' thresholds on the training set (or <c>network.normalize_thresholds_samples</c> of a
    /// seeded shuffle of it), writes <see cref="FileName"/> to <paramref name="runDir"/>, and returns the config with each
    /// layer's <c>threshold</c> set to its measured value.
    /// </summary>
    internal static RunConfig NormalizeBeforeTraining(RunConfig config, string runDir, TextWriter output, bool quiet)
    {
        using var p = TrainCommand.Prepare(config);
        var samples = p.Train.Samples.ToArray();
        if (samples.Length == 0) throw new UserError("network.normalize_thresholds needs training samples, and the training set is empty.");
        if (config.Network.NormalizeThresholdsSamples is int n && n < samples.Length)
        {
            new Random(config.Seed).Shuffle(samples);
            samples = samples[..n];
        }
        ThresholdCalibrationResult result;
        try { result = ThresholdCalibration.Calibrate(p.Engine, p.Network, samples, p.Loss, config.Training.BatchSize); }
        catch (ArgumentException e) { throw new UserError($"network.normalize_thresholds: {Program.UserMessage(e)}"); }
        var hidden = config.Network.Hidden.ToArray();
        for (int i = 0; i < hidden.Length; i++)
        {
            string name = config.Network.LayerName(i);
            var layer = result.Layers.Single(l => l.Layer == name);
            hidden[i] = hidden[i] with { Threshold = layer.After };
        }
        var summary = new Dictionary<string, object?>
        {
            ["name"] = config.Name,
            ["rule"] = "seed 004 §3: each hidden layer's threshold = max over the samples, time steps and its neurons of the per-step voltage increase A·I of its synaptic current, layers calibrated in order (input side first)",
            ["samples"] = result.Samples, ["training_samples"] = p.Train.Count, ["seed"] = config.Seed, ["discretisation"] = config.Surrogate.Discretisation,
            ["layers"] = result.Layers.Select((l, i) => new Dictionary<string, object?> { ["layer"] = l.Layer, ["key"] = config.Network.LayerKey(i), ["before"] = l.Before, ["threshold"] = l.After }).ToArray(),
        };
        TrainCommand.WriteAtomic(Path.Combine(runDir, FileName), JsonSerializer.Serialize(summary, RunConfig.Json));
        if (!quiet)
            output.WriteLine("network.normalize_thresholds: " + string.Join(", ", result.Layers.Select(l => l.Layer + " " + l.After.ToString("G4", CultureInfo.InvariantCulture)))
                + $" (max per-step input over {result.Samples} training samples; {FileName})");
        return config with { Network = config.Network with { Hidden = hidden } };
    }
}
