using Eventprop.Core.Model.Connectivities;
using ILGPU;

namespace Eventprop.Gpu;

/// <summary>
/// A connection on the device: presynaptic slice (input channels when <see cref="FromInput"/>, else dynamic neurons),
/// postsynaptic slice, and where its stored weights start in the flat weight and gradient arrays — W[pre, post] row-major
/// when dense (<see cref="RowStartOffset"/> &lt; 0), a sparse mask's nonzeros row by row otherwise, with their row starts
/// and targets in the shared sparse arrays; a convolution's shared kernels (out, in, kh, kw) when <see cref="IsConvolution"/>,
/// its synapses computed from <see cref="Convolution"/> (the geometry every engine's loops call).
/// </summary>
internal struct ConnectionRecord
{
    public int FromInput;
    public int PreOffset, PreSize;
    public int PostOffset, PostSize;
    public long WeightOffset;
    /// <summary>Offset of the connection's pre + 1 row starts in the sparse row-start array, or −1 for dense.</summary>
    public int RowStartOffset;
    /// <summary>Offset of the connection's targets in the sparse target array (sparse only).</summary>
    public int TargetOffset;
    /// <summary>1 for a convolution (<see cref="Convolution"/> holds its geometry), else 0.</summary>
    public int IsConvolution;
    /// <summary>A convolution's geometry (default otherwise).</summary>
    public Conv2dGeometry Convolution;
    /// <summary>The factor a delivered weight is multiplied by: 1/pool² for a pooled convolution (as float32, as the CPU engine has it), else 1.</summary>
    public float Scale;
    /// <summary>A convolution's first kernel weight in the space of all convolutions' kernel weights, one thread each in the weight-gradient phase.</summary>
    public int ConvolutionWeightStart;

    /// <summary>Index of W[pre, post] in the flat arrays, or −1 when this connection has no such synapse.</summary>
    /// <remarks>Sparse rows list their targets ascending: a binary search over the row. A convolution's synapse is its
    /// geometry's <see cref="Conv2dGeometry.WeightIndex"/> (O(1)); many synapses share one kernel weight.</remarks>
    public readonly long IndexOf(int pre, int post, ArrayView<int> rowStarts, ArrayView<int> targets)
    {
        int i = pre - PreOffset, j = post - PostOffset;
        if (i < 0 || i >= PreSize || j < 0 || j >= PostSize) return -1;
        if (IsConvolution != 0)
        {
            int k = Convolution.WeightIndex(i, j);
            return k < 0 ? -1 : WeightOffset + k;
        }
        if (RowStartOffset < 0) return WeightOffset + (long)i * PostSize + j;
        int lo = rowStarts[RowStartOffset + i], hi = rowStarts[RowStartOffset + i + 1], end = hi;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (targets[TargetOffset + mid] < j) lo = mid + 1;
            else hi = mid;
        }
        return lo < end && targets[TargetOffset + lo] == j ? WeightOffset + lo : -1;
    }

    /// <summary>The flat positions [<paramref name="from"/>, <paramref name="to"/>) of row <paramref name="row"/>'s stored weights (dense and sparse only).</summary>
    public readonly void Row(int row, ArrayView<int> rowStarts, out long from, out long to)
    {
        if (RowStartOffset < 0)
        {
            from = WeightOffset + (long)row * PostSize;
            to = from + PostSize;
            return;
        }
        from = WeightOffset + rowStarts[RowStartOffset + row];
        to = WeightOffset + rowStarts[RowStartOffset + row + 1];
    }

    /// <summary>The postsynaptic index (within the post population) of the stored weight at flat position <paramref name="e"/>
    /// of the row that starts at <paramref name="rowFrom"/>.</summary>
    public readonly int Target(long e, long rowFrom, ArrayView<int> targets) =>
        RowStartOffset < 0 ? (int)(e - rowFrom) : targets[TargetOffset + (int)(e - WeightOffset)];
}
