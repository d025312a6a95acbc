using PureHDF;
using PureHDF.VOL.Native;

namespace Eventprop.Core.Nir;

/// <summary>
/// Reads and writes NIR's HDF5 layout (docs/nir.md): a root <c>version</c> string, the graph in group <c>node</c>
/// (<c>type</c> = "NIRGraph", a <c>nodes</c> group with one subgroup per node, <c>edges</c> as (source, target) string
/// pairs). Strings may be fixed- or variable-length, numbers float32, float64 or integers, datasets chunked and
/// gzip-compressed (PureHDF decodes them).
/// </summary>
internal static class NirGraphFile
{
    /// <summary>The NIR version whose layout the writer produces.</summary>
    public const string Version = "1.0.7";

    /// <summary>Reads the graph of the NIR file at <paramref name="path"/>.</summary>
    /// <exception cref="NirFormatException">The file is not HDF5 or not in NIR's layout (one line, naming the dataset).</exception>
    public static NirGraph Read(string path)
    {
        string name = Path.GetFileName(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"NIR file '{path}' not found.", path);
        NativeFile file;
        try { file = H5File.OpenRead(path); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new NirFormatException($"{name}: not a readable HDF5 file ({OneLine(e.Message)}); a NIR graph is an HDF5 file written by nir.write or 'eventprop export --nir'.", e);
        }
        using (file)
        {
            try { return ReadOpened(file, name); }
            catch (NirFormatException) { throw; }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new NirFormatException($"{name}: could not read the file ({OneLine(e.Message)}); it may be truncated or not in NIR's layout.", e);
            }
        }
    }

    /// <summary>Writes <paramref name="graph"/> to <paramref name="path"/> atomically (a temporary file in the same folder, then a rename).</summary>
    public static void Write(string path, NirGraph graph)
    {
        var nodes = new H5Group();
        foreach (var node in graph.Nodes)
        {
            var group = new H5Group { ["type"] = node.Type };
            foreach (var (key, value) in node.Parameters) group[key] = Dataset(value);
            if (node.Metadata.Count > 0)
            {
                var meta = new H5Group();
                foreach (var (key, value) in node.Metadata) meta[key] = Dataset(value);
                group["metadata"] = meta;
            }
            nodes[node.Name] = group;
        }
        var edges = new string[graph.Edges.Count * 2];
        for (int i = 0; i < graph.Edges.Count; i++) (edges[2 * i], edges[2 * i + 1]) = graph.Edges[i];
        var file = new H5File
        {
            ["version"] = graph.Version,
            ["node"] = new H5Group
            {
                ["type"] = "NIRGraph",
                ["nodes"] = nodes,
                ["edges"] = new H5Dataset(edges, fileDims: [(ulong)graph.Edges.Count, 2]),
            },
        };
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? ".";
        string temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            file.Write(temporary);
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    private static object Dataset(NirValue value)
    {
        if (value.Strings is { } strings)
            return value.Shape.Length == 0 ? strings[0] : new H5Dataset(strings, fileDims: value.Shape.Select(d => (ulong)d).ToArray());
        var dims = value.Shape.Select(d => (ulong)d).ToArray();
        if (value.IsInteger)
        {
            var ints = value.Numbers!.Select(v => (long)v).ToArray();
            return value.Shape.Length == 0 ? ints[0] : new H5Dataset(ints, fileDims: dims);
        }
        return value.Shape.Length == 0 ? value.Numbers![0] : new H5Dataset(value.Numbers!, fileDims: dims);
    }

    private static NirGraph ReadOpened(NativeFile file, string name)
    {
        string version = file.LinkExists("version") && file.Get("version") is IH5Dataset v ? Strings(v, name, "version")[0] : "";
        if (!file.LinkExists("node") || file.Get("node") is not IH5Group root)
            throw new NirFormatException($"{name}: no group 'node'; a NIR file holds its graph in /node (is this a NIR file?).");
        string type = RequireString(root, name, "node");
        if (type != "NIRGraph")
            throw new NirFormatException($"{name}: /node has type '{type}'; a NIR file's root node must be a NIRGraph.");
        if (!root.LinkExists("nodes") || root.Get("nodes") is not IH5Group nodesGroup)
            throw new NirFormatException($"{name}: /node has no group 'nodes'.");
        var nodes = new List<NirNode>();
        foreach (var child in nodesGroup.Children())
        {
            if (child is not IH5Group g) throw new NirFormatException($"{name}: /node/nodes/{child.Name} is not a group; every node is a group with a 'type'.");
            var node = new NirNode(child.Name, RequireString(g, name, $"node/nodes/{child.Name}"));
            foreach (var item in g.Children())
            {
                string where = $"node/nodes/{child.Name}/{item.Name}";
                if (item.Name == "type") continue;
                if (item is IH5Group sub)
                {
                    if (item.Name != "metadata") continue; // e.g. a nested graph's groups; the node's type decides whether it is refused
                    foreach (var m in sub.Children())
                        if (m is IH5Dataset md && TryValue(md, name, $"{where}/{m.Name}") is { } mv) node.Metadata[m.Name] = mv;
                    continue;
                }
                if (item is IH5Dataset d && TryValue(d, name, where) is { } value) node.Parameters[item.Name] = value;
            }
            nodes.Add(node);
        }
        var edges = new List<(string, string)>();
        if (root.LinkExists("edges") && root.Get("edges") is IH5Dataset edgeSet)
        {
            var dims = edgeSet.Space.Dimensions;
            var pairs = Strings(edgeSet, name, "node/edges");
            if (pairs.Length > 0 && (dims.Length != 2 || dims[1] != 2))
                throw new NirFormatException($"{name}: node/edges has shape [{string.Join("×", dims)}]; expected (number of edges) × 2 (source, target) names.");
            for (int i = 0; i + 1 < pairs.Length; i += 2) edges.Add((pairs[i], pairs[i + 1]));
        }
        return new NirGraph(version, nodes, edges);
    }

    private static string RequireString(IH5Group group, string name, string where)
    {
        if (!group.LinkExists("type") || group.Get("type") is not IH5Dataset t)
            throw new NirFormatException($"{name}: {where} has no 'type' dataset; every NIR node names its primitive in 'type'.");
        return Strings(t, name, where + "/type")[0];
    }

    private static string[] Strings(IH5Dataset dataset, string name, string where)
    {
        var type = dataset.Type;
        bool isString = type.Class == H5DataTypeClass.String
            || (type.Class == H5DataTypeClass.VariableLength && type.VariableLength.BaseType.Class == H5DataTypeClass.FixedPoint && type.VariableLength.BaseType.Size == 1);
        if (!isString) throw new NirFormatException($"{name}: {where} holds {type.Class} data; expected a string.");
        string[] values = dataset.Space.Dimensions.Length == 0 ? [dataset.Read<string>()] : dataset.Read<string[]>();
        return values.Select(s => (s ?? "").TrimEnd('\0')).ToArray();
    }

    // A dataset as a value: strings, or numbers of any float or integer width; other classes (booleans stored as enums,
    // compound data) are skipped, since no primitive eventprop maps uses them.
    private static NirValue? TryValue(IH5Dataset d, string name, string where)
    {
        var type = d.Type;
        var shape = d.Space.Dimensions.Select(x => (long)x).ToArray();
        bool scalar = d.Space.Dimensions.Length == 0;
        switch (type.Class)
        {
            case H5DataTypeClass.FloatingPoint:
                double[] numbers = type.Size switch
                {
                    2 => scalar ? [(double)d.Read<Half>()] : Array.ConvertAll(d.Read<Half[]>(), x => (double)x),
                    4 => scalar ? [d.Read<float>()] : Array.ConvertAll(d.Read<float[]>(), x => (double)x),
                    8 => scalar ? [d.Read<double>()] : d.Read<double[]>(),
                    _ => throw new NirFormatException($"{name}: {where} holds {type.Size * 8}-bit floats; expected 16, 32 or 64 bits."),
                };
                return NirValue.Read(numbers, shape, false);
            case H5DataTypeClass.FixedPoint:
                bool signed = type.FixedPoint.IsSigned;
                double[] ints = (type.Size, signed) switch
                {
                    (1, false) => scalar ? [d.Read<byte>()] : Array.ConvertAll(d.Read<byte[]>(), x => (double)x),
                    (1, true) => scalar ? [d.Read<sbyte>()] : Array.ConvertAll(d.Read<sbyte[]>(), x => (double)x),
                    (2, false) => scalar ? [d.Read<ushort>()] : Array.ConvertAll(d.Read<ushort[]>(), x => (double)x),
                    (2, true) => scalar ? [d.Read<short>()] : Array.ConvertAll(d.Read<short[]>(), x => (double)x),
                    (4, false) => scalar ? [d.Read<uint>()] : Array.ConvertAll(d.Read<uint[]>(), x => (double)x),
                    (4, true) => scalar ? [d.Read<int>()] : Array.ConvertAll(d.Read<int[]>(), x => (double)x),
                    (8, false) => scalar ? [d.Read<ulong>()] : Array.ConvertAll(d.Read<ulong[]>(), x => (double)x),
                    (8, true) => scalar ? [d.Read<long>()] : Array.ConvertAll(d.Read<long[]>(), x => (double)x),
                    _ => throw new NirFormatException($"{name}: {where} holds {type.Size * 8}-bit integers; expected 8, 16, 32 or 64 bits."),
                };
                return NirValue.Read(ints, shape, true);
            case H5DataTypeClass.String:
            case H5DataTypeClass.VariableLength when type.VariableLength.BaseType.Class == H5DataTypeClass.FixedPoint && type.VariableLength.BaseType.Size == 1:
                return NirValue.Text(Strings(d, name, where), shape);
            default:
                return null;
        }
    }

    private static string OneLine(string message) => Data.ErrorText.OneLine(message);
}
