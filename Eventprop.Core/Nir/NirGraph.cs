namespace Eventprop.Core.Nir;

/// <summary>A NIR graph as stored: the root <c>version</c>, the nodes in file order and the (source, target) edges.</summary>
internal sealed record NirGraph(string Version, IReadOnlyList<NirNode> Nodes, IReadOnlyList<(string Source, string Target)> Edges);
