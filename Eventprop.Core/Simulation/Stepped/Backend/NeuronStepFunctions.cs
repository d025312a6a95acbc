using System.Runtime.CompilerServices;

namespace Eventprop.Core.Simulation.Stepped.Backend;

/// <summary>
/// The step face of the current-based neuron family (backend API): one copy of the per-neuron arithmetic of the
/// time-stepped engines, called by the CPU <see cref="SteppedEngine"/> and by the ILGPU kernels of <c>Eventprop.Gpu</c>.
/// </summary>
/// <remarks>
/// <para>Every function is static and pure, takes structs and scalars only, and uses no classes, arrays or
/// <c>System.Numerics</c> vectors, so ILGPU can compile it. The lane-generic ones (<see cref="StepState{T,TOps}"/>,
/// <see cref="StepAdjoint{T,TOps}"/>, <see cref="TauGradientTerms{T,TOps}"/>) are instantiated with
/// <see cref="FloatLane"/> in the kernels and with a SIMD lane in the CPU engine; the operation order is the same in both,
/// so the two backends compute the same floats. <see cref="SlopeAtCrossing"/> uses <see cref="Math.Exp(double)"/>,
/// which ILGPU maps to its device intrinsic (the engine's context enables ILGPU.Algorithms).</para>
/// <para>The per-neuron propagators over one step dt (computed on the host in double, see <c>SteppedPlan</c>), with
/// m = 1/τm, r = 1/τs and Ψ(δ; a, b) = (e^{−bδ} − e^{−aδ})/(a − b): decayMem = e^{−ℓm dt}, decaySyn = e^{−r dt},
/// currentToVoltage = m Ψ(dt; ℓm, r) (for IF: (τs/τm)(1 − e^{−dt/τs})), adjointVoltageToCurrent = r Ψ(dt; ℓm, r).</para>
/// </remarks>
public static class NeuronStepFunctions
{
    /// <summary>One free step of the state: V ← V·decayMem + I·currentToVoltage, I ← I·decaySyn.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StepState<T, TOps>(ref T v, ref T i, T decayMem, T currentToVoltage, T decaySyn)
        where T : struct where TOps : struct, ILaneArithmetic<T>
    {
        var o = default(TOps);
        T vi = v, ii = i;
        v = o.Add(o.Multiply(vi, decayMem), o.Multiply(ii, currentToVoltage));
        i = o.Multiply(ii, decaySyn);
    }

    /// <summary>
    /// One free adjoint step backwards (τm λV′ = −ℓλV... in reverse time, τs λI′ = −λI + λV):
    /// λI ← λI·decaySyn + λV·adjointVoltageToCurrent, λV ← λV·decayMem.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StepAdjoint<T, TOps>(ref T lambdaV, ref T lambdaI, T decayMem, T decaySyn, T adjointVoltageToCurrent)
        where T : struct where TOps : struct, ILaneArithmetic<T>
    {
        var o = default(TOps);
        T l = lambdaV;
        lambdaI = o.Add(o.Multiply(lambdaI, decaySyn), o.Multiply(l, adjointVoltageToCurrent));
        lambdaV = o.Multiply(l, decayMem);
    }

