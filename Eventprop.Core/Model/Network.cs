namespace Eventprop.Core.Model;

/// <summary>
/// A spiking network: an input population, hidden LIF populations (optionally recurrent), one readout,
/// dense connections between them, and the <see cref="ParameterSet"/> holding every weight and per-neuron
/// time constant. The structure is fixed once built; the parameter values change during training.
/// Build one with <see cref="Create"/>.
/// </summary>
public sealed class Network
{
    /// <summary>The default firing threshold ϑ (each spiking population has its own: <see cref="Neurons.NeuronModel.Threshold"/>).</summary>
    public const double Threshold = 1.0;

    /// <summary>The default membrane potential after a spike (per population: <see cref="Neurons.NeuronModel.Reset"/>).</summary>
    public const double Reset = 0.0;

    private readonly Dictionary<string, Population> _byName;

    internal Network(IReadOnlyList<Population> populations, IReadOnlyList<Connection> connections, ParameterSet parameters)
    {
        Populations = populations;
        Connections = connections;
        Parameters = parameters;
        _byName = populations.ToDictionary(p => p.Name, StringComparer.Ordinal);
        Input = populations.Single(p => p.Kind == PopulationKind.Input);
        Readout = populations.Single(p => p.Kind == PopulationKind.Readout);
        Hidden = populations.Where(p => p.Kind == PopulationKind.Hidden).ToArray();
        BatchNormalized = Hidden.Where(p => parameters.Contains(ParameterSet.NeuronParameterName(p.Name, ParameterKind.BatchNormScale))).ToArray();
        Delayed = connections.Where(c => DelaysOf(c) is not null).ToArray();
    }

    /// <summary>Starts building a network; every random initial value derives from <paramref name="seed"/>.</summary>
    public static NetworkBuilder Create(int seed = 0) => new(seed);

    /// <summary>All populations, input first, in the order they were declared.</summary>
    public IReadOnlyList<Population> Populations { get; }

    /// <summary>All connections in the order they were declared.</summary>
    public IReadOnlyList<Connection> Connections { get; }

    /// <summary>Every trainable value: weights per connection, τ_mem and τ_syn per population.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>The input population (channels).</summary>
    public Population Input { get; }

    /// <summary>The hidden populations in declaration order.</summary>
    public IReadOnlyList<Population> Hidden { get; }

    /// <summary>The readout population.</summary>
    public Population Readout { get; }

    /// <summary>
    /// The hidden populations whose input current is batch-normalised (<see cref="NetworkBuilder.BatchNorm(string)"/>), in network
    /// order; each has the parameters <c>pop.bn_scale</c>, <c>pop.bn_bias</c> (trainable) and <c>pop.bn_running_mean</c>,
    /// <c>pop.bn_running_var</c> (state), one value per neuron or per convolution output channel. Only the surrogate engine
    /// simulates them.
    /// </summary>
    public IReadOnlyList<Population> BatchNormalized { get; }

    /// <summary>
    /// Refuses a network with batch norm in one line that names the layer and the fix: batch norm couples the trials of a
    /// batch (its statistics are over the batch), which an engine with a per-trial adjoint (Eventprop) or an export format
    /// without batch statistics cannot represent.
    /// </summary>
    /// <param name="engine">The engine or exporter, as the message should name it.</param>
    /// <exception cref="ArgumentException">A hidden population has batch norm.</exception>
    public void RequireNoBatchNorm(string engine)
    {
        if (BatchNormalized.Count > 0)
            throw new ArgumentException($"Hidden layer '{BatchNormalized[0].Name}' has batch norm of its input current, which {engine} does not support: batch norm couples the trials of a batch, and Eventprop's adjoint is per trial; train it with method surrogate (engine.kind = surrogate) or remove batch_norm.");
    }

    /// <summary>The connections with learned delays (<see cref="NetworkBuilder.LearnedDelays"/>), in declaration order.</summary>
    public IReadOnlyList<Connection> Delayed { get; }

    /// <summary>The learned delays of connection <paramref name="connection"/> and how they are shared, or null when it has none.</summary>
    public (Parameter Delays, DelayKind Kind)? DelaysOf(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        foreach (var kind in (ReadOnlySpan<DelayKind>)[DelayKind.Synaptic, DelayKind.Axonal])
        {
            string name = ParameterSet.DelayName(connection.Pre.Name, connection.Post.Name, kind);
            if (Parameters.Contains(name)) return (Parameters[name], kind);
        }
        return null;
    }

    /// <summary>Refuses a network with learned delays in one line that names the connection and the fix.</summary>
    /// <param name="engine">The engine or exporter, as the message should name it.</param>
    /// <param name="fix">What to do instead, as the message should say it (default: the exact engine or no delays).</param>
    /// <exception cref="ArgumentException">A connection has learned delays.</exception>
    public void RequireNoLearnedDelays(string engine, string fix = "use the exact engine (engine.kind = exact) or remove the delays")
    {
        if (Delayed.Count > 0)
            throw new ArgumentException($"Connection {Delayed[0].Name} has learned delays, which {engine} does not simulate yet; {fix}.");
    }

