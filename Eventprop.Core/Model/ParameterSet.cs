using System.Collections;

namespace Eventprop.Core.Model;

/// <summary>
/// One named, dense array of trainable values: a weight matrix (<see cref="Rows"/> = presynaptic size,
/// <see cref="Columns"/> = postsynaptic size, row-major, so <c>W[pre, post] = Values[pre * Columns + post]</c>)
/// or a vector of per-neuron time constants (<see cref="Rows"/> = 1).
/// </summary>
public sealed class Parameter
{
    internal Parameter(string name, ParameterKind kind, string population, string? postPopulation, int rows, int columns, double[] values, bool trainable = true)
    {
        if (values.Length != rows * columns)
            throw new ArgumentException($"Parameter '{name}' needs {rows}×{columns} = {rows * columns} values but got {values.Length}.");
        Name = name;
        Kind = kind;
        Population = population;
        PostPopulation = postPopulation;
        Rows = rows;
        Columns = columns;
        Values = values;
        Trainable = trainable;
    }

    /// <summary>Name in the set: <c>"pre->post"</c> for weights, <c>"pop.tau_mem"</c> / <c>"pop.tau_syn"</c> for time constants.</summary>
    public string Name { get; }

    /// <summary>Weight matrix or time constants.</summary>
    public ParameterKind Kind { get; }

    /// <summary>For weights the presynaptic population; for time constants the population they belong to.</summary>
    public string Population { get; }

    /// <summary>For weights the postsynaptic population; null for time constants.</summary>
    public string? PostPopulation { get; }

    /// <summary>Rows (presynaptic neurons for weights; 1 for time constants).</summary>
    public int Rows { get; }

    /// <summary>Columns (postsynaptic neurons for weights; neurons for time constants).</summary>
    public int Columns { get; }

    /// <summary>The values, row-major. Writable: optimisers update them in place.</summary>
    public double[] Values { get; }

    /// <summary>
    /// Whether optimisers update it. Set by the neuron model or connectivity that declares the parameter (for example
    /// an integrate-and-fire population's τ_mem is a redundant scale and not trainable by default). Engines compute the
    /// gradient of every parameter, trainable or not.
    /// </summary>
    public bool Trainable { get; }

    /// <summary>Number of values.</summary>
    public int Length => Values.Length;

    /// <summary>Element <c>[row, column]</c>; for weights <c>[pre, post]</c>.</summary>
    public double this[int row, int column]
    {
        get => Values[row * Columns + column];
        set => Values[row * Columns + column] = value;
    }

    /// <summary>Element <c>i</c> of the flat array.</summary>
    public double this[int i]
    {
        get => Values[i];
        set => Values[i] = value;
    }

    internal Parameter WithValues(double[] values) => new(Name, Kind, Population, PostPopulation, Rows, Columns, values, Trainable);

    /// <inheritdoc />
    public override string ToString() => $"{Name} [{Rows}×{Columns}]";
}

/// <summary>
/// The named set of all trainable arrays of a network (weights per connection, τ_mem and τ_syn per
/// population). Gradients use the same type with the same names and shapes, so optimisers,
/// checkpoints and exporters walk one structure and never special-case.
/// </summary>
public sealed class ParameterSet : IReadOnlyList<Parameter>
{
    private readonly List<Parameter> _items = [];
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    internal ParameterSet() { }

    internal void Add(Parameter p)
    {
        if (!_index.TryAdd(p.Name, _items.Count))
            throw new ArgumentException($"Parameter '{p.Name}' is defined twice.");
        _items.Add(p);
    }

    /// <summary>The parameter called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such parameter; the message lists the names there are.</exception>
    public Parameter this[string name] =>
        _index.TryGetValue(name, out int i)
            ? _items[i]
            : throw new KeyNotFoundException($"No parameter '{name}'; the set has: {string.Join(", ", _items.Select(p => p.Name))}.");

    /// <inheritdoc />
    public Parameter this[int index] => _items[index];

