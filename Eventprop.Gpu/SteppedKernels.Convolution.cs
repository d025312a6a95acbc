using ILGPU;

namespace Eventprop.Gpu;

/// <summary>
/// The convolution phases of <see cref="SteppedKernels"/>: the adjoint transport of a spike through its kernel footprint
/// and the shared-kernel weight gradient. Both visit a convolution's synapses through its
/// <see cref="Eventprop.Core.Model.Connectivities.Conv2dGeometry"/> — the functions the CPU engines' loops call — so the
/// index arithmetic exists once. (Delivery needs no phase of its own: <see cref="ConnectionRecord.IndexOf"/> is the
/// geometry's O(1) <c>WeightIndex</c>, so a postsynaptic thread gathers the step's spikes as it does for dense rows.)
/// </summary>
internal static partial class SteppedKernels
{
    /// <summary>
    /// Σ over the footprint of presynaptic neuron <paramref name="i"/> of W·(λV − λI), times the pooling factor: the
    /// convolution's part of a spike's transport term, summed in the order of the CPU engine's footprint loop.
    /// </summary>
    private static float ConvolutionTransport(in ConnectionRecord con, KernelViews w, int b, int n, int i)
    {
        if (!con.Convolution.Footprint(i, out var fp)) return 0;
        float total = 0;
        int channels = con.Convolution.OutChannels, columns = fp.Columns, stride = fp.Stride;
        long cellBase = (long)b * n + con.PostOffset;
        for (int oc = 0; oc < channels; oc++)
            for (int a = 0; a < fp.Rows; a++)
            {
                int first = fp.Post(oc, a), weight = fp.Weight(oc, a);
                for (int j = first; j < first + columns; j++, weight -= stride)
                {
                    long cell = cellBase + j;
                    total += w.Weights[con.WeightOffset + weight] * (w.LambdaV[cell] - w.LambdaI[cell]);
                }
            }
        return con.Scale * total;
    }

    /// <summary>
    /// Grid point <paramref name="step"/> of the backward pass, kernel weight X of all convolutions (one thread per shared
    /// weight, so no two threads add to one gradient element and the sums are in a fixed order): dL/dW −= scale·τs·λI of the
    /// one postsynaptic neuron each of the step's presynaptic spikes (input spikes, or the spikes of this step) reaches
    /// through that weight (<see cref="Eventprop.Core.Model.Connectivities.Conv2dGeometry.Target"/>). Runs after
    /// <see cref="Events"/> has added the grid point's loss impulses to λ.
    /// </summary>
    public static void ConvolutionGradient(Index2D index, KernelViews w, KernelDims d, int step, int segmentStart) =>
        ConvolutionGradientAt(w, d, index.Y, index.X, step);

    /// <summary>The body of <see cref="ConvolutionGradient"/> for trial <paramref name="b"/>, thread <paramref name="x"/>.</summary>
    internal static void ConvolutionGradientAt(KernelViews w, KernelDims d, int b, int x, int step)
    {
        if (x >= d.ConvolutionWeights) return;
        int n = d.Neurons, stride = d.Steps + 1;
        for (int c = 0; c < d.Connections; c++)
        {
            var con = w.Connection[c];
            if (con.IsConvolution == 0) continue;
            int weight = x - con.ConvolutionWeightStart;
            if (weight < 0 || weight >= con.Convolution.WeightCount) continue;
            long e = b * d.WeightCount + con.WeightOffset + weight;
            long cellBase = (long)b * n + con.PostOffset;
            float gradient = w.TrialGradient[e];
            if (con.FromInput != 0)
            {
                if (step >= d.Steps) return;
                int inFrom = w.InputStart[b * stride + step], inTo = w.InputStart[b * stride + step + 1];
                for (int q = inFrom; q < inTo; q++)
                {
                    int post = con.Convolution.Target(w.InputChannel[q], weight);
                    if (post >= 0) gradient -= con.Scale * (w.TauSyn[con.PostOffset + post] * w.LambdaI[cellBase + post]);
                }
            }
            else
            {
                if (step == 0) return;
                int from = w.SpikeEnd[b * stride + step - 1], to = w.SpikeEnd[b * stride + step];
                for (int p = from; p < to; p++)
                {
                    int i = w.SpikeNeuron[b * d.Capacity + p] - con.PreOffset;
                    if (i < 0 || i >= con.PreSize) continue;
                    int post = con.Convolution.Target(i, weight);
                    if (post >= 0) gradient -= con.Scale * (w.TauSyn[con.PostOffset + post] * w.LambdaI[cellBase + post]);
                }
            }
            w.TrialGradient[e] = gradient;
            return;
        }
    }
}
