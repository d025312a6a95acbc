using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation;

/// <summary>
/// The recorded forward pass of one trial in the exact engine: every spike (time and τ_mem·V̇ at threshold),
/// the state of every neuron after each event that touched it, and the readout trajectory.
/// This is what the Eventprop backward pass consumes.
/// </summary>
public sealed class ExactTrial
{
    /// <summary>An event: a spike of neuron <c>Neuron</c> (its <c>Ordinal</c>-th), an input spike (Neuron &lt; 0: channel
    /// −1−Neuron, its index in the sample), or a delayed arrival (Neuron = <see cref="ArrivalMarker"/>: Arrivals[Ordinal]).</summary>
    internal readonly record struct Event(int Neuron, int Ordinal, double Time);

    /// <summary>The <see cref="Event.Neuron"/> of a delayed arrival.</summary>
    internal const int ArrivalMarker = int.MinValue;

    internal ExactTrial(ExactPlan plan, double duration, int[] expectedRows, RecordArrayPool pool)
    {
        Plan = plan;
        Duration = duration;
        int n = plan.NeuronCount;
        var pops = plan.Network.Populations;
        Populations = new PopulationRecords[pops.Count];
        foreach (var p in pops)
            if (p.HasDynamics) Populations[p.Index] = new PopulationRecords(p.Size, expectedRows[p.Index], pool);
        Records = new RecordIndex(this);
        SpikeTime = new DoubleBuffer[n];
        SpikeSlope = new DoubleBuffer[n];
        for (int i = 0; i < n; i++)
        {
            SpikeTime[i] = new DoubleBuffer(plan.Spiking[i] ? 8 : 1);
            SpikeSlope[i] = new DoubleBuffer(plan.Spiking[i] ? 8 : 1);
        }
        Readout = new ExactReadoutTrace(this);
        EventPattern = new ulong[n];
    }

    /// <summary>Gives the record rows back to the engine's pool: spikes and counts stay readable, states do not.</summary>
    internal void ReleaseRecords()
    {
        foreach (var log in Populations) log?.Release();
    }

    /// <summary>Per-neuron views of the population rows, indexed by global neuron index.</summary>
    internal sealed class RecordIndex(ExactTrial trial)
    {
        public NeuronRecords this[int g] =>
            new(trial.Populations[trial.Plan.PopulationOf[g]], trial.Plan.LocalIndex[g]);
    }

    internal ExactPlan Plan { get; }
    /// <summary>Record rows per population index (null for the input).</summary>
    internal PopulationRecords[] Populations { get; }

    internal RecordIndex Records { get; }
    internal DoubleBuffer[] SpikeTime { get; }
    internal DoubleBuffer[] SpikeSlope { get; }
    internal List<Event> Events { get; } = [];

    /// <summary>The delayed arrivals in the order they happened (learned delays only).</summary>
    internal List<DelayedArrival> Arrivals { get; } = [];

    /// <summary>Per neuron, a hash of the ordered sequence of what touched it: an arrival (from any source) or its own spike.</summary>
    internal ulong[] EventPattern { get; }

    /// <summary>Trial duration T (ms).</summary>
    public double Duration { get; }

    /// <summary>The readout trajectory, as losses read it.</summary>
    public ReadoutTrace Readout { get; }

    /// <summary>Number of input spikes that fell inside [0, T) and were delivered.</summary>
    public int InputSpikeCount { get; internal set; }

    /// <summary>Spike times (ms) of neuron <paramref name="neuron"/> of population <paramref name="population"/>.</summary>
    public ReadOnlySpan<double> SpikeTimes(string population, int neuron) => SpikeTime[GlobalIndex(population, neuron)].AsSpan();

    /// <summary>τ_mem·V̇ just before each spike (= I − ϑ at threshold), in the order of <see cref="SpikeTimes"/>.</summary>
    public ReadOnlySpan<double> ThresholdSlopes(string population, int neuron) => SpikeSlope[GlobalIndex(population, neuron)].AsSpan();

