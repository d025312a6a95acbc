using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Eventprop.Core.Simulation.Stepped.Backend;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// The float kernels of the time-stepped engine, vectorised with Vector512 / Vector256 where the hardware has them.
/// Every loop runs in a fixed order for a given length, so results are reproducible on one machine.
/// </summary>
internal static class VectorMath
{
    /// <summary>dst += src.</summary>
    public static void Add(Span<float> dst, ReadOnlySpan<float> src)
    {
        int n = dst.Length, i = 0;
        ref float d = ref MemoryMarshal.GetReference(dst);
        ref float s = ref MemoryMarshal.GetReference(src);
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref d, (nuint)i) + Vector512.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref d, (nuint)i) + Vector256.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref d, i) += Unsafe.Add(ref s, i);
    }

    /// <summary>dst −= src.</summary>
    public static void Subtract(Span<float> dst, ReadOnlySpan<float> src)
    {
        int n = dst.Length, i = 0;
        ref float d = ref MemoryMarshal.GetReference(dst);
        ref float s = ref MemoryMarshal.GetReference(src);
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref d, (nuint)i) - Vector512.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref d, (nuint)i) - Vector256.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref d, i) -= Unsafe.Add(ref s, i);
    }

    /// <summary>dst += scale·src.</summary>
    public static void AddScaled(Span<float> dst, ReadOnlySpan<float> src, float scale)
    {
        int n = dst.Length, i = 0;
        ref float d = ref MemoryMarshal.GetReference(dst);
        ref float s = ref MemoryMarshal.GetReference(src);
        if (Vector256.IsHardwareAccelerated)
        {
            var a = Vector256.Create(scale);
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref d, (nuint)i) + a * Vector256.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) += scale * Unsafe.Add(ref s, i);
    }

    /// <summary>Σ a[i]·b[i] in float (fixed summation order for a given length).</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = a.Length, i = 0;
        ref float x = ref MemoryMarshal.GetReference(a);
        ref float y = ref MemoryMarshal.GetReference(b);
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
                acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref x, (nuint)i), Vector512.LoadUnsafe(ref y, (nuint)i), acc);
            sum += Vector512.Sum(acc);
        }
        if (Vector256.IsHardwareAccelerated && n - i >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
                acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i), acc);
            sum += Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref x, i) * Unsafe.Add(ref y, i);
        return sum;
    }

    /// <summary>dst[i] = a[i]·b[i].</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst)
    {
        int n = dst.Length, i = 0;
        ref float x = ref MemoryMarshal.GetReference(a);
        ref float y = ref MemoryMarshal.GetReference(b);
        ref float d = ref MemoryMarshal.GetReference(dst);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref x, (nuint)i) * Vector256.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref d, i) = Unsafe.Add(ref x, i) * Unsafe.Add(ref y, i);
    }

    /// <summary>dst[i] = a[i] − b[i].</summary>
    public static void Difference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst)
    {
        int n = dst.Length, i = 0;
        ref float x = ref MemoryMarshal.GetReference(a);
        ref float y = ref MemoryMarshal.GetReference(b);
        ref float d = ref MemoryMarshal.GetReference(dst);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref x, (nuint)i) - Vector256.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref d, i) = Unsafe.Add(ref x, i) - Unsafe.Add(ref y, i);
    }

    /// <summary>One free step of every neuron (<see cref="NeuronStepFunctions.StepState{T,TOps}"/>): V ← V·e_m + I·c, I ← I·e_s.</summary>
    public static void StepState(Span<float> v, Span<float> cur, ReadOnlySpan<float> decayMem, ReadOnlySpan<float> currentToVoltage, ReadOnlySpan<float> decaySyn)
    {
        int n = v.Length, i = 0;
        ref float pv = ref MemoryMarshal.GetReference(v);
        ref float pi = ref MemoryMarshal.GetReference(cur);
        ref float em = ref MemoryMarshal.GetReference(decayMem);
        ref float cm = ref MemoryMarshal.GetReference(currentToVoltage);
        ref float es = ref MemoryMarshal.GetReference(decaySyn);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var vi = Vector256.LoadUnsafe(ref pv, (nuint)i);
                var ii = Vector256.LoadUnsafe(ref pi, (nuint)i);
                NeuronStepFunctions.StepState<Vector256<float>, Vector256Lane>(ref vi, ref ii,
                    Vector256.LoadUnsafe(ref em, (nuint)i), Vector256.LoadUnsafe(ref cm, (nuint)i), Vector256.LoadUnsafe(ref es, (nuint)i));
                vi.StoreUnsafe(ref pv, (nuint)i);
                ii.StoreUnsafe(ref pi, (nuint)i);
            }
        for (; i < n; i++)
            NeuronStepFunctions.StepState<float, FloatLane>(ref Unsafe.Add(ref pv, i), ref Unsafe.Add(ref pi, i),
                Unsafe.Add(ref em, i), Unsafe.Add(ref cm, i), Unsafe.Add(ref es, i));
    }

    /// <summary>
    /// One free adjoint step backwards for every neuron (<see cref="NeuronStepFunctions.StepAdjoint{T,TOps}"/>); with
    /// <paramref name="tau"/> also the step's closed-form ∫λV(I − ℓV) and ∫λI·I (<see cref="NeuronStepFunctions.TauGradientTerms{T,TOps}"/>)
    /// given the step's start state (v, cur), added to <paramref name="tauMem"/> and <paramref name="tauSyn"/>.
    /// </summary>
    public static void StepAdjoint(SteppedPlan plan, float[] lambdaV, float[] lambdaI, ReadOnlySpan<float> v, ReadOnlySpan<float> cur,
        float[] tauMem, float[] tauSyn, bool tau)
    {
        int n = lambdaV.Length, i = 0;
        ref float lv = ref MemoryMarshal.GetArrayDataReference(lambdaV);
        ref float li = ref MemoryMarshal.GetArrayDataReference(lambdaI);
        ref float em = ref MemoryMarshal.GetArrayDataReference(plan.DecayMem);
        ref float es = ref MemoryMarshal.GetArrayDataReference(plan.DecaySyn);
        ref float vi = ref MemoryMarshal.GetArrayDataReference(plan.AdjointVoltageToCurrent);
        if (!tau)
        {
            if (Vector256.IsHardwareAccelerated)
                for (; i <= n - 8; i += 8)
                {
                    var l = Vector256.LoadUnsafe(ref lv, (nuint)i);
                    var lI = Vector256.LoadUnsafe(ref li, (nuint)i);
                    NeuronStepFunctions.StepAdjoint<Vector256<float>, Vector256Lane>(ref l, ref lI,
                        Vector256.LoadUnsafe(ref em, (nuint)i), Vector256.LoadUnsafe(ref es, (nuint)i), Vector256.LoadUnsafe(ref vi, (nuint)i));
                    lI.StoreUnsafe(ref li, (nuint)i);
                    l.StoreUnsafe(ref lv, (nuint)i);
                }
            for (; i < n; i++)
                NeuronStepFunctions.StepAdjoint<float, FloatLane>(ref Unsafe.Add(ref lv, i), ref Unsafe.Add(ref li, i),
                    Unsafe.Add(ref em, i), Unsafe.Add(ref es, i), Unsafe.Add(ref vi, i));
            return;
        }
        ref float pv = ref MemoryMarshal.GetReference(v);
        ref float pi = ref MemoryMarshal.GetReference(cur);
        ref float psi = ref MemoryMarshal.GetArrayDataReference(plan.GradPsi);
        ref float dtEm = ref MemoryMarshal.GetArrayDataReference(plan.GradDtDecayMem);
        ref float mP3 = ref MemoryMarshal.GetArrayDataReference(plan.GradMemPsi3);
        ref float dtEs = ref MemoryMarshal.GetArrayDataReference(plan.GradDtDecaySyn);
        ref float sP3 = ref MemoryMarshal.GetArrayDataReference(plan.GradSynPsi3);
        ref float gm = ref MemoryMarshal.GetArrayDataReference(tauMem);
        ref float gs = ref MemoryMarshal.GetArrayDataReference(tauSyn);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var l = Vector256.LoadUnsafe(ref lv, (nuint)i);
                var lI = Vector256.LoadUnsafe(ref li, (nuint)i);
                NeuronStepFunctions.TauGradientTerms<Vector256<float>, Vector256Lane>(l, lI,
                    Vector256.LoadUnsafe(ref pv, (nuint)i), Vector256.LoadUnsafe(ref pi, (nuint)i),
                    Vector256.LoadUnsafe(ref psi, (nuint)i), Vector256.LoadUnsafe(ref mP3, (nuint)i), Vector256.LoadUnsafe(ref dtEm, (nuint)i),
                    Vector256.LoadUnsafe(ref dtEs, (nuint)i), Vector256.LoadUnsafe(ref sP3, (nuint)i), out var mem, out var syn);
                (Vector256.LoadUnsafe(ref gm, (nuint)i) + mem).StoreUnsafe(ref gm, (nuint)i);
                (Vector256.LoadUnsafe(ref gs, (nuint)i) + syn).StoreUnsafe(ref gs, (nuint)i);
                NeuronStepFunctions.StepAdjoint<Vector256<float>, Vector256Lane>(ref l, ref lI,
                    Vector256.LoadUnsafe(ref em, (nuint)i), Vector256.LoadUnsafe(ref es, (nuint)i), Vector256.LoadUnsafe(ref vi, (nuint)i));
                lI.StoreUnsafe(ref li, (nuint)i);
                l.StoreUnsafe(ref lv, (nuint)i);
            }
        for (; i < n; i++)
        {
            ref float l = ref Unsafe.Add(ref lv, i);
            ref float lI = ref Unsafe.Add(ref li, i);
            NeuronStepFunctions.TauGradientTerms<float, FloatLane>(l, lI, Unsafe.Add(ref pv, i), Unsafe.Add(ref pi, i),
                Unsafe.Add(ref psi, i), Unsafe.Add(ref mP3, i), Unsafe.Add(ref dtEm, i), Unsafe.Add(ref dtEs, i), Unsafe.Add(ref sP3, i),
                out float mem, out float syn);
            Unsafe.Add(ref gm, i) += mem;
            Unsafe.Add(ref gs, i) += syn;
            NeuronStepFunctions.StepAdjoint<float, FloatLane>(ref l, ref lI, Unsafe.Add(ref em, i), Unsafe.Add(ref es, i), Unsafe.Add(ref vi, i));
        }
    }

    /// <summary>Writes every index with v[i] ≥ threshold into <paramref name="indices"/>, in increasing order, and returns how many.</summary>
    public static int FindCrossings(ReadOnlySpan<float> v, float threshold, Span<int> indices)
    {
        int n = v.Length, i = 0, count = 0;
        ref float pv = ref MemoryMarshal.GetReference(v);
        if (Vector256.IsHardwareAccelerated)
        {
            var th = Vector256.Create(threshold);
            for (; i <= n - 8; i += 8)
            {
                uint mask = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref pv, (nuint)i), th).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    int bit = System.Numerics.BitOperations.TrailingZeroCount(mask);
                    indices[count++] = i + bit;
                    mask &= mask - 1;
                }
            }
        }
        for (; i < n; i++)
            if (Unsafe.Add(ref pv, i) >= threshold) indices[count++] = i;
        return count;
    }
}
