using Eventprop.Core.Losses;

namespace Eventprop.Losses;

/// <summary>The timing term of <see cref="FirstSpikeLoss"/>, which pushes the label neuron to spike early.</summary>
public enum FirstSpikeTimingTerm
{
    /// <summary>α(e^{t_y/τ1} − 1) (Wunderlich &amp; Pehle eq. 3; seed 003).</summary>
    Exponential,
    /// <summary>α/(1.01·T − t_y), the variant in the reference code.</summary>
    Reciprocal,
}

/// <summary>
/// <c>first_spike</c>: time-to-first-spike loss on a spiking (LIF) readout,
/// L = −log softmax(−t/τ0)_y + α(e^{t_y/τ1} − 1), with t_k the first spike of readout neuron k (T if it is silent).
/// The reference code's variant replaces the timing term by α/(1.01T − t_y) (<see cref="FirstSpikeTimingTerm.Reciprocal"/>).
/// The prediction is the earliest-spiking neuron.
/// </summary>
/// <remarks>
/// <para>Phantom spike (seed 003 §4.1): if the label neuron is silent there is no spike for the timing term to act on, so
/// λ_V of the label neuron jumps at T by ∂(timing term)/∂t_y at t_y = T, as if it had spiked there (the reference
/// code's rule; without division by τ_m·V̇, since no spike exists). This is a heuristic: it is the adjoint of the
/// surrogate term −τ_m,y·(∂timing/∂t_y)(T)·V_y(T) with the factor frozen, not the gradient of L.</para>
/// <para>Silent non-label neurons enter the softmax with t = T and contribute no gradient (their loss is locally constant).</para>
/// </remarks>
public sealed class FirstSpikeLoss : ILoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="tau0">Softmax temperature τ0 (ms, &gt; 0).</param>
    /// <param name="tau1">Timescale τ1 of the exponential timing term (ms, &gt; 0).</param>
    /// <param name="alpha">Weight α of the timing term (≥ 0).</param>
    /// <param name="timing">Exponential (default) or the reference code's reciprocal variant.</param>
    /// <param name="phantomSpikes">Whether a silent label neuron gets the phantom-spike jump (default true).</param>
    public FirstSpikeLoss(double tau0 = 1, double tau1 = 3, double alpha = 3.6e-4, FirstSpikeTimingTerm timing = FirstSpikeTimingTerm.Exponential, bool phantomSpikes = true)
    {
        if (!(tau0 > 0) || !double.IsFinite(tau0)) throw new ArgumentOutOfRangeException(nameof(tau0), tau0, "first_spike: τ0 must be finite and > 0 ms.");
        if (!(tau1 > 0) || !double.IsFinite(tau1)) throw new ArgumentOutOfRangeException(nameof(tau1), tau1, "first_spike: τ1 must be finite and > 0 ms.");
        if (!(alpha >= 0) || !double.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "first_spike: α must be finite and ≥ 0.");
        Tau0 = tau0;
        Tau1 = tau1;
        Alpha = alpha;
        Timing = timing;
        PhantomSpikes = phantomSpikes;
    }

    /// <inheritdoc />
    public string Name => "first_spike";

    /// <inheritdoc />
    public ReadoutKind Readout => ReadoutKind.Spiking;

    /// <summary>Softmax temperature τ0 (ms).</summary>
    public double Tau0 { get; }

    /// <summary>Timescale τ1 of the exponential timing term (ms).</summary>
    public double Tau1 { get; }

    /// <summary>Weight α of the timing term.</summary>
    public double Alpha { get; }

    /// <summary>Which timing term.</summary>
    public FirstSpikeTimingTerm Timing { get; }

    /// <summary>Whether a silent label neuron gets the phantom-spike jump.</summary>
    public bool PhantomSpikes { get; }

    /// <summary>The timing term and its derivative at first-spike time t in a trial of length T.</summary>
    public (double Value, double Derivative) TimingTerm(double t, double duration)
    {
        if (Timing == FirstSpikeTimingTerm.Exponential)
        {
            double e = Math.Exp(t / Tau1);
            return (Alpha * (e - 1), Alpha / Tau1 * e);
        }
        double d = 1.01 * duration - t;
        return (Alpha / d, Alpha / (d * d));
    }

    /// <inheritdoc />
    public LossEvaluation Evaluate(ReadoutTrace trace, int label)
    {
        int k = trace.Size;
        Softmax.RequireLabel(Name, label, k);
        double T = trace.Duration;
        var first = new double[k];
        var spiked = new bool[k];
        var z = new double[k];
        for (int i = 0; i < k; i++)
        {
            var times = trace.SpikeTimes(i);
            spiked[i] = times.Length > 0;
            first[i] = spiked[i] ? times[0] : T;
            z[i] = -first[i] / Tau0;
        }
        var p = Softmax.Of(z);
        var (timing, timingDerivative) = TimingTerm(first[label], T);
        var drive = new AdjointDrive();
        for (int i = 0; i < k; i++)
        {
            double dLdt = -(p[i] - (i == label ? 1 : 0)) / Tau0 + (i == label ? timingDerivative : 0);
            if (spiked[i]) drive.AddSpikeTime(i, 0, dLdt);
        }
        if (!spiked[label] && PhantomSpikes) drive.AddAdjointJump(label, T, timingDerivative);
        return new LossEvaluation(Softmax.CrossEntropy(z, label) + timing, z, drive);
    }
}
