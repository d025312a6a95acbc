namespace Eventprop.Core.Losses;

/// <summary>Which readout a loss needs.</summary>
public enum ReadoutKind
{
    /// <summary>A non-spiking readout (the leaky <c>li</c> or the non-leaky <c>integrator</c>) whose voltage the loss reads.</summary>
    LeakyIntegrator,
    /// <summary>A spiking LIF readout whose spike times the loss reads.</summary>
    Spiking,
}

/// <summary>
/// A loss of the extended Eventprop form L = l_p(t_post) + F(∫₀ᵀ l_V(V, t) dt) for one trial.
/// It reads the readout's trajectory from a <see cref="ReadoutTrace"/> and returns its value together
/// with an <see cref="AdjointDrive"/>: the data that tells any engine what the backward pass must
/// apply (drives on λ_V, impulses at given times, spike-time terms). Engines never call back into
/// the loss during the backward pass.
/// </summary>
/// <remarks>The batch loss is the mean over trials; engines scale each trial's drive by 1/N_batch.</remarks>
public interface ILoss
{
    /// <summary>Config name, e.g. <c>"sum"</c>, <c>"sum_exp"</c>.</summary>
    string Name { get; }

    /// <summary>The readout this loss needs.</summary>
    ReadoutKind Readout { get; }

    /// <summary>Evaluates the loss of one trial with class <paramref name="label"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The label is not a readout neuron.</exception>
    LossEvaluation Evaluate(ReadoutTrace trace, int label);
}

/// <summary>The value of a loss for one trial, the network's output, and the adjoint drive.</summary>
/// <param name="Value">Loss of the trial.</param>
/// <param name="Outputs">The per-class outputs the loss compares (e.g. z_k); the prediction is their argmax.</param>
/// <param name="Drive">What the backward pass must apply.</param>
public sealed record LossEvaluation(double Value, double[] Outputs, AdjointDrive Drive)
{
    /// <summary>
    /// Identifies the discrete choices the value depends on, beyond the spikes (e.g. for <c>max</c>, which smooth piece of
    /// each V_k holds its maximum), or null if there are none. The loss is smooth in the parameters only while this stays
    /// the same; gradient checks use it to stay inside one smooth piece.
    /// </summary>
    public string? Structure { get; init; }

    /// <summary>The predicted class: the index of the largest output (the first on ties).</summary>
    public int Prediction
    {
        get
        {
            int best = 0;
            for (int k = 1; k < Outputs.Length; k++)
                if (Outputs[k] > Outputs[best]) best = k;
            return best;
        }
    }
}

/// <summary>
/// The readout's trajectory over one trial, as a loss sees it: voltages, closed-form integrals and
/// (for a spiking readout) spike times. Times are in ms, from 0 to <see cref="Duration"/>.
/// </summary>
public abstract class ReadoutTrace
{
    /// <summary>Number of readout neurons.</summary>
    public abstract int Size { get; }

    /// <summary>Trial duration T (ms).</summary>
    public abstract double Duration { get; }

    /// <summary>∫₀ᵀ e^{−rate·t} V_k(t) dt (rate ≥ 0, in 1/ms; 0 gives the plain integral).</summary>
    public abstract double IntegrateVoltage(int neuron, double rate = 0);

    /// <summary>V_k(t) for 0 ≤ t ≤ T.</summary>
    public abstract double Voltage(int neuron, double time);

    /// <summary>Spike times of a spiking readout neuron (empty for a leaky integrator).</summary>
    public abstract ReadOnlySpan<double> SpikeTimes(int neuron);

    /// <summary>
    /// ∫₀ᵀ f(t, V(t)) dt for a smooth function of time and all readout voltages, by a quadrature suited to the engine
    /// (the exact engine integrates piecewise between the readout's events, where V is smooth).
    /// </summary>
    public abstract double Integrate(VoltageFunction function);

    /// <summary>The maximum of V_k over [0, T], the first time it is reached, and which smooth piece of V holds it.</summary>
    public abstract VoltageMaximum Maximum(int neuron);
}

/// <summary>A smooth scalar function of time (ms) and the readout voltages.</summary>
public delegate double VoltageFunction(double time, ReadOnlySpan<double> voltages);

/// <summary>The maximum of a readout voltage over the trial.</summary>
/// <param name="Time">When it is first reached (ms).</param>
/// <param name="Value">The maximum of V.</param>
/// <param name="Piece">An engine-specific label of where it lies (e.g. which interval between events, at an event, or at T);
/// the maximum is a smooth function of the parameters while its piece stays the same.</param>
public readonly record struct VoltageMaximum(double Time, double Value, long Piece);
