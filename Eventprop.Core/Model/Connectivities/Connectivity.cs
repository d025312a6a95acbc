namespace Eventprop.Core.Model.Connectivities;

/// <summary>
/// How a connection's synapses are laid out: which presynaptic neuron reaches which postsynaptic neuron, and how its
/// weights are stored. Every engine needs three operations of it — deliver a presynaptic spike, accumulate the weight
/// gradient at a presynaptic spike, transport the adjoint back — and reads the layout through
/// <see cref="SynapseRows"/> (docs/architecture.md §2). <see cref="Dense"/> is all-to-all; <see cref="SparseConnectivity"/>
/// a fixed mask; <see cref="Conv2dConnectivity"/> a convolution with shared kernels (and optional pooling), whose
/// synapses are computed from its geometry rather than stored.
/// </summary>
public abstract class Connectivity
{
    private protected Connectivity() { }

    /// <summary>All-to-all: W[pre, post] stored row-major.</summary>
    public static DenseConnectivity Dense => DenseConnectivity.Instance;

    /// <summary>The name configs and model files use: <c>dense</c>, <c>sparse</c> or <c>conv2d</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Number of stored weights for a connection of <paramref name="preSize"/> → <paramref name="postSize"/> neurons.</summary>
    public abstract int WeightCount(int preSize, int postSize);

    /// <summary>
    /// The stored synapses as rows per presynaptic neuron: row i's weights are <c>Values[RowStarts[i] .. RowStarts[i + 1]]</c>
    /// with postsynaptic targets <c>Targets[...]</c> at the same positions (null for dense, where the targets of every row
    /// are 0 … post − 1 and row i starts at i·post).
    /// </summary>
    public abstract SynapseRows Rows(int preSize, int postSize);

    /// <summary>Throws a one-line <see cref="ArgumentException"/> if the layout does not fit <paramref name="preSize"/> → <paramref name="postSize"/>.</summary>
    internal abstract void RequireShape(string connection, int preSize, int postSize);

    /// <summary>
    /// Stored weights from a dense initial matrix W[pre, post] (row-major): dense keeps it, a mask keeps its nonzeros'
    /// entries. So a sparse connection's initial weights are the dense draws at the mask's positions.
    /// </summary>
    internal abstract double[] FromDense(double[] dense, int preSize, int postSize);

    /// <summary>
    /// The stored initial weights drawn by <paramref name="init"/>: by default its dense pre × post draws passed through
    /// <see cref="FromDense"/>; a convolution draws its kernels (out × fan-in) instead.
    /// </summary>
    internal virtual double[] InitialWeights(IWeightInit init, int preSize, int postSize, Random random)
    {
        var dense = new double[preSize * postSize];
        init.Fill(dense, preSize, postSize, random);
        return FromDense(dense, preSize, postSize);
    }

    /// <summary>
    /// Adds <paramref name="amount"/> to every stored weight onto postsynaptic neuron <paramref name="post"/> (the trainer's
    /// silent-neuron rescue). A convolution shares its kernels, so it adds amount / (output height · width) to the kernel of
    /// the neuron's channel: a channel whose neurons are all silent gets exactly <paramref name="amount"/> on each weight.
    /// </summary>
    internal virtual void AddToIncoming(double[] weights, int preSize, int postSize, int post, double amount)
    {
        var rows = Rows(preSize, postSize);
        for (int pre = 0; pre < preSize; pre++)
        {
            int k = rows.IndexOf(pre, post);
            if (k >= 0) weights[k] += amount;
        }
    }

    /// <summary>The shape of the weight parameter: pre × post for dense, 1 × count for a mask, out × fan-in for a convolution.</summary>
    internal virtual (int Rows, int Columns) ParameterShape(int preSize, int postSize) => (1, WeightCount(preSize, postSize));
}

/// <summary>The row layout of a connectivity (see <see cref="Connectivity.Rows"/>).</summary>
/// <param name="RowStarts">pre + 1 offsets into the stored weights; null for dense (row i starts at i·post).</param>
/// <param name="Targets">Postsynaptic index of every stored weight; null for dense.</param>
/// <param name="Columns">The postsynaptic population's size.</param>
/// <param name="Convolution">For a convolution: its geometry (synapses computed, weights shared; RowStarts and Targets
/// null, and <see cref="Start"/>/<see cref="Length"/> do not apply).</param>
public readonly record struct SynapseRows(int[]? RowStarts, int[]? Targets, int Columns, Conv2dGeometry? Convolution = null)
{
    /// <summary>Whether the layout is all-to-all.</summary>
    public bool IsDense => Targets is null && Convolution is null;

    /// <summary>The factor every stored weight is multiplied by when it is delivered (1/pool² for a pooled convolution, else 1).</summary>
    public double Scale => Convolution is { } g ? g.Scale : 1.0;

    /// <summary>Offset of row <paramref name="row"/>'s first stored weight (dense and sparse rows only).</summary>
    public int Start(int row) => Convolution is not null ? throw ComputedRows() : RowStarts is null ? row * Columns : RowStarts[row];

    /// <summary>Number of stored weights of row <paramref name="row"/> (dense and sparse rows only).</summary>
    public int Length(int row) => Convolution is not null ? throw ComputedRows() : RowStarts is null ? Columns : RowStarts[row + 1] - RowStarts[row];

    /// <summary>Position of synapse (row → column) in the stored weights, or −1 if there is none.</summary>
    public int IndexOf(int row, int column)
    {
        if (Convolution is { } g) return g.WeightIndex(row, column);
        if (Targets is null) return row * Columns + column;
        int i = Array.BinarySearch(Targets, RowStarts![row], RowStarts[row + 1] - RowStarts[row], column);
        return i >= 0 ? i : -1;
    }

    private static InvalidOperationException ComputedRows() =>
        new("A convolution's synapses are computed from its geometry (Conv2dGeometry.Footprint); it has no stored rows.");
}
