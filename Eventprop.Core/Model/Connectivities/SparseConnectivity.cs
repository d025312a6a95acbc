namespace Eventprop.Core.Model.Connectivities;

/// <summary>
/// A fixed sparse mask: only the listed synapses exist, and only their weights are stored (in row order, targets
/// ascending within a row). The mask is part of the network's structure: it is saved in model files and checkpoints and
/// never regenerated on load.
/// </summary>
public sealed class SparseConnectivity : Connectivity
{
    private readonly int[] _rowStarts;
    private readonly int[] _targets;

    private SparseConnectivity(int preSize, int postSize, int[] rowStarts, int[] targets)
    {
        PreSize = preSize;
        PostSize = postSize;
        _rowStarts = rowStarts;
        _targets = targets;
    }

    /// <summary>Presynaptic neurons the mask was made for.</summary>
    public int PreSize { get; }

    /// <summary>Postsynaptic neurons the mask was made for.</summary>
    public int PostSize { get; }

    /// <summary>Number of synapses.</summary>
    public int Count => _targets.Length;

    /// <summary>Fraction of the pre × post pairs that are connected.</summary>
    public double Density => PreSize * PostSize == 0 ? 0 : (double)Count / ((long)PreSize * PostSize);

    /// <summary>pre + 1 offsets: row i's synapses are positions RowStarts[i] … RowStarts[i + 1] − 1.</summary>
    public ReadOnlySpan<int> RowStarts => _rowStarts;

    /// <summary>The postsynaptic neuron of every synapse, ascending within each row.</summary>
    public ReadOnlySpan<int> Targets => _targets;

    /// <inheritdoc />
    public override string Name => "sparse";

    /// <summary>A mask from a boolean matrix <c>mask[pre, post]</c>.</summary>
    public static SparseConnectivity FromMask(bool[,] mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        int pre = mask.GetLength(0), post = mask.GetLength(1);
        var starts = new int[pre + 1];
        var targets = new List<int>();
        for (int i = 0; i < pre; i++)
        {
            for (int j = 0; j < post; j++)
                if (mask[i, j]) targets.Add(j);
            starts[i + 1] = targets.Count;
        }
        return new SparseConnectivity(pre, post, starts, targets.ToArray());
    }

    /// <summary>
    /// A mask in compressed-row form, as model files store it: <paramref name="rowStarts"/> (pre + 1 offsets, from 0,
    /// non-decreasing) and <paramref name="targets"/> (ascending and distinct within a row, each in 0 … post − 1).
    /// </summary>
    /// <exception cref="ArgumentException">The arrays are not a valid mask; the message says which entry.</exception>
    public static SparseConnectivity FromRows(int preSize, int postSize, int[] rowStarts, int[] targets)
    {
        ArgumentNullException.ThrowIfNull(rowStarts);
        ArgumentNullException.ThrowIfNull(targets);
        if (preSize < 1 || postSize < 1) throw new ArgumentException($"A sparse mask needs at least one pre and one post neuron, not {preSize} × {postSize}.");
        if (rowStarts.Length != preSize + 1)
            throw new ArgumentException($"A sparse mask of {preSize} presynaptic neurons needs {preSize + 1} row starts, not {rowStarts.Length}.");
        if (rowStarts[0] != 0 || rowStarts[^1] != targets.Length)
            throw new ArgumentException($"The row starts of a sparse mask must run from 0 to the number of targets ({targets.Length}), not {rowStarts[0]} … {rowStarts[^1]}.");
        for (int i = 0; i < preSize; i++)
            if (rowStarts[i + 1] < rowStarts[i])
                throw new ArgumentException($"Sparse mask row starts decrease at row {i} ({rowStarts[i]} > {rowStarts[i + 1]}).");
        for (int i = 0; i < preSize; i++)
        {
            for (int k = rowStarts[i]; k < rowStarts[i + 1]; k++)
            {
                if ((uint)targets[k] >= (uint)postSize)
                    throw new ArgumentException($"Sparse mask row {i} targets neuron {targets[k]}, outside 0 … {postSize - 1}.");
                if (k > rowStarts[i] && targets[k] <= targets[k - 1])
                    throw new ArgumentException($"Sparse mask row {i} lists its targets out of order or twice ({targets[k - 1]}, {targets[k]}); list them ascending, each once.");
            }
        }
        return new SparseConnectivity(preSize, postSize, (int[])rowStarts.Clone(), (int[])targets.Clone());
    }

    /// <summary>
    /// A random mask: each pair (pre, post) is connected independently with <paramref name="probability"/>, drawn from
    /// <paramref name="random"/> in row order (the network builder passes a stream derived from its seed).
    /// </summary>
    public static SparseConnectivity Random(int preSize, int postSize, double probability, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (!(probability > 0 && probability <= 1))
            throw new ArgumentException($"A connection probability must lie in (0, 1], not {probability}.");
        var mask = new bool[preSize, postSize];
        for (int i = 0; i < preSize; i++)
            for (int j = 0; j < postSize; j++) mask[i, j] = random.NextDouble() < probability;
        return FromMask(mask);
    }

    /// <inheritdoc />
    public override int WeightCount(int preSize, int postSize) => Count;

    /// <inheritdoc />
    public override SynapseRows Rows(int preSize, int postSize) => new(_rowStarts, _targets, postSize);

    /// <summary>Whether synapse pre → post exists.</summary>
    public bool Contains(int pre, int post) => Rows(PreSize, PostSize).IndexOf(pre, post) >= 0;

    internal override void RequireShape(string connection, int preSize, int postSize)
    {
        if (preSize != PreSize || postSize != PostSize)
            throw new ArgumentException($"Connection {connection}: the sparse mask is {PreSize} × {PostSize} but the populations are {preSize} → {postSize}; make the mask for these sizes.");
    }

    internal override double[] FromDense(double[] dense, int preSize, int postSize)
    {
        var values = new double[Count];
        for (int i = 0; i < preSize; i++)
            for (int k = _rowStarts[i]; k < _rowStarts[i + 1]; k++) values[k] = dense[i * postSize + _targets[k]];
        return values;
    }

    /// <summary>Whether <paramref name="other"/> has exactly the same synapses.</summary>
    public bool SameMask(SparseConnectivity other) =>
        other.PreSize == PreSize && other.PostSize == PostSize && other._rowStarts.AsSpan().SequenceEqual(_rowStarts) && other._targets.AsSpan().SequenceEqual(_targets);
}
