using System.Runtime.ExceptionServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Pipeline;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Simulation.Stepped.Backend;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Eventprop.Gpu;

/// <summary>The forward pass of <see cref="IlgpuSteppedBackend"/> (the ILGPU provider of <see cref="GpuSteppedEngine"/>) and the host-side loss evaluation.</summary>
internal sealed partial class IlgpuSteppedBackend
{
    /// <summary>What the forward pass leaves for the loss and the backward pass.</summary>
    private sealed class ForwardRun(double[] values, int[] predictions) : SteppedForwardPass(values, predictions)
    {
        public required SteppedPlan Plan { get; init; }
        public required KernelViews Views { get; init; }
        public required KernelDims Dims { get; init; }
        public required int[] SpikeEnd { get; init; }
        public required int[] SpikeNeuron { get; init; }
        /// <summary>Spikes per trial and neuron (trial-major).</summary>
        public required int[] NeuronCounts { get; init; }
        public required float[] TraceV { get; init; }
        public required float[] TraceI { get; init; }
        public required LossEvaluation[] Evaluations { get; init; }
        public required double[][] ImpulseSlopes { get; init; }
        /// <summary>Set when the loss was evaluated on the device (sum, sum_exp): its drive is built there too.</summary>
        public LossViews? DeviceLoss { get; init; }

        public override ReadOnlySpan<int> SpikeCounts(int trial, Population population) =>
            NeuronCounts.AsSpan(trial * Dims.Neurons + Plan.PopulationOffset[population.Index], population.Size);
    }

    private int StepOf(double time)
    {
        double x = Math.Floor(time / Dt + 0.5);
        return x >= Steps ? Steps : (int)x;
    }

    /// <inheritdoc />
    public SteppedForwardPass Forward(SteppedPlan plan, IReadOnlyList<SpikeSample> batch, int[] labels, ILoss loss, bool forBackward)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int B = batch.Count, N = Steps, n = plan.NeuronCount, R = plan.ReadoutSize, inputs = plan.InputSize;

        // Binned inputs: channels in time order, and per trial and step the first input at that step or later.
        var inputStart = new int[B * (N + 1)];
        var channels = new List<int>();
        for (int b = 0; b < B; b++)
        {
            var times = batch[b].Times;
            var ch = batch[b].Channels;
            int q = 0;
            for (int k = 0; k <= N; k++)
            {
                inputStart[b * (N + 1) + k] = channels.Count;
                if (k == N) break;
                while (q < times.Length && StepOf(times[q]) == k) channels.Add(ch[q++]);
            }
        }

        // Network constants.
        var spikingPopulation = new int[n];
        Array.Fill(spikingPopulation, -1);
        for (int s = 0; s < plan.Spiking.Length; s++)
            for (int i = 0; i < plan.Spiking[s].Size; i++) spikingPopulation[plan.Spiking[s].Offset + i] = s;
        var caps = plan.Spiking.Select(p => MaxSpikesPerNeuron is int m ? (int)Math.Min(int.MaxValue, (long)m * p.Size) : int.MaxValue).ToArray();
        var connections = CompileConnections(plan.Network, plan);
        var (records, weights) = (connections.Records, connections.Weights);