    /// <summary>Spike count of every neuron of a population.</summary>
    public int[] SpikeCounts(string population)
    {
        var p = Plan.Network[population];
        int off = Plan.PopulationOffset[p.Index];
        if (off < 0) throw new ArgumentException($"Population '{population}' is the input; its spikes are the sample's.");
        return Enumerable.Range(0, p.Size).Select(i => SpikeTime[off + i].Count).ToArray();
    }

    /// <summary>Spike count of every non-input neuron, populations in network order (a fingerprint for finite differences).</summary>
    public int[] AllSpikeCounts() => SpikeTime.Select(b => b.Count).ToArray();

    /// <summary>
    /// Whether every neuron saw the same interleaving of its own spikes with the arrivals it received as in
    /// <paramref name="other"/>. Where a spike time crosses an arrival at its neuron, the loss is continuous but its
    /// derivative may jump. Two arrivals that swap (or tie exactly, e.g. from neurons made identical by symmetry) do not
    /// count: current jumps commute, so the trajectory and the loss stay smooth through such a swap.
    /// </summary>
    public bool HasSameEventOrder(ExactTrial other) => EventPattern.AsSpan().SequenceEqual(other.EventPattern);

    /// <summary>Total number of spikes of non-input neurons.</summary>
    public int TotalSpikes => SpikeTime.Sum(b => b.Count);

    /// <summary>The smallest τ_mem·V̇ at threshold over all spikes (∞ without spikes): small values mean a spike grazes the threshold.</summary>
    public double MinThresholdSlope
    {
        get
        {
            double m = double.PositiveInfinity;
            foreach (var b in SpikeSlope)
                foreach (double s in b.AsSpan()) m = Math.Min(m, s);
            return m;
        }
    }

    private int GlobalIndex(string population, int neuron)
    {
        var p = Plan.Network[population];
        if (!p.HasDynamics) throw new ArgumentException($"Population '{population}' is the input; its spikes are the sample's.");
        if ((uint)neuron >= (uint)p.Size) throw new ArgumentOutOfRangeException(nameof(neuron), $"Population '{population}' has {p.Size} neurons; index {neuron} is out of range.");
        return Plan.PopulationOffset[p.Index] + neuron;
    }

    /// <summary>V and I of neuron g at time t (≥ its record at or before t), from the closed-form evolution.</summary>
    internal (double V, double I) StateAt(int g, int record, double t)
    {
        var rec = Records[g];
        double ta = rec.Time(record);
        double v = rec.Voltage(record), i = rec.Current(record);
        double s = t - ta;
        if (s <= 0) return (v, i);
        double m = Plan.RateMem[g], r = Plan.RateSyn[g], l = Plan.RateLeak[g];
        double em = Math.Exp(-l * s), es = Math.Exp(-r * s);
        return (v * em + i * m * ExpKernels.Psi2(s, l, r, em, es), i * es);
    }

    /// <summary>Index of the last record of neuron g at or before t.</summary>
    internal int RecordAt(int g, double t) => Records[g].IndexAt(t);
}

/// <summary>The readout trajectory of an <see cref="ExactTrial"/>, in closed form.</summary>
internal sealed class ExactReadoutTrace(ExactTrial trial) : ReadoutTrace
{
    public override int Size => trial.Plan.ReadoutSize;

    public override double Duration => trial.Duration;

