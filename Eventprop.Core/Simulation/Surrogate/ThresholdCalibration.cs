using System.Globalization;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>One layer's threshold before and after <see cref="ThresholdCalibration"/>.</summary>
/// <param name="Layer">The spiking hidden population's name.</param>
/// <param name="Before">Its threshold ϑ before calibration.</param>
/// <param name="After">Its new threshold: the largest per-step voltage increase A·I its synaptic current caused (see
/// <see cref="SurrogateEngine.MaxInputDrive"/>), with the layers before it already calibrated.</param>
public sealed record LayerThreshold(string Layer, double Before, double After);

/// <summary>The result of <see cref="ThresholdCalibration.Calibrate"/>.</summary>
/// <param name="Network">A copy of the network with the new thresholds (parameters deep-copied, everything else unchanged).</param>
/// <param name="Layers">Per spiking hidden population, in network order (input side first).</param>
/// <param name="Samples">The samples measured.</param>
/// <param name="Passes">Forward passes over the samples (one per layer).</param>
public sealed record ThresholdCalibrationResult(Network Network, IReadOnlyList<LayerThreshold> Layers, int Samples, int Passes);

/// <summary>
/// Seed 004's data-driven threshold initialisation for networks without batch normalisation (Ledinauskas et al. §3): "the
/// threshold of each layer is set to the maximum input current over the training set and all time steps", layer by layer.
/// </summary>
/// <remarks>
/// <para>The "input current" of a discrete-time integrate-and-fire neuron is what one step adds to its voltage. In our
/// neurons a step adds A·I (the synaptic current I times the step's current-to-voltage propagator A of the engine's
/// <see cref="Discretisation"/>; dt/τm for integrate-and-fire in the Zenke–Vogels scheme), so a layer's new threshold is
/// max over samples, steps and its neurons of A·I. With that threshold the most strongly driven neuron reaches threshold in
/// one step at its peak input, and every layer's activity is on the same scale whatever its fan-in and weight init.</para>
/// <para>Layer by layer: the hidden populations are calibrated in network order (input side first); layer l is measured
/// after layers 0…l−1 have their new thresholds, since those change the spikes layer l receives. That is one forward pass
/// over the samples per layer. A recurrent layer's own spikes (with its old threshold) are part of its measured input.
/// Only the thresholds change (reset values, reset modes and weights are kept); call it once, before training.</para>
/// </remarks>
public static class ThresholdCalibration
{
    /// <summary>
    /// Measures and sets each spiking hidden population's threshold, layer by layer, on <paramref name="samples"/>
    /// (seed 004 uses the whole training set), run in batches of <paramref name="batchSize"/> through
    /// <paramref name="engine"/>. <paramref name="network"/> is not changed.
    /// </summary>
    /// <exception cref="ArgumentException">The engine is not a <see cref="SurrogateEngine"/>; there are no samples or no spiking
    /// hidden population; a layer never received a positive current (its message names the layer); or a new threshold is
    /// not above the layer's reset value.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is &lt; 1.</exception>
    public static ThresholdCalibrationResult Calibrate(IGradientEngine engine, Network network, IReadOnlyList<SpikeSample> samples, ILoss loss, int batchSize = 256)
    {
        var surrogate = GradientMagnitudeReport.RequireSurrogate(engine, "Threshold calibration");
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (samples.Count == 0) throw new ArgumentException("Threshold calibration needs at least one sample.", nameof(samples));
        var layers = network.Hidden.Where(p => p.Model is Model.Neurons.SpikingNeuronModel).ToArray();
        if (layers.Length == 0) throw new ArgumentException("Threshold calibration needs a spiking hidden layer; this network has none.", nameof(network));
        var batches = Enumerable.Range(0, (samples.Count + batchSize - 1) / batchSize)
            .Select(b => (IReadOnlyList<SpikeSample>)samples.Skip(b * batchSize).Take(batchSize).ToArray()).ToArray();
        var current = network;
        var result = new List<LayerThreshold>();
        foreach (var layer in layers)
        {
            double max = double.NegativeInfinity;
            foreach (var batch in batches) max = Math.Max(max, surrogate.MaxInputDrive(current, batch, loss)[layer.Name]);
            if (!(max > 0) || !double.IsFinite(max))
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"Threshold calibration: layer '{layer.Name}' received no positive input current over {samples.Count} samples (largest per-step drive {max:G4}), so there is no threshold to set; check that its inputs spike and that the weights into it are not all ≤ 0."));
            double before = layer.Model!.Threshold;
            current = current.WithThresholds(new Dictionary<string, double> { [layer.Name] = max });
            result.Add(new LayerThreshold(layer.Name, before, max));
        }
        return new ThresholdCalibrationResult(current, result, samples.Count, layers.Length);
    }
}
