namespace Eventprop.Core.Nir;

/// <summary>What <see cref="NirExport.Write"/> wrote and what NIR could not hold.</summary>
/// <param name="Nodes">One line per NIR node written: name, primitive and size (e.g. <c>hidden: CubaLIF, 128 neurons, …</c>).</param>
/// <param name="Dropped">One line per thing of the network or its training that the file does not carry.</param>
public sealed record NirExportReport(IReadOnlyList<string> Nodes, IReadOnlyList<string> Dropped);
