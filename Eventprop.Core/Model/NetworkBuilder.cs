using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;

namespace Eventprop.Core.Model;

/// <summary>
/// Fluent builder of a <see cref="Network"/>. Declare one input, any number of hidden spiking populations (LIF or IF),
/// one readout, then the connections; <see cref="Build"/> checks the structure and draws the initial
/// weights from the builder's seed (each connection from its own stream, so adding a connection does
/// not change the others).
/// </summary>
/// <example>
/// <code>
/// var net = Network.Create(seed: 1)
///     .Input("in", 700)
///     .Lif("hidden", 256, tauMem: 20, tauSyn: 5)
///     .Readout("out", 20, tauMem: 20, tauSyn: 5)
///     .Connect("in", "hidden", Init.Normal(0.03, 0.01))
///     .Connect("hidden", "hidden", Init.Normal(0, 0.02))   // recurrence
///     .Connect("hidden", "out", Init.Normal(0, 0.03))
///     .Build();
/// </code>
/// </example>
public sealed partial class NetworkBuilder
{
    private readonly int _seed;
    private readonly List<(string Name, int Size, PopulationKind Kind, NeuronModel? Model, double[]? TauMem, double[]? TauSyn)> _pops = [];
    private readonly List<(string Pre, string Post, IWeightInit Init, Connectivity? Connectivity, double Probability)> _connections = [];

    private readonly List<string> _batchNorm = [];

    internal NetworkBuilder(int seed) => _seed = seed;

    /// <summary>
    /// Batch-normalises the input current of hidden population <paramref name="population"/> (seed 004 §2.6): every step's
    /// drive Σ_j W_ij S_j is replaced by γ·(x − μ)/√(σ² + ε) + β before it enters the synaptic current. Statistics are per
    /// neuron, or per output channel when the population is a convolution's output. Declares <c>pop.bn_scale</c> (1),
    /// <c>pop.bn_bias</c> (0) and the state <c>pop.bn_running_mean</c> (0), <c>pop.bn_running_var</c> (1). Only the
    /// surrogate engine simulates it; <see cref="Build"/> refuses it on a population with a recurrent or backward input.
    /// </summary>
    public NetworkBuilder BatchNorm(string population)
    {
        if (!_batchNorm.Contains(population)) _batchNorm.Add(population);
        return this;
    }

    /// <summary>As <see cref="BatchNorm(string)"/> with the given initial scale, bias, running mean and running variance (a model file's values).</summary>
    public NetworkBuilder BatchNorm(string population, double[] scale, double[] bias, double[] runningMean, double[] runningVariance)
    {
        ArgumentNullException.ThrowIfNull(scale);
        ArgumentNullException.ThrowIfNull(bias);
        ArgumentNullException.ThrowIfNull(runningMean);
        ArgumentNullException.ThrowIfNull(runningVariance);
        BatchNorm(population);
        _batchNormValues[population] = [(double[])scale.Clone(), (double[])bias.Clone(), (double[])runningMean.Clone(), (double[])runningVariance.Clone()];
        return this;
    }

    private readonly Dictionary<string, double[][]> _batchNormValues = new(StringComparer.Ordinal);

    /// <summary>Declares the input population of <paramref name="channels"/> channels.</summary>
    public NetworkBuilder Input(string name, int channels) => AddPopulation(name, channels, PopulationKind.Input, null, null, null);

    /// <summary>Declares a hidden LIF population with the same τ's (ms) for every neuron, threshold, reset and reset mode.</summary>
    public NetworkBuilder Lif(string name, int size, double tauMem = 20, double tauSyn = 5, double threshold = 1, double reset = 0, ResetMode resetMode = ResetMode.ToValue) =>
        Hidden(name, new Lif(threshold, reset, resetMode), Filled(name, size, tauMem), Filled(name, size, tauSyn));

    /// <summary>Declares a hidden LIF population (threshold 1, reset 0) with per-neuron τ's (ms).</summary>
    public NetworkBuilder Lif(string name, double[] tauMem, double[] tauSyn) => Hidden(name, Neurons.Lif.Standard, tauMem, tauSyn);