    public override double IntegrateVoltage(int neuron, double rate = 0)
    {
        int g = Global(neuron);
        var log = trial.Populations[trial.Plan.Network.Readout.Index];
        int local = neuron;
        double m = trial.Plan.RateMem[g], r = trial.Plan.RateSyn[g], l = trial.Plan.RateLeak[g], T = trial.Duration;
        // The readout's neurons share their rows; with shared time constants they also share each row's kernels, which
        // are computed once per rate for all neurons.
        bool shared = trial.Plan.UniformRates[trial.Plan.Network.Readout.Index];
        if (shared && (_kernelRate != rate || _kernelV is null || _kernelI is null))
        {
            _kernelV = new double[log.Count];
            _kernelI = new double[log.Count];
            for (int k = 0; k < log.Count; k++) (_kernelV[k], _kernelI[k]) = RowKernels(log, k, rate, m, l, r, T);
            _kernelRate = rate;
        }
        double sum = 0;
        for (int k = 0; k < log.Count; k++)
        {
            var (kv, ki) = shared ? (_kernelV![k], _kernelI![k]) : RowKernels(log, k, rate, m, l, r, T);
            sum += log.Voltage(k, local) * kv + log.Current(k, local) * ki;
        }
        return sum;
    }

    // ∫ e^{−rate·t} V dt over row k's interval = V_k·kv + I_k·ki; m = 1/τm is the input gain, l = ℓ/τm the membrane's
    // decay rate (equal for the leaky integrator, 0 for the non-leaky one).
    private static (double V, double I) RowKernels(PopulationRecords log, int k, double rate, double m, double l, double r, double T)
    {
        double ta = log.Time(k);
        double tb = k + 1 < log.Count ? log.Time(k + 1) : T;
        double d = tb - ta;
        if (d <= 0) return (0, 0);
        double scale = rate == 0 ? 1 : Math.Exp(-rate * ta);
        return (scale * ExpKernels.Psi2(d, rate + l, 0), scale * m * ExpKernels.Psi3(d, rate + l, rate + r, 0));
    }

    private double _kernelRate = double.NaN;
    private double[]? _kernelV, _kernelI;

    public override double Voltage(int neuron, double time)
    {
        int g = Global(neuron);
        if (time < 0 || time > trial.Duration) throw new ArgumentOutOfRangeException(nameof(time), time, $"Time must lie in [0, {trial.Duration}] ms.");
        return trial.StateAt(g, trial.RecordAt(g, time), time).V;
    }

    public override ReadOnlySpan<double> SpikeTimes(int neuron) => trial.SpikeTime[Global(neuron)].AsSpan();

    /// <summary>The smallest time constant of the readout: the scale on which V varies between events.</summary>
    internal double SmoothnessScale
    {
        get
        {
            if (double.IsNaN(_smoothnessScale))
            {
                double scale = double.PositiveInfinity;
                for (int k = 0; k < Size; k++)
                {
                    int g = trial.Plan.ReadoutOffset + k;
                    scale = Math.Min(scale, Math.Min(trial.Plan.TauMem[g], trial.Plan.TauSyn[g]));
                }
                _smoothnessScale = scale;
            }
            return _smoothnessScale;
        }
    }

    // Computed on first use, when the forward pass has finished (the records no longer change): the readout's
    // breakpoints (every time an input jumps, its derivative is discontinuous) with 0 and T, and each interval's scale.
    private double _smoothnessScale = double.NaN;
    private double[]? _breaks;
    private double[]? _breakScales;

    private (double[] Breaks, double[] Scales) Breakpoints()
    {
        if (_breaks is null || _breakScales is null)
        {
            var breaks = new SortedSet<double> { 0, Duration };
            for (int k = 0; k < Size; k++)
            {
                var rec = trial.Records[trial.Plan.ReadoutOffset + k];
                for (int r = 0; r < rec.Count; r++)
                    if (rec.Time(r) < Duration) breaks.Add(rec.Time(r));
            }
            var b = breaks.ToArray();
            var scales = new double[Math.Max(0, b.Length - 1)];
            for (int i = 0; i + 1 < b.Length; i++) scales[i] = LocalScale(b[i], b[i + 1]);
            _breakScales = scales;
            _breaks = b;
        }
        return (_breaks, _breakScales);
    }

