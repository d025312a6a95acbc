using Eventprop.Core.Data;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// Analog input (seed 004 §2.1, <see cref="SpikeSample.IsAnalog"/>) in the time-stepped Eventprop engine: channel c carries
/// the constant current x_c, delivered as its charge per step. At every grid point t_k = k·dt, k = 0…N−1 (where input
/// spikes land), input weight row c adds x_c·dt·W[c, ·] to the synaptic current I of its targets, as an input spike of
/// size x_c·dt would. The drive is a left Riemann sum of the constant current J = Σ_c x_c W[c, ·] (per ms): it is the
/// same drive at every dt up to O(dt), and at dt = 1 ms it equals the surrogate engine's (which adds J per step).
/// </summary>
/// <remarks>
/// <para>Gradient. Each delivery is an input event, whose Eventprop weight gradient is −τs·λI(t_k) times its size
/// (docs/eventprop-math: dL/dW_ji = −τs Σ_spikes λI,j), so dL/dW[c, j] = −x_c·dt·τs,j·Σ_{k=0}^{N−1} λI,j(t_k). The sum over
/// grid points is accumulated once per trial (in double) and the rows are written once, which costs one connection pass
/// per trial instead of one per step.</para>
/// <para>The drive is the same whatever the network's spikes do, so it is computed once per trial (the forward pass and
/// the backward pass's replay compute it the same way, bit for bit).</para>
/// </remarks>
internal static class AnalogInput
{
    /// <summary>drive = Σ_c x_c·dt·W[c, ·] over the input's connections and the nonzero channels (the plan's index space).</summary>
    public static void FillDrive(SteppedPlan plan, ReadOnlySpan<double> currents, double dt, float[] drive)
    {
        Array.Clear(drive);
        for (int c = 0; c < currents.Length; c++)
        {
            if (currents[c] == 0) continue;
            float scale = (float)(currents[c] * dt);
            foreach (var o in plan.InputOutgoings) o.DeliverScaled(drive, c, scale);
        }
    }

    /// <summary>current += drive on the neurons the input reaches (at every grid point k = 0…N−1, after its input spikes would land).</summary>
    public static void AddDrive(SteppedPlan plan, float[] current, float[] drive)
    {
        foreach (var (offset, size) in plan.InputTargets)
            VectorMath.Add(current.AsSpan(offset, size), drive.AsSpan(offset, size));
    }

    /// <summary>sum[g] += λI[g] for the neurons the input reaches (call at every grid point k = 0…N−1, before the grid point's adjoint jumps).</summary>
    public static void AccumulateAdjoint(SteppedPlan plan, ReadOnlySpan<float> lambdaI, double[] sum)
    {
        foreach (var (offset, size) in plan.InputTargets)
            for (int g = offset; g < offset + size; g++) sum[g] += lambdaI[g];
    }

    /// <summary>
    /// gradient[c, ·] −= x_c·dt·τs·Σ_k λI(t_k) for every nonzero channel; <paramref name="scratch"/> (the plan's size) receives
    /// τs·Σ_k λI in float. <paramref name="ignoreValue"/> (fault injection for tests) drops x_c from the gradient.
    /// </summary>
    public static void SubtractWeightGradients(SteppedPlan plan, ReadOnlySpan<double> currents, double dt, double[] sum, float[] scratch,
        GradientBuffer buffer, bool ignoreValue)
    {
        foreach (var (offset, size) in plan.InputTargets)
            for (int g = offset; g < offset + size; g++) scratch[g] = (float)(plan.TauSynF[g] * sum[g]);
        for (int c = 0; c < currents.Length; c++)
        {
            if (currents[c] == 0) continue;
            float scale = (float)((ignoreValue ? 1 : currents[c]) * dt);
            foreach (var o in plan.InputOutgoings)
                o.SubtractScaledWeightGradient(buffer.Weights[o.ParameterIndex]!, c, scratch.AsSpan(o.PostOffset, o.PostSize), scale);
        }
    }
}
