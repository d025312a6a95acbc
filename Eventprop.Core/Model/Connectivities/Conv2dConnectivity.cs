namespace Eventprop.Core.Model.Connectivities;

/// <summary>
/// A 2-D convolution with shared trainable kernels between populations laid out as (channels, height, width), with an
/// optional average pooling of the presynaptic spikes folded in (seed 004: a conv layer's spikes are pooled straight
/// into the next layer's input, no neurons in between). A spike of presynaptic neuron (c, y, x) adds
/// W[o, c, ky, kx] / pool² to every postsynaptic neuron (o, y′, x′) whose kernel footprint covers its pooled position;
/// engines visit only that footprint (cost follows spikes, no im2col). The index arithmetic is <see cref="Geometry"/>.
/// </summary>
/// <remarks>
/// The weights are stored as PyTorch's (out, in, kh, kw), as a parameter of OutChannels rows and
/// InChannels·KernelHeight·KernelWidth columns; an initialiser fills that matrix (so <see cref="Init.Values"/> takes
/// [out, in·kh·kw]). A dense layer after pooling and flattening is a convolution whose kernel covers the whole pooled
/// map (<see cref="PooledDense"/>).
/// </remarks>
public sealed class Conv2dConnectivity : Connectivity
{
    private Conv2dConnectivity(Conv2dGeometry geometry) => Geometry = geometry;

    /// <summary>The index arithmetic every engine uses.</summary>
    public Conv2dGeometry Geometry { get; }

    /// <inheritdoc />
    public override string Name => "conv2d";

    /// <summary>
    /// A convolution of <paramref name="outChannels"/> kernels of <paramref name="kernel"/> × <paramref name="kernel"/> over an
    /// input of <paramref name="inChannels"/> × <paramref name="inHeight"/> × <paramref name="inWidth"/>, first average-pooled
    /// in windows of <paramref name="pool"/> × <paramref name="pool"/> (1 = no pooling), with <paramref name="stride"/> and
    /// zero <paramref name="padding"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A size is not positive, the stride is 0, or the kernel is larger than its (pooled, padded) input; one line saying which.</exception>
    public static Conv2dConnectivity Create(int inChannels, int inHeight, int inWidth, int outChannels, int kernel, int stride = 1, int padding = 0, int pool = 1) =>
        Create(inChannels, inHeight, inWidth, outChannels, kernel, kernel, stride, padding, pool);

    /// <summary>As <see cref="Create(int, int, int, int, int, int, int, int)"/> with a rectangular kernel.</summary>
    public static Conv2dConnectivity Create(int inChannels, int inHeight, int inWidth, int outChannels, int kernelHeight, int kernelWidth, int stride, int padding, int pool)
    {
        if (inChannels < 1 || inHeight < 1 || inWidth < 1)
            throw new ArgumentException($"A conv2d input shape must be positive, not {inChannels}×{inHeight}×{inWidth} (channels×height×width).");
        if (outChannels < 1) throw new ArgumentException($"A conv2d layer needs at least one output channel, not {outChannels}.");
        if (kernelHeight < 1 || kernelWidth < 1) throw new ArgumentException($"A conv2d kernel must be at least 1×1, not {kernelHeight}×{kernelWidth}.");
        if (stride < 1) throw new ArgumentException($"A conv2d stride must be at least 1, not {stride}.");
        if (padding < 0) throw new ArgumentException($"A conv2d padding must be ≥ 0, not {padding}.");
        if (pool < 1) throw new ArgumentException($"A pooling window must be at least 1 (1 = no pooling), not {pool}.");
        if (pool > inHeight || pool > inWidth)
            throw new ArgumentException($"The pooling window {pool}×{pool} is larger than its input {inHeight}×{inWidth}; use a smaller pool.");
        int pooledHeight = inHeight / pool, pooledWidth = inWidth / pool;
        if (kernelHeight > pooledHeight + 2 * padding || kernelWidth > pooledWidth + 2 * padding)
            throw new ArgumentException($"The conv2d kernel {kernelHeight}×{kernelWidth} is larger than its input {pooledHeight}×{pooledWidth}{(pool > 1 ? " (after pooling)" : "")}{(padding > 0 ? $" padded by {padding}" : "")}; use a smaller kernel or more padding.");
        if (padding >= kernelHeight || padding >= kernelWidth)
            throw new ArgumentException($"A conv2d padding of {padding} is not smaller than the kernel {kernelHeight}×{kernelWidth}: outputs would see only padding; use padding < kernel size.");
        return new Conv2dConnectivity(new Conv2dGeometry(inChannels, inHeight, inWidth, pool, outChannels, kernelHeight, kernelWidth, stride, padding));
    }

