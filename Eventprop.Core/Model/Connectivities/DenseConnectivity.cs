namespace Eventprop.Core.Model.Connectivities;

/// <summary>All-to-all connectivity: a spike of presynaptic neuron i adds W[i, j] to the current of every postsynaptic j.</summary>
public sealed class DenseConnectivity : Connectivity
{
    internal static DenseConnectivity Instance { get; } = new();

    private DenseConnectivity() { }

    /// <inheritdoc />
    public override string Name => "dense";

    /// <inheritdoc />
    public override int WeightCount(int preSize, int postSize) => preSize * postSize;

    /// <inheritdoc />
    public override SynapseRows Rows(int preSize, int postSize) => new(null, null, postSize);

    internal override void RequireShape(string connection, int preSize, int postSize) { }

    internal override double[] FromDense(double[] dense, int preSize, int postSize) => dense;

    internal override (int Rows, int Columns) ParameterShape(int preSize, int postSize) => (preSize, postSize);
}
