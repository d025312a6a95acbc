using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation;

/// <summary>A network flattened for the exact engine: neurons of all non-input populations in one index space.</summary>
internal sealed class ExactPlan
{
    /// <summary>An outgoing connection of a population: its dense weights and where its targets start.</summary>
    internal readonly record struct Outgoing(double[] Weights, int Columns, int PostOffset, int ParameterIndex, int PostPopulation);

    public ExactPlan(Network network)
    {
        network.Validate();
        Network = network;
        var pops = network.Populations;
        PopulationOffset = new int[pops.Count];
        int n = 0;
        foreach (var p in pops)
        {
            PopulationOffset[p.Index] = p.HasDynamics ? n : -1;
            if (p.HasDynamics) n += p.Size;
        }
        NeuronCount = n;
        TauMem = new double[n];
        TauSyn = new double[n];
        RateMem = new double[n];
        RateSyn = new double[n];
        PopulationOf = new int[n];
        LocalIndex = new int[n];
        Spiking = new bool[n];
        TauMemParameter = new int[pops.Count];
        TauSynParameter = new int[pops.Count];
        var names = network.Parameters.Select((p, i) => (p.Name, i)).ToDictionary(x => x.Name, x => x.i);
        foreach (var p in pops.Where(p => p.HasDynamics))
        {
            var tm = network.TauMem(p.Name).Values;
            var ts = network.TauSyn(p.Name).Values;
            TauMemParameter[p.Index] = names[ParameterSet.TauMemName(p.Name)];
            TauSynParameter[p.Index] = names[ParameterSet.TauSynName(p.Name)];
            for (int i = 0; i < p.Size; i++)
            {
                int g = PopulationOffset[p.Index] + i;
                TauMem[g] = tm[i];
                TauSyn[g] = ts[i];
                RateMem[g] = 1.0 / tm[i];
                RateSyn[g] = 1.0 / ts[i];
                PopulationOf[g] = p.Index;
                LocalIndex[g] = i;
                Spiking[g] = p.IsSpiking;
            }
        }
        Outgoings = new Outgoing[pops.Count][];
        foreach (var p in pops)
            Outgoings[p.Index] = network.Connections
                .Where(c => c.Pre == p)
                .Select(c => new Outgoing(network.Parameters[c.Name].Values, c.Post.Size, PopulationOffset[c.Post.Index], names[c.Name], c.Post.Index))
                .ToArray();
        RowPopulations = new int[pops.Count][];
        UniformRates = new bool[pops.Count];
        foreach (var p in pops)
        {
            var rows = Outgoings[p.Index].Select(o => o.PostPopulation);
            if (p.HasDynamics) rows = rows.Prepend(p.Index);
            RowPopulations[p.Index] = rows.Distinct().ToArray();
            if (p.HasDynamics)
            {
                var rm = RateMem.AsSpan(PopulationOffset[p.Index], p.Size);
                var rs = RateSyn.AsSpan(PopulationOffset[p.Index], p.Size);
                bool uniform = true;
                for (int i = 1; i < p.Size; i++) uniform &= rm[i] == rm[0] && rs[i] == rs[0];
                UniformRates[p.Index] = uniform;
            }
        }
        SpikingNeurons = Enumerable.Range(0, n).Where(i => Spiking[i]).ToArray();
        ReadoutOffset = PopulationOffset[network.Readout.Index];
        ReadoutSize = network.Readout.Size;
        InputIndex = network.Input.Index;
        InputSize = network.Input.Size;
    }

    public Network Network { get; }
    public int NeuronCount { get; }
    public int[] PopulationOffset { get; }
    public double[] TauMem { get; }
    public double[] TauSyn { get; }
    public double[] RateMem { get; }
    public double[] RateSyn { get; }
    public int[] PopulationOf { get; }
    public int[] LocalIndex { get; }
    public bool[] Spiking { get; }
    public int[] SpikingNeurons { get; }

    /// <summary>Per population: the populations that get a record row when it fires (its targets and, unless it is the
    /// input, itself: the reset).</summary>
    public int[][] RowPopulations { get; }

    /// <summary>Per population: whether all its neurons share τ_mem and τ_syn (one set of propagators per event).</summary>
    public bool[] UniformRates { get; }
    public Outgoing[][] Outgoings { get; }
    public int[] TauMemParameter { get; }
    public int[] TauSynParameter { get; }
    public int ReadoutOffset { get; }
    public int ReadoutSize { get; }
    public int InputIndex { get; }
    public int InputSize { get; }
}
