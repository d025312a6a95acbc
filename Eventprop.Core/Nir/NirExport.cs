using System.Globalization;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;

namespace Eventprop.Core.Nir;

/// <summary>
/// Writes a <see cref="Network"/> as a NIR graph (the Neuromorphic Intermediate Representation, v1.0.7's HDF5 layout),
/// which snnTorch, Norse, Rockpool, Sinabs, Spyx, Lava-dl and neuromorphic hardware tool chains read. The mapping is
/// exact (docs/nir.md): LIF → CubaLIF, the LI readout → CubaLI (both with r = 1, v_leak = 0, w_in = τ_syn in seconds so
/// that a spike adds W to the current as here), IF → an LI synapse (τ = r = τ_syn) followed by NIR's IF (r = 1/τ_mem),
/// each connection → a Linear node whose weight is our W transposed to NIR's (out, in). Time constants are in seconds.
/// </summary>
public static class NirExport
{
    /// <summary>
    /// Writes <paramref name="network"/> (its current parameters) to <paramref name="path"/> atomically and returns the
    /// node list and the items NIR cannot hold (loss, time step, encoding, readout kind, subtractive reset, sparse masks, …).
    /// </summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static NirExportReport Write(Network network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(path);
        var (graph, report) = ToGraph(network);
        NirGraphFile.Write(path, graph);
        return report;
    }

    /// <summary>The NIR graph of <paramref name="network"/> and the report, without writing a file.</summary>
    /// <exception cref="ArgumentException">The readout is the non-leaky integrator, which has no node here (one line).</exception>
    internal static (NirGraph Graph, NirExportReport Report) ToGraph(Network network)
    {
        // NIR's I node (r·v̇ = input) with an LI synapse would be the integrator, but import cannot tell that pair from an
        // IF layer without its threshold, so the readout is refused rather than written as something else.
        if (network.BatchNormalized.Count > 0)
            throw new ArgumentException($"NIR export does not write hidden layer '{network.BatchNormalized[0].Name}': it has batch norm of its input current, which NIR has no node for; export a network without batch_norm (batch norm is trained by method surrogate only).");
        if (network.Delayed.Count > 0)
            throw new ArgumentException($"NIR export does not write connection {network.Delayed[0].Name} yet: it has learned delays; export a network without learned delays.");
        if (network.Readout.Model is NonLeakyIntegrator)
            throw new ArgumentException($"NIR export does not write the integrator readout '{network.Readout.Name}' (network.readout_model = integrator) yet; export a network with the li readout.");
        var nodes = new List<NirNode>();
        var edges = new List<(string, string)>();
        var lines = new List<string>();
        var dropped = new List<string>
        {
            "loss: NIR has no loss; give it again when training or evaluating (config key loss).",
            "time step and engine: NIR is continuous-time, the file holds no dt (engine.dt, engine.kind).",
            $"input encoding: NIR has no data encoding; the Input node '{network.Input.Name}' takes spike trains (dataset.*).",
            $"readout kind: how the loss reads the readout (its V over time, its spikes) is not in NIR; '{network.Readout.Name}' is written as a {(network.Readout.IsSpiking ? "CubaLIF" : "CubaLI")} node.",
        };
        var used = new HashSet<string>(network.Populations.Select(p => p.Name), StringComparer.Ordinal);
        string Unique(string wanted)
        {
            string name = wanted;
            for (int k = 2; !used.Add(name); k++) name = $"{wanted}_{k}";
            return name;
        }

        nodes.Add(Node(network.Input.Name, "Input", ("shape", NirValue.Integers(network.Input.Size))));
        lines.Add(Inv($"{network.Input.Name}: Input, {network.Input.Size} channels"));
        var entry = new Dictionary<string, string>(StringComparer.Ordinal); // where a population's input arrives (itself, or its IF synapse)
        foreach (var p in network.Populations.Where(p => p.HasDynamics))
        {
            var model = p.Model!;
            double[] tauMemMs = network.TauMem(p.Name).Values, tauSynMs = network.TauSyn(p.Name).Values;
            double[] tauMem = NirConventions.ToSeconds(tauMemMs), tauSyn = NirConventions.ToSeconds(tauSynMs);
            string taus = Inv($"τ_mem {Range(tauMemMs)} ms, τ_syn {Range(tauSynMs)} ms");
            if (model is IntegrateAndFire ifModel)
            {
                string synapse = Unique(p.Name + "_synapse");
                var syn = Node(synapse, "LI", ("tau", Vector(tauSyn)), ("r", Vector(tauSyn)), ("v_leak", Filled(p.Size, 0)));
                syn.Metadata[NirConventions.TauSynMs] = Vector(tauSynMs);
                nodes.Add(syn);
                var neuron = Node(p.Name, "IF", ("r", Vector(tauMem.Select(t => 1.0 / t).ToArray())),
                    ("v_threshold", Filled(p.Size, model.Threshold)), ("v_reset", Filled(p.Size, model.Reset)));
                neuron.Metadata[NirConventions.TauMemMs] = Vector(tauMemMs);
                AddResetMode(neuron, model, dropped, p.Name);
                nodes.Add(neuron);
                edges.Add((synapse, p.Name));
                entry[p.Name] = synapse;
                lines.Add(Inv($"{synapse}: LI (the synaptic current of '{p.Name}': τ = r = τ_syn), {p.Size} neurons"));
                lines.Add(Inv($"{p.Name}: IF, {p.Size} neurons, {taus} (r = 1/τ_mem), threshold {model.Threshold}, reset {model.Reset}"));
                if (ifModel.TrainTauMem)
                    dropped.Add($"trainable flags: '{p.Name}' trains τ_mem, which NIR cannot say; import makes IF τ_mem fixed (eventprop's default).");
                continue;
            }
            NirNode node;
            if (model.IsSpiking)
            {
                node = Node(p.Name, "CubaLIF", ("tau_syn", Vector(tauSyn)), ("tau_mem", Vector(tauMem)), ("r", Filled(p.Size, 1)),
                    ("v_leak", Filled(p.Size, 0)), ("v_threshold", Filled(p.Size, model.Threshold)), ("v_reset", Filled(p.Size, model.Reset)),
                    ("w_in", Vector(tauSyn)));
                AddResetMode(node, model, dropped, p.Name);
                lines.Add(Inv($"{p.Name}: CubaLIF, {p.Size} neurons, {taus}, threshold {model.Threshold}, reset {model.Reset}"));
            }
            else
            {
                node = Node(p.Name, "CubaLI", ("tau_syn", Vector(tauSyn)), ("tau_mem", Vector(tauMem)), ("r", Filled(p.Size, 1)),
                    ("v_leak", Filled(p.Size, 0)), ("w_in", Vector(tauSyn)));
                lines.Add(Inv($"{p.Name}: CubaLI, {p.Size} neurons, {taus}"));
            }
            node.Metadata[NirConventions.TauMemMs] = Vector(tauMemMs);
            node.Metadata[NirConventions.TauSynMs] = Vector(tauSynMs);
            nodes.Add(node);
            entry[p.Name] = p.Name;
        }
        foreach (var c in network.Connections)
        {
            string name = Unique($"{c.Pre.Name}_to_{c.Post.Name}");
            var w = network.Weights(c.Pre.Name, c.Post.Name).Values;
            int pre = c.Pre.Size, post = c.Post.Size;
            var weight = new double[post * pre];
            var rows = c.Synapses;
            for (int i = 0; i < pre; i++)
            {
                int start = rows.Start(i), length = rows.Length(i);
                for (int s = 0; s < length; s++)
                {
                    int j = rows.IsDense ? s : rows.Targets![start + s];
                    weight[j * pre + i] = w[start + s];
                }
            }
            nodes.Add(Node(name, "Linear", ("weight", NirValue.Of(weight, post, pre))));
            edges.Add((c.Pre.Name, name));
            edges.Add((name, entry[c.Post.Name]));
            lines.Add(Inv($"{name}: Linear, weight {post} × {pre} (out × in){(c.IsRecurrent ? ", recurrent" : "")}"));
            if (c.Connectivity is SparseConnectivity sparse)
                dropped.Add(Inv($"sparse mask of '{c.Name}': written as a dense Linear with zeros ({sparse.Count} of {pre * post} synapses exist); a zero weight and a missing synapse look alike, so import makes it dense."));
        }
        string output = Unique("output");
        nodes.Add(Node(output, "Output", ("shape", NirValue.Integers(network.Readout.Size))));
        edges.Add((network.Readout.Name, output));
        lines.Add(Inv($"{output}: Output, {network.Readout.Size} values (the readout '{network.Readout.Name}')"));
        return (new NirGraph(NirGraphFile.Version, nodes, edges), new NirExportReport(lines, dropped));
    }

    private static void AddResetMode(NirNode node, NeuronModel model, List<string> dropped, string population)
    {
        if (model.ResetMode != ResetMode.Subtract) return;
        node.Metadata[NirConventions.ResetMode] = NirValue.Text("subtract");
        dropped.Add($"reset mode of '{population}': NIR resets to v_reset, so it is written as reset to the value (the same in the exact engine, O(dt) apart in stepped ones); the subtractive mode is kept only in the node's metadata for eventprop.");
    }

    private static NirNode Node(string name, string type, params (string Key, NirValue Value)[] parameters)
    {
        var node = new NirNode(name, type);
        foreach (var (key, value) in parameters) node.Parameters[key] = value;
        return node;
    }

    private static NirValue Vector(double[] values) => NirValue.Of((double[])values.Clone());

    private static NirValue Filled(int size, double value)
    {
        var a = new double[size];
        Array.Fill(a, value);
        return NirValue.Of(a);
    }

    private static string Range(double[] values)
    {
        double lo = values.Min(), hi = values.Max();
        return lo == hi ? lo.ToString("G6", CultureInfo.InvariantCulture) : Inv($"{lo:G4}–{hi:G4}");
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
