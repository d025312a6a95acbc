namespace Eventprop.Core.Nir;

/// <summary>
/// One node of a NIR graph as stored: its name, its <c>type</c> string, one <see cref="NirValue"/> per parameter
/// dataset and the datasets of its optional <c>metadata</c> group.
/// </summary>
internal sealed class NirNode(string name, string type)
{
    /// <summary>The node's name (its group name under <c>node/nodes</c>).</summary>
    public string Name { get; } = name;

    /// <summary>The NIR primitive: <c>Input</c>, <c>Output</c>, <c>Linear</c>, <c>Affine</c>, <c>CubaLIF</c>, …</summary>
    public string Type { get; } = type;

    /// <summary>Parameter datasets by name (<c>weight</c>, <c>tau_mem</c>, <c>shape</c>, …), in file order.</summary>
    public Dictionary<string, NirValue> Parameters { get; } = new(StringComparer.Ordinal);

    /// <summary>Datasets of the node's <c>metadata</c> group (empty when it has none).</summary>
    public Dictionary<string, NirValue> Metadata { get; } = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Type})";
}
