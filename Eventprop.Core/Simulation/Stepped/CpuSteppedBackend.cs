using System.Runtime.ExceptionServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Pipeline;
using Eventprop.Core.Simulation.Stepped.Backend;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// The CPU provider of the time-stepped passes (see <see cref="SteppedEngine"/> for the algorithm): trials run in parallel
/// on <see cref="Threads"/> workers, each trial vectorised over neurons; the backward pass accumulates per partition of
/// contiguous trials and the partitions are summed in order.
/// </summary>
internal sealed partial class CpuSteppedBackend : ISteppedBackend
{
    private readonly Stack<SteppedWorkspace> _workspaces = new();
    private readonly List<SteppedTrial> _trials = [];
    private readonly List<GradientBuffer> _buffers = [];
    private SteppedPlan? _workspacePlan;

    /// <summary>Creates the provider; the settings are those of <see cref="SteppedEngine"/>, already checked.</summary>
    public CpuSteppedBackend(double dt, int steps, int threads, int? maxSpikesPerNeuron, bool timeConstantGradients,
        double minimumThresholdSlope, bool slopeAtGridPoint)
    {
        Dt = dt;
        Steps = steps;
        Threads = threads;
        MaxSpikesPerNeuron = maxSpikesPerNeuron;
        TimeConstantGradients = timeConstantGradients;
        MinimumThresholdSlope = minimumThresholdSlope;
        SlopeAtGridPoint = slopeAtGridPoint;
    }

    public double Dt { get; }
    public int Steps { get; }
    public int Threads { get; }
    public int? MaxSpikesPerNeuron { get; }
    public bool TimeConstantGradients { get; }
    public double MinimumThresholdSlope { get; }
    public bool SlopeAtGridPoint { get; }

    /// <summary>Fault injection for tests (see <see cref="SteppedPlan.Outgoing.Transport"/>).</summary>
    internal bool TransportMisindexed { get; set; }

    /// <summary>Fault injection for tests (see <see cref="SteppedPlan.Outgoing.DelayGradientUnweighted"/>).</summary>
    internal bool DelayGradientUnweighted { get; set; }

    /// <summary>Fault injection for tests (see <see cref="SteppedPlan.Outgoing.DelayedAdjointAtEmission"/>).</summary>
    internal bool DelayedAdjointAtEmission { get; set; }

    /// <summary>Fault injection for tests: an analog trial's input weight gradient leaves out the channel's value x_c.</summary>
    internal bool AnalogValueIgnoredInGradient { get; set; }

    /// <inheritdoc />
    public bool AcceptsAnalogInput => true;

    /// <inheritdoc />
    public bool AcceptsLearnedDelays => true;

    /// <summary>Bytes per trial the last forward pass for a backward pass recorded (see <see cref="SteppedEngine.StoredStateBytesPerTrial"/>).</summary>
    public double StoredStateBytesPerTrial { get; private set; }

    /// <summary>The trials of one batch, with what the backward pass needs.</summary>
    private sealed class CpuForwardPass(SteppedPlan plan, SteppedTrial[] trials, LossEvaluation[] evaluations, int partitions)
        : SteppedForwardPass(evaluations.Select(e => e.Value).ToArray(), BatchLoss.Predictions(evaluations))
    {
        public SteppedTrial[] Trials { get; } = trials;
        public int Partitions { get; } = partitions;

        public override ReadOnlySpan<int> SpikeCounts(int trial, Population population) =>
            Trials[trial].SpikeCounts[plan.SpikingIndex[population.Index]];
    }

    /// <inheritdoc />
    public SteppedForwardPass Forward(SteppedPlan plan, IReadOnlyList<SpikeSample> batch, int[] labels, ILoss loss, bool forBackward)
    {
        UsePlan(plan);
        int count = batch.Count;
        int partitions = Math.Min(Threads, count);
        var trials = RentTrials(count);
        RunForward(plan, batch, labels, loss, trials, forBackward ? SnapshotInterval(count, partitions) : 0);
        if (forBackward)
        {
            long stored = 0;
            for (int b = 0; b < count; b++)
            {
                var t = trials[b];
                foreach (var list in t.Spikes) stored += 12L * list.Count;
                stored += (long)t.SnapshotCount * (8L * plan.NeuronCount + 4 + 4L * plan.Spiking.Length);
            }
            StoredStateBytesPerTrial = (double)stored / count;
        }
        var evaluations = new LossEvaluation[count];
        for (int b = 0; b < count; b++) evaluations[b] = trials[b].Evaluation;
        return new CpuForwardPass(plan, trials, evaluations, partitions);
    }

    /// <inheritdoc />
    public void Backward(SteppedPlan plan, SteppedForwardPass forward, float[] regularizationJumps, ParameterSet gradient)
    {
        if (forward is not CpuForwardPass pass)
            throw new ArgumentException("The forward pass did not come from this provider.", nameof(forward));
        var trials = pass.Trials;
        int count = trials.Length, partitions = pass.Partitions;
        while (_buffers.Count < partitions) _buffers.Add(new GradientBuffer());
        var scale = 1.0 / count;
        Run(partitions, part =>
        {
            var buffer = _buffers[part];
            buffer.Reset(plan);
            var ws = RentWorkspace(plan);
            var drive = new ReadoutDrive();
            try
            {
                int from = part * count / partitions, to = (part + 1) * count / partitions;
                for (int b = from; b < to; b++)
                {
                    drive.Prepare(trials[b].Evaluation.Drive.Scaled(scale), plan, trials[b].ImpulseSlopes);
                    BackwardTrial(plan, trials[b], ws, drive, buffer, regularizationJumps);
                }
            }
            finally
            {
                ReturnWorkspace(ws);
            }
        });
        Reduce(plan, gradient, partitions);
    }