    /// <inheritdoc />
    public int Count => _items.Count;

    /// <summary>Total number of scalar values over all parameters.</summary>
    public int TotalLength => _items.Sum(p => p.Length);

    /// <summary>Whether a parameter of that name exists.</summary>
    public bool Contains(string name) => _index.ContainsKey(name);

    /// <summary>The weight matrix of the connection <paramref name="pre"/> → <paramref name="post"/>.</summary>
    public Parameter Weights(string pre, string post) => this[WeightName(pre, post)];

    /// <summary>The membrane time constants (ms) of population <paramref name="population"/>.</summary>
    public Parameter TauMem(string population) => this[TauMemName(population)];

    /// <summary>The synaptic time constants (ms) of population <paramref name="population"/>.</summary>
    public Parameter TauSyn(string population) => this[TauSynName(population)];

    /// <summary>The name of the weights of connection pre → post: <c>"pre->post"</c>.</summary>
    public static string WeightName(string pre, string post) => $"{pre}->{post}";

    /// <summary>The name of a connection's learned delays: <c>pre-&gt;post.delay</c> (per synapse) or <c>pre-&gt;post.axonal_delay</c>.</summary>
    public static string DelayName(string pre, string post, DelayKind kind) =>
        $"{WeightName(pre, post)}.{(kind == DelayKind.Axonal ? ParameterKind.AxonalDelay : ParameterKind.Delay).Name}";

    /// <summary>The name of a population's membrane time constants: <c>"pop.tau_mem"</c>.</summary>
    public static string TauMemName(string population) => $"{population}.tau_mem";

    /// <summary>The name of a population's synaptic time constants: <c>"pop.tau_syn"</c>.</summary>
    public static string TauSynName(string population) => $"{population}.tau_syn";

    /// <summary>The name of a per-neuron parameter of a population: <c>"pop.kind"</c> (e.g. <c>"hidden.tau_syn"</c>).</summary>
    public static string NeuronParameterName(string population, ParameterKind kind) => $"{population}.{kind.Name}";

    /// <summary>A deep copy.</summary>
    public ParameterSet Clone()
    {
        var set = new ParameterSet();
        foreach (var p in _items) set.Add(p.WithValues((double[])p.Values.Clone()));
        return set;
    }

    /// <summary>A set with the same names and shapes, all zero (e.g. a gradient accumulator).</summary>
    public ParameterSet ZerosLike()
    {
        var set = new ParameterSet();
        foreach (var p in _items) set.Add(p.WithValues(new double[p.Length]));
        return set;
    }

    /// <summary>this += <paramref name="scale"/> · <paramref name="other"/>, element-wise; the sets must match in names and shapes.</summary>
    public void AddScaled(ParameterSet other, double scale)
    {
        RequireSameLayout(other);
        for (int i = 0; i < _items.Count; i++)
        {
            var a = _items[i].Values;
            var b = other._items[i].Values;
            for (int j = 0; j < a.Length; j++) a[j] += scale * b[j];
        }
    }

    /// <summary>Multiplies every value by <paramref name="factor"/>.</summary>
    public void Scale(double factor)
    {
        foreach (var p in _items)
            for (int j = 0; j < p.Values.Length; j++) p.Values[j] *= factor;
    }

    /// <summary>Throws unless <paramref name="other"/> has the same parameter names and shapes in the same order.</summary>
    public void RequireSameLayout(ParameterSet other)
    {
        if (other.Count != Count)
            throw new ArgumentException($"Parameter sets differ: {Count} vs {other.Count} parameters.");
        for (int i = 0; i < _items.Count; i++)
        {
            var a = _items[i];
            var b = other._items[i];
            if (a.Name != b.Name || a.Rows != b.Rows || a.Columns != b.Columns)
                throw new ArgumentException($"Parameter sets differ at {i}: {a} vs {b}.");
        }
    }

    /// <inheritdoc />
    public IEnumerator<Parameter> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