    /// <summary>
    /// The closed-form τ-gradient integrals over one step, given the adjoints (λV, λI) at the step's end and the state
    /// (V, I) at its start: <paramref name="memTerm"/> = ∫λV(I − ℓV) and <paramref name="synTerm"/> = ∫λI·I.
    /// </summary>
    /// <param name="lambdaV">λV at the end of the step (before stepping back).</param>
    /// <param name="lambdaI">λI at the end of the step.</param>
    /// <param name="v">V at the start of the step.</param>
    /// <param name="i">I at the start of the step.</param>
    /// <param name="psi">Ψ(dt; ℓm, r).</param>
    /// <param name="memPsi3">ℓ·m·Ψ(dt; ℓm, ℓm, r) (0 for IF).</param>
    /// <param name="dtDecayMem">ℓ·dt·e^{−ℓm dt} (0 for IF).</param>
    /// <param name="dtDecaySyn">dt·e^{−r dt}.</param>
    /// <param name="synPsi3">r·Ψ(dt; ℓm, r, r).</param>
    /// <param name="memTerm">∫λV(I − ℓV) over the step.</param>
    /// <param name="synTerm">∫λI·I over the step.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TauGradientTerms<T, TOps>(T lambdaV, T lambdaI, T v, T i, T psi, T memPsi3, T dtDecayMem, T dtDecaySyn, T synPsi3,
        out T memTerm, out T synTerm)
        where T : struct where TOps : struct, ILaneArithmetic<T>
    {
        var o = default(TOps);
        T a = o.Subtract(o.Multiply(i, o.Subtract(psi, memPsi3)), o.Multiply(v, dtDecayMem));
        memTerm = o.Multiply(lambdaV, a);
        synTerm = o.Multiply(i, o.Add(o.Multiply(lambdaI, dtDecaySyn), o.Multiply(lambdaV, synPsi3)));
    }

    /// <summary>Whether V has reached the population's threshold at a grid point.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Crossed(in NeuronStep step, float v) => v >= step.Threshold;

    /// <summary>V after a spike detected with V = <paramref name="v"/>: V_r, or V − (ϑ − V_r) (keeps the overshoot).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ResetVoltage(in NeuronStep step, float v) =>
        step.Subtractive != 0 ? v - (step.Threshold - step.Reset) : step.Reset;

    /// <summary>
    /// The τm·V̇⁻ a spike records as its jump divisor, bounded below by <paramref name="minimumSlope"/>: I − ℓV at the
    /// grid point when <paramref name="atGridPoint"/>, else I − ℓϑ at the crossing inside the step
    /// (<see cref="SlopeAtCrossing"/>).
    /// </summary>
    public static float ThresholdSlope(in NeuronStep step, bool atGridPoint, float minimumSlope, double dt, double rateMem, double rateSyn,
        double decayMem, double decaySyn, double currentToVoltage, float vEnd, float iEnd)
    {
        float slope = atGridPoint ? iEnd - step.Leak * vEnd
            : (float)SlopeAtCrossing(step, dt, rateMem, rateSyn, decayMem, decaySyn, currentToVoltage, vEnd, iEnd);
        return slope >= minimumSlope ? slope : minimumSlope;
    }

    /// <summary>
    /// τm·V̇ = I − ℓϑ at the threshold crossing inside the step that just ended at (V, I) = (<paramref name="vEnd"/>,
    /// <paramref name="iEnd"/>). The step's start state is recovered by inverting the one-step propagator (double
    /// propagators: e^{−ℓm dt}, e^{−r dt}, mΨ(dt; ℓm, r)); the crossing is located on the cubic Hermite interpolant of V
    /// (values and exact slopes at both ends; error O(dt⁴)) by four safeguarded Newton steps, and I there is exact.
    /// </summary>
    public static double SlopeAtCrossing(in NeuronStep step, double dt, double rateMem, double rateSyn, double decayMem, double decaySyn,
        double currentToVoltage, double vEnd, double iEnd)
    {
        double theta = step.Threshold, leak = step.Leak, m = rateMem;
        double i0 = iEnd / decaySyn;
        double v0 = (vEnd - currentToVoltage * i0) / decayMem;
        double d0 = dt * m * (i0 - leak * v0), d1 = dt * m * (iEnd - leak * vEnd); // dV/du at u = 0 and 1 (u = s/dt)
        double u = 1;
        if (vEnd > v0)
        {
            u = (theta - v0) / (vEnd - v0);
            if (u < 0) u = 0;
            if (u > 1) u = 1;
        }
        double lo = 0, hi = 1;
        for (int it = 0; it < 4; it++)
        {
            double u2 = u * u, u3 = u2 * u;
            double p = (2 * u3 - 3 * u2 + 1) * v0 + (u3 - 2 * u2 + u) * d0 + (3 * u2 - 2 * u3) * vEnd + (u3 - u2) * d1 - theta;
            if (p < 0) lo = u;
            else hi = u;
            double dp = (6 * u2 - 6 * u) * (v0 - vEnd) + (3 * u2 - 4 * u + 1) * d0 + (3 * u2 - 2 * u) * d1;
            double next = dp > 0 ? u - p / dp : 0.5 * (lo + hi);
            u = next > lo && next < hi ? next : 0.5 * (lo + hi);
        }
        return i0 * Math.Exp(-rateSyn * u * dt) - leak * theta;
    }

    /// <summary>
    /// The Eventprop jump of λV at a spike: [ℓ(ϑ − V_r)λV + Σ_post W(λV − λI)_post + ∂L/∂t]/(τm V̇⁻), minus the activity
    /// regulariser's jump (0 for a readout neuron).
    /// </summary>
    /// <param name="step">The firing neuron's population constants.</param>
    /// <param name="lambdaV">λV of the firing neuron after the spike (the adjoints from after the step).</param>
    /// <param name="transport">Σ_post W(λV − λI)_post over its outgoing connections.</param>
    /// <param name="spikeTimeTerm">∂L/∂t of this spike (readout spike-time and corner terms), or 0.</param>
    /// <param name="slope">The recorded τm V̇⁻ (<see cref="ThresholdSlope"/>).</param>
    /// <param name="regularizationJump">The regulariser's jump of the neuron (<see cref="RegularizationJump"/>), 0 for readouts.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Jump(in NeuronStep step, float lambdaV, float transport, double spikeTimeTerm, float slope, float regularizationJump)
    {
        float delta = (float)((step.JumpOwnFactor * lambdaV + transport + spikeTimeTerm) / slope);
        return delta - regularizationJump;
    }

    /// <summary>
    /// The activity regulariser's jump of a hidden neuron (host): τ_readout·strength·(spikes/B − target)/B, where
    /// <paramref name="spikes"/> is the neuron's spike count over the batch of <paramref name="batch"/> trials.
    /// </summary>
    public static float RegularizationJump(double tauReadout, double strength, double target, long spikes, int batch) =>
        (float)Pipeline.RegularizationJumps.Of(tauReadout, strength, target, spikes, batch);

    /// <summary>The time (ms) the engines give a spike recorded at grid point <paramref name="step"/>: step·dt.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SpikeTime(int step, double dt) => step * dt;

    /// <summary>
    /// A loss impulse ∂L/∂V (host): the adjoint jump −∂L/∂V·m at <paramref name="offset"/> ms before its grid point,
    /// carried back to the grid point with the free adjoint propagators of a leaky readout (rates m, r).
    /// </summary>
    public static void Impulse(double dLossdV, double rateMem, double rateSyn, double offset, out float lambdaV, out float lambdaI)
    {
        double jump = -dLossdV * rateMem;
        double em = Math.Exp(-rateMem * offset), es = Math.Exp(-rateSyn * offset);
        lambdaV = (float)(jump * em);
        lambdaI = (float)(jump * rateSyn * ExpKernels.Psi2(offset, rateMem, rateSyn, em, es));
    }
}
