using System.Globalization;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Neurons;

namespace Eventprop.Core.Nir;

/// <summary>
/// Reads a NIR graph (v1.0.x HDF5 layout, as nir.write, snnTorch, Norse and <see cref="NirExport"/> write it) into a
/// <see cref="Network"/>. Populations: CubaLIF (hidden, or a spiking readout), CubaLI (the readout), and NIR's synapse-less
/// LIF/IF when an LI node before it is their synaptic current (the pattern <see cref="NirExport"/> writes for IF).
/// Connections: Linear and Affine (zero bias) nodes between them; recurrence is neuron → Linear → the same neuron.
/// r, w_in and the τ_syn of the NIR synapse are folded into the weights (W[i, j] = W_nir[j, i] · r_j · w_in,j / τ_syn,j),
/// time constants are converted from seconds to ms, scalars broadcast to the population, float32 or float64 alike.
/// 1.0.x files without <c>v_reset</c> or <c>w_in</c> get NIR's defaults 0 and 1.
/// </summary>
public static class NirImport
{
    private static readonly HashSet<string> NotYet = new(StringComparer.Ordinal)
        { "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Delay", "Scale", "Threshold", "I", "NIRGraph", "Identity" };

    /// <summary>Reads the NIR file at <paramref name="path"/> into a network (parameters as in the file, converted to ms).</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="NirFormatException">The file is not a NIR graph, or one eventprop cannot simulate: one line naming the node and why.</exception>
    public static Network Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return FromGraph(NirGraphFile.Read(path), Path.GetFileName(path));
    }

    /// <summary>The network of a NIR graph; <paramref name="file"/> names it in messages.</summary>
    internal static Network FromGraph(NirGraph graph, string file)
    {
        var byName = graph.Nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        NirFormatException Bad(string message) => new($"{file}: {message}");
        foreach (var n in graph.Nodes)
        {
            if (NotYet.Contains(n.Type))
                throw Bad($"node '{n.Name}' is a {n.Type}, which eventprop does not import yet (only Input, Output, Linear, Affine, CubaLIF, CubaLI, and LI → LIF/IF); remove it from the graph.");
            if (n.Type is not ("Input" or "Output" or "Linear" or "Affine" or "CubaLIF" or "CubaLI" or "LI" or "LIF" or "IF"))
                throw Bad($"node '{n.Name}' has type '{n.Type}', which is not a NIR primitive eventprop knows (Input, Output, Linear, Affine, CubaLIF, CubaLI, LI, LIF, IF).");
        }
        var incoming = graph.Nodes.ToDictionary(n => n.Name, _ => new List<string>(), StringComparer.Ordinal);
        var outgoing = graph.Nodes.ToDictionary(n => n.Name, _ => new List<string>(), StringComparer.Ordinal);
        foreach (var (s, t) in graph.Edges)
        {
            if (!byName.ContainsKey(s)) throw Bad($"edge {s} → {t} names no node '{s}'.");
            if (!byName.ContainsKey(t)) throw Bad($"edge {s} → {t} names no node '{t}'.");
            outgoing[s].Add(t);
            incoming[t].Add(s);
        }
        var inputs = graph.Nodes.Where(n => n.Type == "Input").ToArray();
        var outputs = graph.Nodes.Where(n => n.Type == "Output").ToArray();
        if (inputs.Length != 1) throw Bad($"the graph has {inputs.Length} Input nodes; eventprop networks have exactly one.");
        if (outputs.Length != 1) throw Bad($"the graph has {outputs.Length} Output nodes; eventprop networks have exactly one.");
        var input = inputs[0];
        var outputNode = outputs[0];

        // LI nodes that are the synaptic current of a LIF/IF (LI → LIF/IF, nothing else leaving the LI).
        var synapseOf = new Dictionary<string, NirNode>(StringComparer.Ordinal); // neuron name → its LI synapse
        var synapses = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in graph.Nodes.Where(n => n.Type is "LIF" or "IF"))
        {
            var from = incoming[n.Name];
            if (from.Count != 1 || byName[from[0]].Type != "LI" || outgoing[from[0]].Count != 1)
                throw Bad($"node '{n.Name}' is a NIR {n.Type}, which has no synaptic current, fed by {Describe(from)}; eventprop neurons have one: use CubaLIF, or put an LI node (its current) right before it.");
            synapseOf[n.Name] = byName[from[0]];
            synapses.Add(from[0]);
        }
        foreach (var n in graph.Nodes.Where(n => n.Type == "LI" && !synapses.Contains(n.Name)))
            throw Bad($"node '{n.Name}' is an LI, which has no synaptic current; eventprop's readout is a CubaLI (τ_syn İ = −I + w_in·S), and an LI is read only as the current of the LIF/IF right after it.");

        bool IsPopulation(NirNode n) => n.Type is "CubaLIF" or "CubaLI" or "LIF" or "IF";
        string PopulationOf(string target) => synapses.Contains(target) ? outgoing[target][0] : target;
        var readoutSources = incoming[outputNode.Name];
        if (readoutSources.Count != 1 || !IsPopulation(byName[readoutSources[0]]))
            throw Bad($"the Output node '{outputNode.Name}' is fed by {Describe(readoutSources)}; it must be fed by exactly one neuron node (CubaLI or CubaLIF), the readout.");
        string readoutName = readoutSources[0];
        if (incoming[input.Name].Count > 0) throw Bad($"the Input node '{input.Name}' receives an edge from {Describe(incoming[input.Name])}; an Input has no inputs.");
        if (outgoing[outputNode.Name].Count > 0) throw Bad($"the Output node '{outputNode.Name}' has an edge to {Describe(outgoing[outputNode.Name])}; an Output has no outputs.");

        // Edges other than through Linear/Affine: only LI synapse → its neuron and readout → Output.
        foreach (var (s, t) in graph.Edges)
        {
            var src = byName[s];
            var dst = byName[t];
            if (src.Type is "Linear" or "Affine" || dst.Type is "Linear" or "Affine") continue;
            if (synapses.Contains(s) || (t == outputNode.Name && s == readoutName)) continue;
            throw Bad($"edge {s} → {t} joins two {src.Type}/{dst.Type} nodes directly; eventprop connects populations only through a Linear or Affine node.");
        }

        long inputSize = ShapeSize(input, file);
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal) { [input.Name] = checked((int)inputSize) };
        // Connections: (Linear node, source, target population).
        var connections = new List<(NirNode Node, string Pre, string Post)>();
        foreach (var n in graph.Nodes.Where(n => n.Type is "Linear" or "Affine"))
        {
            if (incoming[n.Name].Count != 1 || outgoing[n.Name].Count != 1)
                throw Bad($"node '{n.Name}' ({n.Type}) has {incoming[n.Name].Count} inputs and {outgoing[n.Name].Count} outputs; eventprop maps a Linear with one source and one target to one connection.");
            string pre = incoming[n.Name][0], target = outgoing[n.Name][0];
            var preNode = byName[pre];
            if (preNode.Type != "Input" && !(IsPopulation(preNode) && (preNode.Type != "CubaLI")))
                throw Bad($"node '{n.Name}' is fed by '{pre}' ({preNode.Type}); a connection starts at the Input or a spiking neuron node.");
            var targetNode = byName[target];
            if (!IsPopulation(targetNode) && !synapses.Contains(target))
                throw Bad($"node '{n.Name}' feeds '{target}' ({targetNode.Type}); a connection ends at a neuron node.");
            if (n.Type == "Affine" && Get(n, "bias", file) is { } bias && bias.Numbers!.Any(b => b != 0))
                throw Bad($"node '{n.Name}' is an Affine with a nonzero bias; eventprop neurons have no constant input current: fold the bias away or set it to 0.");
            connections.Add((n, pre, PopulationOf(target)));
        }

        // Populations: sizes and parameters.
        var populations = graph.Nodes.Where(IsPopulation).ToArray();
        var specs = new Dictionary<string, PopulationSpec>(StringComparer.Ordinal);
        foreach (var n in populations)
        {
            var firstIn = connections.FirstOrDefault(c => c.Post == n.Name);
            int? fromWeights = firstIn.Node is null ? null : checked((int)WeightShape(firstIn.Node, file).Out);
            var spec = PopulationSpec.From(n, synapseOf.GetValueOrDefault(n.Name), fromWeights, file);
            specs[n.Name] = spec;
            sizes[n.Name] = spec.Size;
        }
        foreach (var (node, pre, post) in connections)
        {
            var (rows, cols) = WeightShape(node, file);
            if (cols != sizes[pre])
                throw Bad(Inv($"node '{node.Name}': weight is {rows} × {cols} (out × in) but its source '{pre}' has {sizes[pre]} {(pre == input.Name ? "channels" : "neurons")}; the shapes do not match."));
            if (rows != sizes[post])
                throw Bad(Inv($"node '{node.Name}': weight is {rows} × {cols} (out × in) but its target '{post}' has {sizes[post]} neurons; the shapes do not match."));
        }
        if (outputNode.Parameters.ContainsKey("shape") && ShapeSize(outputNode, file) is var outSize && outSize != sizes[readoutName])
            throw Bad(Inv($"the Output node '{outputNode.Name}' has shape {outSize} but the readout '{readoutName}' has {sizes[readoutName]} neurons; the shapes do not match."));

        var order = TopologicalOrder(populations.Select(p => p.Name).ToList(), connections.Select(c => (c.Pre, c.Post)).Where(c => c.Pre != c.Post && c.Pre != input.Name).ToList(), file);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var n in new[] { input.Name }.Concat(order))
        {
            string clean = n.Replace("->", "_", StringComparison.Ordinal).Replace('.', '_');
            if (names.Values.Contains(clean)) throw Bad($"node '{n}' becomes population '{clean}' (eventprop names may not contain '.' or '->'), which another node already is; rename one of them.");
            names[n] = clean;
        }

        var builder = Network.Create(0).Input(names[input.Name], sizes[input.Name]);
        try
        {
            foreach (var n in order)
            {
                var s = specs[n];
                builder = n == readoutName
                    ? builder.Readout(names[n], s.Model, s.TauMemMs, s.TauSynMs)
                    : builder.Hidden(names[n], s.Model, s.TauMemMs, s.TauSynMs);
            }
            foreach (var (node, pre, post) in connections)
            {
                var w = Get(node, "weight", file)!.Numbers!;
                int rows = sizes[post], cols = sizes[pre];
                var factor = specs[post].InputScale;
                var m = new double[cols, rows];
                for (int j = 0; j < rows; j++)
                    for (int i = 0; i < cols; i++) m[i, j] = w[j * cols + i] * factor[j];
                builder = builder.Connect(names[pre], names[post], Init.Values(m));
            }
            return builder.Build();
        }
        catch (ArgumentException e)
        {
            throw Bad($"{Data.ErrorText.OneLine(e.Message)}");
        }
    }

    /// <summary>The dataset <paramref name="key"/> of a node as numbers, or null when the node has none.</summary>
    internal static NirValue? Get(NirNode node, string key, string file)
    {
        if (!node.Parameters.TryGetValue(key, out var v)) return null;
        if (v.Numbers is null) throw new NirFormatException($"{file}: node '{node.Name}': '{key}' holds strings; expected numbers.");
        for (int i = 0; i < v.Numbers.Length; i++)
            if (!double.IsFinite(v.Numbers[i])) throw new NirFormatException(Inv($"{file}: node '{node.Name}': {key}[{i}] is {v.Numbers[i]}; NIR parameters must be finite."));
        return v;
    }

    private static (long Out, long In) WeightShape(NirNode node, string file)
    {
        var w = Get(node, "weight", file) ?? throw new NirFormatException($"{file}: node '{node.Name}' ({node.Type}) has no 'weight'.");
        if (w.Shape.Length != 2) throw new NirFormatException($"{file}: node '{node.Name}': weight has {w.Shape.Length} dimensions; a {node.Type} weight is 2-D (out × in).");
        return (w.Shape[0], w.Shape[1]);
    }

    private static long ShapeSize(NirNode node, string file)
    {
        var shape = Get(node, "shape", file) ?? throw new NirFormatException($"{file}: the {node.Type} node '{node.Name}' has no 'shape'.");
        double size = shape.Numbers!.Aggregate(1.0, (a, b) => a * b);
        if (shape.Count == 0 || size < 1 || size > int.MaxValue || size != Math.Floor(size))
            throw new NirFormatException($"{file}: the {node.Type} node '{node.Name}' has shape [{string.Join(", ", shape.Numbers!)}]; expected positive whole sizes.");
        return (long)size;
    }

    // Kahn's algorithm over the feed-forward connections, ties in file order; a leftover node lies on a cycle.
    private static List<string> TopologicalOrder(List<string> nodes, List<(string Pre, string Post)> edges, string file)
    {
        var indegree = nodes.ToDictionary(n => n, n => edges.Count(e => e.Post == n), StringComparer.Ordinal);
        var order = new List<string>();
        var ready = nodes.Where(n => indegree[n] == 0).ToList();
        while (ready.Count > 0)
        {
            string n = ready[0];
            ready.RemoveAt(0);
            order.Add(n);
            foreach (var e in edges.Where(e => e.Pre == n))
                if (--indegree[e.Post] == 0) ready.Insert(FindSlot(ready, e.Post, nodes), e.Post);
        }
        if (order.Count < nodes.Count)
        {
            var cyclic = nodes.Where(n => !order.Contains(n)).ToArray();
            throw new NirFormatException($"{file}: node '{cyclic[0]}' lies on a cycle through a non-recurrent connection ({string.Join(", ", cyclic)}); eventprop allows recurrence only as neuron → Linear → the same neuron.");
        }
        return order;
    }

    private static int FindSlot(List<string> ready, string node, List<string> fileOrder)
    {
        int position = fileOrder.IndexOf(node);
        int slot = ready.FindIndex(r => fileOrder.IndexOf(r) > position);
        return slot < 0 ? ready.Count : slot;
    }

    private static string Describe(List<string> names) => names.Count == 0 ? "nothing" : string.Join(", ", names.Select(n => $"'{n}'"));

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
