using System.Globalization;
using Eventprop.Core.Model.Neurons;

namespace Eventprop.Core.Nir;

/// <summary>
/// One population as read from a NIR neuron node (and, for NIR's synapse-less LIF/IF, the LI node that is its current):
/// size, model, τ's in ms and the per-neuron factor that turns NIR's input into our current jump (r · w_in / τ_syn).
/// </summary>
internal sealed class PopulationSpec
{
    private PopulationSpec(int size, NeuronModel model, double[] tauMemMs, double[] tauSynMs, double[] inputScale)
    {
        Size = size;
        Model = model;
        TauMemMs = tauMemMs;
        TauSynMs = tauSynMs;
        InputScale = inputScale;
    }

    /// <summary>Number of neurons.</summary>
    public int Size { get; }

    /// <summary>Lif, IntegrateAndFire or LeakyIntegrator with the node's threshold, reset and reset mode.</summary>
    public NeuronModel Model { get; }

    /// <summary>Membrane time constants (ms).</summary>
    public double[] TauMemMs { get; }

    /// <summary>Synaptic time constants (ms).</summary>
    public double[] TauSynMs { get; }

    /// <summary>Per neuron j: our weight W[i, j] = W_nir[j, i] · InputScale[j].</summary>
    public double[] InputScale { get; }

    /// <summary>Reads the population of <paramref name="node"/> (with its LI <paramref name="synapse"/> for LIF/IF).</summary>
    /// <param name="node">A CubaLIF, CubaLI, LIF or IF node.</param>
    /// <param name="synapse">The LI node before a LIF/IF; null otherwise.</param>
    /// <param name="sizeFromWeights">The out dimension of an incoming Linear, used when every parameter is a scalar.</param>
    /// <param name="file">The file's name, for messages.</param>
    public static PopulationSpec From(NirNode node, NirNode? synapse, int? sizeFromWeights, string file)
    {
        string[] keys = node.Type switch
        {
            "CubaLIF" => ["tau_syn", "tau_mem", "r", "v_leak", "v_threshold"],
            "CubaLI" => ["tau_syn", "tau_mem", "r", "v_leak"],
            "LIF" => ["tau", "r", "v_leak", "v_threshold"],
            _ => ["r", "v_threshold"],
        };
        int size = SizeOf(node, synapse, sizeFromWeights, file);
        double[] P(NirNode n, string key, double? fallback)
        {
            var v = NirImport.Get(n, key, file);
            if (v is null)
                return fallback is { } f ? Enumerable.Repeat(f, size).ToArray()
                    : throw new NirFormatException($"{file}: node '{n.Name}' ({n.Type}) has no '{key}'; NIR's {n.Type} needs it.");
            return v.IsScalar ? Enumerable.Repeat(v.Numbers![0], size).ToArray() : v.Numbers!;
        }
        foreach (var key in keys) P(node, key, null);
        var mode = node.Metadata.TryGetValue(NirConventions.ResetMode, out var m) && m.Strings is ["subtract"] ? ResetMode.Subtract : ResetMode.ToValue;

        double[] tauMemS, tauSynS, scale, rIf = [];
        NirValue? exactMem = node.Metadata.GetValueOrDefault(NirConventions.TauMemMs), exactSyn;
        switch (node.Type)
        {
            case "CubaLIF":
            case "CubaLI":
                RequireZero(node, P(node, "v_leak", null), file);
                tauSynS = Positive(node, "tau_syn", P(node, "tau_syn", null), file);
                tauMemS = Positive(node, "tau_mem", P(node, "tau_mem", null), file);
                double[] r = P(node, "r", null), wIn = P(node, "w_in", 1.0);
                scale = Enumerable.Range(0, size).Select(j => r[j] * wIn[j] / tauSynS[j]).ToArray();
                exactSyn = node.Metadata.GetValueOrDefault(NirConventions.TauSynMs);
                break;
            default:
                var li = synapse!;
                RequireZero(li, P(li, "v_leak", null), file);
                tauSynS = Positive(li, "tau", P(li, "tau", null), file);
                double[] rSyn = P(li, "r", null);
                exactSyn = li.Metadata.GetValueOrDefault(NirConventions.TauSynMs);
                if (node.Type == "LIF")
                {
                    RequireZero(node, P(node, "v_leak", null), file);
                    tauMemS = Positive(node, "tau", P(node, "tau", null), file);
                    double[] rMem = P(node, "r", null);
                    scale = Enumerable.Range(0, size).Select(j => rSyn[j] / tauSynS[j] * rMem[j]).ToArray();
                }
                else
                {
                    // NIR IF: v̇ = r·I; ours: τ_mem V̇ = I, so τ_mem = 1/r (τ_mem of IF only scales the input).
                    rIf = Positive(node, "r", P(node, "r", null), file);
                    tauMemS = rIf.Select(x => 1.0 / x).ToArray();
                    scale = Enumerable.Range(0, size).Select(j => rSyn[j] / tauSynS[j]).ToArray();
                }
                break;
        }
        double threshold = node.Type == "CubaLI" ? double.NaN : Uniform(node, "v_threshold", P(node, "v_threshold", null), file);
        double reset = node.Type == "CubaLI" ? double.NaN : Uniform(node, "v_reset", P(node, "v_reset", 0.0), file);
        NeuronModel model = node.Type switch
        {
            "CubaLI" => LeakyIntegrator.Instance,
            "IF" => new IntegrateAndFire(threshold, reset, mode),
            _ => new Lif(threshold, reset, mode),
        };
        double[] tauMemMs = node.Type == "IF" ? IfTauMemMs(node, rIf) : NirConventions.ToMs(tauMemS, exactMem);
        return new PopulationSpec(size, model, tauMemMs, NirConventions.ToMs(tauSynS, exactSyn), scale);
    }

