namespace Eventprop.Core.Model.Connectivities;

/// <summary>
/// The integer geometry of a 2-D convolution whose input may first be average-pooled: every engine's synapse loops
/// (the exact engine's, the time-stepped CPU engine's, the surrogate engine's and the ILGPU kernels') call these functions, so the index
/// arithmetic exists once. Only ints; no references (usable inside kernels).
/// </summary>
/// <remarks>
/// Layouts (all row-major): a presynaptic neuron (c, y, x) is <c>(c·InHeight + y)·InWidth + x</c>; a postsynaptic neuron
/// (o, y′, x′) is <c>(o·OutHeight + y′)·OutWidth + x′</c>; the kernel weight (o, c, ky, kx) is
/// <c>((o·InChannels + c)·KernelHeight + ky)·KernelWidth + kx</c> — PyTorch's (out, in, kh, kw). With pooling p, input
/// (c, y, x) belongs to pooled position (c, ⌊y/p⌋, ⌊x/p⌋) (rows and columns past the last whole window belong to none,
/// as in PyTorch's AvgPool2d) and contributes 1/p² of a spike to it. Pooled position (c, Y, X) reaches output
/// (o, y′, x′) through kernel tap (ky, kx) = (Y + padding − y′·stride, X + padding − x′·stride) when it lies in the kernel.
/// Each (pre, post) pair has at most one tap, so a spike reaches a postsynaptic neuron at most once.
/// </remarks>
public readonly struct Conv2dGeometry
{
    /// <summary>The geometry; <c>Conv2dConnectivity.Create</c> checks the values.</summary>
    internal Conv2dGeometry(int inChannels, int inHeight, int inWidth, int pool, int outChannels, int kernelHeight, int kernelWidth, int stride, int padding)
    {
        InChannels = inChannels;
        InHeight = inHeight;
        InWidth = inWidth;
        Pool = pool;
        OutChannels = outChannels;
        KernelHeight = kernelHeight;
        KernelWidth = kernelWidth;
        Stride = stride;
        Padding = padding;
        PooledHeight = inHeight / pool;
        PooledWidth = inWidth / pool;
        OutHeight = (PooledHeight + 2 * padding - kernelHeight) / stride + 1;
        OutWidth = (PooledWidth + 2 * padding - kernelWidth) / stride + 1;
        Scale = 1.0 / (pool * pool);
    }

    /// <summary>Channels of the presynaptic population.</summary>
    public int InChannels { get; }
    /// <summary>Height of the presynaptic population.</summary>
    public int InHeight { get; }
    /// <summary>Width of the presynaptic population.</summary>
    public int InWidth { get; }
    /// <summary>Average-pooling window and stride applied to the presynaptic spikes before the convolution (1 = none).</summary>
    public int Pool { get; }
    /// <summary>Output channels (kernels).</summary>
    public int OutChannels { get; }
    /// <summary>Kernel height.</summary>
    public int KernelHeight { get; }
    /// <summary>Kernel width.</summary>
    public int KernelWidth { get; }
    /// <summary>Convolution stride (both directions).</summary>
    public int Stride { get; }
    /// <summary>Zero padding of the pooled input (both sides, both directions).</summary>
    public int Padding { get; }
    /// <summary>Height after pooling: ⌊InHeight / Pool⌋.</summary>
    public int PooledHeight { get; }
    /// <summary>Width after pooling: ⌊InWidth / Pool⌋.</summary>
    public int PooledWidth { get; }
    /// <summary>Output height: ⌊(PooledHeight + 2·Padding − KernelHeight) / Stride⌋ + 1.</summary>
    public int OutHeight { get; }
    /// <summary>Output width: ⌊(PooledWidth + 2·Padding − KernelWidth) / Stride⌋ + 1.</summary>
    public int OutWidth { get; }
    /// <summary>The pooling factor 1/Pool² every synapse's weight is multiplied by.</summary>
    public double Scale { get; }

    /// <summary>Presynaptic neurons: InChannels·InHeight·InWidth.</summary>
    public int PreSize => InChannels * InHeight * InWidth;

    /// <summary>Postsynaptic neurons: OutChannels·OutHeight·OutWidth.</summary>
    public int PostSize => OutChannels * OutHeight * OutWidth;

    /// <summary>Kernel weights: OutChannels·InChannels·KernelHeight·KernelWidth.</summary>
    public int WeightCount => OutChannels * InChannels * KernelHeight * KernelWidth;

    /// <summary>Weights per output channel (the fan-in of one kernel): InChannels·KernelHeight·KernelWidth.</summary>
    public int FanIn => InChannels * KernelHeight * KernelWidth;

    /// <summary>
    /// The footprint of presynaptic neuron <paramref name="pre"/> as a block: for every output channel o, output rows
    /// <see cref="Conv2dRow.FirstRow"/> … + <see cref="Conv2dRow.Rows"/> − 1 and columns <see cref="Conv2dRow.FirstColumn"/> …
    /// + <see cref="Conv2dRow.Columns"/> − 1 (all of them synapses). False when the neuron reaches nothing (a row or column
    /// past the last whole pooling window). Decodes the neuron once, so the engines' loops over the block need no
    /// divisions: <see cref="Conv2dRow.Post"/> and <see cref="Conv2dRow.Weight"/> of (o, a, 0) and steps of +1 and
    /// −<see cref="Stride"/> along a row.
    /// </summary>
    public bool Footprint(int pre, out Conv2dRow row)
    {
        row = default;
        if (!PooledPosition(pre, out int c, out int py, out int px)) return false;
        int ny = py + Padding - KernelHeight + 1, nx = px + Padding - KernelWidth + 1;
        int oy0 = ny <= 0 ? 0 : (ny + Stride - 1) / Stride, ox0 = nx <= 0 ? 0 : (nx + Stride - 1) / Stride;
        int oy1 = Math.Min(OutHeight - 1, (py + Padding) / Stride), ox1 = Math.Min(OutWidth - 1, (px + Padding) / Stride);
        if (oy1 < oy0 || ox1 < ox0) return false;
        row = new Conv2dRow(this, c, oy0, oy1 - oy0 + 1, ox0, ox1 - ox0 + 1, py + Padding - oy0 * Stride, px + Padding - ox0 * Stride);
        return true;
    }

    /// <summary>The kernel weight of synapse <paramref name="pre"/> → <paramref name="post"/>, or −1 if there is none (O(1)).</summary>
    public int WeightIndex(int pre, int post)
    {
        if (!PooledPosition(pre, out int c, out int py, out int px)) return -1;
        int outPlane = OutHeight * OutWidth;
        int o = post / outPlane, outRest = post - o * outPlane;
        int oy = outRest / OutWidth, ox = outRest - oy * OutWidth;
        int ky = py + Padding - oy * Stride, kx = px + Padding - ox * Stride;
        if (ky < 0 || kx < 0 || ky >= KernelHeight || kx >= KernelWidth) return -1;
        return ((o * InChannels + c) * KernelHeight + ky) * KernelWidth + kx;
    }

    /// <summary>
    /// The pooled position (channel <paramref name="channel"/>, row <paramref name="pooledRow"/>, column
    /// <paramref name="pooledColumn"/>) presynaptic neuron <paramref name="pre"/> is averaged into; false when it lies past the
    /// last whole pooling window (it then reaches nothing). <see cref="Footprint"/>, <see cref="WeightIndex"/> and
    /// <see cref="Target"/> all decode a presynaptic neuron through it.
    /// </summary>
    public bool PooledPosition(int pre, out int channel, out int pooledRow, out int pooledColumn)
    {
        int plane = InHeight * InWidth;
        channel = pre / plane;
        int local = pre - channel * plane;
        int y = local / InWidth, x = local - y * InWidth;
        pooledRow = y / Pool;
        pooledColumn = x / Pool;
        return pooledRow < PooledHeight && pooledColumn < PooledWidth;
    }

    /// <summary>
    /// The postsynaptic neuron that presynaptic neuron <paramref name="pre"/> reaches through kernel weight
    /// <paramref name="weight"/>, or −1 if that weight carries none of its synapses (O(1)): the inverse of
    /// <see cref="WeightIndex"/> in its second argument — <c>WeightIndex(pre, Target(pre, weight)) == weight</c> whenever
    /// Target is not −1, and each (pre, weight) reaches at most one neuron. The GPU engine's shared-kernel weight gradient,
    /// which runs one thread per kernel weight (so no two threads add to the same weight), visits a spike's synapses through it.
    /// </summary>
    public int Target(int pre, int weight)
    {
        if (!PooledPosition(pre, out int c, out int py, out int px)) return -1;
        int taps = KernelHeight * KernelWidth;
        int kernel = weight / taps, tap = weight - kernel * taps;
        int o = kernel / InChannels;
        if (kernel - o * InChannels != c) return -1;
        int ky = tap / KernelWidth, kx = tap - ky * KernelWidth;
        // ky = py + Padding − oy·Stride (see WeightIndex), solved for the output row; likewise the column.
        int ny = py + Padding - ky, nx = px + Padding - kx;
        if (ny < 0 || nx < 0) return -1;
        int oy = ny / Stride, ox = nx / Stride;
        if (oy * Stride != ny || ox * Stride != nx || oy >= OutHeight || ox >= OutWidth) return -1;
        return (o * OutHeight + oy) * OutWidth + ox;
    }

    /// <summary>The kernel tap mirrored in both directions (ky, kx) → (KH − 1 − ky, KW − 1 − kx); used only by a fault test.</summary>
    internal int Mirrored(int weight)
    {
        int taps = KernelHeight * KernelWidth;
        int oc = weight / taps, tap = weight - oc * taps;
        int ky = tap / KernelWidth, kx = tap - ky * KernelWidth;
        return oc * taps + (KernelHeight - 1 - ky) * KernelWidth + (KernelWidth - 1 - kx);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{InChannels}×{InHeight}×{InWidth}{(Pool > 1 ? $" pooled {Pool}×{Pool}" : "")} → conv {KernelHeight}×{KernelWidth} stride {Stride} padding {Padding} → {OutChannels}×{OutHeight}×{OutWidth}";
}

/// <summary>
/// One presynaptic neuron's footprint in a <see cref="Conv2dGeometry"/> (from <see cref="Conv2dGeometry.Footprint"/>): a
/// block of output rows × columns in every output channel. Along a block row the postsynaptic index rises by 1 and the
/// kernel tap's column falls by the stride, so <c>Post(o, a) + b</c> and <c>Weight(o, a) − b·Stride</c> for b = 0 … Columns − 1.
/// </summary>
public readonly struct Conv2dRow
{
    private readonly int _outHeight, _outWidth, _inChannels, _kernelHeight, _kernelWidth, _stride, _channel, _firstKy, _firstKx;

    internal Conv2dRow(in Conv2dGeometry g, int channel, int firstRow, int rows, int firstColumn, int columns, int firstKy, int firstKx)
    {
        _outHeight = g.OutHeight;
        _outWidth = g.OutWidth;
        _inChannels = g.InChannels;
        _kernelHeight = g.KernelHeight;
        _kernelWidth = g.KernelWidth;
        _stride = g.Stride;
        _channel = channel;
        _firstKy = firstKy;
        _firstKx = firstKx;
        FirstRow = firstRow;
        Rows = rows;
        FirstColumn = firstColumn;
        Columns = columns;
    }

    /// <summary>First output row of the block.</summary>
    public int FirstRow { get; }
    /// <summary>Output rows in the block.</summary>
    public int Rows { get; }
    /// <summary>First output column of the block.</summary>
    public int FirstColumn { get; }
    /// <summary>Output columns in the block.</summary>
    public int Columns { get; }
    /// <summary>The weight index falls by this much per block column.</summary>
    public int Stride => _stride;

    /// <summary>The postsynaptic neuron at block row <paramref name="a"/>, column 0, in output channel <paramref name="o"/>.</summary>
    public int Post(int o, int a) => (o * _outHeight + FirstRow + a) * _outWidth + FirstColumn;

    /// <summary>The kernel weight of the synapse onto <see cref="Post"/>(o, a).</summary>
    public int Weight(int o, int a) => ((o * _inChannels + _channel) * _kernelHeight + _firstKy - a * _stride) * _kernelWidth + _firstKx;
}
