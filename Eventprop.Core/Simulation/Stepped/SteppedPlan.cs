using Eventprop.Core.Model;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Simulation.Stepped.Backend;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// A network flattened for the time-stepped engine: the neurons of all non-input populations in one index space
/// (population slices contiguous, so per-step updates run over one array), float weights, and the exact per-step
/// propagators and τ-gradient quadrature weights of every neuron.
/// </summary>
/// <remarks>The structure is fixed per network; <see cref="Refresh"/> copies the current parameter values in.</remarks>
public sealed partial class SteppedPlan
{
    /// <summary>A population with dynamics.</summary>
    public sealed record DynamicPopulation(Population Population, int Offset, int Size, int TauMemParameter, int TauSynParameter)
    {
        /// <summary>The step face of the population's neuron model (threshold, reset, reset mode, leak).</summary>
        public NeuronStep Step { get; } = NeuronStep.Of(Population.Model!);
        /// <summary>Whether the population emits spikes.</summary>
        public bool IsSpiking => Population.IsSpiking;
        /// <summary>Whether this is the network's readout.</summary>
        public bool IsReadout => Population.Kind == PopulationKind.Readout;
    }

    /// <summary>Flattens <paramref name="network"/>; <paramref name="integratorReadout"/> admits a non-leaky integrator
    /// readout (the surrogate engine has it, the Eventprop stepped engines do not).</summary>
    public SteppedPlan(Network network, double dt, int steps, bool integratorReadout = false)
    {
        RequireSteppedModels(network, integratorReadout);
        Network = network;
        Dt = dt;
        Steps = steps;
        var pops = network.Populations;
        var names = network.Parameters.Select((p, i) => (p.Name, i)).ToDictionary(x => x.Name, x => x.i);
        var dyn = new List<DynamicPopulation>();
        var offsets = new int[pops.Count];
        int n = 0;
        foreach (var p in pops)
        {
            offsets[p.Index] = -1;
            if (!p.HasDynamics) continue;
            offsets[p.Index] = n;
            dyn.Add(new DynamicPopulation(p, n, p.Size, names[ParameterSet.TauMemName(p.Name)], names[ParameterSet.TauSynName(p.Name)]));
            n += p.Size;
        }
        NeuronCount = n;
        Populations = dyn.ToArray();
        Spiking = Populations.Where(p => p.IsSpiking).ToArray();
        ReadoutPopulation = Populations.Single(p => p.IsReadout);
        PopulationOffset = offsets;
        InputSize = network.Input.Size;
        Outgoings = new Outgoing[pops.Count][];
        foreach (var p in pops)
            Outgoings[p.Index] = network.Connections.Where(c => c.Pre == p)
                .Select(c => new Outgoing(names[c.Name], dyn.FindIndex(d => d.Population == c.Post), offsets[c.Post.Index], c.Post.Size, c.Pre.Size,
                    c.Connectivity.Rows(c.Pre.Size, c.Post.Size), c.Connectivity.WeightCount(c.Pre.Size, c.Post.Size),
                    network.DelaysOf(c) is { } d ? names[d.Delays.Name] : -1, network.DelaysOf(c)?.Kind == DelayKind.Axonal)).ToArray();
        InputOutgoings = Outgoings[network.Input.Index];
        DirectOutgoings = Outgoings.Select(g => g.Where(o => !o.IsDelayed).ToArray()).ToArray();
        DelayedOutgoings = Outgoings.Select(g => g.Where(o => o.IsDelayed).ToArray()).ToArray();
        DirectInputOutgoings = DirectOutgoings[network.Input.Index];
        Delayed = DelayedOutgoings.SelectMany(g => g).ToArray();
        for (int k = 0; k < Delayed.Length; k++) Delayed[k].DelayedIndex = k;
        DelayParameters = Delayed.Select(o => o.DelayParameterIndex).ToArray();
        InputTargets = InputOutgoings.Select(o => (o.PostOffset, o.PostSize)).Distinct().ToArray();
        SpikingIndex = new int[pops.Count];
        Array.Fill(SpikingIndex, -1);
        for (int s = 0; s < Spiking.Length; s++) SpikingIndex[Spiking[s].Population.Index] = s;
        WeightParameters = network.Connections.Select(c => names[c.Name]).ToArray();
        GradientParameters = [.. WeightParameters, .. DelayParameters];
        MaxSpikingSize = Spiking.Length == 0 ? 1 : Spiking.Max(p => p.Size);

        DecayMem = new float[n];
        DecaySyn = new float[n];
        CurrentToVoltage = new float[n];
        AdjointVoltageToCurrent = new float[n];
        TauSynF = new float[n];
        GradPsi = new float[n];
        GradDtDecayMem = new float[n];
        GradMemPsi3 = new float[n];
        GradDtDecaySyn = new float[n];
        GradSynPsi3 = new float[n];
        TauMem = new double[n];
        TauSyn = new double[n];
        DecayMemExact = new double[n];
        DecaySynExact = new double[n];
        CurrentToVoltageExact = new double[n];
        RateMem = new double[n];
        RateSyn = new double[n];
        RateLeak = new double[n];
    }

