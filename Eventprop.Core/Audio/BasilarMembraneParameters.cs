namespace Eventprop.Core.Audio;

/// <summary>
/// Parameters of the hydrodynamic shallow-water basilar-membrane model (Sieroka, Dosch &amp; Rupp 2006) in cgs units, with
/// the defaults of the Heidelberg cochlea (the reference implementation that made SHD and SSC).
/// </summary>
public sealed record BasilarMembraneParameters
{
    /// <summary>Stiffness offset a (the stiffness is c0·e^(−αc) − a).</summary>
    public double StiffnessOffset { get; init; } = 3500;

    /// <summary>Stiffness decay α per cm along the membrane.</summary>
    public double StiffnessDecay { get; init; } = 3.0;

    /// <summary>Fluid density ρ.</summary>
    public double Density { get; init; } = 1.0;

    /// <summary>Stiffness at the base, c0.</summary>
    public double BaseStiffness { get; init; } = 1e9;

    /// <summary>Damping ratio δ (the damping at the base is r0 = δ·sqrt(c0·m)).</summary>
    public double DampingRatio { get; init; } = 0.15;

    /// <summary>Channel height h.</summary>
    public double Height { get; init; } = 0.1;

    /// <summary>Membrane mass per area m.</summary>
    public double Mass { get; init; } = 0.05;

    /// <summary>Length of the membrane in cm; channel k of N lies at k·Length/(N−1) from the base.</summary>
    public double Length { get; init; } = 3.5;

    /// <summary>Damping at the base, r0 = δ·sqrt(c0·m).</summary>
    public double BaseDamping => DampingRatio * Math.Sqrt(BaseStiffness * Mass);

    /// <summary>
    /// The place of resonance's frequency in Hz, where the stiffness balances the mass (s(c) = m·ω²); NaN where the
    /// stiffness is negative. Channel 0 (the base) resonates near 22.5 kHz, the apex near 120 Hz.
    /// </summary>
    public double CharacteristicFrequency(double position)
    {
        double stiffness = BaseStiffness * Math.Exp(-StiffnessDecay * position) - StiffnessOffset;
        return stiffness > 0 ? Math.Sqrt(stiffness / Mass) / (2 * Math.PI) : double.NaN;
    }
}
