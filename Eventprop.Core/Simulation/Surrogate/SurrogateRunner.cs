using System.Numerics;
using System.Runtime.ExceptionServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Stepped;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>The BPTT engine's work in one precision: plan, per-thread workspaces, forward and backward of a trial.</summary>
internal sealed partial class SurrogateRunner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly SurrogateEngine _engine;
    private readonly SurrogateOptions _o;
    private readonly bool _exact;
    private readonly bool _smooth;
    private readonly bool _diffReset;
    private readonly double _beta;
    private Plan? _plan;
    private readonly Stack<Workspace> _workspaces = new();
    private readonly List<Buffer> _buffers = [];

    public SurrogateRunner(SurrogateEngine engine)
    {
        _engine = engine;
        _o = engine.Options;
        _exact = _o.Discretisation == Discretisation.ExactPropagator;
        _smooth = _o.ForwardSpike == ForwardSpike.Sigmoid;
        _diffReset = _o.Reset == ResetGradient.Differentiable;
        _beta = _o.Surrogate.Scale;
    }

    private int N => _engine.Steps;
    private double Dt => _engine.Dt;

    /// <summary>Bytes of per-trial BPTT state (V and I at every grid point) of the last run, times the threads that held one.</summary>
    public long StoredBytes { get; private set; }

    /// <summary>After a run with magnitudes: per global neuron, Σ over trials and grid points 1…N of |dL/dV| (else null).</summary>
    public double[]? AbsAdjoint { get; private set; }

    /// <summary>The hidden populations (network order) as (name, first global neuron, size), from the current plan.</summary>
    public IEnumerable<(string Name, int Offset, int Size)> HiddenRanges() =>
        _plan!.Structure.Populations.Where(p => !p.IsReadout).Select(p => (p.Population.Name, p.Offset, p.Size));

    // ------------------------------------------------------------------ plan

    private sealed class Plan
    {
        public required SteppedPlan Structure { get; init; }
        public required int Neurons { get; init; }
        public required SurrogateSynapses<T>[] Input { get; init; }
        /// <summary>Per global neuron: the outgoing connections of its population (empty for the readout).</summary>
        public required SurrogateSynapses<T>[][] ByPopulation { get; init; }
        public required int[] PopulationOf { get; init; }
        public required int[] LocalIndex { get; init; }
        /// <summary>Spiking hidden populations, with their threshold and reset (see <see cref="SpikingRange"/>).</summary>
        public required SpikingRange[] Spiking { get; init; }
        public required T[] Em { get; init; }
        public required T[] A { get; init; }
        public required T[] Es { get; init; }
        public required double[] DEmDTauMem { get; init; }
        public required double[] DADTauMem { get; init; }
        public required double[] DADTauSyn { get; init; }
        public required double[] DEsDTauSyn { get; init; }
        /// <summary>The batch-normalised layers (network order), their neuron count and the current pass's coefficients.</summary>
        public required BatchNormRange[] BatchNorm { get; init; }
        public required int BatchNormNeurons { get; init; }
        public required BatchNormCoefficients BatchNormCoefficients { get; init; }
    }

    /// <summary>
    /// A spiking hidden population's neurons [Offset, Offset + Size) (Dyn: its index in Structure.Populations) and the
    /// step face of its model: threshold ϑ, reset value V_r, and whether the reset subtracts ϑ − V_r (else sets V_r).
    /// </summary>
    private readonly record struct SpikingRange(int Offset, int Size, int Dyn, T Threshold, T Reset, bool Subtractive)
    {
        /// <summary>ϑ in double, for the surrogate function.</summary>
        public double ThresholdValue => double.CreateChecked(Threshold);

        /// <summary>ϑ − V_r, what a subtractive reset removes.</summary>
        public T Drop => Threshold - Reset;
    }

    private Plan PreparePlan(Network network)
    {
        SteppedPlan.RequireSteppedModels(network, integratorReadout: true);
        if (_plan is null || !_plan.Structure.Fits(network, Dt, N) || !_plan.BatchNorm.Select(r => r.Name).SequenceEqual(network.BatchNormalized.Select(p => p.Name)))
        {
            var sp = new SteppedPlan(network, Dt, N, integratorReadout: true);
            var names = network.Parameters.Select((p, i) => (p.Name, i)).ToDictionary(x => x.Name, x => x.i);
            SurrogateSynapses<T>[] Outs(Population p) => network.Connections.Where(c => c.Pre == p)
                .Select(c => new SurrogateSynapses<T>(names[c.Name], sp.PopulationOffset[c.Post.Index], c.Post.Size, c.Pre.Size, c.IsRecurrent,
                    c.Synapses, c.Connectivity.WeightCount(c.Pre.Size, c.Post.Size)) { IntoReadout = c.Post == network.Readout }).ToArray();
            var byPop = new SurrogateSynapses<T>[sp.Populations.Length][];
            var popOf = new int[sp.NeuronCount];
            var local = new int[sp.NeuronCount];
            for (int d = 0; d < sp.Populations.Length; d++)
            {
                var dp = sp.Populations[d];
                byPop[d] = dp.IsReadout ? [] : Outs(dp.Population);
                for (int i = 0; i < dp.Size; i++)
                {
                    popOf[dp.Offset + i] = d;
                    local[dp.Offset + i] = i;
                }
            }
            int n = sp.NeuronCount;
            var batchNorm = BatchNormRanges(network, sp, names);
            _plan = new Plan
            {
                Structure = sp,
                Neurons = n,
                Input = Outs(network.Input),
                ByPopulation = byPop,
                PopulationOf = popOf,
                LocalIndex = local,
                Spiking = sp.Populations.Select((p, d) => (p, d)).Where(x => !x.p.IsReadout && x.p.IsSpiking)
                    .Select(x => new SpikingRange(x.p.Offset, x.p.Size, x.d, T.CreateChecked(x.p.Population.Model!.Threshold),
                        T.CreateChecked(x.p.Population.Model!.Reset), x.p.Population.Model!.ResetMode == Model.Neurons.ResetMode.Subtract)).ToArray(),
                Em = new T[n], A = new T[n], Es = new T[n],
                DEmDTauMem = new double[n], DADTauMem = new double[n], DADTauSyn = new double[n], DEsDTauSyn = new double[n],
                BatchNorm = batchNorm,
                BatchNormNeurons = batchNorm.Sum(r => r.Size),
                BatchNormCoefficients = new BatchNormCoefficients(batchNorm.Sum(r => r.Channels)),
            };
            lock (_workspaces) _workspaces.Clear();
        }
        var plan = _plan;
        plan.Structure.Refresh(network);
        var parameters = network.Parameters;
        foreach (var o in plan.Input.Concat(plan.ByPopulation.SelectMany(x => x)))
        {
            var src = parameters[o.Parameter].Values;
            for (int i = 0; i < src.Length; i++) o.W[i] = T.CreateChecked(src[i]);
            o.WeightsChanged();
        }
        var s = plan.Structure;
        double dt = Dt;
        for (int g = 0; g < plan.Neurons; g++)
        {
            // ℓm = the membrane's decay rate (ℓ = 1 leaky, 0 integrate-and-fire), m = 1/τm its input gain.
            double m = s.RateMem[g], lm = s.RateLeak[g], leak = m == 0 ? 0 : lm / m, r = s.RateSyn[g];
            double em = s.DecayMemExact[g], es = s.DecaySynExact[g];
            double a, daM, daS;
            if (_exact)
            {
                // A = m·ψ[ℓm, r]; ∂ψ[x, r]/∂x = −ψ[x, x, r], dm/dτm = −m².
                double psi = ExpKernels.Psi2(dt, lm, r, em, es);
                a = m * psi;
                daM = -m * m * (psi - leak * m * ExpKernels.Psi3(dt, lm, lm, r));
                daS = r * r * m * ExpKernels.Psi3(dt, lm, r, r);
            }
            else if (leak == 0)
            {
                a = dt * m; // Euler step of τm V̇ = I (the ℓ → 0 limit of 1 − e^{−ℓ m dt})
                daM = -dt * m * m;
                daS = 0;
            }
            else
            {
                a = 1 - em;
                daM = -dt * m * m * em;
                daS = 0;
            }
            plan.Em[g] = T.CreateChecked(em);
            plan.A[g] = T.CreateChecked(a);
            plan.Es[g] = T.CreateChecked(es);
            plan.DEmDTauMem[g] = leak * dt * m * m * em;
            plan.DADTauMem[g] = daM;
            plan.DADTauSyn[g] = daS;
            plan.DEsDTauSyn[g] = dt * r * r * es;
        }
        UseRunningStatistics(plan, parameters);
        return plan;
    }

    // ------------------------------------------------------------------ batch

    /// <summary>Per trial: loss (with the regulariser), prediction, hidden spike counts; with a gradient when asked.</summary>
    public (double Loss, int[] Predictions, Dictionary<string, long[]> Counts, ParameterSet? Gradient) Run(
        Network network, IReadOnlyList<SpikeSample> batch, int[] labels, ILoss loss, bool gradient, bool magnitudes = false,
        ReadoutDropout? dropout = null)
    {
        AbsAdjoint = null;
        BatchStatistics = null;
        var plan = PreparePlan(network);
        int count = batch.Count;
        int partitions = Math.Min(_engine.Threads, count);
        int channels = plan.BatchNorm.Sum(r => r.Channels);
        while (_batchNormSums.Count < partitions) _batchNormSums.Add(new BatchNormSums(channels));
        for (int part = 0; part < partitions; part++)
            if (_batchNormSums[part].Drive.Length != channels) _batchNormSums[part] = new BatchNormSums(channels);
        var losses = new double[count];
        var predictions = new int[count];
        var counts = plan.Structure.Network.Hidden.ToDictionary(p => p.Name, p => new long[p.Size]);
        var partCounts = new double[partitions][];
        while (_buffers.Count < partitions) _buffers.Add(new Buffer());
        double scale = 1.0 / count;
        if (gradient && plan.BatchNorm.Length > 0) PrepareBatchNorm(plan, network, batch, labels, loss, dropout, partitions, scale);
        int used = 0;
        Parallel(partitions, part =>
        {
            var ws = Rent(plan);
            ws.BatchNormSums = _batchNormSums[part];
            ws.BatchNormSums.Clear();
            Interlocked.Increment(ref used);
            var buffer = _buffers[part];
            if (gradient) buffer.Reset(network, plan.Neurons, magnitudes);
            var pc = partCounts[part] = new double[plan.Neurons];
            try
            {
                int from = part * count / partitions, to = (part + 1) * count / partitions;
                for (int b = from; b < to; b++)
                {
                    ws.Sample = b;
                    FillKeep(plan, ws, dropout, b);
                    Forward(plan, ws, batch[b]);
                    Evaluate(plan, ws, loss, labels[b], b, gradient, scale);
                    losses[b] = ws.Evaluation!.Value + ws.RegValue;
                    predictions[b] = ws.Evaluation.Prediction;
                    for (int g = 0; g < plan.Neurons; g++) pc[g] += ws.Counts[g];
                    if (gradient) Backward(plan, ws, buffer);
                }
            }
            finally
            {
                Return(ws);
            }
        });
        StoredBytes = (long)used * 2 * (N + 1) * plan.Neurons * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        foreach (var (offset, size, d, _, _, _) in plan.Spiking)
        {
            var c = counts[plan.Structure.Populations[d].Population.Name];
            for (int i = 0; i < size; i++)
            {
                double sum = 0;
                for (int p = 0; p < partitions; p++) sum += partCounts[p][offset + i];
                c[i] = (long)Math.Round(sum);
            }
        }
        double mean = 0;
        for (int b = 0; b < count; b++) mean += losses[b];
        mean /= count;
        if (!gradient) return (mean, predictions, counts, null);

        if (magnitudes)
        {
            // Summed over the partitions in order: bit-identical for a given thread count.
            AbsAdjoint = new double[plan.Neurons];
            for (int part = 0; part < partitions; part++)
            {
                var src = _buffers[part].AbsAdjoint!;
                for (int g = 0; g < plan.Neurons; g++) AbsAdjoint[g] += src[g];
            }
        }
        var result = network.Parameters.ZerosLike();
        for (int p = 0; p < result.Count; p++)
        {
            var dst = result[p].Values;
            if (result[p].Kind == ParameterKind.Weight)
            {
                for (int part = 0; part < partitions; part++)
                {
                    var src = _buffers[part].Weights[p]!;
                    for (int i = 0; i < dst.Length; i++) dst[i] += double.CreateChecked(src[i]);
                }
            }
        }
        BatchNormGradients(plan, result, partitions);
        foreach (var dp in plan.Structure.Populations)
        {
            var tm = result[dp.TauMemParameter].Values;
            var ts = result[dp.TauSynParameter].Values;
            for (int part = 0; part < partitions; part++)
                for (int i = 0; i < dp.Size; i++)
                {
                    tm[i] += _buffers[part].TauMem[dp.Offset + i];
                    ts[i] += _buffers[part].TauSyn[dp.Offset + i];
                }
        }
        return (mean, predictions, counts, result);
    }

    /// <summary>The keep factors of trial <paramref name="trial"/> for the neurons that project into the readout (all 1 without dropout).</summary>
    private static void FillKeep(Plan plan, Workspace ws, ReadoutDropout? dropout, int trial)
    {
        ws.Dropout = dropout is { Rate: > 0 };
        if (!ws.Dropout) return;
        var d = dropout!.Value;
        for (int g = 0; g < plan.Neurons; g++)
            ws.Keep[g] = plan.ByPopulation[plan.PopulationOf[g]].Any(o => o.IntoReadout) ? T.CreateChecked(d.Keep(trial, g)) : T.One;
    }

    /// <summary>The factor on neuron <paramref name="g"/>'s spikes through <paramref name="o"/>: its keep factor into the readout, else 1.</summary>
    private static T KeepOf(Workspace ws, SurrogateSynapses<T> o, int g) => ws.Dropout && o.IntoReadout ? ws.Keep[g] : T.One;

    private void Parallel(int count, Action<int> body)
    {
        if (count == 1)
        {
            body(0);
            return;
        }
        try
        {
            System.Threading.Tasks.Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = _engine.Threads }, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }
}
