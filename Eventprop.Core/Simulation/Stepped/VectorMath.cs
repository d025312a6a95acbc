using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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

    /// <summary>One free step of every neuron: V ← V·e_m + I·c, I ← I·e_s.</summary>
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
                (vi * Vector256.LoadUnsafe(ref em, (nuint)i) + ii * Vector256.LoadUnsafe(ref cm, (nuint)i)).StoreUnsafe(ref pv, (nuint)i);
                (ii * Vector256.LoadUnsafe(ref es, (nuint)i)).StoreUnsafe(ref pi, (nuint)i);
            }
        for (; i < n; i++)
        {
            float vi = Unsafe.Add(ref pv, i), ii = Unsafe.Add(ref pi, i);
            Unsafe.Add(ref pv, i) = vi * Unsafe.Add(ref em, i) + ii * Unsafe.Add(ref cm, i);
            Unsafe.Add(ref pi, i) = ii * Unsafe.Add(ref es, i);
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
