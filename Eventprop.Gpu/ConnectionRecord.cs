using ILGPU;

namespace Eventprop.Gpu;

/// <summary>
/// A connection on the device: presynaptic slice (input channels when <see cref="FromInput"/>, else dynamic neurons),
/// postsynaptic slice, and where its stored weights start in the flat weight and gradient arrays — W[pre, post] row-major
/// when dense (<see cref="RowStartOffset"/> &lt; 0), a sparse mask's nonzeros row by row otherwise, with their row starts
/// and targets in the shared sparse arrays.
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

    /// <summary>Index of W[pre, post] in the flat arrays, or −1 when this connection has no such synapse.</summary>
    /// <remarks>Sparse rows list their targets ascending: a binary search over the row.</remarks>
    public readonly long IndexOf(int pre, int post, ArrayView<int> rowStarts, ArrayView<int> targets)
    {
        int i = pre - PreOffset, j = post - PostOffset;
        if (i < 0 || i >= PreSize || j < 0 || j >= PostSize) return -1;
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

    /// <summary>The flat positions [<paramref name="from"/>, <paramref name="to"/>) of row <paramref name="row"/>'s stored weights.</summary>
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