        if (_capacity == 0) _capacity = Math.Max(64, 4 * n);
        var dims = new KernelDims
        {
            Trials = B, Neurons = n, Inputs = inputs, Connections = records.Length, WeightCount = weights.Length, ConvolutionWeights = connections.ConvolutionWeights, Readout = R, ReadoutOffset = plan.ReadoutOffset, Steps = N,
            Populations = Math.Max(1, plan.Spiking.Length), MinSlope = (float)MinimumThresholdSlope,
            SlopeAtGridPoint = SlopeAtGridPoint ? 1 : 0, Tau = TimeConstantGradients ? 1 : 0, Dt = Dt,
        };
        // Snapshots every K ≈ √N grid points and one K-step segment buffer balance at K = √N: state memory O(√N), not O(N).
        dims.Interval = Math.Clamp((int)Math.Ceiling(Math.Sqrt(N)), 1, N);
        dims.Snapshots = (N - 1) / dims.Interval + 1;
        var stream = _accelerator.DefaultStream;
        while (true)
        {
            dims.Capacity = _capacity;
            long bn = (long)B * n, snapshots = (long)B * dims.Snapshots * n, segment = (long)B * (dims.Interval + 1) * n, trace = (long)B * R * (N + 1), slots = (long)B * _capacity;
            var w = new KernelViews
            {
                DecayMem = Upload("DecayMem", plan.DecayMem),
                DecaySyn = Upload("DecaySyn", plan.DecaySyn),
                CurrentToVoltage = Upload("CurrentToVoltage", plan.CurrentToVoltage),
                AdjointVoltageToCurrent = Upload("AdjointVoltageToCurrent", plan.AdjointVoltageToCurrent),
                TauSyn = Upload("TauSyn", plan.TauSynF),
                GradPsi = Upload("GradPsi", plan.GradPsi),
                GradDtDecayMem = Upload("GradDtDecayMem", plan.GradDtDecayMem),
                GradMemPsi3 = Upload("GradMemPsi3", plan.GradMemPsi3),
                GradDtDecaySyn = Upload("GradDtDecaySyn", plan.GradDtDecaySyn),
                GradSynPsi3 = Upload("GradSynPsi3", plan.GradSynPsi3),
                RateMem = Upload("RateMem", plan.RateMem),
                RateSyn = Upload("RateSyn", plan.RateSyn),
                DecayMemExact = Upload("DecayMemExact", plan.DecayMemExact),
                DecaySynExact = Upload("DecaySynExact", plan.DecaySynExact),
                CurrentToVoltageExact = Upload("CurrentToVoltageExact", plan.CurrentToVoltageExact),
                SpikingPopulation = Upload("SpikingPopulation", spikingPopulation),
                PopulationCap = Upload("PopulationCap", caps.Length == 0 ? [int.MaxValue] : caps),
                Models = Upload("Models", plan.Spiking.Length == 0 ? [default(NeuronStep)] : plan.Spiking.Select(p => p.Step).ToArray()),
                RegularizationJump = Buffer<float>("RegularizationJump", n),
                Connection = Upload("Connection", records.Length == 0 ? [default(ConnectionRecord)] : records),
                Weights = Upload("Weights", weights),
                SparseRowStarts = Upload("SparseRowStarts", connections.SparseRowStarts.Length == 0 ? [0] : connections.SparseRowStarts),
                SparseTargets = Upload("SparseTargets", connections.SparseTargets.Length == 0 ? [0] : connections.SparseTargets),
                InputChannel = Upload("InputChannel", channels.Count == 0 ? [0] : channels.ToArray()),
                InputStart = Upload("InputStart", inputStart),
                V = Buffer<float>("V", bn),
                I = Buffer<float>("I", bn),
                SnapshotV = Buffer<float>("SnapshotV", snapshots),
                SnapshotI = Buffer<float>("SnapshotI", snapshots),
                SegmentV = Buffer<float>("SegmentV", TimeConstantGradients ? segment : 1),
                SegmentI = Buffer<float>("SegmentI", TimeConstantGradients ? segment : 1),
                TraceV = Buffer<float>("TraceV", trace),
                TraceI = Buffer<float>("TraceI", trace),
                Crossed = Buffer<int>("Crossed", bn),
                CrossSlope = Buffer<float>("CrossSlope", bn),
                SpikeNeuron = Buffer<int>("SpikeNeuron", slots),
                SpikeSlope = Buffer<float>("SpikeSlope", slots),
                SpikeEnd = Buffer<int>("SpikeEnd", (long)B * (N + 1)),
                SpikeTotal = Buffer<int>("SpikeTotal", B),
                SpikeCounts = Buffer<int>("SpikeCounts", bn),
                PopulationCounts = Buffer<int>("PopulationCounts", (long)B * dims.Populations),
                CapError = Buffer<int>("CapError", 2L * B),
                LambdaV = Buffer<float>("LambdaV", bn),
                LambdaI = Buffer<float>("LambdaI", bn),
                Jump = Buffer<float>("Jump", bn),
                TauMemSum = Buffer<double>("TauMemSum", bn),
                TauSynSum = Buffer<double>("TauSynSum", bn),
                SpikeTimeTerm = Buffer<double>("SpikeTimeTerm", slots),
                DriveV = Buffer<float>("DriveV", (long)B * N * R),
                DriveI = Buffer<float>("DriveI", (long)B * N * R),
                ImpulseV = Buffer<float>("ImpulseV", (long)B * (N + 1) * R),
                ImpulseI = Buffer<float>("ImpulseI", (long)B * (N + 1) * R),
                TrialGradient = Buffer<float>("TrialGradient", B * dims.WeightCount),
                Gradient = Buffer<float>("Gradient", dims.WeightCount),
            };
            w.V.MemSetToZero(stream);
            w.I.MemSetToZero(stream);
            w.Crossed.MemSetToZero(stream);
            w.SpikeCounts.MemSetToZero(stream);
            w.SpikeTotal.MemSetToZero(stream);
            w.SpikeEnd.MemSetToZero(stream);
            w.PopulationCounts.MemSetToZero(stream);
            w.CapError.MemSetToZero(stream);

            var grid = new Index2D(n, B);
            if (PersistentKernels) _forwardTrials(new KernelConfig(B, GroupSize(n)), w, dims);
            else
            {
                _deliver(grid, w, dims, 0, -1);
                for (int kk = 1; kk <= N; kk++)
                {
                    _stepAndDetect(grid, w, dims, kk, -1);
                    _compact(B, w, dims, kk);
                    _deliver(grid, w, dims, kk, -1);
                }
            }
            stream.Synchronize();

            var capError = Download(w.CapError, 2L * B);
            for (int b = 0; b < B; b++)
                if (capError[2 * b] != 0)
                    throw new SpikeBufferLimitException(plan.Spiking[capError[2 * b] - 1].Population.Name, b, MaxSpikesPerNeuron!.Value, capError[2 * b + 1] * Dt);
            var totals = Download(w.SpikeTotal, B);
            int most = totals.Max();
            if (most > _capacity)
            {
                // The spike lists were too short: grow them and run the forward pass again (never drop a spike).
                _capacity = checked(most + most / 4 + 16);
                continue;
            }

            var counts = Download(w.SpikeCounts, bn);
            if (DeviceLosses && DeviceLossRate(loss, out double rate))
            {
                // sum / sum_exp on the device: only the losses and outputs come back (and the per-step spike offsets when
                // the per-phase backward needs them for its launch widths).
                var l = LossOnDevice(plan, dims, w, labels, rate);
                var values = Download(l.Values, B);
                var outputs = Download(l.Outputs, (long)B * R);
                var predictions = new int[B];
                for (int b = 0; b < B; b++)
                {
                    BatchLoss.CheckValue(loss, values[b], b);
                    int best = 0;
                    for (int k = 1; k < R; k++)
                        if (outputs[b * R + k] > outputs[b * R + best]) best = k;
                    predictions[b] = best;
                }
                return new ForwardRun(values, predictions)
                {
                    Plan = plan, Views = w, Dims = dims, NeuronCounts = counts,
                    SpikeEnd = PersistentKernels ? [] : Download(w.SpikeEnd, (long)B * (N + 1)), SpikeNeuron = [],
                    TraceV = [], TraceI = [], Evaluations = [], ImpulseSlopes = [], DeviceLoss = l,
                };
            }

            var spikeEnd = Download(w.SpikeEnd, (long)B * (N + 1));
            var spikeNeuron = Download(w.SpikeNeuron, slots);
            var traceV = Download(w.TraceV, trace);
            var traceI = Download(w.TraceI, trace);
            var evaluations = new LossEvaluation[B];
            var impulseSlopes = new double[B][];
            var rateMem = plan.ReadoutRates(true);
            var rateSyn = plan.ReadoutRates(false);
            Parallel(B, b =>
            {
                int len = R * (N + 1);
                var tv = traceV.AsSpan(b * len, len).ToArray();
                var ti = traceI.AsSpan(b * len, len).ToArray();
                var readoutTrace = new SteppedReadoutTrace(tv, ti, rateMem, rateSyn, Dt, N, ReadoutSpikeTimes(plan, b, spikeEnd, spikeNeuron, counts));
                var e = loss.Evaluate(readoutTrace, labels[b]);
                BatchLoss.CheckEvaluation(loss, e, R, b);
                evaluations[b] = e;
                impulseSlopes[b] = ReadoutDrive.ImpulseSlopes(e.Drive, readoutTrace, plan);
            });

            return new ForwardRun(evaluations.Select(e => e.Value).ToArray(), BatchLoss.Predictions(evaluations))
            {
                Plan = plan, Views = w, Dims = dims, SpikeEnd = spikeEnd, SpikeNeuron = spikeNeuron, NeuronCounts = counts,
                TraceV = traceV, TraceI = traceI, Evaluations = evaluations, ImpulseSlopes = impulseSlopes,
            };
        }
    }

    private double[][] ReadoutSpikeTimes(SteppedPlan plan, int b, int[] spikeEnd, int[] spikeNeuron, int[] counts)
    {
        int R = plan.ReadoutSize, ro = plan.ReadoutOffset, N = Steps, n = plan.NeuronCount;
        var result = new double[R][];
        if (!plan.Network.Readout.IsSpiking)
        {
            Array.Fill(result, []);
            return result;
        }
        for (int j = 0; j < R; j++) result[j] = new double[counts[b * n + ro + j]];
        var fill = new int[R];
        for (int k = 1; k <= N; k++)
            for (int p = spikeEnd[b * (N + 1) + k - 1]; p < spikeEnd[b * (N + 1) + k]; p++)
            {
                int j = spikeNeuron[b * _capacity + p] - ro;
                if (j >= 0 && j < R) result[j][fill[j]++] = NeuronStepFunctions.SpikeTime(k, Dt);
            }
        return result;
    }

    private static void Parallel(int count, Action<int> body)
    {
        try
        {
            System.Threading.Tasks.Parallel.For(0, count, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }
}