    /// <summary>The population called <paramref name="name"/>.</summary>
    public Population this[string name] =>
        _byName.TryGetValue(name, out var p)
            ? p
            : throw new KeyNotFoundException($"No population '{name}'; the network has: {string.Join(", ", Populations.Select(q => q.Name))}.");

    /// <summary>The weights of connection <paramref name="pre"/> → <paramref name="post"/>.</summary>
    public Parameter Weights(string pre, string post) => Parameters.Weights(pre, post);

    /// <summary>Membrane time constants (ms) of a population.</summary>
    public Parameter TauMem(string population) => Parameters.TauMem(population);

    /// <summary>Synaptic time constants (ms) of a population.</summary>
    public Parameter TauSyn(string population) => Parameters.TauSyn(population);

    /// <summary>A network with the same structure and a deep copy of the parameters.</summary>
    public Network Clone() => new(Populations, Connections, Parameters.Clone());

    /// <summary>A network with the same structure and the given parameters (same names and shapes; not copied).</summary>
    public Network WithParameters(ParameterSet parameters)
    {
        Parameters.RequireSameLayout(parameters);
        return new Network(Populations, Connections, parameters);
    }

    /// <summary>
    /// A network with the same structure and a deep copy of the parameters in which the spiking populations named in
    /// <paramref name="thresholds"/> have those firing thresholds (their reset value, reset mode and time constants kept).
    /// Used by seed 004's data-driven threshold initialisation (<see cref="Simulation.Surrogate.ThresholdCalibration"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A name is not a spiking hidden population, or a threshold is not finite or not above
    /// the population's reset value (or, for LIF, not &gt; 0); the message names the population.</exception>
    public Network WithThresholds(IReadOnlyDictionary<string, double> thresholds)
    {
        ArgumentNullException.ThrowIfNull(thresholds);
        foreach (var name in thresholds.Keys)
            if (!_byName.TryGetValue(name, out var p) || p.Kind != PopulationKind.Hidden || p.Model is not Neurons.SpikingNeuronModel)
                throw new ArgumentException($"'{name}' is not a spiking hidden population; thresholds can be set on: {string.Join(", ", Hidden.Where(h => h.Model is Neurons.SpikingNeuronModel).Select(h => h.Name))}.", nameof(thresholds));
        var populations = Populations.Select(p =>
        {
            if (!thresholds.TryGetValue(p.Name, out double theta)) return p;
            var model = ((Neurons.SpikingNeuronModel)p.Model!).WithThreshold(theta);
            model.Validate(p.Name);
            return p.WithModel(model);
        }).ToArray();
        var connections = Connections.Select(c => c.WithEndpoints(populations[c.Pre.Index], populations[c.Post.Index])).ToArray();
        return new Network(populations, connections, Parameters.Clone());
    }

    /// <summary>
    /// Checks that every weight is finite and every time constant finite and &gt; 0.
    /// </summary>
    /// <exception cref="ArgumentException">Names the parameter, the element and the bad value.</exception>
    public void Validate()
    {
        foreach (var p in Parameters)
        {
            var v = p.Values;
            for (int i = 0; i < v.Length; i++)
            {
                double x = v[i];
                if (p.Kind == ParameterKind.Weight)
                {
                    if (!double.IsFinite(x))
                        throw new ArgumentException($"Weight {p.Name}[{i / p.Columns}, {i % p.Columns}] is {x}; weights must be finite (check the initialisation or lower the learning rate).");
                }
                else if (p.Kind == ParameterKind.TauMem || p.Kind == ParameterKind.TauSyn)
                {
                    if (!double.IsFinite(x) || x <= 0)
                        throw new ArgumentException($"Time constant {p.Name}[{i}] is {x} ms; time constants must be finite and > 0.");
                }
                else if (p.Kind == ParameterKind.Delay || p.Kind == ParameterKind.AxonalDelay)
                {
                    if (!double.IsFinite(x) || x < 0)
                        throw new ArgumentException($"Delay {p.Name}[{i}] is {x} ms; delays must be finite and ≥ 0 (clip them to [0, d_max]).");
                }
                else if (!double.IsFinite(x) || (p.Kind.MustBePositive && x <= 0))
                {
                    throw new ArgumentException($"Parameter {p.Name}[{i}] is {x}{(p.Kind.Unit.Length > 0 ? " " + p.Kind.Unit : "")}; it must be finite{(p.Kind.MustBePositive ? " and > 0" : "")}.");
                }
            }
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"Network({string.Join(" ", Populations.Select(p => p.ToString()))}; {string.Join(", ", Connections)})";
}
