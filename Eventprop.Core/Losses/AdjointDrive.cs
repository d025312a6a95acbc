namespace Eventprop.Core.Losses;

/// <summary>
/// What a loss asks of the backward pass, kept as plain data (kinds and coefficients) so that every engine,
/// including GPU kernels, can apply it without calling back into the loss.
/// </summary>
/// <remarks>
/// Three kinds of term, all per readout neuron k:
/// <list type="bullet">
/// <item><b>Exponential drive</b>: ∂l_V/∂V_k(t) contains c·e^{−ρt} (ρ ≥ 0). With the F(∫l_V) form, c already
/// includes ∂F/∂(∫l_V). The <c>sum</c> loss uses ρ = 0, <c>sum_exp</c> ρ = 1/T.</item>
/// <item><b>Voltage impulse</b>: L depends on V_k at one time t₀ with ∂L/∂V_k(t₀) = g (e.g. the <c>max</c> loss).</item>
/// <item><b>Spike-time term</b>: ∂L/∂t for a given spike of a spiking readout neuron (l_p, e.g. <c>first_spike</c>).</item>
/// <item><b>Adjoint jump</b>: λ_V,k jumps by a given amount at a given time. This is for heuristic terms that are not the
/// gradient of the loss, such as the phantom spike of <c>first_spike</c>; it is equivalent to an impulse with
/// ∂L/∂V = −τ_m,k·Δλ_V.</item>
/// <item><b>Voltage-dependent drive</b>: ∂l_V/∂V_k(t) contains c·f(t, V(t))_k for a smooth function f of the readout
/// voltages (e.g. the per-time cross-entropy <c>entropy</c>, or a user's l_V); engines integrate it by quadrature.</item>
/// </list>
/// </remarks>
public sealed class AdjointDrive
{
    private readonly List<VoltageDependentDrive> _voltageDependent = [];
    private readonly List<ExponentialDriveTerm> _exponential = [];
    private readonly List<VoltageImpulse> _impulses = [];
    private readonly List<SpikeTimeTerm> _spikeTimes = [];
    private readonly List<AdjointJump> _jumps = [];

    /// <summary>The voltage-dependent drive terms.</summary>
    public IReadOnlyList<VoltageDependentDrive> VoltageDependent => _voltageDependent;

    /// <summary>The exponential drive terms.</summary>
    public IReadOnlyList<ExponentialDriveTerm> Exponential => _exponential;

    /// <summary>The voltage impulses.</summary>
    public IReadOnlyList<VoltageImpulse> Impulses => _impulses;

    /// <summary>The adjoint jumps.</summary>
    public IReadOnlyList<AdjointJump> Jumps => _jumps;

    /// <summary>The spike-time terms.</summary>
    public IReadOnlyList<SpikeTimeTerm> SpikeTimes => _spikeTimes;

    /// <summary>Adds ∂l_V/∂V_k(t) += coefficient · e^{−rate·t}.</summary>
    public AdjointDrive AddExponential(int neuron, double coefficient, double rate = 0)
    {
        if (rate < 0 || !double.IsFinite(rate)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "Drive rates must be finite and ≥ 0.");
        if (coefficient != 0) _exponential.Add(new ExponentialDriveTerm(neuron, coefficient, rate));
        return this;
    }

    /// <summary>Adds ∂l_V/∂V_k(t) += coefficient · f(t, V(t))_k for every readout neuron k.</summary>
    public AdjointDrive AddVoltageDependent(VoltageDriveFunction function, double coefficient = 1)
    {
        ArgumentNullException.ThrowIfNull(function);
        if (coefficient != 0) _voltageDependent.Add(new VoltageDependentDrive(function, coefficient));
        return this;
    }

    /// <summary>
    /// Adds an impulse: L depends on V_k(time) with ∂L/∂V_k(time) = <paramref name="dLossdV"/>. Where <paramref name="time"/>
    /// is the arrival time of a presynaptic spike at k (a maximum at a corner of V), the time moves with that spike and
    /// the engine accounts for it.
    /// </summary>
    public AdjointDrive AddImpulse(int neuron, double time, double dLossdV)
    {
        if (dLossdV != 0) _impulses.Add(new VoltageImpulse(neuron, time, dLossdV));
        return this;
    }

    /// <summary>Adds a jump of λ_V,k by <paramref name="deltaLambdaV"/> at <paramref name="time"/> (in the backward pass, when it reaches that time).</summary>
    public AdjointDrive AddAdjointJump(int neuron, double time, double deltaLambdaV)
    {
        if (deltaLambdaV != 0) _jumps.Add(new AdjointJump(neuron, time, deltaLambdaV));
        return this;
    }

    /// <summary>Adds ∂L/∂t for spike number <paramref name="spikeIndex"/> of readout neuron k.</summary>
    public AdjointDrive AddSpikeTime(int neuron, int spikeIndex, double dLossdt)
    {
        if (dLossdt != 0) _spikeTimes.Add(new SpikeTimeTerm(neuron, spikeIndex, dLossdt));
        return this;
    }

    /// <summary>A copy with every coefficient multiplied by <paramref name="factor"/> (e.g. 1/N_batch).</summary>
    public AdjointDrive Scaled(double factor)
    {
        var d = new AdjointDrive();
        foreach (var t in _voltageDependent) d._voltageDependent.Add(t with { Coefficient = t.Coefficient * factor });
        foreach (var t in _exponential) d._exponential.Add(t with { Coefficient = t.Coefficient * factor });
        foreach (var t in _impulses) d._impulses.Add(t with { DLossdV = t.DLossdV * factor });
        foreach (var t in _spikeTimes) d._spikeTimes.Add(t with { DLossdt = t.DLossdt * factor });
        foreach (var t in _jumps) d._jumps.Add(t with { DeltaLambdaV = t.DeltaLambdaV * factor });
        return d;
    }
}

/// <summary>∂l_V/∂V_k(t) contribution <c>Coefficient · e^{−Rate·t}</c>.</summary>
public readonly record struct ExponentialDriveTerm(int Neuron, double Coefficient, double Rate);

/// <summary>L depends on V_k(<c>Time</c>) with ∂L/∂V = <c>DLossdV</c>.</summary>
public readonly record struct VoltageImpulse(int Neuron, double Time, double DLossdV);

/// <summary>λ_V of readout neuron <c>Neuron</c> jumps by <c>DeltaLambdaV</c> at <c>Time</c>.</summary>
public readonly record struct AdjointJump(int Neuron, double Time, double DeltaLambdaV);

/// <summary>∂L/∂t of spike <c>SpikeIndex</c> of readout neuron <c>Neuron</c>.</summary>
public readonly record struct SpikeTimeTerm(int Neuron, int SpikeIndex, double DLossdt);

/// <summary>
/// A smooth function of time (ms) and the readout voltages V(t) that writes ∂l_V/∂V_k for every readout neuron k into
/// <paramref name="drive"/>. It must not keep references to its spans.
/// </summary>
public delegate void VoltageDriveFunction(double time, ReadOnlySpan<double> voltages, Span<double> drive);

/// <summary>∂l_V/∂V_k(t) contribution <c>Coefficient · Function(t, V(t))_k</c>.</summary>
public sealed record VoltageDependentDrive(VoltageDriveFunction Function, double Coefficient);
