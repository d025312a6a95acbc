namespace Eventprop.Core.Audio;

/// <summary>
/// The Meddis (1986, 1988) inner hair cell: a transmitter-pool model turning basilar-membrane velocity into the firing
/// probability of its auditory-nerve fibres per sample, with the defaults of the Heidelberg cochlea.
/// </summary>
/// <remarks>
/// State: free transmitter q, cleft contents c, reprocessing store w. Per sample of step dt and input s:
/// k = g·dt·(s+a)/(s+a+b) if s + a &gt; 0 else 0; replenish = y·dt·(m − q) if q &lt; m else 0; eject = k·q;
/// q ← max(0, q + replenish − eject + x·dt·w); c ← max(0, c + eject − (l+r)·dt·c); w ← max(0, w + r·dt·c − x·dt·w)
/// (all from the old values); the output is h·dt·c. The start values are the steady state at zero input.
/// </remarks>
public sealed record InnerHairCell
{
    /// <summary>Replenishment rate y.</summary>
    public double Replenishment { get; init; } = 5.05;

    /// <summary>Permeability scale g.</summary>
    public double Permeability { get; init; } = 2000;

    /// <summary>Cleft loss rate l.</summary>
    public double Loss { get; init; } = 2500;

    /// <summary>Re-uptake rate r.</summary>
    public double Reuptake { get; init; } = 6580;

    /// <summary>Reprocessing rate x.</summary>
    public double Reprocessing { get; init; } = 66.3;

    /// <summary>Permeability offset a.</summary>
    public double PermeabilityOffset { get; init; } = 5;

    /// <summary>Permeability half-saturation b.</summary>
    public double PermeabilityHalfSaturation { get; init; } = 300;

    /// <summary>Firing-rate scale h (probability per unit cleft contents per second).</summary>
    public double FiringScale { get; init; } = 50000;

    /// <summary>Maximum free transmitter m.</summary>
    public double MaxTransmitter { get; init; } = 1;

    /// <summary>The zero-input steady state (q, c, w): k0 = g·a/(a+b), c = m·y·k0/(l·k0 + y(l+r)), q = c(l+r)/k0, w = c·r/x.</summary>
    public (double Free, double Cleft, double Reprocessing) SteadyState()
    {
        double k0 = Permeability * PermeabilityOffset / (PermeabilityOffset + PermeabilityHalfSaturation);
        double c = MaxTransmitter * Replenishment * k0 / (Loss * k0 + Replenishment * (Loss + Reuptake));
        return (c * (Loss + Reuptake) / k0, c, c * Reuptake / Reprocessing);
    }

    /// <summary>The spontaneous firing probability per sample of step <paramref name="dtSeconds"/>: h·dt·c at the steady state.</summary>
    public double SpontaneousProbability(double dtSeconds) => FiringScale * dtSeconds * SteadyState().Cleft;

    /// <summary>Runs the hair cell from its steady state over <paramref name="velocity"/>, writing the firing probability per sample.</summary>
    /// <param name="velocity">Basilar-membrane velocity per sample.</param>
    /// <param name="dtSeconds">Sample step in seconds.</param>
    /// <param name="probability">Output, the same length as <paramref name="velocity"/>.</param>
    public void Run(ReadOnlySpan<double> velocity, double dtSeconds, Span<double> probability)
    {
        if (probability.Length != velocity.Length)
            throw new ArgumentException($"The output holds {probability.Length} samples, the input {velocity.Length}.", nameof(probability));
        if (!(dtSeconds > 0) || !double.IsFinite(dtSeconds)) throw new ArgumentOutOfRangeException(nameof(dtSeconds), dtSeconds, "The step must be finite and > 0.");
        var (q, c, w) = SteadyState();
        double a = PermeabilityOffset, b = PermeabilityHalfSaturation, m = MaxTransmitter;
        double gdt = Permeability * dtSeconds, ydt = Replenishment * dtSeconds, xdt = Reprocessing * dtSeconds;
        double lossDt = (Loss + Reuptake) * dtSeconds, rdt = Reuptake * dtSeconds, hdt = FiringScale * dtSeconds;
        for (int n = 0; n < velocity.Length; n++)
        {
            double sa = velocity[n] + a;
            double k = sa > 0 ? gdt * sa / (sa + b) : 0;
            double replenish = q < m ? ydt * (m - q) : 0;
            double eject = k * q;
            double reprocessed = xdt * w;
            double newQ = Math.Max(0, q + replenish - eject + reprocessed);
            double newC = Math.Max(0, c + eject - lossDt * c);
            w = Math.Max(0, w + rdt * c - reprocessed);
            q = newQ;
            c = newC;
            probability[n] = hdt * c;
        }
    }
}
