using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Eventprop.Core.Model.Connectivities;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>
/// The BPTT engine's batched adjoint transport through a stride-1 convolution (the transposed convolution): for every
/// pooled presynaptic position (c, Y, X), Σ over its footprint of W·adjoint, computed for the whole map at once and
/// vectorised along output rows. Every position receives exactly the terms of <see cref="SurrogateSynapses{T}.Transport"/>'s
/// per-neuron loop, in the same order (output channel, then output row, then output column, each ascending), so the
/// result is bit-identical to it; the pool's p² neurons of a position share the one sum instead of recomputing it.
/// </summary>
internal static class ConvTransport
{
    /// <summary>Whether <see cref="Cells{T}"/> serves the geometry (stride 1; any padding and pooling).</summary>
    public static bool Supports(in Conv2dGeometry g) => g.Stride == 1;

    /// <summary>Pooled positions of the presynaptic map: InChannels·PooledHeight·PooledWidth.</summary>
    public static int CellCount(in Conv2dGeometry g) => g.InChannels * g.PooledHeight * g.PooledWidth;

    /// <summary>
    /// Per presynaptic neuron, the index of its pooled position in the <see cref="Cells{T}"/> array, or −1 where it lies past the
    /// last whole pooling window (it reaches nothing).
    /// </summary>
    public static int[] CellOf(in Conv2dGeometry g)
    {
        var map = new int[g.PreSize];
        for (int pre = 0; pre < map.Length; pre++)
            map[pre] = g.PooledPosition(pre, out int c, out int y, out int x) ? (c * g.PooledHeight + y) * g.PooledWidth + x : -1;
        return map;
    }

    /// <summary>
    /// cells[(c·PH + Y)·PW + X] = Σ_o Σ_(oy, ox) W[o, c, Y + pad − oy, X + pad − ox]·adjoint[o, oy, ox] over the taps that lie
    /// in the kernel, summed in <see cref="SurrogateSynapses{T}.Transport"/>'s order (without its pooling factor).
    /// </summary>
    /// <param name="g">The geometry (stride 1).</param>
    /// <param name="w">The kernels, (out, in, kh, kw) row-major.</param>
    /// <param name="adjoint">The postsynaptic adjoint, one entry per output neuron.</param>
    /// <param name="cells">Output: <see cref="CellCount"/> entries, overwritten.</param>
    public static void Cells<T>(in Conv2dGeometry g, ReadOnlySpan<T> w, ReadOnlySpan<T> adjoint, Span<T> cells) where T : unmanaged, IFloatingPointIeee754<T>
    {
        cells.Clear();
        int inC = g.InChannels, outC = g.OutChannels, kh = g.KernelHeight, kw = g.KernelWidth, ph = g.PooledHeight, pw = g.PooledWidth;
        int oh = g.OutHeight, ow = g.OutWidth, pad = g.Padding, fanIn = g.FanIn;
        if (oh == 1 && ow == 1 && pad == 0 && kh == ph && kw == pw)
        {
            // A pooled dense layer: position (c, Y, X) is kernel tap (c, Y, X) of every output, one term per output channel.
            for (int o = 0; o < outC; o++)
                GenericVector.AddScaled(cells, w.Slice(o * fanIn, fanIn), adjoint[o]);
            return;
        }
        ref T pc = ref MemoryMarshal.GetReference(cells);
        ref T pa = ref MemoryMarshal.GetReference(adjoint);
        ref T pwt = ref MemoryMarshal.GetReference(w);
        for (int o = 0; o < outC; o++)
        {
            int adjointPlane = o * oh * ow;
            for (int c = 0; c < inC; c++)
            {
                int cellPlane = c * ph * pw, kernel = (o * inC + c) * kh * kw;
                // Tap (ky, kx) joins output (oy, ox) to position (oy + ky − pad, ox + kx − pad): descending taps visit a
                // position's outputs in ascending (oy, ox), the per-neuron loop's order.
                for (int ky = kh - 1; ky >= 0; ky--)
                {
                    int oy0 = Math.Max(0, pad - ky), oy1 = Math.Min(oh, ph + pad - ky);
                    for (int kx = kw - 1; kx >= 0; kx--)
                    {
                        int ox0 = Math.Max(0, pad - kx), ox1 = Math.Min(ow, pw + pad - kx), len = ox1 - ox0;
                        if (len <= 0) continue;
                        T weight = Unsafe.Add(ref pwt, kernel + ky * kw + kx);
                        for (int oy = oy0; oy < oy1; oy++)
                        {
                            int dst = cellPlane + (oy + ky - pad) * pw + ox0 + kx - pad, src = adjointPlane + oy * ow + ox0;
                            AddScaled(ref Unsafe.Add(ref pc, dst), ref Unsafe.Add(ref pa, src), weight, len);
                        }
                    }
                }
            }
        }
    }

    /// <summary>d[i] += weight·s[i] for i &lt; n (element by element: the same result as the scalar loop).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddScaled<T>(ref T d, ref T s, T weight, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count)
        {
            var c = Vector256.Create(weight);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                (Vector256.LoadUnsafe(ref d, (nuint)i) + Vector256.LoadUnsafe(ref s, (nuint)i) * c).StoreUnsafe(ref d, (nuint)i);
        }
        if (Vector128.IsHardwareAccelerated && n - i >= Vector128<T>.Count)
        {
            var c = Vector128.Create(weight);
            for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
                (Vector128.LoadUnsafe(ref d, (nuint)i) + Vector128.LoadUnsafe(ref s, (nuint)i) * c).StoreUnsafe(ref d, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) += Unsafe.Add(ref s, i) * weight;
    }
}
