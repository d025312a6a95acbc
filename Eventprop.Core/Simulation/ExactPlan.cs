using Eventprop.Core.Model;
using Neurons = Eventprop.Core.Model.Neurons;

namespace Eventprop.Core.Simulation;

/// <summary>A network flattened for the exact engine: neurons of all non-input populations in one index space.</summary>
internal sealed class ExactPlan
{
    /// <summary>An outgoing connection of a population: its dense weights and where its targets start.</summary>
    internal readonly record struct Outgoing(double[] Weights, int Columns, int PostOffset, int ParameterIndex, int PostPopulation, Model.Connectivities.SynapseRows Synapses,
        double[]? Delays = null, bool Axonal = false, int DelayParameterIndex = -1)
    {
        /// <summary>Whether its spikes arrive after learned delays (then they are events of their own, <see cref="DelayedArrival"/>).</summary>
        public bool IsDelayed => Delays is not null;

        /// <summary>Offset of row <paramref name="row"/>'s weights in <see cref="Weights"/>.</summary>
        public int Start(int row) => Synapses.Start(row);

        /// <summary>Number of stored weights in row <paramref name="row"/>.</summary>
        public int Length(int row) => Synapses.Length(row);

        /// <summary>Targets (local postsynaptic indices) of the stored weights, or null when dense (0 … Columns − 1 per row).</summary>
        public int[]? Targets => Synapses.Targets;
    }

    public ExactPlan(Network network)
    {
        network.Validate();
        network.RequireNoBatchNorm("the exact Eventprop engine");
        Network = network;
        foreach (var p in network.Populations.Where(p => p.HasDynamics))
            RequireSupportedModel(p);
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
        RateLeak = new double[n];
        Leak = new double[n];
        Threshold = new double[n];
        ResetValue = new double[n];
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
            var model = p.Model!;
            for (int i = 0; i < p.Size; i++)
            {
                int g = PopulationOffset[p.Index] + i;
                TauMem[g] = tm[i];
                TauSyn[g] = ts[i];
                RateMem[g] = 1.0 / tm[i];
                RateSyn[g] = 1.0 / ts[i];
                Leak[g] = model.Leak;
                RateLeak[g] = model.Leak == 0 ? 0 : RateMem[g];
                Threshold[g] = model.IsSpiking ? model.Threshold : double.PositiveInfinity;
                ResetValue[g] = model.IsSpiking ? model.Reset : 0;
                PopulationOf[g] = p.Index;
                LocalIndex[g] = i;
                Spiking[g] = p.IsSpiking;
            }
        }
        Outgoings = new Outgoing[pops.Count][];
        foreach (var p in pops)
            Outgoings[p.Index] = network.Connections
                .Where(c => c.Pre == p)
                .Select(c => network.DelaysOf(c) is { } d
                    ? new Outgoing(network.Parameters[c.Name].Values, c.Post.Size, PopulationOffset[c.Post.Index], names[c.Name], c.Post.Index, c.Synapses,
                        d.Delays.Values, d.Kind == DelayKind.Axonal, names[d.Delays.Name])
                    : new Outgoing(network.Parameters[c.Name].Values, c.Post.Size, PopulationOffset[c.Post.Index], names[c.Name], c.Post.Index, c.Synapses))
                .ToArray();
        HasDelays = network.Delayed.Count > 0;
        RowPopulations = new int[pops.Count][];
        UniformRates = new bool[pops.Count];
        foreach (var p in pops)
        {
            // A delayed connection's targets get their row at each arrival, not at the spike.
            var rows = Outgoings[p.Index].Where(o => !o.IsDelayed).Select(o => o.PostPopulation);
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

    /// <summary>
    /// The exact engine has the closed-form face of the current-based family (LIF, IF, LI, integrator). Readouts are the
    /// leaky or non-leaky integrator, or a LIF when spiking: the readout trace's kernels are generic in ℓ, but the spiking
    /// readout losses were derived for the LIF only.
    /// </summary>
    private static void RequireSupportedModel(Population p)
    {
        var model = p.Model!;
        if (model is not (Neurons.Lif or Neurons.IntegrateAndFire or Neurons.LeakyIntegrator or Neurons.NonLeakyIntegrator))
            throw new ArgumentException($"Population '{p.Name}' has neuron model '{model.Name}', which the exact engine does not simulate; use lif, if, li or integrator (docs/extending.md says how to add a model).");
        if (p.Kind == PopulationKind.Readout && model.Leak != 1 && model is not Neurons.NonLeakyIntegrator)
            throw new ArgumentException($"Readout '{p.Name}' has model '{model.Name}'; readouts must be li, integrator, or lif when spiking.");
    }

    public Network Network { get; }
    public int NeuronCount { get; }
    public int[] PopulationOffset { get; }
    public double[] TauMem { get; }
    public double[] TauSyn { get; }
    public double[] RateMem { get; }
    public double[] RateSyn { get; }

    /// <summary>Per neuron: the membrane's decay rate ℓ/τm (1/τm for a leaky membrane, 0 for integrate-and-fire).</summary>
    public double[] RateLeak { get; }

    /// <summary>Per neuron: the model's leak coefficient ℓ (1 or 0).</summary>
    public double[] Leak { get; }

    /// <summary>Per neuron: the firing threshold ϑ (+∞ for a non-spiking neuron).</summary>
    public double[] Threshold { get; }

    /// <summary>Per neuron: V after a spike. A spike happens at V = ϑ exactly, so both reset modes give this value.</summary>
    public double[] ResetValue { get; }
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

    /// <summary>Whether any connection has learned delays (the forward pass then keeps a queue of pending arrivals).</summary>
    public bool HasDelays { get; }
    public int[] TauMemParameter { get; }
    public int[] TauSynParameter { get; }
    public int ReadoutOffset { get; }
    public int ReadoutSize { get; }
    public int InputIndex { get; }
    public int InputSize { get; }
}