    /// <summary>Runs the forward pass of one trial (for <see cref="SteppedEngine.Simulate"/>).</summary>
    public SteppedSimulation Simulate(SteppedPlan plan, SpikeSample sample)
    {
        UsePlan(plan);
        var trial = new SteppedTrial();
        var ws = RentWorkspace(plan);
        try
        {
            trial.Reset(plan, sample, sample.Label, 0);
            ForwardTrial(plan, trial, ws, 0);
            return new SteppedSimulation(plan, trial, ws);
        }
        finally
        {
            ReturnWorkspace(ws);
        }
    }

    /// <summary>Drops the workspaces of an earlier plan (a plan of another shape needs other buffers).</summary>
    private void UsePlan(SteppedPlan plan)
    {
        if (ReferenceEquals(plan, _workspacePlan)) return;
        lock (_workspaces) _workspaces.Clear();
        foreach (var group in plan.Outgoings)
            foreach (var o in group)
            {
                o.TransportMisindexed = TransportMisindexed;
                o.DelayGradientUnweighted = DelayGradientUnweighted;
                o.DelayedAdjointAtEmission = DelayedAdjointAtEmission;
            }
        _workspacePlan = plan;
    }

    /// <summary>Longest replay segment (steps): keeps the per-thread segment buffer in cache next to the weight rows.</summary>
    private const int SegmentLimit = 256;

    private int SnapshotInterval(int trials, int partitions)
    {
        // Snapshots (N/K per trial) and segment buffers (K per thread) balance at K = √(N·B/P).
        double k = Math.Sqrt((double)Steps * trials / partitions);
        return (int)Math.Clamp(Math.Ceiling(k), Math.Min(16, Steps), Math.Min(SegmentLimit, Steps));
    }

    private SteppedTrial[] RentTrials(int count)
    {
        while (_trials.Count < count) _trials.Add(new SteppedTrial());
        return _trials.GetRange(0, count).ToArray();
    }

    private SteppedWorkspace RentWorkspace(SteppedPlan plan)
    {
        lock (_workspaces)
            if (_workspaces.Count > 0) return _workspaces.Pop();
        return new SteppedWorkspace(plan);
    }

    private void ReturnWorkspace(SteppedWorkspace ws)
    {
        lock (_workspaces) _workspaces.Push(ws);
    }

    private void Run(int count, Action<int> body)
    {
        if (count == 1 || Threads == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Threads }, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    private void RunForward(SteppedPlan plan, IReadOnlyList<SpikeSample> batch, int[] labels, ILoss loss, SteppedTrial[] trials, int snapshotInterval)
    {
        Run(batch.Count, b =>
        {
            var ws = RentWorkspace(plan);
            try
            {
                var trial = trials[b];
                trial.Reset(plan, batch[b], labels[b], snapshotInterval);
                ForwardTrial(plan, trial, ws, b);
                var trace = new SteppedReadoutTrace(ws.TraceV, ws.TraceI, plan.ReadoutRates(true), plan.ReadoutRates(false), Dt, Steps,
                    ReadoutSpikeTimes(plan, trial));
                trial.Evaluation = loss.Evaluate(trace, labels[b]);
                trial.ImpulseSlopes = ReadoutDrive.ImpulseSlopes(trial.Evaluation.Drive, trace, plan);
                if (trial.Evaluation.Outputs.Length != plan.ReadoutSize || !double.IsFinite(trial.Evaluation.Value))
                    BatchLoss.CheckEvaluation(loss, trial.Evaluation, plan.ReadoutSize, b);
            }
            finally
            {
                ReturnWorkspace(ws);
            }
        });
    }

    internal static double[][] ReadoutSpikeTimes(SteppedPlan plan, SteppedTrial trial)
    {
        var result = new double[plan.ReadoutSize][];
        int s = plan.Network.Readout.IsSpiking ? plan.SpikingIndex[plan.Network.Readout.Index] : -1;
        if (s < 0)
        {
            Array.Fill(result, []);
            return result;
        }
        var counts = trial.SpikeCounts[s];
        for (int j = 0; j < result.Length; j++) result[j] = new double[counts[j]];
        var fill = new int[result.Length];
        var list = trial.Spikes[s];
        for (int i = 0; i < list.Count; i++)
        {
            int j = list.Neurons[i];
            result[j][fill[j]++] = NeuronStepFunctions.SpikeTime(list.Steps[i], plan.Dt);
        }
        return result;
    }

    private void Reduce(SteppedPlan plan, ParameterSet gradient, int partitions)
    {
        foreach (int param in plan.GradientParameters)
        {
            var dst = gradient[param].Values;
            Run(Math.Min(Threads, Math.Max(1, dst.Length / 65536)), chunk =>
            {
                int chunks = Math.Min(Threads, Math.Max(1, dst.Length / 65536));
                int from = (int)((long)chunk * dst.Length / chunks), to = (int)((long)(chunk + 1) * dst.Length / chunks);
                for (int p = 0; p < partitions; p++)
                {
                    var src = _buffers[p].Weights[param]!;
                    for (int i = from; i < to; i++) dst[i] += src[i];
                }
            });
        }
        foreach (var pop in plan.Populations)
        {
            var tm = gradient[pop.TauMemParameter].Values;
            var ts = gradient[pop.TauSynParameter].Values;
            for (int p = 0; p < partitions; p++)
            {
                var b = _buffers[p];
                for (int i = 0; i < pop.Size; i++)
                {
                    tm[i] += b.TauMem[pop.Offset + i];
                    ts[i] += b.TauSyn[pop.Offset + i];
                }
            }
        }
    }
}