    /// <summary>
    /// Average pooling in windows of <paramref name="pool"/>, flattening and a dense layer to <paramref name="outputs"/>
    /// neurons: a convolution whose kernel covers the whole pooled map. Its weights are a dense (outputs, C·H′·W′) matrix
    /// over the pooled, flattened input (PyTorch's flatten order).
    /// </summary>
    public static Conv2dConnectivity PooledDense(int inChannels, int inHeight, int inWidth, int pool, int outputs)
    {
        if (pool < 1) throw new ArgumentException($"A pooling window must be at least 1 (1 = no pooling), not {pool}.");
        if (inHeight >= 1 && inWidth >= 1 && (pool > inHeight || pool > inWidth))
            throw new ArgumentException($"The pooling window {pool}×{pool} is larger than its input {inHeight}×{inWidth}; use a smaller pool.");
        return Create(inChannels, inHeight, inWidth, outputs, Math.Max(1, inHeight / pool), Math.Max(1, inWidth / pool), 1, 0, pool);
    }

    /// <inheritdoc />
    public override int WeightCount(int preSize, int postSize) => Geometry.WeightCount;

    /// <inheritdoc />
    public override SynapseRows Rows(int preSize, int postSize) => new(null, null, postSize, Geometry);

    internal override void RequireShape(string connection, int preSize, int postSize)
    {
        var g = Geometry;
        if (preSize != g.PreSize)
            throw new ArgumentException($"Connection {connection}: the conv2d input is {g.InChannels}×{g.InHeight}×{g.InWidth} = {g.PreSize} neurons but the presynaptic population has {preSize}; the shapes do not chain.");
        if (postSize != g.PostSize)
            throw new ArgumentException($"Connection {connection}: the conv2d output is {g.OutChannels}×{g.OutHeight}×{g.OutWidth} = {g.PostSize} neurons but the postsynaptic population has {postSize}; give it {g.PostSize} neurons.");
    }

    internal override double[] FromDense(double[] dense, int preSize, int postSize) =>
        throw new InvalidOperationException("A conv2d connection's weights are its kernels, not a dense matrix.");

    internal override double[] InitialWeights(IWeightInit init, int preSize, int postSize, Random random)
    {
        var kernels = new double[Geometry.WeightCount];
        init.Fill(kernels, Geometry.OutChannels, Geometry.FanIn, random);
        return kernels;
    }

    internal override void AddToIncoming(double[] weights, int preSize, int postSize, int post, double amount)
    {
        var g = Geometry;
        int channel = post / (g.OutHeight * g.OutWidth);
        double share = amount / (g.OutHeight * g.OutWidth);
        for (int k = channel * g.FanIn; k < (channel + 1) * g.FanIn; k++) weights[k] += share;
    }

    internal override (int Rows, int Columns) ParameterShape(int preSize, int postSize) => (Geometry.OutChannels, Geometry.FanIn);

    /// <summary>Whether <paramref name="other"/> has the same geometry.</summary>
    public bool SameGeometry(Conv2dConnectivity other) => other.Geometry.Equals(Geometry);

    /// <inheritdoc />
    public override string ToString() => $"conv2d({Geometry})";
}
