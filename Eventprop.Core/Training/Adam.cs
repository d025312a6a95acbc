using Eventprop.Core.Model;

namespace Eventprop.Core.Training;

/// <summary>
/// The Adam optimiser (Kingma &amp; Ba) over a <see cref="ParameterSet"/>: β1 = 0.9, β2 = 0.999, ε = 1e−8 by default, with
/// bias correction. Its state (both moments and the step count) is part of a training checkpoint. With a weight decay
/// λ &gt; 0 it is AdamW (Loshchilov &amp; Hutter, decoupled weight decay): θ ← θ − η·m̂/(√v̂ + ε) − η·λ·θ, the decay applied
/// outside the adaptive step and only to the parameters the caller selects (the trainer: weights, not τ's).
/// </summary>
public sealed class Adam
{
    /// <summary>Creates an optimiser.</summary>
    /// <param name="beta1">Decay of the first moment (0 ≤ β1 &lt; 1).</param>
    /// <param name="beta2">Decay of the second moment (0 ≤ β2 &lt; 1).</param>
    /// <param name="epsilon">Added to √v̂ (&gt; 0).</param>
    public Adam(double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "Adam β1 must lie in [0, 1).");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "Adam β2 must lie in [0, 1).");
        if (!(epsilon > 0) || !double.IsFinite(epsilon)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Adam ε must be finite and > 0.");
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    /// <summary>β1.</summary>
    public double Beta1 { get; }

    /// <summary>β2.</summary>
    public double Beta2 { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Number of updates applied so far.</summary>
    public long Step { get; private set; }

    /// <summary>First moments (null before the first update).</summary>
    public ParameterSet? FirstMoment { get; private set; }

    /// <summary>Second moments (null before the first update).</summary>
    public ParameterSet? SecondMoment { get; private set; }

    /// <summary>Restores the state saved in a checkpoint.</summary>
    public void Restore(long step, ParameterSet firstMoment, ParameterSet secondMoment)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        firstMoment.RequireSameLayout(secondMoment);
        Step = step;
        FirstMoment = firstMoment;
        SecondMoment = secondMoment;
    }

    /// <summary>
    /// One Adam step: θ −= η·m̂/(√v̂ + ε) for every parameter for which <paramref name="trainable"/> is true (all when null).
    /// Moments of frozen parameters stay zero.
    /// </summary>
    public void Update(ParameterSet parameters, ParameterSet gradient, double learningRate, Func<Parameter, bool>? trainable = null) =>
        Update(parameters, gradient, learningRate, trainable, weightDecay: 0, decayed: null, beta1: null);

    /// <summary>
    /// One AdamW step: θ ← θ − η·m̂/(√v̂ + ε) − η·λ·θ for every parameter for which <paramref name="trainable"/> is true (all
    /// when null); the decay term only where <paramref name="decayed"/> is true too (all trainable ones when null). With
    /// λ = 0 this is exactly <see cref="Update(ParameterSet, ParameterSet, double, Func{Parameter, bool}?)"/>.
    /// </summary>
    /// <param name="parameters">θ, changed in place.</param>
    /// <param name="gradient">∂L/∂θ.</param>
    /// <param name="learningRate">η of this step.</param>
    /// <param name="trainable">Which parameters are updated (null: all).</param>
    /// <param name="weightDecay">λ (≥ 0; 0: plain Adam).</param>
    /// <param name="decayed">Which of the updated parameters are decayed (null: all of them).</param>
    /// <param name="beta1">β1 of this step instead of <see cref="Beta1"/> (momentum cycling of the one-cycle schedule); the
    /// first moment and its bias correction 1 − β1^t use it, as PyTorch's Adam does when a scheduler changes its β1.</param>
    /// <param name="rateScale">Per parameter, a factor on η (null: 1 for all), e.g. a larger rate for learned delays (ms)
    /// than for weights; the decay term keeps the unscaled η.</param>
    public void Update(ParameterSet parameters, ParameterSet gradient, double learningRate, Func<Parameter, bool>? trainable,
        double weightDecay, Func<Parameter, bool>? decayed, double? beta1, Func<Parameter, double>? rateScale = null)
    {
        if (!(weightDecay >= 0) || !double.IsFinite(weightDecay)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "The weight decay must be finite and ≥ 0.");
        if (beta1 is { } b && !(b >= 0 && b < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), b, "Adam β1 must lie in [0, 1).");
        parameters.RequireSameLayout(gradient);
        FirstMoment ??= parameters.ZerosLike();
        SecondMoment ??= parameters.ZerosLike();
        parameters.RequireSameLayout(FirstMoment);
        Step++;
        double b1 = beta1 ?? Beta1, b2 = Beta2, eps = Epsilon;
        double c1 = 1.0 / (1.0 - Math.Pow(b1, Step)), c2 = 1.0 / (1.0 - Math.Pow(b2, Step));
        for (int p = 0; p < parameters.Count; p++)
        {
            if (trainable is not null && !trainable(parameters[p])) continue;
            double decay = weightDecay > 0 && (decayed is null || decayed(parameters[p])) ? learningRate * weightDecay : 0;
            double rate = learningRate * (rateScale?.Invoke(parameters[p]) ?? 1);
            var theta = parameters[p].Values;
            var g = gradient[p].Values;
            var m = FirstMoment[p].Values;
            var v = SecondMoment[p].Values;
            int chunks = Math.Max(1, Math.Min(Environment.ProcessorCount, theta.Length / 65536));
            Parallel.For(0, chunks, chunk =>
            {
                int from = (int)((long)chunk * theta.Length / chunks), to = (int)((long)(chunk + 1) * theta.Length / chunks);
                for (int i = from; i < to; i++)
                {
                    double gi = g[i];
                    double mi = m[i] = b1 * m[i] + (1 - b1) * gi;
                    double vi = v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                    double step = rate * (mi * c1) / (Math.Sqrt(vi * c2) + eps);
                    theta[i] = decay == 0 ? theta[i] - step : theta[i] - step - decay * theta[i];
                }
            });
        }
    }
}
