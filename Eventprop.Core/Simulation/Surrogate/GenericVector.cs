using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>Vectorised kernels of the BPTT engine for float and double (the JIT specialises each per type).</summary>
internal static class GenericVector
{
    /// <summary>dst += src.</summary>
    public static void Add<T>(Span<T> dst, ReadOnlySpan<T> src) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = dst.Length, i = 0, w = Vector256<T>.Count;
        ref T d = ref MemoryMarshal.GetReference(dst);
        ref T s = ref MemoryMarshal.GetReference(src);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - w; i += w)
                (Vector256.LoadUnsafe(ref d, (nuint)i) + Vector256.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref d, i) += Unsafe.Add(ref s, i);
    }

    /// <summary>dst += scale·src.</summary>
    public static void AddScaled<T>(Span<T> dst, ReadOnlySpan<T> src, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = dst.Length, i = 0, w = Vector256<T>.Count;
        ref T d = ref MemoryMarshal.GetReference(dst);
        ref T s = ref MemoryMarshal.GetReference(src);
        if (Vector256.IsHardwareAccelerated)
        {
            var c = Vector256.Create(scale);
            for (; i <= n - w; i += w)
                (Vector256.LoadUnsafe(ref d, (nuint)i) + c * Vector256.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) += scale * Unsafe.Add(ref s, i);
    }

    /// <summary>Σ a[i]·b[i] (fixed order for a given length).</summary>
    public static T Dot<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = a.Length, i = 0, w = Vector256<T>.Count;
        ref T x = ref MemoryMarshal.GetReference(a);
        ref T y = ref MemoryMarshal.GetReference(b);
        T sum = T.Zero;
        if (Vector256.IsHardwareAccelerated && n >= w)
        {
            var acc = Vector256<T>.Zero;
            for (; i <= n - w; i += w)
                acc += Vector256.LoadUnsafe(ref x, (nuint)i) * Vector256.LoadUnsafe(ref y, (nuint)i);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref x, i) * Unsafe.Add(ref y, i);
        return sum;
    }

    /// <summary>The free step: v ← em·v + a·i, i ← es·i.</summary>
    public static void Step<T>(Span<T> v, Span<T> cur, ReadOnlySpan<T> em, ReadOnlySpan<T> a, ReadOnlySpan<T> es) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = v.Length, i = 0, w = Vector256<T>.Count;
        ref T pv = ref MemoryMarshal.GetReference(v);
        ref T pi = ref MemoryMarshal.GetReference(cur);
        ref T pm = ref MemoryMarshal.GetReference(em);
        ref T pa = ref MemoryMarshal.GetReference(a);
        ref T ps = ref MemoryMarshal.GetReference(es);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - w; i += w)
            {
                var c = Vector256.LoadUnsafe(ref pi, (nuint)i);
                (Vector256.LoadUnsafe(ref pm, (nuint)i) * Vector256.LoadUnsafe(ref pv, (nuint)i) + Vector256.LoadUnsafe(ref pa, (nuint)i) * c).StoreUnsafe(ref pv, (nuint)i);
                (Vector256.LoadUnsafe(ref ps, (nuint)i) * c).StoreUnsafe(ref pi, (nuint)i);
            }
        for (; i < n; i++)
        {
            T c = Unsafe.Add(ref pi, i);
            Unsafe.Add(ref pv, i) = Unsafe.Add(ref pm, i) * Unsafe.Add(ref pv, i) + Unsafe.Add(ref pa, i) * c;
            Unsafe.Add(ref pi, i) = Unsafe.Add(ref ps, i) * c;
        }
    }

    /// <summary>dst ← em·v + a·i (the voltage after a free step, bit-identical to <see cref="Step{T}"/>).</summary>
    public static void StepVoltage<T>(Span<T> dst, ReadOnlySpan<T> v, ReadOnlySpan<T> cur, ReadOnlySpan<T> em, ReadOnlySpan<T> a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = dst.Length, i = 0, w = Vector256<T>.Count;
        ref T pd = ref MemoryMarshal.GetReference(dst);
        ref T pv = ref MemoryMarshal.GetReference(v);
        ref T pi = ref MemoryMarshal.GetReference(cur);
        ref T pm = ref MemoryMarshal.GetReference(em);
        ref T pa = ref MemoryMarshal.GetReference(a);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - w; i += w)
                (Vector256.LoadUnsafe(ref pm, (nuint)i) * Vector256.LoadUnsafe(ref pv, (nuint)i) + Vector256.LoadUnsafe(ref pa, (nuint)i) * Vector256.LoadUnsafe(ref pi, (nuint)i)).StoreUnsafe(ref pd, (nuint)i);
        for (; i < n; i++)
            Unsafe.Add(ref pd, i) = Unsafe.Add(ref pm, i) * Unsafe.Add(ref pv, i) + Unsafe.Add(ref pa, i) * Unsafe.Add(ref pi, i);
    }

    /// <summary>
    /// The adjoint step back with the τ partials: gEm += gt·v, gA += gt·i, gEs += gI·i; gV ← em·gt, gI ← a·gt + es·gI.
    /// </summary>
    public static void StepBack<T>(Span<T> gV, Span<T> gI, ReadOnlySpan<T> gt, ReadOnlySpan<T> v, ReadOnlySpan<T> cur,
        ReadOnlySpan<T> em, ReadOnlySpan<T> a, ReadOnlySpan<T> es, Span<T> gEm, Span<T> gA, Span<T> gEs, bool tau)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = gV.Length, i = 0, w = Vector256<T>.Count;
        ref T pgv = ref MemoryMarshal.GetReference(gV);
        ref T pgi = ref MemoryMarshal.GetReference(gI);
        ref T pgt = ref MemoryMarshal.GetReference(gt);
        ref T pv = ref MemoryMarshal.GetReference(v);
        ref T pc = ref MemoryMarshal.GetReference(cur);
        ref T pm = ref MemoryMarshal.GetReference(em);
        ref T pa = ref MemoryMarshal.GetReference(a);
        ref T ps = ref MemoryMarshal.GetReference(es);
        ref T qm = ref MemoryMarshal.GetReference(gEm);
        ref T qa = ref MemoryMarshal.GetReference(gA);
        ref T qs = ref MemoryMarshal.GetReference(gEs);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - w; i += w)
            {
                var t = Vector256.LoadUnsafe(ref pgt, (nuint)i);
                var g = Vector256.LoadUnsafe(ref pgi, (nuint)i);
                if (tau)
                {
                    var c = Vector256.LoadUnsafe(ref pc, (nuint)i);
                    (Vector256.LoadUnsafe(ref qm, (nuint)i) + t * Vector256.LoadUnsafe(ref pv, (nuint)i)).StoreUnsafe(ref qm, (nuint)i);
                    (Vector256.LoadUnsafe(ref qa, (nuint)i) + t * c).StoreUnsafe(ref qa, (nuint)i);
                    (Vector256.LoadUnsafe(ref qs, (nuint)i) + g * c).StoreUnsafe(ref qs, (nuint)i);
                }
                (Vector256.LoadUnsafe(ref pm, (nuint)i) * t).StoreUnsafe(ref pgv, (nuint)i);
                (Vector256.LoadUnsafe(ref pa, (nuint)i) * t + Vector256.LoadUnsafe(ref ps, (nuint)i) * g).StoreUnsafe(ref pgi, (nuint)i);
            }
        for (; i < n; i++)
        {
            T t = Unsafe.Add(ref pgt, i), g = Unsafe.Add(ref pgi, i);
            if (tau)
            {
                T c = Unsafe.Add(ref pc, i);
                Unsafe.Add(ref qm, i) += t * Unsafe.Add(ref pv, i);
                Unsafe.Add(ref qa, i) += t * c;
                Unsafe.Add(ref qs, i) += g * c;
            }
            Unsafe.Add(ref pgv, i) = Unsafe.Add(ref pm, i) * t;
            Unsafe.Add(ref pgi, i) = Unsafe.Add(ref pa, i) * t + Unsafe.Add(ref ps, i) * g;
        }
    }
}