    /// <summary>The network this plan was built for.</summary>
    public Network Network { get; }
    /// <summary>Time step (ms).</summary>
    public double Dt { get; }
    /// <summary>Number of steps N = T/dt.</summary>
    public int Steps { get; }
    /// <summary>Neurons of all populations with dynamics (the plan's index space).</summary>
    public int NeuronCount { get; }
    /// <summary>The populations with dynamics, in network order, each a contiguous slice of the index space.</summary>
    public DynamicPopulation[] Populations { get; }
    /// <summary>The spiking populations (hidden, and the readout when spiking), in network order.</summary>
    public DynamicPopulation[] Spiking { get; }
    /// <summary>The readout population.</summary>
    public DynamicPopulation ReadoutPopulation { get; }
    /// <summary>First neuron of the readout in the index space.</summary>
    public int ReadoutOffset => ReadoutPopulation.Offset;
    /// <summary>Neurons of the readout.</summary>
    public int ReadoutSize => ReadoutPopulation.Size;
    /// <summary>First neuron of each network population in the index space, by population index (−1 for the input).</summary>
    public int[] PopulationOffset { get; }
    /// <summary>Index into <see cref="Spiking"/> by network population index, or −1.</summary>
    public int[] SpikingIndex { get; }
    /// <summary>Size of the largest spiking population (at least 1).</summary>
    public int MaxSpikingSize { get; }
    /// <summary>Channels of the input population.</summary>
    public int InputSize { get; }
    /// <summary>The outgoing connections of each network population, by population index.</summary>
    public Outgoing[][] Outgoings { get; }
    /// <summary>The outgoing connections of the input population.</summary>
    public Outgoing[] InputOutgoings { get; }
    /// <summary>The populations the input reaches, each once: its first neuron in the plan's index space and its size.</summary>
    public (int Offset, int Size)[] InputTargets { get; }
    /// <summary>Parameter index of every connection's weights, in network connection order.</summary>
    public int[] WeightParameters { get; }
    /// <summary>The outgoing connections without learned delays of each network population (delivered straight into the current).</summary>
    public Outgoing[][] DirectOutgoings { get; }
    /// <summary>The outgoing connections with learned delays of each network population (delivered through ring buffers).</summary>
    public Outgoing[][] DelayedOutgoings { get; }
    /// <summary>The input's outgoing connections without learned delays.</summary>
    public Outgoing[] DirectInputOutgoings { get; }
    /// <summary>Every connection with learned delays, in network order (<see cref="Outgoing.DelayedIndex"/> is the position).</summary>
    public Outgoing[] Delayed { get; }
    /// <summary>Whether any connection has learned delays.</summary>
    public bool HasDelays => Delayed.Length > 0;
    /// <summary>Parameter index of every learned-delay parameter, in the order of <see cref="Delayed"/>.</summary>
    public int[] DelayParameters { get; }
    /// <summary>The parameters whose gradients the CPU provider accumulates in float buffers: weights, then delays.</summary>
    public int[] GradientParameters { get; }

