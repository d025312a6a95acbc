using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Xunit;

namespace Eventprop.Tests.Model;

/// <summary>
/// Convolutions by their definition, written independently of the library's index arithmetic (PyTorch's Conv2d over
/// AvgPool2d, flatten order (c, y, x)), and the dense twin of a network: every convolution expanded into its dense
/// pre × post matrix. An oracle for the convolution code paths of every engine.
/// </summary>
internal static class ConvReference
{
    /// <summary>
    /// The dense pre × post matrix of a pooled convolution: pooled input P[c, Y, X] = mean of input (c, Y·p + dy, X·p + dx)
    /// over the window; output[o, y′, x′] = Σ_{c, ky, kx} K[o, c, ky, kx]·P_padded[c, y′·s + ky − pad, x′·s + kx − pad].
    /// Also returns which kernel weight each nonzero entry came from (−1: none).
    /// </summary>
    public static (double[,] Dense, int[,] Tap) Expand(int c, int h, int w, int pool, int outC, int kh, int kw, int stride, int pad, double[] kernel)
    {
        int ph = h / pool, pw = w / pool;
        int oh = (ph + 2 * pad - kh) / stride + 1, ow = (pw + 2 * pad - kw) / stride + 1;
        var dense = new double[c * h * w, outC * oh * ow];
        var tap = new int[c * h * w, outC * oh * ow];
        for (int i = 0; i < tap.GetLength(0); i++)
            for (int j = 0; j < tap.GetLength(1); j++) tap[i, j] = -1;
        for (int o = 0; o < outC; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++)
                            {
                                int Y = oy * stride + ky - pad, X = ox * stride + kx - pad;
                                if (Y < 0 || X < 0 || Y >= ph || X >= pw) continue; // zero padding
                                int kIndex = ((o * c + ci) * kh + ky) * kw + kx;
                                for (int dy = 0; dy < pool; dy++)
                                    for (int dx = 0; dx < pool; dx++)
                                    {
                                        int pre = (ci * h + Y * pool + dy) * w + X * pool + dx;
                                        int post = (o * oh + oy) * ow + ox;
                                        Assert.Equal(-1, tap[pre, post]); // one tap per pair
                                        dense[pre, post] += kernel[kIndex] / (pool * pool);
                                        tap[pre, post] = kIndex;
                                    }
                            }
        return (dense, tap);
    }

    private static (double[,] Dense, int[,] Tap) Expand(Conv2dGeometry g, double[] kernel) =>
        Expand(g.InChannels, g.InHeight, g.InWidth, g.Pool, g.OutChannels, g.KernelHeight, g.KernelWidth, g.Stride, g.Padding, kernel);

    /// <summary>The same network with every convolution replaced by its dense matrix (same populations, models, τ's).</summary>
    public static Network DenseTwin(Network net)
    {
        var b = Network.Create(0).Input(net.Input.Name, net.Input.Size);
        foreach (var p in net.Populations.Where(p => p.HasDynamics))
        {
            var tm = net.TauMem(p.Name).Values;
            var ts = net.TauSyn(p.Name).Values;
            b = p.Kind == PopulationKind.Readout ? b.Readout(p.Name, p.Model!, tm, ts) : b.Hidden(p.Name, p.Model!, tm, ts);
        }
        foreach (var c in net.Connections)
        {
            var w = net.Parameters[c.Name].Values;
            var dense = c.Connectivity is Conv2dConnectivity conv ? Expand(conv.Geometry, w).Dense : ToMatrix(w, c.Pre.Size, c.Post.Size);
            b = b.Connect(c.Pre.Name, c.Post.Name, Init.Values(dense));
        }
        return b.Build();
    }

    /// <summary>A dense twin's gradient folded back onto the original network's layout: Σ over each kernel weight's synapses / pool².</summary>
    public static ParameterSet Fold(Network net, ParameterSet twinGradient)
    {
        var result = net.Parameters.Clone();
        foreach (var p in result)
        {
            var src = twinGradient[p.Name].Values;
            if (net.Connections.FirstOrDefault(c => c.Name == p.Name) is { Connectivity: Conv2dConnectivity conv } c)
            {
                var g = conv.Geometry;
                var tap = Expand(g, new double[g.WeightCount]).Tap;
                Array.Clear(p.Values);
                for (int i = 0; i < c.Pre.Size; i++)
                    for (int j = 0; j < c.Post.Size; j++)
                        if (tap[i, j] >= 0) p.Values[tap[i, j]] += src[i * c.Post.Size + j] / (g.Pool * g.Pool);
            }
            else Array.Copy(src, p.Values, p.Length);
        }
        return result;
    }

    private static double[,] ToMatrix(double[] w, int rows, int cols)
    {
        var m = new double[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) m[i, j] = w[i * cols + j];
        return m;
    }
}
