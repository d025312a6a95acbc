using Eventprop.Core.Model;

namespace Eventprop.Core.Training;

/// <summary>
/// The Adam optimiser (Kingma &amp; Ba) over a <see cref="ParameterSet"/>: β1 = 0.9, β2 = 0.999, ε = 1e−8 by default, with
/// bias correction. Its state (both moments and the step count) is part of a training checkpoint.
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
    public void Update(ParameterSet parameters, ParameterSet gradient, double learningRate, Func<Parameter, bool>? trainable = null)
    {
        parameters.RequireSameLayout(gradient);
        FirstMoment ??= parameters.ZerosLike();
        SecondMoment ??= parameters.ZerosLike();
        parameters.RequireSameLayout(FirstMoment);
        Step++;
        double b1 = Beta1, b2 = Beta2, eps = Epsilon;
        double c1 = 1.0 / (1.0 - Math.Pow(b1, Step)), c2 = 1.0 / (1.0 - Math.Pow(b2, Step));
        for (int p = 0; p < parameters.Count; p++)
        {
            if (trainable is not null && !trainable(parameters[p])) continue;
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
                    theta[i] -= learningRate * (mi * c1) / (Math.Sqrt(vi * c2) + eps);
                }
            });
        }
    }
}