    /// <summary>
    /// The time scale on which a smooth function of the readout voltages (such as log-softmax) can vary over [a, b], an
    /// interval with no readout event inside: the smallest readout τ divided by 1 + max_k(|V_k| + |I_k|) at a and just
    /// before b (log-softmax turns over ΔV ≈ 1, and V changes at a rate up to (|I| + |V|)/τ_m).
    /// </summary>
    internal double LocalScale(double a, double b)
    {
        double magnitude = 0;
        for (int k = 0; k < Size; k++)
        {
            int g = trial.Plan.ReadoutOffset + k;
            int r = trial.RecordAt(g, a);
            var (va, ia) = trial.StateAt(g, r, a);
            var (vb, ib) = trial.StateAt(g, r, b); // the left limit at b: V is smooth on [a, b) from the record at a
            magnitude = Math.Max(magnitude, Math.Max(Math.Abs(va) + Math.Abs(ia), Math.Abs(vb) + Math.Abs(ib)));
        }
        return SmoothnessScale / (1 + magnitude);
    }

    /// <summary>All readout voltages at time t.</summary>
    internal void Voltages(double t, Span<double> voltages)
    {
        for (int k = 0; k < Size; k++)
        {
            int g = trial.Plan.ReadoutOffset + k;
            voltages[k] = trial.StateAt(g, trial.RecordAt(g, t), t).V;
        }
    }

    public override double Integrate(VoltageFunction function)
    {
        ArgumentNullException.ThrowIfNull(function);
        var (breaks, scales) = Breakpoints();
        var v = new double[Size];
        var sum = new double[1];
        for (int i = 0; i + 1 < breaks.Length; i++)
            PanelQuadrature.Integrate(breaks[i], breaks[i + 1], 1, (t, value) =>
            {
                Voltages(t, v);
                value[0] = function(t, v);
            }, sum, scales[i]);
        return sum[0];
    }

    public override VoltageMaximum Maximum(int neuron)
    {
        int g = Global(neuron);
        var rec = trial.Records[g];
        double m = trial.Plan.RateMem[g], tm = trial.Plan.TauMem[g], T = Duration;
        double bestT = 0, bestV = 0; // V(0) = 0
        long piece = -1; // pieces: 3r at record r, 3r + 1 at the turning point after it, 3r + 2 at T
        for (int k = 0; k < rec.Count; k++)
        {
            double ta = rec.Time(k);
            if (ta > T) break;
            double tb = k + 1 < rec.Count ? Math.Min(rec.Time(k + 1), T) : T;
            double va = rec.Voltage(k), ia = rec.Current(k);
            if (va > bestV)
            {
                bestV = va;
                bestT = ta;
                piece = 3L * k;
            }
            double delta = tb - ta;
            // An interior maximum: V rising at the start (I > V) and a turning point before the end. Without leak
            // (τm V̇ = I, and I keeps its sign between events) V is monotone between events: no interior maximum.
            if (delta > 0 && trial.Plan.Leak[g] != 0 && ia > va && ia != 0)
            {
                double x2 = tm * (trial.Plan.RateSyn[g] - m);
                double ratio = va / ia;
                double x1 = ratio * x2;
                if (1 + x1 > 0)
                {
                    double sStar = tm * (ExpKernels.Log1PRel(x2) - ratio * ExpKernels.Log1PRel(x1));
                    if (sStar > 0 && sStar < delta)
                    {
                        double vs = trial.StateAt(g, k, ta + sStar).V;
                        if (vs > bestV)
                        {
                            bestV = vs;
                            bestT = ta + sStar;
                            piece = 3L * k + 1;
                        }
                    }
                }
            }
            if (k + 1 >= rec.Count || rec.Time(k + 1) > T)
            {
                double vEnd = trial.StateAt(g, k, T).V;
                if (vEnd > bestV)
                {
                    bestV = vEnd;
                    bestT = T;
                    piece = 3L * k + 2;
                }
            }
        }
        return new VoltageMaximum(bestT, bestV, piece);
    }

    private int Global(int neuron)
    {
        if ((uint)neuron >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(neuron), neuron, $"The readout has {Size} neurons.");
        return trial.Plan.ReadoutOffset + neuron;
    }
}
