using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>A hidden population's mean |∂L/∂U| (see <see cref="SurrogateEngine.GradientWithMagnitudes"/>).</summary>
/// <param name="Layer">The population's name.</param>
/// <param name="Size">Its neurons.</param>
/// <param name="MeanAbsVoltageAdjoint">Mean |dL/dV| over its neurons, the grid points 1…N and the trials.</param>
public sealed record LayerGradientMagnitude(string Layer, int Size, double MeanAbsVoltageAdjoint);

/// <summary>A connection's mean |∂L/∂W| over its weights.</summary>
/// <param name="Connection">The weight parameter's name (e.g. <c>in->hidden</c>).</param>
/// <param name="Weights">Its number of weights.</param>
/// <param name="MeanAbsWeightGradient">Mean |∂L/∂W| over its weights (and the batches).</param>
public sealed record ConnectionGradientMagnitude(string Connection, int Weights, double MeanAbsWeightGradient);

/// <summary>The per-layer gradient magnitudes over a few batches (seed 004 Fig. 3), for one surrogate.</summary>
/// <param name="Surrogate">The surrogate the engine used.</param>
/// <param name="Layers">Per hidden population (network order): mean |∂L/∂U|, averaged over the batches.</param>
/// <param name="Connections">Per weight parameter: mean |∂L/∂W|, averaged over the batches.</param>
/// <param name="Loss">The mean loss over the batches.</param>
/// <param name="Batches">The batches measured.</param>
/// <param name="Trials">The trials in them.</param>
public sealed record GradientMagnitudeReport(Surrogate Surrogate, IReadOnlyList<LayerGradientMagnitude> Layers,
    IReadOnlyList<ConnectionGradientMagnitude> Connections, double Loss, int Batches, int Trials)
{
    /// <summary>
    /// Runs <paramref name="engine"/> (a <see cref="SurrogateEngine"/>) on each batch and averages the per-batch magnitudes
    /// with equal weight per batch. The network is not changed.
    /// </summary>
    /// <exception cref="ArgumentException">The engine is not a <see cref="SurrogateEngine"/>, or there are no batches.</exception>
    public static GradientMagnitudeReport Measure(IGradientEngine engine, Network network, IReadOnlyList<IReadOnlyList<SpikeSample>> batches, ILoss loss)
    {
        var surrogate = RequireSurrogate(engine, "The gradient-magnitude report");
        ArgumentNullException.ThrowIfNull(batches);
        if (batches.Count == 0) throw new ArgumentException("The gradient-magnitude report needs at least one batch.", nameof(batches));
        double[]? layerSums = null;
        List<LayerGradientMagnitude>? first = null;
        var weightParameters = network.Parameters.Select((p, i) => (p, i)).Where(x => x.p.Kind == ParameterKind.Weight).ToArray();
        var weightSums = new double[weightParameters.Length];
        double lossSum = 0;
        int trials = 0;
        foreach (var batch in batches)
        {
            var (result, layers) = surrogate.GradientWithMagnitudes(network, batch, loss);
            first ??= [.. layers];
            layerSums ??= new double[layers.Count];
            for (int l = 0; l < layers.Count; l++) layerSums[l] += layers[l].MeanAbsVoltageAdjoint;
            for (int w = 0; w < weightParameters.Length; w++)
            {
                var values = result.Gradient[weightParameters[w].i].Values;
                double sum = 0;
                foreach (double v in values) sum += Math.Abs(v);
                weightSums[w] += values.Length == 0 ? 0 : sum / values.Length;
            }
            lossSum += result.Loss;
            trials += batch.Count;
        }
        int b = batches.Count;
        return new GradientMagnitudeReport(surrogate.Options.Surrogate,
            first!.Select((l, i) => l with { MeanAbsVoltageAdjoint = layerSums![i] / b }).ToArray(),
            weightParameters.Select((x, w) => new ConnectionGradientMagnitude(x.p.Name, x.p.Length, weightSums[w] / b)).ToArray(),
            lossSum / b, b, trials);
    }

    internal static SurrogateEngine RequireSurrogate(IGradientEngine engine, string what)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return engine as SurrogateEngine ?? throw new ArgumentException(
            $"{what} needs the surrogate-gradient engine (SurrogateEngine; in a config: method surrogate), got {engine.GetType().Name}: Eventprop's exact adjoint has no surrogate width to measure or tune.", nameof(engine));
    }
}
