namespace Eventprop.Core.Model.Connectivities;

/// <summary>
/// The integer geometry of a 2-D convolution whose input may first be average-pooled: every engine's synapse loops
/// (the exact engine's, the time-stepped CPU engine's and the ILGPU kernels') call these functions, so the index
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

    /// <summary>The number of candidate synapses of one presynaptic neuron (OutChannels·KernelHeight·KernelWidth);
    /// <see cref="Synapse"/> enumerates them.</summary>
    public int FootprintSize => OutChannels * KernelHeight * KernelWidth;

    /// <summary>
    /// Candidate <paramref name="k"/> (0 … <see cref="FootprintSize"/> − 1) of presynaptic neuron <paramref name="pre"/>:
    /// whether it is a synapse and, if so, its postsynaptic neuron and the index of its kernel weight.
    /// </summary>
    public bool Synapse(int pre, int k, out int post, out int weight)
    {
        post = -1;
        weight = -1;
        int taps = KernelHeight * KernelWidth;
        int o = k / taps, tap = k - o * taps;
        int ky = tap / KernelWidth, kx = tap - ky * KernelWidth;
        int plane = InHeight * InWidth;
        int c = pre / plane, rest = pre - c * plane;
        int y = rest / InWidth, x = rest - y * InWidth;
        int py = y / Pool, px = x / Pool;
        if (py >= PooledHeight || px >= PooledWidth) return false;
        int sy = py + Padding - ky, sx = px + Padding - kx;
        if (sy < 0 || sx < 0 || sy % Stride != 0 || sx % Stride != 0) return false;
        int oy = sy / Stride, ox = sx / Stride;
        if (oy >= OutHeight || ox >= OutWidth) return false;
        post = (o * OutHeight + oy) * OutWidth + ox;
        weight = ((o * InChannels + c) * KernelHeight + ky) * KernelWidth + kx;
        return true;
    }

    /// <summary>The kernel weight of synapse <paramref name="pre"/> → <paramref name="post"/>, or −1 if there is none (O(1)).</summary>
    public int WeightIndex(int pre, int post)
    {
        int plane = InHeight * InWidth;
        int c = pre / plane, rest = pre - c * plane;
        int y = rest / InWidth, x = rest - y * InWidth;
        int py = y / Pool, px = x / Pool;
        if (py >= PooledHeight || px >= PooledWidth) return -1;
        int outPlane = OutHeight * OutWidth;
        int o = post / outPlane, outRest = post - o * outPlane;
        int oy = outRest / OutWidth, ox = outRest - oy * OutWidth;
        int ky = py + Padding - oy * Stride, kx = px + Padding - ox * Stride;
        if (ky < 0 || kx < 0 || ky >= KernelHeight || kx >= KernelWidth) return -1;
        return ((o * InChannels + c) * KernelHeight + ky) * KernelWidth + kx;
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
