using Eventprop.Core.Model.Connectivities;

namespace Eventprop.Core.Model;

public sealed partial class NetworkBuilder
{
    private readonly List<(string Pre, string Post, IWeightInit Init, DelayKind Kind)> _delays = [];

    /// <summary>
    /// Gives connection <paramref name="pre"/> → <paramref name="post"/> trainable transmission delays d ≥ 0 (ms): a spike of a
    /// presynaptic neuron at t reaches its targets at t + d, where it adds the weight to their synaptic current. With
    /// <see cref="DelayKind.Synaptic"/> every stored synapse has its own delay (<c>pre-&gt;post.delay</c>, the weights'
    /// layout); with <see cref="DelayKind.Axonal"/> every presynaptic neuron has one (<c>pre-&gt;post.axonal_delay</c>,
    /// 1 × pre). Initial values are drawn by <paramref name="init"/> from the builder's seed (a stream of its own), e.g.
    /// <c>Init.Uniform(0, 50)</c>. The connection must be declared (dense or sparse) and end at a hidden population.
    /// The exact engine and the CPU time-stepped engine simulate learned delays (docs/delays-and-adaptation.md); the surrogate
    /// and GPU engines and NIR export refuse them.
    /// </summary>
    public NetworkBuilder LearnedDelays(string pre, string post, IWeightInit init, DelayKind kind = DelayKind.Synaptic)
    {
        ArgumentNullException.ThrowIfNull(init);
        _delays.Add((pre, post, init, kind));
        return this;
    }

    /// <summary>Checks the delayed connections and declares their delay parameters (after every other parameter).</summary>
    private void AddDelays(IReadOnlyList<Connection> connections, ParameterSet parameters)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (pre, post, init, kind) in _delays)
        {
            string where = $"LearnedDelays(\"{pre}\", \"{post}\")";
            var c = connections.FirstOrDefault(x => x.Pre.Name == pre && x.Post.Name == post)
                ?? throw new ArgumentException($"{where}: there is no connection {ParameterSet.WeightName(pre, post)}; declare it with Connect first.");
            if (!seen.Add(c.Name))
                throw new ArgumentException($"{where} is declared twice; a connection has either synaptic or axonal delays.");
            if (c.Synapses.Convolution is not null)
                throw new ArgumentException($"{where}: {c.Name} is a convolution, whose synapses share kernel weights; learned delays need a dense or sparse connection.");
            if (c.Post.Kind != PopulationKind.Hidden)
                throw new ArgumentException($"{where}: {c.Name} ends at the readout; learned delays are supported on connections into hidden layers (move the delay to the connection into the last hidden layer).");
            int rows = kind == DelayKind.Axonal ? 1 : parameters[c.Name].Rows;
            int columns = kind == DelayKind.Axonal ? c.Pre.Size : parameters[c.Name].Columns;
            var values = new double[rows * columns];
            string name = ParameterSet.DelayName(pre, post, kind);
            init.Fill(values, rows, columns, new Random(StreamSeed(_seed, name)));
            var parameterKind = kind == DelayKind.Axonal ? ParameterKind.AxonalDelay : ParameterKind.Delay;
            parameters.Add(new Parameter(name, parameterKind, pre, post, rows, columns, values));
        }
    }
}
