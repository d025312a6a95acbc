using System.Numerics;
using System.Runtime.ExceptionServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Stepped;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>The BPTT engine's work in one precision: plan, per-thread workspaces, forward and backward of a trial.</summary>
internal sealed class SurrogateRunner<T> where T : unmanaged, IFloatingPointIeee754<T>
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

    // ------------------------------------------------------------------ plan

    private sealed class Outgoing(int parameter, int postOffset, int postSize, int rows, bool recurrent)
    {
        public int Parameter { get; } = parameter;
        public int PostOffset { get; } = postOffset;
        public int PostSize { get; } = postSize;
        public int Rows { get; } = rows;
        public bool Recurrent { get; } = recurrent;
        public T[] W { get; } = new T[rows * postSize];
    }

    private sealed class Plan
    {
        public required SteppedPlan Structure { get; init; }
        public required int Neurons { get; init; }
        public required Outgoing[] Input { get; init; }
        /// <summary>Per global neuron: the outgoing connections of its population (empty for the readout).</summary>
        public required Outgoing[][] ByPopulation { get; init; }
        public required int[] PopulationOf { get; init; }
        public required int[] LocalIndex { get; init; }
        /// <summary>Spiking (hidden) neuron ranges: (offset, size, population index in Structure.Populations).</summary>
        public required (int Offset, int Size, int Dyn)[] Spiking { get; init; }
        public required T[] Em { get; init; }
        public required T[] A { get; init; }
        public required T[] Es { get; init; }
        public required double[] DEmDTauMem { get; init; }
        public required double[] DADTauMem { get; init; }
        public required double[] DADTauSyn { get; init; }
        public required double[] DEsDTauSyn { get; init; }
    }

    private Plan PreparePlan(Network network)
    {
        SteppedPlan.RequireStandardModels(network);
        if (_plan is null || !_plan.Structure.Fits(network, Dt, N))
        {
            var sp = new SteppedPlan(network, Dt, N);
            var names = network.Parameters.Select((p, i) => (p.Name, i)).ToDictionary(x => x.Name, x => x.i);
            Outgoing[] Outs(Population p) => network.Connections.Where(c => c.Pre == p)
                .Select(c => new Outgoing(names[c.Name], sp.PopulationOffset[c.Post.Index], c.Post.Size, c.Pre.Size, c.IsRecurrent)).ToArray();
            var byPop = new Outgoing[sp.Populations.Length][];
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
            _plan = new Plan
            {
                Structure = sp,
                Neurons = n,
                Input = Outs(network.Input),
                ByPopulation = byPop,
                PopulationOf = popOf,
                LocalIndex = local,
                Spiking = sp.Populations.Select((p, d) => (p.Offset, p.Size, d)).Where(x => !sp.Populations[x.d].IsReadout).ToArray(),
                Em = new T[n], A = new T[n], Es = new T[n],
                DEmDTauMem = new double[n], DADTauMem = new double[n], DADTauSyn = new double[n], DEsDTauSyn = new double[n],
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
        }
        var s = plan.Structure;
        double dt = Dt;
        for (int g = 0; g < plan.Neurons; g++)
        {
            double m = s.RateMem[g], r = s.RateSyn[g], em = s.DecayMemExact[g], es = s.DecaySynExact[g];
            double a, daM, daS;
            if (_exact)
            {
                double psi = ExpKernels.Psi2(dt, m, r, em, es);
                a = m * psi;
                daM = -m * m * (psi - m * ExpKernels.Psi3(dt, m, m, r));
                daS = r * r * m * ExpKernels.Psi3(dt, m, r, r);
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
            plan.DEmDTauMem[g] = dt * m * m * em;
            plan.DADTauMem[g] = daM;
            plan.DADTauSyn[g] = daS;
            plan.DEsDTauSyn[g] = dt * r * r * es;
        }
        return plan;
    }

    // ------------------------------------------------------------------ workspaces

    private sealed class Workspace
    {
        public Workspace(Plan plan, int steps, double dt, bool exact)
        {
            int n = plan.Neurons, rows = steps + 1;
            Vs = new T[rows * n];
            Is = new T[rows * n];
            V = new T[n]; I = new T[n]; S = new T[n]; Vt = new T[n]; H = new T[n];
            GV = new T[n]; GI = new T[n]; Gt = new T[n]; Extra = new T[n];
            GEm = new T[n]; GA = new T[n]; GEs = new T[n];
            Counts = new double[n];
            RegGrad = new T[n];
            SpikeStart = new int[steps + 1];
            InputStart = new int[steps + 2];
            int rs = plan.Structure.ReadoutSize;
            Trace = new SurrogateReadoutTrace(rs, steps, dt, exact);
            DV = new double[rs * rows];
            DI = new double[rs * rows];
            DTauMem = new double[rs];
            DTauSyn = new double[rs];
        }

        /// <summary>Direct ∂L/∂τ of the readout through the loss's quadrature weights (exact scheme).</summary>
        public double[] DTauMem { get; }
        public double[] DTauSyn { get; }

        public T[] Vs { get; }
        public T[] Is { get; }
        public T[] V { get; }
        public T[] I { get; }
        public T[] S { get; }
        public T[] Vt { get; }
        /// <summary>h(U − ϑ) of the current backward step.</summary>
        public T[] H { get; }
        public T[] GV { get; }
        public T[] GI { get; }
        public T[] Gt { get; }
        public T[] Extra { get; }
        public T[] GEm { get; }
        public T[] GA { get; }
        public T[] GEs { get; }
        public double[] Counts { get; }
        public T[] RegGrad { get; }
        public int[] SpikeStart { get; }
        public List<int> Spikes { get; } = [];
        public int[] InputStart { get; }
        public List<int> InputChannels { get; } = [];
        public SurrogateReadoutTrace Trace { get; }
        public double[] DV { get; }
        public double[] DI { get; }
        public double RegValue { get; set; }
        public LossEvaluation? Evaluation { get; set; }
    }

    private Workspace Rent(Plan plan)
    {
        lock (_workspaces)
            if (_workspaces.Count > 0) return _workspaces.Pop();
        return new Workspace(plan, N, Dt, _exact);
    }

    private void Return(Workspace ws)
    {
        lock (_workspaces) _workspaces.Push(ws);
    }

    private sealed class Buffer
    {
        public T[]?[] Weights { get; private set; } = [];
        public double[] TauMem { get; private set; } = [];
        public double[] TauSyn { get; private set; } = [];

        public void Reset(Network network, int neurons)
        {
            var parameters = network.Parameters;
            if (Weights.Length != parameters.Count) Weights = new T[parameters.Count][];
            for (int p = 0; p < parameters.Count; p++)
            {
                if (parameters[p].Kind != ParameterKind.Weight) continue;
                int len = parameters[p].Length;
                if (Weights[p] is { } w && w.Length == len) Array.Clear(w);
                else Weights[p] = new T[len];
            }
            if (TauMem.Length != neurons)
            {
                TauMem = new double[neurons];
                TauSyn = new double[neurons];
            }
            else
            {
                Array.Clear(TauMem);
                Array.Clear(TauSyn);
            }
        }
    }

    // ------------------------------------------------------------------ batch

    /// <summary>Per trial: loss (with the regulariser), prediction, hidden spike counts; with a gradient when asked.</summary>
    public (double Loss, int[] Predictions, Dictionary<string, long[]> Counts, ParameterSet? Gradient) Run(
        Network network, IReadOnlyList<SpikeSample> batch, int[] labels, ILoss loss, bool gradient)
    {
        var plan = PreparePlan(network);
        int count = batch.Count;
        int partitions = Math.Min(_engine.Threads, count);
        var losses = new double[count];
        var predictions = new int[count];
        var counts = plan.Structure.Network.Hidden.ToDictionary(p => p.Name, p => new long[p.Size]);
        var partCounts = new double[partitions][];
        while (_buffers.Count < partitions) _buffers.Add(new Buffer());
        double scale = 1.0 / count;
        int used = 0;
        Parallel(partitions, part =>
        {
            var ws = Rent(plan);
            Interlocked.Increment(ref used);
            var buffer = _buffers[part];
            if (gradient) buffer.Reset(network, plan.Neurons);
            var pc = partCounts[part] = new double[plan.Neurons];
            try
            {
                int from = part * count / partitions, to = (part + 1) * count / partitions;
                for (int b = from; b < to; b++)
                {
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
        foreach (var (offset, size, d) in plan.Spiking)
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

    // ------------------------------------------------------------------ forward

    private int StepOf(double time)
    {
        double x = Math.Floor(time / Dt + 0.5);
        return x >= N ? N : (int)x;
    }

    /// <summary>Input spikes grouped by the backward iteration that reads their gradient (see <see cref="Backward"/>).</summary>
    private void BinInputs(Workspace ws, SpikeSample sample)
    {
        // Exact: a spike on grid point b enters I_b; index b (b = 0…N−1). Zenke–Vogels: bin b enters I_{b+1}; index b (b = 0…N−1).
        var start = ws.InputStart;
        Array.Clear(start);
        var times = sample.Times;
        int len = times.Length;
        ws.InputChannels.Clear();
        // Samples are time-sorted; count per bin, then fill.
        for (int p = 0; p < len; p++)
        {
            int b = StepOf(times[p]);
            if (b < N) start[b + 1]++;
        }
        for (int b = 0; b < N; b++) start[b + 1] += start[b];
        var fill = new int[N];
        var ch = new int[start[N]];
        for (int p = 0; p < len; p++)
        {
            int b = StepOf(times[p]);
            if (b < N) ch[start[b] + fill[b]++] = sample.Channels[p];
        }
        ws.InputChannels.AddRange(ch);
    }

    private void DeliverInputs(Plan plan, Workspace ws, int bin)
    {
        var cur = ws.I.AsSpan();
        for (int p = ws.InputStart[bin]; p < ws.InputStart[bin + 1]; p++)
        {
            int c = ws.InputChannels[p];
            foreach (var o in plan.Input)
                GenericVector.Add(cur.Slice(o.PostOffset, o.PostSize), o.W.AsSpan(c * o.PostSize, o.PostSize));
        }
    }

    /// <summary>Thresholds <paramref name="u"/> (the voltage the scheme tests), records the spikes under <paramref name="index"/>,
    /// resets <see cref="Workspace.V"/>, then delivers the spikes into <see cref="Workspace.I"/>.</summary>
    private void SpikeResetDeliver(Plan plan, Workspace ws, ReadOnlySpan<T> u, int index)
    {
        var v = ws.V;
        var cur = ws.I.AsSpan();
        ws.SpikeStart[index] = ws.Spikes.Count;
        T one = T.One;
        if (!_smooth)
        {
            int first = ws.Spikes.Count;
            foreach (var (offset, size, _) in plan.Spiking)
                for (int g = offset; g < offset + size; g++)
                    if (u[g] >= one)
                    {
                        ws.Spikes.Add(g);
                        v[g] = T.Zero;
                        ws.Counts[g] += 1;
                    }
            for (int p = first; p < ws.Spikes.Count; p++)
            {
                int g = ws.Spikes[p], i = plan.LocalIndex[g];
                foreach (var o in plan.ByPopulation[plan.PopulationOf[g]])
                    GenericVector.Add(cur.Slice(o.PostOffset, o.PostSize), o.W.AsSpan(i * o.PostSize, o.PostSize));
            }
            return;
        }
        var s = ws.S;
        foreach (var (offset, size, _) in plan.Spiking)
            for (int g = offset; g < offset + size; g++)
            {
                T sg = T.CreateChecked(Surrogate.Logistic(_beta * (double.CreateChecked(u[g]) - Network.Threshold)));
                s[g] = sg;
                v[g] *= one - sg;
                ws.Counts[g] += double.CreateChecked(sg);
            }
        foreach (var (offset, size, _) in plan.Spiking)
            for (int g = offset; g < offset + size; g++)
            {
                int i = plan.LocalIndex[g];
                foreach (var o in plan.ByPopulation[plan.PopulationOf[g]])
                    GenericVector.AddScaled(cur.Slice(o.PostOffset, o.PostSize), o.W.AsSpan(i * o.PostSize, o.PostSize), s[g]);
            }
    }

    private void Forward(Plan plan, Workspace ws, SpikeSample sample)
    {
        int n = plan.Neurons;
        var v = ws.V;
        var cur = ws.I;
        Array.Clear(v);
        Array.Clear(cur);
        Array.Clear(ws.Counts);
        ws.Spikes.Clear();
        BinInputs(ws, sample);
        var em = plan.Em;
        var a = plan.A;
        var es = plan.Es;
        if (_exact)
        {
            DeliverInputs(plan, ws, 0);
            v.CopyTo(ws.Vs, 0);
            cur.CopyTo(ws.Is, 0);
            for (int k = 0; k < N; k++)
            {
                int kk = k + 1;
                GenericVector.Step<T>(v, cur, em, a, es);
                if (kk < N)
                {
                    // The pre-reset voltage is tested; spikes read in backward iteration k.
                    v.CopyTo(ws.Vt, 0);
                    SpikeResetDeliver(plan, ws, ws.Vt, k);
                    DeliverInputs(plan, ws, kk);
                }
                else ws.SpikeStart[k] = ws.Spikes.Count;
                v.CopyTo(ws.Vs, kk * n);
                cur.CopyTo(ws.Is, kk * n);
            }
        }
        else
        {
            v.CopyTo(ws.Vs, 0);
            cur.CopyTo(ws.Is, 0);
            for (int k = 0; k < N; k++)
            {
                // S[k] = Θ(U[k] − 1) resets U[k+1] and enters I[k+1], with the inputs of bin k.
                v.CopyTo(ws.Vt, 0);
                GenericVector.Step<T>(v, cur, em, a, es);
                SpikeResetDeliver(plan, ws, ws.Vt, k);
                DeliverInputs(plan, ws, k);
                v.CopyTo(ws.Vs, (k + 1) * n);
                cur.CopyTo(ws.Is, (k + 1) * n);
            }
        }
        ws.SpikeStart[N] = ws.Spikes.Count;
    }

    private void Evaluate(Plan plan, Workspace ws, ILoss loss, int label, int b, bool gradient, double scale)
    {
        int n = plan.Neurons, ro = plan.Structure.ReadoutOffset, rs = plan.Structure.ReadoutSize, rows = N + 1;
        var trace = ws.Trace;
        for (int j = 0; j < rs; j++)
        {
            trace.RateMem[j] = plan.Structure.RateMem[ro + j];
            trace.RateSyn[j] = plan.Structure.RateSyn[ro + j];
            for (int k = 0; k < rows; k++)
            {
                trace.V[j * rows + k] = double.CreateChecked(ws.Vs[k * n + ro + j]);
                trace.I[j * rows + k] = double.CreateChecked(ws.Is[k * n + ro + j]);
            }
        }
        var e = loss.Evaluate(trace, label);
        if (e.Outputs.Length != rs)
            throw new InvalidOperationException($"Loss '{loss.Name}' returned {e.Outputs.Length} outputs but the readout has {rs} neurons.");
        if (!double.IsFinite(e.Value))
            throw new InvalidOperationException($"Loss '{loss.Name}' is {e.Value} on sample {b} of the batch; the readout voltages have probably diverged (lower the learning rate or check the weights).");
        ws.Evaluation = e;
        ws.RegValue = 0;
        Array.Clear(ws.RegGrad);
        var reg = _o.Regularization;
        if (reg is not null)
        {
            foreach (var (offset, size, _) in plan.Spiking)
            {
                var c = ws.Counts.AsSpan(offset, size);
                ws.RegValue += reg.Value(c);
                if (gradient)
                {
                    var grad = new double[size];
                    reg.Gradient(c, grad);
                    for (int i = 0; i < size; i++) ws.RegGrad[offset + i] = T.CreateChecked(grad[i] * scale);
                }
            }
        }
        if (gradient)
        {
            Array.Clear(ws.DV);
            Array.Clear(ws.DI);
            Array.Clear(ws.DTauMem);
            Array.Clear(ws.DTauSyn);
            bool tau = _engine.TimeConstantGradients;
            trace.Differentiate(e.Drive.Scaled(scale), loss.Name, ws.DV, ws.DI, tau ? ws.DTauMem : null, tau ? ws.DTauSyn : null);
        }
    }

    // ------------------------------------------------------------------ backward

    /// <summary>h[i] = h(u[i] − ϑ) for a population (<see cref="Surrogate.Derivative"/>, one definition for every use).</summary>
    private void FillSurrogate(ReadOnlySpan<T> u, Span<T> h)
    {
        var surrogate = _o.Surrogate;
        for (int i = 0; i < u.Length; i++)
            h[i] = T.CreateChecked(surrogate.Derivative(double.CreateChecked(u[i]) - Network.Threshold));
    }

    /// <summary>
    /// BPTT over iterations j = N−1 … 0 (step j takes the state at grid point j to j+1). On entry to iteration j,
    /// GV, GI hold dL/dV_{j+1}, dL/dI_{j+1}.
    /// </summary>
    private void Backward(Plan plan, Workspace ws, Buffer buffer)
    {
        int n = plan.Neurons, ro = plan.Structure.ReadoutOffset, rs = plan.Structure.ReadoutSize, rows = N + 1;
        var gV = ws.GV;
        var gI = ws.GI;
        var gt = ws.Gt;
        var extra = ws.Extra;
        var vt = ws.Vt;
        Array.Clear(gV);
        Array.Clear(gI);
        Array.Clear(ws.GEm);
        Array.Clear(ws.GA);
        Array.Clear(ws.GEs);
        Array.Clear(extra);
        AddLossTerms(ws, N, ro, rs, rows);
        bool tau = _engine.TimeConstantGradients;
        T one = T.One, threshold = T.One;
        var em = plan.Em;
        var a = plan.A;
        var es = plan.Es;
        for (int j = N - 1; j >= 0; j--)
        {
            var rowV = ws.Vs.AsSpan(j * n, n);
            var rowI = ws.Is.AsSpan(j * n, n);
            GenericVector.StepVoltage<T>(vt, rowV, rowI, em, a);
            bool active = !_exact || j + 1 < N;
            gV.CopyTo(gt, 0);
            if (active)
            {
                ReadOnlySpan<T> u = _exact ? vt : rowV;
                // Weight gradients of the spikes and inputs read at this iteration: dW[i,:] += S_i · dL/dI_{j+1}.
                if (!_smooth)
                {
                    for (int p = ws.SpikeStart[j]; p < ws.SpikeStart[j + 1]; p++)
                    {
                        int g = ws.Spikes[p], i = plan.LocalIndex[g];
                        foreach (var o in plan.ByPopulation[plan.PopulationOf[g]])
                            GenericVector.Add(buffer.Weights[o.Parameter].AsSpan(i * o.PostSize, o.PostSize), gI.AsSpan(o.PostOffset, o.PostSize));
                    }
                }
                int inputBin = _exact ? j + 1 : j;
                if (inputBin < N) InputGradients(plan, ws, buffer, inputBin);
                var hs = ws.H;
                foreach (var (offset, size, d) in plan.Spiking)
                {
                    var outs = plan.ByPopulation[d];
                    FillSurrogate(u.Slice(offset, size), hs.AsSpan(offset, size));
                    for (int g = offset; g < offset + size; g++)
                    {
                        T x = u[g] - threshold;
                        T h = hs[g];
                        T s = _smooth ? T.CreateChecked(Surrogate.Logistic(_beta * double.CreateChecked(x))) : u[g] >= threshold ? one : T.Zero;
                        int i = g - offset;
                        if (_smooth && s != T.Zero)
                            foreach (var o in outs)
                                GenericVector.AddScaled(buffer.Weights[o.Parameter].AsSpan(i * o.PostSize, o.PostSize), gI.AsSpan(o.PostOffset, o.PostSize), s);
                        T keep = gV[g] * (one - s);
                        if (h == T.Zero && !_diffReset && ws.RegGrad[g] == T.Zero)
                        {
                            gt[g] = keep;
                            continue;
                        }
                        T gs = ws.RegGrad[g];
                        foreach (var o in outs)
                            if (_o.RecurrentGradient || !o.Recurrent)
                                gs += GenericVector.Dot<T>(o.W.AsSpan(i * o.PostSize, o.PostSize), gI.AsSpan(o.PostOffset, o.PostSize));
                        if (_diffReset) gs -= gV[g] * vt[g];
                        if (_exact) gt[g] = keep + gs * h;
                        else
                        {
                            gt[g] = keep;
                            extra[g] = gs * h;
                        }
                    }
                }
            }
            GenericVector.StepBack<T>(gV, gI, gt, rowV, rowI, em, a, es, ws.GEm, ws.GA, ws.GEs, tau);
            if (!_exact && active)
            {
                GenericVector.Add<T>(gV, extra);
                Array.Clear(extra);
            }
            AddLossTerms(ws, j, ro, rs, rows);
        }
        if (_exact) InputGradients(plan, ws, buffer, 0);
        if (tau)
        {
            for (int g = 0; g < n; g++)
            {
                double gEm = double.CreateChecked(ws.GEm[g]), gA = double.CreateChecked(ws.GA[g]), gEs = double.CreateChecked(ws.GEs[g]);
                buffer.TauMem[g] += gEm * plan.DEmDTauMem[g] + gA * plan.DADTauMem[g];
                buffer.TauSyn[g] += gA * plan.DADTauSyn[g] + gEs * plan.DEsDTauSyn[g];
            }
            for (int j = 0; j < rs; j++)
            {
                buffer.TauMem[ro + j] += ws.DTauMem[j];
                buffer.TauSyn[ro + j] += ws.DTauSyn[j];
            }
        }
    }

    private void InputGradients(Plan plan, Workspace ws, Buffer buffer, int bin)
    {
        var gI = ws.GI.AsSpan();
        for (int p = ws.InputStart[bin]; p < ws.InputStart[bin + 1]; p++)
        {
            int c = ws.InputChannels[p];
            foreach (var o in plan.Input)
                GenericVector.Add(buffer.Weights[o.Parameter].AsSpan(c * o.PostSize, o.PostSize), gI.Slice(o.PostOffset, o.PostSize));
        }
    }

    private static void AddLossTerms(Workspace ws, int k, int ro, int rs, int rows)
    {
        for (int j = 0; j < rs; j++)
        {
            double dv = ws.DV[j * rows + k], di = ws.DI[j * rows + k];
            if (dv != 0) ws.GV[ro + j] += T.CreateChecked(dv);
            if (di != 0) ws.GI[ro + j] += T.CreateChecked(di);
        }
    }
}
