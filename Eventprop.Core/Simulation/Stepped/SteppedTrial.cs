using Eventprop.Core.Data;
using Eventprop.Core.Losses;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>The spikes of one spiking population in one trial, in step order: step, neuron, and τm·V̇ (I − V) at the spike.</summary>
internal sealed class SpikeList
{
    private int[] _steps = new int[64];
    private int[] _neurons = new int[64];
    private float[] _slopes = new float[64];

    public int Count { get; private set; }
    public int[] Steps => _steps;
    public int[] Neurons => _neurons;
    public float[] Slopes => _slopes;

    public void Clear() => Count = 0;

    /// <summary>Appends a spike; the buffers double when full, so no spike is ever dropped.</summary>
    public void Add(int step, int neuron, float slope)
    {
        if (Count == _steps.Length)
        {
            int size = checked(_steps.Length * 2);
            Array.Resize(ref _steps, size);
            Array.Resize(ref _neurons, size);
            Array.Resize(ref _slopes, size);
        }
        _steps[Count] = step;
        _neurons[Count] = neuron;
        _slopes[Count] = slope;
        Count++;
    }
}

/// <summary>
/// What the forward pass of one trial leaves for the backward pass: the spikes of every spiking population,
/// state snapshots every few steps (so the backward pass can recompute V and I of any step without storing
/// every step), per-neuron spike counts and the loss evaluation. Reused from trial to trial.
/// </summary>
internal sealed class SteppedTrial
{
    public SpikeList[] Spikes { get; private set; } = [];
    public int[][] SpikeCounts { get; private set; } = [];
    public float[] SnapshotV { get; private set; } = [];
    public float[] SnapshotI { get; private set; } = [];
    public int[] SnapshotInput { get; private set; } = [];
    public int[] SnapshotSpikes { get; private set; } = [];
    public int SnapshotInterval { get; private set; }
    public int SnapshotCount { get; private set; }
    public SpikeSample Sample { get; private set; } = null!;
    public int Label { get; private set; }
    public LossEvaluation Evaluation { get; set; } = null!;
    /// <summary><see cref="ReadoutDrive.ImpulseSlopes"/> of <see cref="Evaluation"/>'s drive, taken while the trace was valid.</summary>
    public double[] ImpulseSlopes { get; set; } = [];
    /// <summary>Index of the first input spike at a step ≥ T (inputs at or after it have no effect).</summary>
    public int InputCount { get; set; }

    public void Reset(SteppedPlan plan, SpikeSample sample, int label, int snapshotInterval)
    {
        Sample = sample;
        Label = label;
        if (Spikes.Length != plan.Spiking.Length || SpikeCounts.Length != plan.Spiking.Length
            || !plan.Spiking.Select(p => p.Size).SequenceEqual(SpikeCounts.Select(c => c.Length)))
        {
            Spikes = plan.Spiking.Select(_ => new SpikeList()).ToArray();
            SpikeCounts = plan.Spiking.Select(p => new int[p.Size]).ToArray();
        }
        foreach (var s in Spikes) s.Clear();
        foreach (var c in SpikeCounts) Array.Clear(c);
        SnapshotInterval = snapshotInterval;
        SnapshotCount = 0;
        if (snapshotInterval > 0)
        {
            int count = (plan.Steps - 1) / snapshotInterval + 1; // snapshots at 0, K, 2K, … < N
            long floats = (long)count * plan.NeuronCount;
            if (SnapshotV.Length < floats)
            {
                SnapshotV = new float[floats];
                SnapshotI = new float[floats];
            }
            if (SnapshotInput.Length < count) SnapshotInput = new int[count];
            if (SnapshotSpikes.Length < count * plan.Spiking.Length) SnapshotSpikes = new int[count * plan.Spiking.Length];
        }
    }

    public void AddSnapshot(SteppedPlan plan, ReadOnlySpan<float> v, ReadOnlySpan<float> cur, int inputPointer)
    {
        int s = SnapshotCount++;
        int n = plan.NeuronCount;
        v.CopyTo(SnapshotV.AsSpan(s * n, n));
        cur.CopyTo(SnapshotI.AsSpan(s * n, n));
        SnapshotInput[s] = inputPointer;
        for (int p = 0; p < Spikes.Length; p++) SnapshotSpikes[s * Spikes.Length + p] = Spikes[p].Count;
    }
}