    // The exporter writes r = 1 / (τ_mem[ms] / 1000); its metadata gives τ_mem back exactly where it agrees with r.
    private static double[] IfTauMemMs(NirNode node, double[] r)
    {
        var ms = r.Select(x => NirConventions.MsPerSecond / x).ToArray();
        if (node.Metadata.GetValueOrDefault(NirConventions.TauMemMs)?.Numbers is { } exact && exact.Length == ms.Length
            && exact.Zip(r).All(p => 1.0 / (p.First / NirConventions.MsPerSecond) == p.Second))
            return (double[])exact.Clone();
        return ms;
    }

    private static int SizeOf(NirNode node, NirNode? synapse, int? sizeFromWeights, string file)
    {
        var arrays = node.Parameters.Concat(synapse?.Parameters ?? []).Where(p => p.Value.Numbers is not null && !p.Value.IsScalar).ToArray();
        if (arrays.Length == 0)
            return sizeFromWeights ?? throw new NirFormatException($"{file}: node '{node.Name}' has only scalar parameters and no incoming Linear to give its size.");
        int size = arrays[0].Value.Count;
        foreach (var (key, value) in arrays)
            if (value.Count != size)
                throw new NirFormatException(Inv($"{file}: node '{node.Name}': '{key}' has {value.Count} values but '{arrays[0].Key}' has {size}; a node's parameters must have one shape (or be scalars)."));
        return size;
    }

    private static double[] Positive(NirNode node, string key, double[] values, string file)
    {
        for (int i = 0; i < values.Length; i++)
            if (!(values[i] > 0)) throw new NirFormatException(Inv($"{file}: node '{node.Name}': {key}[{i}] is {values[i]}; it must be > 0."));
        return values;
    }

    private static void RequireZero(NirNode node, double[] vLeak, string file)
    {
        int i = Array.FindIndex(vLeak, v => v != 0);
        if (i >= 0)
            throw new NirFormatException(Inv($"{file}: node '{node.Name}': v_leak[{i}] is {vLeak[i]}; eventprop neurons rest at 0 and cannot hold a leak potential: set v_leak to 0 (shifting v_threshold and v_reset by −v_leak)."));
    }

    private static double Uniform(NirNode node, string key, double[] values, string file)
    {
        int i = Array.FindIndex(values, v => v != values[0]);
        if (i >= 0)
            throw new NirFormatException(Inv($"{file}: node '{node.Name}': {key} differs between neurons ({values[0]} and {values[i]} at neuron {i}); eventprop has one {key} per population: split the node."));
        return values[0];
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
