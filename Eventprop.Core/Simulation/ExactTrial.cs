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
    internal readonly record struct Event(int Neuron, int Ordinal, double Time); // Neuron < 0: input channel −1−Neuron

    internal ExactTrial(ExactPlan plan, double duration, int[] expectedRecords)
    {
        Plan = plan;
        Duration = duration;
        int n = plan.NeuronCount;
        Records = new RecordBuffer[n];
        SpikeTime = new DoubleBuffer[n];
        SpikeSlope = new DoubleBuffer[n];
        for (int i = 0; i < n; i++)
        {
            Records[i] = new RecordBuffer(expectedRecords[plan.PopulationOf[i]]);
            SpikeTime[i] = new DoubleBuffer(plan.Spiking[i] ? 8 : 1);
            SpikeSlope[i] = new DoubleBuffer(plan.Spiking[i] ? 8 : 1);
        }
        Readout = new ExactReadoutTrace(this);
        EventPattern = new ulong[n];
    }

    internal ExactPlan Plan { get; }
    internal RecordBuffer[] Records { get; }
    internal DoubleBuffer[] SpikeTime { get; }
    internal DoubleBuffer[] SpikeSlope { get; }
    internal List<Event> Events { get; } = [];

    /// <summary>Per neuron, a hash of the ordered sequence of event sources that touched it (inputs, presynaptic and own spikes).</summary>
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
    /// Whether every neuron saw the same sequence of events (arrivals by source, and its own spikes) as in
    /// <paramref name="other"/>. Where the order changes, the loss is continuous but its derivative may jump.
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
        double m = Plan.RateMem[g], r = Plan.RateSyn[g];
        double em = Math.Exp(-m * s), es = Math.Exp(-r * s);
        return (v * em + i * m * ExpKernels.Psi2(s, m, r, em, es), i * es);
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
        var rec = trial.Records[g];
        double m = trial.Plan.RateMem[g], r = trial.Plan.RateSyn[g], T = trial.Duration;
        double sum = 0;
        for (int k = 0; k < rec.Count; k++)
        {
            double ta = rec.Time(k);
            double tb = k + 1 < rec.Count ? rec.Time(k + 1) : T;
            double d = tb - ta;
            if (d <= 0) continue;
            double va = rec.Voltage(k), ia = rec.Current(k);
            double part = va * ExpKernels.Psi2(d, rate + m, 0) + ia * m * ExpKernels.Psi3(d, rate + m, rate + r, 0);
            sum += rate == 0 ? part : Math.Exp(-rate * ta) * part;
        }
        return sum;
    }

    public override double Voltage(int neuron, double time)
    {
        int g = Global(neuron);
        if (time < 0 || time > trial.Duration) throw new ArgumentOutOfRangeException(nameof(time), time, $"Time must lie in [0, {trial.Duration}] ms.");
        return trial.StateAt(g, trial.RecordAt(g, time), time).V;
    }

    public override ReadOnlySpan<double> SpikeTimes(int neuron) => trial.SpikeTime[Global(neuron)].AsSpan();

    private int Global(int neuron)
    {
        if ((uint)neuron >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(neuron), neuron, $"The readout has {Size} neurons.");
        return trial.Plan.ReadoutOffset + neuron;
    }
}
