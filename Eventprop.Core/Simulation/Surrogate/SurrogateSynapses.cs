using System.Numerics;
using Eventprop.Core.Model.Connectivities;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>
/// One connection as the BPTT engine sees it: its weights in the engine's precision, stored as the connectivity stores them
/// (dense rows, or a sparse mask's nonzeros), and the three operations every engine needs — deliver a presynaptic row
/// into the postsynaptic current, accumulate a row's weight gradient, transport the current's adjoint back to the
/// presynaptic side. Dense rows take the vectorised loops; sparse rows loop over their stored synapses; a convolution's
/// rows visit their kernel footprint (<see cref="Conv2dGeometry.Footprint"/>), its shared weights scaled by the pooling factor.
/// </summary>
internal sealed class SurrogateSynapses<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly SynapseRows _rows;

    public SurrogateSynapses(int parameter, int postOffset, int postSize, int rows, bool recurrent, SynapseRows synapses, int weightCount)
    {
        Parameter = parameter;
        PostOffset = postOffset;
        PostSize = postSize;
        Rows = rows;
        Recurrent = recurrent;
        _rows = synapses;
        _isConv = synapses.Convolution is not null;
        _conv = synapses.Convolution ?? default;
        _poolScale = T.CreateChecked(synapses.Scale);
        W = new T[weightCount];
        if (_isConv && ConvTransport.Supports(_conv))
        {
            _cellOf = ConvTransport.CellOf(_conv);
            CellCount = ConvTransport.CellCount(_conv);
        }
        _fullConv = _isConv && _conv.OutHeight == 1 && _conv.OutWidth == 1;
        if (_fullConv) _wt = new T[weightCount];
    }

    /// <summary>Per presynaptic neuron, its pooled position in <see cref="TransportCells"/>'s array (−1: none); null when not batched.</summary>
    private readonly int[]? _cellOf;

    /// <summary>Whether the convolution's output is one position (a pooled dense layer): its delivery reads <see cref="_wt"/>.</summary>
    private readonly bool _fullConv;

    /// <summary>A pooled dense layer's kernels transposed, [tap, out] (contiguous per presynaptic position), refreshed by <see cref="WeightsChanged"/>.</summary>
    private readonly T[]? _wt;

    /// <summary>Whether the adjoint transport can be batched over the presynaptic map (<see cref="TransportCells"/>): a stride-1 convolution.</summary>
    public bool BatchedTransport => _cellOf is not null;

    /// <summary>Entries of <see cref="TransportCells"/>'s array (pooled presynaptic positions; 0 when not batched).</summary>
    public int CellCount { get; }

    /// <summary>Call after <see cref="W"/> changed: rebuilds the derived copies of the weights.</summary>
    public void WeightsChanged()
    {
        if (_wt is null) return;
        int outC = _conv.OutChannels, fanIn = _conv.FanIn;
        for (int o = 0; o < outC; o++)
            for (int k = 0; k < fanIn; k++) _wt[k * outC + o] = W[o * fanIn + k];
    }

    /// <summary>
    /// <see cref="Transport"/> of every pooled presynaptic position at once, before the pooling factor (see
    /// <see cref="ConvTransport.Cells{T}"/>); <see cref="FromCells"/> reads a neuron's value, bit-identical to <see cref="Transport"/>.
    /// </summary>
    public void TransportCells(ReadOnlySpan<T> adjoint, Span<T> cells) =>
        ConvTransport.Cells(_conv, W, adjoint.Slice(PostOffset, PostSize), cells);

    /// <summary>Presynaptic neuron <paramref name="row"/>'s <see cref="Transport"/> from the array <see cref="TransportCells"/> filled.</summary>
    public T FromCells(int row, ReadOnlySpan<T> cells)
    {
        int cell = _cellOf![row];
        return cell < 0 ? T.Zero : _poolScale * cells[cell];
    }

    private readonly bool _isConv;
    private readonly Conv2dGeometry _conv;
    private readonly T _poolScale;

    /// <summary>Index of the connection's weight parameter in the network's parameter set.</summary>
    public int Parameter { get; }

    /// <summary>First postsynaptic neuron in the engine's neuron index space.</summary>
    public int PostOffset { get; }

    /// <summary>Postsynaptic population size.</summary>
    public int PostSize { get; }

    /// <summary>Presynaptic population size.</summary>
    public int Rows { get; }

    /// <summary>Whether the connection joins a population to itself.</summary>
    public bool Recurrent { get; }

    /// <summary>Whether the connection ends on the readout (the one <see cref="ReadoutDropout"/> thins).</summary>
    public bool IntoReadout { get; init; }

    /// <summary>The stored weights (dense: Rows × PostSize row-major; sparse: the nonzeros row by row; conv: the kernels).</summary>
    public T[] W { get; }

    /// <summary>current[post] += scale·W[row, post] over the stored synapses of <paramref name="row"/>.</summary>
    public void Deliver(Span<T> current, int row, T scale)
    {
        var post = current.Slice(PostOffset, PostSize);
        if (_isConv)
        {
            if (!_conv.Footprint(row, out var fp)) return;
            T factor = scale * _poolScale;
            if (_wt is not null)
            {
                // One output position: post[o] += factor·W[o, tap] for every o, the tap's column of the transposed kernels.
                int outC = _conv.OutChannels;
                GenericVector.AddScaled(post, _wt.AsSpan(fp.Weight(0, 0) * outC, outC), factor);
                return;
            }
            for (int oc = 0; oc < _conv.OutChannels; oc++)
                for (int a = 0; a < fp.Rows; a++)
                {
                    int first = fp.Post(oc, a), weight = fp.Weight(oc, a);
                    for (int j = first; j < first + fp.Columns; j++, weight -= fp.Stride) post[j] += factor * W[weight];
                }
            return;
        }
        var w = W.AsSpan(_rows.Start(row), _rows.Length(row));
        if (_rows.Targets is not { } targets)
        {
            if (scale == T.One) GenericVector.Add(post, w);
            else GenericVector.AddScaled(post, w, scale);
            return;
        }
        var to = targets.AsSpan(_rows.Start(row), w.Length);
        for (int k = 0; k < to.Length; k++) post[to[k]] += scale * w[k];
    }

    /// <summary>gradient[row, post] += scale·adjoint[post] (the adjoint of the postsynaptic current) over the stored synapses.</summary>
    public void AccumulateWeightGradient(T[] gradient, int row, ReadOnlySpan<T> adjoint, T scale)
    {
        var post = adjoint.Slice(PostOffset, PostSize);
        if (_isConv)
        {
            if (!_conv.Footprint(row, out var fp)) return;
            T factor = scale * _poolScale;
            for (int oc = 0; oc < _conv.OutChannels; oc++)
                for (int a = 0; a < fp.Rows; a++)
                {
                    int first = fp.Post(oc, a), weight = fp.Weight(oc, a);
                    for (int j = first; j < first + fp.Columns; j++, weight -= fp.Stride) gradient[weight] += factor * post[j];
                }
            return;
        }
        var g = gradient.AsSpan(_rows.Start(row), _rows.Length(row));
        if (_rows.Targets is not { } targets)
        {
            if (scale == T.One) GenericVector.Add(g, post);
            else GenericVector.AddScaled(g, post, scale);
            return;
        }
        var to = targets.AsSpan(_rows.Start(row), g.Length);
        for (int k = 0; k < to.Length; k++) g[k] += scale * post[to[k]];
    }

    /// <summary>Σ_post W[row, post]·adjoint[post] over the stored synapses (what a presynaptic spike's adjoint receives).</summary>
    public T Transport(int row, ReadOnlySpan<T> adjoint, SurrogateFault fault = SurrogateFault.None)
    {
        var post = adjoint.Slice(PostOffset, PostSize);
        if (_isConv)
        {
            if (!_conv.Footprint(row, out var fp)) return T.Zero;
            T total = T.Zero;
            bool mirrored = fault == SurrogateFault.SparseTransportMisindexed;
            for (int oc = 0; oc < _conv.OutChannels; oc++)
                for (int a = 0; a < fp.Rows; a++)
                {
                    int first = fp.Post(oc, a), weight = fp.Weight(oc, a);
                    for (int j = first; j < first + fp.Columns; j++, weight -= fp.Stride)
                        total += W[mirrored ? _conv.Mirrored(weight) : weight] * post[j];
                }
            return _poolScale * total;
        }
        var w = W.AsSpan(_rows.Start(row), _rows.Length(row));
        if (_rows.Targets is not { } targets) return GenericVector.Dot<T>(w, post);
        var to = targets.AsSpan(_rows.Start(row), w.Length);
        T sum = T.Zero;
        if (fault == SurrogateFault.SparseTransportMisindexed)
        {
            for (int k = 0; k < to.Length; k++) sum += w[k] * post[k];
            return sum;
        }
        for (int k = 0; k < to.Length; k++) sum += w[k] * post[to[k]];
        return sum;
    }
}
