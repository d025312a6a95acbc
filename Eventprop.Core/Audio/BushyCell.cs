using Eventprop.Core.Training;

namespace Eventprop.Core.Audio;

/// <summary>
/// The bushy cell of one channel: <see cref="FibreCount"/> auditory-nerve fibres, each firing with the hair cell's
/// probability per sample and then refractory, converge on one leaky integrate-and-fire neuron.
/// </summary>
/// <remarks>
/// The fibres are exchangeable, so instead of one uniform draw per fibre and sample the cell draws, per sample, the
/// number of fibre spikes among the fibres that are not refractory: Binomial(available, p), by inversion of its CDF
/// from one uniform (the expected number of CDF terms is about 1 + available·p). Because every fibre's synaptic current
/// decays alike and all weights are equal, the sum of the currents is one state. Per sample n (step dt):
/// the summed current I ← I·e^(−dt/τ_syn) + spikes[n]; when the neuron is not refractory,
/// V ← min(1, V·e^(−dt/τ_mem) + dt·w·I); when V reached 1 at the previous sample the cell spikes at that sample's
/// time, V ← 0 and the refractory period starts. A fibre that fired at sample n may fire again from sample
/// n + ⌈t_ref/dt⌉ on.
/// </remarks>
public sealed record BushyCell
{
    /// <summary>Auditory-nerve fibres per channel.</summary>
    public int FibreCount { get; init; } = 40;

    /// <summary>Absolute refractory period of a fibre in ms.</summary>
    public double FibreRefractoryMs { get; init; } = 1.0;

    /// <summary>Membrane time constant in ms.</summary>
    public double MembraneTauMs { get; init; } = 1.0;

    /// <summary>Synaptic time constant in ms.</summary>
    public double SynapseTauMs { get; init; } = 0.5;

    /// <summary>Refractory period of the bushy cell in ms.</summary>
    public double RefractoryMs { get; init; } = 1.0;

    /// <summary>Total weight of all fibres (per second of current): each fibre spike adds <see cref="TotalWeight"/>/<see cref="FibreCount"/>.</summary>
    public double TotalWeight { get; init; } = 13000;

    /// <summary>Runs the cell over the firing probabilities <paramref name="probability"/> (one per sample of <paramref name="dtSeconds"/>).</summary>
    /// <param name="probability">Per-sample firing probability of each fibre (values above 1 count as 1).</param>
    /// <param name="dtSeconds">Sample step in seconds.</param>
    /// <param name="random">Source of the fibre draws.</param>
    /// <param name="spikeSamples">Receives the sample index of every spike of the cell, in order.</param>
    public void Run(ReadOnlySpan<double> probability, double dtSeconds, TrainingRandom random, List<int> spikeSamples)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(spikeSamples);
        if (!(dtSeconds > 0) || !double.IsFinite(dtSeconds)) throw new ArgumentOutOfRangeException(nameof(dtSeconds), dtSeconds, "The step must be finite and > 0.");
        if (FibreCount < 1) throw new InvalidOperationException($"A bushy cell needs at least one fibre, not {FibreCount}.");
        double dtMs = dtSeconds * 1000;
        int fibreDead = Math.Max(1, (int)Math.Ceiling(FibreRefractoryMs / dtMs - 1e-9)); // samples until a fibre may fire again
        int cellDead = (int)Math.Ceiling(RefractoryMs / dtMs - 1e-9);
        double synapseDecay = Math.Exp(-dtMs / SynapseTauMs);
        double membraneDecay = Math.Exp(-dtMs / MembraneTauMs);
        double gain = dtSeconds * TotalWeight / FibreCount;

        // ring[i] = fibres that fired fibreDead − age samples ago and are still refractory
        Span<int> ring = fibreDead <= 256 ? stackalloc int[fibreDead] : new int[fibreDead];
        ring.Clear();
        int refractoryFibres = 0, slot = 0;
        double current = 0, v = 0;
        int refractoryLeft = 0;
        bool fireNext = false;
        for (int n = 0; n < probability.Length; n++)
        {
            // fibres that fired fibreDead samples ago become available again
            refractoryFibres -= ring[slot];
            int available = FibreCount - refractoryFibres;
            int fired = Binomial(available, probability[n], random);
            ring[slot] = fired;
            refractoryFibres += fired;
            slot = slot + 1 == fibreDead ? 0 : slot + 1;

            current = current * synapseDecay + fired;
            if (fireNext)
            {
                spikeSamples.Add(n - 1);
                v = 0;
                refractoryLeft = cellDead;
                fireNext = false;
            }
            if (refractoryLeft > 0)
            {
                refractoryLeft--;
                continue;
            }
            v = v * membraneDecay + gain * current;
            if (v >= 1)
            {
                v = 1;
                fireNext = true;
            }
        }
        if (fireNext) spikeSamples.Add(probability.Length - 1);
    }

    /// <summary>A Binomial(<paramref name="trials"/>, <paramref name="p"/>) draw by inversion from one uniform.</summary>
    internal static int Binomial(int trials, double p, TrainingRandom random)
    {
        if (trials <= 0 || !(p > 0)) return 0;
        if (p >= 1) return trials;
        double u = random.NextDouble();
        if (p > 0.5) return trials - Binomial(trials, 1 - p, u);
        return Binomial(trials, p, u);
    }

    private static int Binomial(int trials, double p, double u)
    {
        double q = 1 - p;
        double term = Math.Pow(q, trials); // P(K = 0)
        double ratio = p / q;
        double cdf = term;
        int k = 0;
        while (u >= cdf && k < trials)
        {
            term *= ratio * (trials - k) / (k + 1);
            k++;
            cdf += term;
        }
        return k;
    }
}