/// <summary>Per-thread scratch memory of the engine (state, adjoints, segment buffers, the readout trace).</summary>
internal sealed class SteppedWorkspace
{
    public SteppedWorkspace(SteppedPlan plan)
    {
        int n = plan.NeuronCount;
        NeuronCount = n;
        V = new float[n];
        I = new float[n];
        LambdaV = new float[n];
        LambdaI = new float[n];
        TauMemPartial = new float[n];
        TauSynPartial = new float[n];
        TauMemSum = new double[n];
        TauSynSum = new double[n];
        WeightedAdjoint = new float[n];
        AnalogDrive = new float[n];
        AnalogAdjointSum = new double[n];
        AnalogScratch = new float[n];
        AdjointDifference = new float[n];
        WeightedStamp = new int[plan.Populations.Length];
        DifferenceStamp = new int[plan.Populations.Length];
        Crossings = new int[plan.MaxSpikingSize];
        int r = plan.ReadoutSize;
        TraceV = new float[(long)(plan.Steps + 1) * r];
        TraceI = new float[(long)(plan.Steps + 1) * r];
        ReadoutVoltages = new double[r];
        DriveStart = new double[r];
        DriveEnd = new double[r];
        DriveScratch = new double[r];
    }

    public int NeuronCount { get; }
    public float[] V { get; }
    public float[] I { get; }
    public float[] LambdaV { get; }
    public float[] LambdaI { get; }
    public float[] TauMemPartial { get; }
    public float[] TauSynPartial { get; }
    public double[] TauMemSum { get; }
    public double[] TauSynSum { get; }
    /// <summary>τs·λI of a population's neurons, valid for the step in <see cref="WeightedStamp"/>.</summary>
    public float[] WeightedAdjoint { get; }
    /// <summary>An analog trial's charge per step, Σ_c x_c·dt·W[c, ·] (<see cref="AnalogInput"/>).</summary>
    public float[] AnalogDrive { get; }
    /// <summary>An analog trial's Σ_k λI(t_k) over the grid points of the backward pass so far.</summary>
    public double[] AnalogAdjointSum { get; }
    /// <summary>Scratch for <see cref="AnalogInput.SubtractWeightGradients"/>.</summary>
    public float[] AnalogScratch { get; }
    /// <summary>λV − λI of a population's neurons, valid for the step in <see cref="DifferenceStamp"/>.</summary>
    public float[] AdjointDifference { get; }
    public int[] WeightedStamp { get; }
    /// <summary>Counter that identifies the current grid point of the backward pass in the stamp arrays.</summary>
    public int Stamp { get; set; }
    public int[] DifferenceStamp { get; }
    public int[] Crossings { get; }
    public float[] TraceV { get; }
    public float[] TraceI { get; }
    public double[] ReadoutVoltages { get; }
    public double[] DriveStart { get; }
    public double[] DriveEnd { get; }
    public double[] DriveScratch { get; }
    public float[] SegmentV { get; set; } = [];
    public float[] SegmentI { get; set; } = [];
    public List<(int Neuron, float Delta)> Jumps { get; } = [];

    /// <summary>Per connection with learned delays (<see cref="SteppedPlan.Delayed"/>): the forward pass's ring buffer of
    /// pending arrivals, <see cref="SteppedPlan.Outgoing.RingSlots"/> grid points × the target population.</summary>
    public float[][] DelayRings { get; private set; } = [];
    /// <summary>Per connection with learned delays: the backward pass's ring of λV − λI of the target population.</summary>
    public float[][] DifferenceRings { get; private set; } = [];
    /// <summary>Per connection with learned delays: the backward pass's ring of τs·λI of the target population.</summary>
    public float[][] WeightedRings { get; private set; } = [];

    /// <summary>Sizes the ring buffers for the plan's current delays (they grow with the largest delay, never with T) and
    /// empties the forward rings.</summary>
    public void PrepareRings(SteppedPlan plan)
    {
        var delayed = plan.Delayed;
        if (DelayRings.Length != delayed.Length)
        {
            DelayRings = new float[delayed.Length][];
            DifferenceRings = new float[delayed.Length][];
            WeightedRings = new float[delayed.Length][];
        }
        for (int k = 0; k < delayed.Length; k++)
        {
            int length = checked(delayed[k].RingSlots * delayed[k].PostSize);
            if (DelayRings[k] is null || DelayRings[k].Length != length)
            {
                DelayRings[k] = new float[length];
                DifferenceRings[k] = new float[length];
                WeightedRings[k] = new float[length];
            }
            else Array.Clear(DelayRings[k]);
        }
    }

    public void EnsureSegment(int steps)
    {
        long floats = (long)(steps + 1) * NeuronCount;
        if (SegmentV.Length < floats)
        {
            SegmentV = new float[floats];
            SegmentI = new float[floats];
        }
    }
}