    // Per-neuron propagators over one step (float, for the per-step kernels).
    // With m = 1/τm, s = 1/τs and the leak ℓ of the neuron's model (1 leaky, 0 integrate-and-fire):
    /// <summary>Per neuron: e^{−ℓ dt/τm}, the membrane's decay over one step.</summary>
    public float[] DecayMem { get; }                // e^{−ℓm dt}
    /// <summary>Per neuron: e^{−dt/τs}, the synaptic current's decay over one step.</summary>
    public float[] DecaySyn { get; }                // e^{−s dt}
    /// <summary>Per neuron: the voltage one unit of current at the step's start adds by its end, m·Ψ(dt; ℓm, s).</summary>
    public float[] CurrentToVoltage { get; }        // m·Ψ(dt; ℓm, s); LIF: τs/(τm−τs)(e^{−dt/τm} − e^{−dt/τs}), IF: (τs/τm)(1 − e^{−dt/τs})
    /// <summary>Per neuron: the adjoint transfer λV → λI over one step, s·Ψ(dt; ℓm, s).</summary>
    public float[] AdjointVoltageToCurrent { get; } // s·Ψ(dt; ℓm, s)
    /// <summary>Per neuron: τs as float32 (the dL/dW factor).</summary>
    public float[] TauSynF { get; }
    // τ-gradient quadrature weights over one step (closed forms of ∫λV·I, ℓ∫λV·V, ∫λI·I given the step's start state).
    /// <summary>Per neuron: Ψ(dt; ℓm, s), a τ-gradient quadrature weight.</summary>
    public float[] GradPsi { get; }                 // Ψ(dt; ℓm, s)
    /// <summary>Per neuron: ℓ·dt·e^{−ℓm dt}, a τ-gradient quadrature weight.</summary>
    public float[] GradDtDecayMem { get; }          // ℓ·dt·e^{−ℓm dt}
    /// <summary>Per neuron: ℓ·m·Ψ(dt; ℓm, ℓm, s), a τ-gradient quadrature weight.</summary>
    public float[] GradMemPsi3 { get; }             // ℓ·m·Ψ(dt; ℓm, ℓm, s)
    /// <summary>Per neuron: dt·e^{−s dt}, a τ-gradient quadrature weight.</summary>
    public float[] GradDtDecaySyn { get; }          // dt·e^{−s dt}
    /// <summary>Per neuron: s·Ψ(dt; ℓm, s, s), a τ-gradient quadrature weight.</summary>
    public float[] GradSynPsi3 { get; }             // s·Ψ(dt; ℓm, s, s)
    /// <summary>Per neuron: τm (ms).</summary>
    public double[] TauMem { get; }
    /// <summary>Per neuron: τs (ms).</summary>
    public double[] TauSyn { get; }
    /// <summary>Per neuron: <see cref="DecayMem"/> in double precision.</summary>
    public double[] DecayMemExact { get; }
    /// <summary>Per neuron: <see cref="DecaySyn"/> in double precision.</summary>
    public double[] DecaySynExact { get; }
    /// <summary>Per neuron: <see cref="CurrentToVoltage"/> in double precision.</summary>
    public double[] CurrentToVoltageExact { get; }
    /// <summary>Per neuron: 1/τm.</summary>
    public double[] RateMem { get; }
    /// <summary>Per neuron: 1/τs.</summary>
    public double[] RateSyn { get; }
    /// <summary>Per neuron: ℓ/τm, the membrane's decay rate (0 for integrate-and-fire).</summary>
    public double[] RateLeak { get; }

