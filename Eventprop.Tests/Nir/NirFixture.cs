using PureHDF;
using PureHDF.Filters;
using PureHDF.VOL.Native;

namespace Eventprop.Tests.Nir;

/// <summary>
/// Writes NIR files by hand in the layout of NIR's reference writer (h5py): root <c>version</c>, group <c>node</c> with
/// <c>type</c> = "NIRGraph", <c>nodes/&lt;name&gt;/</c> (a <c>type</c> string and one dataset per parameter) and
/// <c>edges</c> as an (n, 2) string dataset. Independent of eventprop's writer: the tests use it to feed the reader
/// files as other libraries make them.
/// </summary>
internal sealed class NirFixture
{
    private readonly List<(string Name, string Type, (string Key, object Value)[] Parameters)> _nodes = [];
    private readonly List<(string, string)> _edges = [];

    public NirFixture Node(string name, string type, params (string Key, object Value)[] parameters)
    {
        _nodes.Add((name, type, parameters));
        return this;
    }

    public NirFixture Edge(string source, string target)
    {
        _edges.Add((source, target));
        return this;
    }

    /// <summary>Writes the file; a positive <paramref name="fixedStringLength"/> stores every string fixed-length (numpy 'S'), else variable-length (h5py.string_dtype()).</summary>
    public void Write(string path, int fixedStringLength = 0, string version = "1.0.7")
    {
        var nodes = new H5Group();
        foreach (var (name, type, parameters) in _nodes)
        {
            var g = new H5Group { ["type"] = type };
            foreach (var (key, value) in parameters) g[key] = value;
            nodes[name] = g;
        }
        var edges = _edges.SelectMany(e => new[] { e.Item1, e.Item2 }).ToArray();
        var file = new H5File
        {
            ["version"] = version,
            ["node"] = new H5Group { ["type"] = "NIRGraph", ["nodes"] = nodes, ["edges"] = new H5Dataset(edges, fileDims: [(ulong)_edges.Count, 2]) },
        };
        file.Write(path, new H5WriteOptions(DefaultStringLength: fixedStringLength));
    }

    /// <summary>A float matrix (rows × columns, row-major) as a 2-D dataset.</summary>
    public static H5Dataset Matrix<T>(T[] values, int rows, int columns) => new(values, fileDims: [(ulong)rows, (ulong)columns]);

    /// <summary>A 2-D dataset stored chunked and gzip-compressed (h5py's <c>compression="gzip"</c>).</summary>
    public static H5Dataset Gzip<T>(T[] values, int rows, int columns) =>
        new(values, chunks: [(uint)rows, (uint)columns], fileDims: [(ulong)rows, (ulong)columns],
            datasetCreation: new H5DatasetCreation(Filters: [new H5Filter(DeflateFilter.Id)]));
}