    /// <summary>
    /// Declares a hidden integrate-and-fire population (τ_mem V̇ = I, no leak; τ_mem is a fixed scale, not trained) with the
    /// same τ's (ms) for every neuron, threshold, reset and reset mode.
    /// </summary>
    public NetworkBuilder IntegrateAndFire(string name, int size, double tauMem = 20, double tauSyn = 5, double threshold = 1, double reset = 0, ResetMode resetMode = ResetMode.ToValue) =>
        Hidden(name, new IntegrateAndFire(threshold, reset, resetMode), Filled(name, size, tauMem), Filled(name, size, tauSyn));

    /// <summary>Declares a hidden population of any spiking <paramref name="model"/> with per-neuron τ's (ms).</summary>
    public NetworkBuilder Hidden(string name, NeuronModel model, double[] tauMem, double[] tauSyn)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tauMem);
        ArgumentNullException.ThrowIfNull(tauSyn);
        if (!model.IsSpiking)
            throw new ArgumentException($"Population '{name}': a hidden population must spike, but model '{model.Name}' does not; use lif or if.");
        return AddPopulation(name, tauMem.Length, PopulationKind.Hidden, model, (double[])tauMem.Clone(), (double[])tauSyn.Clone());
    }

    /// <summary>Declares the readout: a non-spiking leaky integrator (default) or, with <paramref name="spiking"/>, a LIF population.</summary>
    public NetworkBuilder Readout(string name, int size, double tauMem = 20, double tauSyn = 5, bool spiking = false) =>
        Readout(name, spiking ? Neurons.Lif.Standard : LeakyIntegrator.Instance, Filled(name, size, tauMem), Filled(name, size, tauSyn));

    /// <summary>Declares the readout with per-neuron τ's (ms).</summary>
    public NetworkBuilder Readout(string name, double[] tauMem, double[] tauSyn, bool spiking = false) =>
        Readout(name, spiking ? Neurons.Lif.Standard : LeakyIntegrator.Instance, tauMem, tauSyn);

    /// <summary>Declares the readout with any <paramref name="model"/> (<see cref="LeakyIntegrator"/>, or a spiking model) and per-neuron τ's (ms).</summary>
    public NetworkBuilder Readout(string name, NeuronModel model, double[] tauMem, double[] tauSyn)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tauMem);
        ArgumentNullException.ThrowIfNull(tauSyn);
        return AddPopulation(name, tauMem.Length, PopulationKind.Readout, model, (double[])tauMem.Clone(), (double[])tauSyn.Clone());
    }

    /// <summary>Connects <paramref name="pre"/> to <paramref name="post"/> all-to-all; <c>Connect("h", "h", …)</c> makes h recurrent.</summary>
    public NetworkBuilder Connect(string pre, string post, IWeightInit init) => Connect(pre, post, init, Connectivity.Dense);

    /// <summary>
    /// Connects <paramref name="pre"/> to <paramref name="post"/> with the given <paramref name="connectivity"/> (dense, or a
    /// fixed <see cref="SparseConnectivity"/> mask). The initial weights are <paramref name="init"/>'s dense draws at the
    /// synapses that exist.
    /// </summary>
    public NetworkBuilder Connect(string pre, string post, IWeightInit init, Connectivity connectivity)
    {
        ArgumentNullException.ThrowIfNull(init);
        ArgumentNullException.ThrowIfNull(connectivity);
        _connections.Add((pre, post, init, connectivity, double.NaN));
        return this;
    }

    /// <summary>
    /// Connects <paramref name="pre"/> to <paramref name="post"/> through a random fixed mask: each pair exists with
    /// <paramref name="probability"/>, drawn from the builder's seed (a stream of its own, <c>"pre->post.mask"</c>). The
    /// mask is then part of the network: model files and checkpoints store it.
    /// </summary>
    public NetworkBuilder ConnectSparse(string pre, string post, double probability, IWeightInit init)
    {
        ArgumentNullException.ThrowIfNull(init);
        if (!(probability > 0 && probability <= 1))
            throw new ArgumentException($"ConnectSparse(\"{pre}\", \"{post}\"): the connection probability must lie in (0, 1], not {probability}.");
        _connections.Add((pre, post, init, null, probability));
        return this;
    }

    /// <summary>Checks the structure, draws the initial weights and returns the network.</summary>
    /// <exception cref="ArgumentException">The structure is invalid; the message says what to change.</exception>
    public Network Build()
    {
        int inputs = _pops.Count(p => p.Kind == PopulationKind.Input);
        int readouts = _pops.Count(p => p.Kind == PopulationKind.Readout);
        if (inputs != 1) throw new ArgumentException($"A network needs exactly one Input population; found {inputs}.");
        if (readouts != 1) throw new ArgumentException($"A network needs exactly one Readout population; found {readouts}.");

        var pops = new List<Population>();
        var parameters = new ParameterSet();
        // Input first so its index is 0, then the others in declaration order.
        foreach (var p in _pops.OrderBy(p => p.Kind == PopulationKind.Input ? 0 : 1))
        {
            p.Model?.Validate(p.Name);
            var pop = new Population(p.Name, p.Size, p.Kind, p.Model, pops.Count);
            pops.Add(pop);
        }
        var byName = pops.ToDictionary(p => p.Name, StringComparer.Ordinal);

        var connections = new List<Connection>();
        var inits = new List<IWeightInit>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (preName, postName, init, given, probability) in _connections)
        {
            if (!byName.TryGetValue(preName, out var pre))
                throw new ArgumentException($"Connect(\"{preName}\", \"{postName}\"): no population '{preName}'; declare it first.");
            if (!byName.TryGetValue(postName, out var post))
                throw new ArgumentException($"Connect(\"{preName}\", \"{postName}\"): no population '{postName}'; declare it first.");
            if (!pre.IsSpiking || pre.Kind == PopulationKind.Readout)
                throw new ArgumentException($"Connect(\"{preName}\", \"{postName}\"): the presynaptic population must be the input or a hidden population.");
            if (post.Kind == PopulationKind.Input)
                throw new ArgumentException($"Connect(\"{preName}\", \"{postName}\"): the input population cannot receive connections.");
            if (!seen.Add(preName + "\0" + postName))
                throw new ArgumentException($"Connect(\"{preName}\", \"{postName}\") is declared twice.");
            var connectivity = given ?? SparseConnectivity.Random(pre.Size, post.Size, probability,
                new Random(StreamSeed(_seed, ParameterSet.WeightName(preName, postName) + ".mask")));
            connectivity.RequireShape(ParameterSet.WeightName(preName, postName), pre.Size, post.Size);
            connections.Add(new Connection(pre, post, connectivity));
            inits.Add(init);
        }
        foreach (var pop in pops.Where(p => p.HasDynamics))
            if (!connections.Any(c => c.Post == pop && !c.IsRecurrent))
                throw new ArgumentException($"Population '{pop.Name}' receives no feed-forward connection; add Connect(<source>, \"{pop.Name}\", init).");

        for (int k = 0; k < connections.Count; k++)
        {
            var c = connections[k];
            var values = c.Connectivity.InitialWeights(inits[k], c.Pre.Size, c.Post.Size, new Random(StreamSeed(_seed, c.Name)));
            // Dense weights are a pre × post matrix; a mask's are its synapses in row order (1 × count); a convolution's
            // its kernels (out × in·kh·kw).
            var (rows, columns) = c.Connectivity.ParameterShape(c.Pre.Size, c.Post.Size);
            parameters.Add(new Parameter(c.Name, ParameterKind.Weight, c.Pre.Name, c.Post.Name, rows, columns, values));
        }
        foreach (var p in _pops.Where(p => p.Kind != PopulationKind.Input))
        {
            foreach (var declared in p.Model!.Parameters)
            {
                double[] values;
                if (declared.Kind == ParameterKind.TauMem) values = p.TauMem!;
                else if (declared.Kind == ParameterKind.TauSyn) values = p.TauSyn!;
                else
                {
                    values = new double[p.Size];
                    Array.Fill(values, declared.Default);
                }
                parameters.Add(new Parameter(ParameterSet.NeuronParameterName(p.Name, declared.Kind), declared.Kind, p.Name, null, 1, p.Size, values, declared.Trainable));
            }
        }
        AddBatchNorm(byName, connections, parameters);
        AddDelays(connections, parameters);
        var net = new Network(pops, connections, parameters);
        net.Validate();
        return net;
    }

    /// <summary>Checks the batch-normalised populations and declares their four parameters (after the neuron parameters).</summary>
    private void AddBatchNorm(Dictionary<string, Population> byName, List<Connection> connections, ParameterSet parameters)
    {
        foreach (var name in _batchNorm)
        {
            if (!byName.TryGetValue(name, out var pop) || pop.Kind != PopulationKind.Hidden)
                throw new ArgumentException($"BatchNorm(\"{name}\"): '{name}' is not a hidden population; batch norm applies to a hidden layer's input current.");
            var incoming = connections.Where(c => c.Post == pop).ToArray();
            if (incoming.FirstOrDefault(c => c.IsRecurrent || (c.Pre.Kind != PopulationKind.Input && c.Pre.Index > pop.Index)) is { } back)
                throw new ArgumentException($"BatchNorm(\"{name}\"): '{name}' receives {(back.IsRecurrent ? "a recurrent" : "a backward")} connection {back.Name}; batch norm of the input current is only supported on a feed-forward layer (its batch statistics would depend on themselves).");
            var convs = incoming.Select(c => c.Synapses.Convolution).Where(g => g is not null).Select(g => g!.Value.OutChannels).Distinct().ToArray();
            if (convs.Length > 1 || (convs.Length == 1 && incoming.Any(c => c.Synapses.Convolution is null)))
                throw new ArgumentException($"BatchNorm(\"{name}\"): '{name}' receives convolutions with different channel counts or a convolution and a dense connection; batch norm needs one channel layout.");
            int channels = convs.Length == 1 ? convs[0] : pop.Size;
            double[][] values = _batchNormValues.TryGetValue(name, out var given) ? given : [Filled(name, channels, 1), new double[channels], new double[channels], Filled(name, channels, 1)];
            ParameterKind[] kinds = [ParameterKind.BatchNormScale, ParameterKind.BatchNormBias, ParameterKind.BatchNormRunningMean, ParameterKind.BatchNormRunningVariance];
            for (int k = 0; k < kinds.Length; k++)
            {
                if (values[k].Length != channels)
                    throw new ArgumentException($"BatchNorm(\"{name}\"): {kinds[k].Name} has {values[k].Length} values; '{name}' has {channels} {(convs.Length == 1 ? "channels" : "neurons")}.");
                parameters.Add(new Parameter(ParameterSet.NeuronParameterName(name, kinds[k]), kinds[k], name, null, 1, channels, values[k], trainable: k < 2));
            }
        }
        // A hidden population that feeds a batch-normalised layer through a chain must not depend on it: the layers are then
        // processed in network order (each batch-normalised layer's statistics fixed before the next's).
        if (_batchNorm.Count > 0)
            foreach (var c in connections)
                if (c.Pre.Kind == PopulationKind.Hidden && c.Post.Kind == PopulationKind.Hidden && !c.IsRecurrent && c.Pre.Index > c.Post.Index)
                    throw new ArgumentException($"Connection {c.Name} runs backward (from a later to an earlier layer); a network with batch norm must be feed-forward in layer order.");
    }

    /// <summary>A seed for the random stream named <paramref name="name"/> under <paramref name="seed"/> (FNV-1a; stable across runs and platforms).</summary>
    public static int StreamSeed(int seed, string name)
    {
        unchecked
        {
            uint h = 2166136261u ^ (uint)seed;
            h *= 16777619u;
            foreach (char ch in name)
            {
                h ^= ch;
                h *= 16777619u;
            }
            return (int)(h & 0x7fffffff);
        }
    }

    private NetworkBuilder AddPopulation(string name, int size, PopulationKind kind, NeuronModel? model, double[]? tauMem, double[]? tauSyn)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("Population names must be non-empty.");
        if (name.Contains("->") || name.Contains('.'))
            throw new ArgumentException($"Population name '{name}' may not contain '->' or '.' (they separate parameter names).");
        if (size <= 0) throw new ArgumentException($"Population '{name}' has size {size}; it needs at least one neuron.");
        if (_pops.Any(p => p.Name == name)) throw new ArgumentException($"Population '{name}' is declared twice.");
        if (tauMem is not null && tauSyn is not null && tauMem.Length != tauSyn.Length)
            throw new ArgumentException($"Population '{name}': {tauMem.Length} τ_mem values but {tauSyn.Length} τ_syn values.");
        _pops.Add((name, size, kind, model, tauMem, tauSyn));
        return this;
    }

    private static double[] Filled(string name, int size, double value)
    {
        if (size <= 0) throw new ArgumentException($"Population '{name}' has size {size}; it needs at least one neuron.");
        var a = new double[size];
        Array.Fill(a, value);
        return a;
    }
}