    /// <summary>
    /// The time-stepped CPU and GPU engines have the step face of the current-based family (LIF, IF, LI; any threshold,
    /// reset and reset mode). Readouts must have a leaky membrane: their loss drives and readout trace are those of the
    /// leaky integrator. Only the surrogate engine, whose readout trace is generic in ℓ, passes
    /// <paramref name="integratorReadout"/> to admit the non-leaky integrator readout.
    /// </summary>
    internal static void RequireSteppedModels(Network network, bool integratorReadout = false)
    {
        foreach (var p in network.Populations)
        {
            if (p.Model is not { } model) continue;
            if (model is NonLeakyIntegrator && p.Kind == PopulationKind.Readout)
            {
                if (integratorReadout) continue;
                throw new ArgumentException($"Readout '{p.Name}' is an integrator, which the time-stepped Eventprop engines do not simulate yet; use the exact engine (engine.kind = exact), the surrogate engine, or network.readout_model = li.");
            }
            if (model is not (Lif or IntegrateAndFire or LeakyIntegrator))
                throw new ArgumentException($"Population '{p.Name}' has neuron model '{model.Name}', which the time-stepped engines do not simulate; use lif, if or li, or the exact engine (engine.kind = exact).");
            if (p.Kind == PopulationKind.Readout && model.Leak != 1)
                throw new ArgumentException($"Readout '{p.Name}' has model '{model.Name}'; readouts must be leaky (li, or lif when spiking).");
        }
    }

    /// <summary>
    /// Adds neuron <paramref name="g"/>'s τ gradients from its accumulated step integrals (the sums of
    /// <see cref="Backend.NeuronStepFunctions.TauGradientTerms{T, TOps}"/> over the trial, loss-drive terms included):
    /// dL/dτm += m·Σmem, dL/dτs −= s·Σsyn. Both providers collect their τ gradients through it.
    /// </summary>
    public void AddTimeConstantGradient(int g, double memIntegral, double synIntegral, ref double tauMem, ref double tauSyn)
    {
        tauMem += memIntegral * RateMem[g];
        tauSyn -= synIntegral * RateSyn[g];
    }

    /// <summary>The readout's 1/τm (<paramref name="membrane"/>) or 1/τs per readout neuron, as a new array.</summary>
    public double[] ReadoutRates(bool membrane)
    {
        var r = new double[ReadoutSize];
        Array.Copy(membrane ? RateMem : RateSyn, ReadoutOffset, r, 0, r.Length);
        return r;
    }

    /// <summary>Whether this plan was built for <paramref name="network"/>'s structure with these step settings.</summary>

    public bool Fits(Network network, double dt, int steps) =>
        ReferenceEquals(network.Populations, Network.Populations) && ReferenceEquals(network.Connections, Network.Connections)
        && dt == Dt && steps == Steps;

    /// <summary>Copies the network's current weights and τ's in and recomputes the propagators.</summary>
    public void Refresh(Network network)
    {
        var parameters = network.Parameters;
        foreach (var group in Outgoings)
            foreach (var o in group)
            {
                var src = parameters[o.ParameterIndex].Values;
                var dst = o.Weights;
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)src[i];
            }
        double dt = Dt;
        foreach (var o in Delayed) o.RefreshDelays(parameters[o.DelayParameterIndex].Values, dt);
        foreach (var p in Populations)
        {
            var tm = parameters[p.TauMemParameter].Values;
            var ts = parameters[p.TauSynParameter].Values;
            double leak = p.Population.Model!.Leak;
            for (int i = 0; i < p.Size; i++)
            {
                int g = p.Offset + i;
                double m = 1.0 / tm[i], s = 1.0 / ts[i], lm = leak == 0 ? 0 : leak * m;
                double em = Math.Exp(-lm * dt), es = Math.Exp(-s * dt);
                double psi = ExpKernels.Psi2(dt, lm, s, em, es);
                TauMem[g] = tm[i];
                TauSyn[g] = ts[i];
                RateMem[g] = m;
                RateSyn[g] = s;
                RateLeak[g] = lm;
                DecayMemExact[g] = em;
                DecaySynExact[g] = es;
                CurrentToVoltageExact[g] = m * psi;
                DecayMem[g] = (float)em;
                DecaySyn[g] = (float)es;
                CurrentToVoltage[g] = (float)(m * psi);
                AdjointVoltageToCurrent[g] = (float)(s * psi);
                TauSynF[g] = (float)ts[i];
                GradPsi[g] = (float)psi;
                GradDtDecayMem[g] = (float)(leak * dt * em);
                GradMemPsi3[g] = (float)(leak * m * ExpKernels.Psi3(dt, lm, lm, s));
                GradDtDecaySyn[g] = (float)(dt * es);
                GradSynPsi3[g] = (float)(s * ExpKernels.Psi3(dt, lm, s, s));
            }
        }
    }
}
