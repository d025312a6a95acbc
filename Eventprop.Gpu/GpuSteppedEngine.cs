using System.Runtime.ExceptionServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Simulation.Stepped.Backend;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Eventprop.Gpu;

/// <summary>Where <see cref="GpuSteppedEngine"/> runs its kernels.</summary>
public enum GpuDevice
{
    /// <summary>The first CUDA GPU.</summary>
    Cuda,

    /// <summary>ILGPU's CPU accelerator: the same kernels, emulated on the CPU (slow; for tests and machines without a GPU).</summary>
    IlgpuCpu,
}

/// <summary>
/// The batched time-stepped Eventprop engine on an ILGPU accelerator (CUDA, or ILGPU's CPU accelerator): the algorithm of
/// <see cref="SteppedEngine"/> (same grid, propagators, spike records, jumps, loss drives and τ gradients; float32), with the
/// forward pass and the Eventprop backward pass as kernels over trial × neuron.
/// </summary>
/// <remarks>
/// <para><b>Forward.</b> Per grid point three kernels: advance every neuron and check the threshold (recording I − ϑ at
/// the in-step crossing and resetting), append the step's spikes of each trial to its spike list in neuron order (one
/// thread per trial, so the order is fixed), and deliver the step's hidden then input spikes (sparse: one weight row per
/// spike) and record the state. The whole minibatch runs on the device without a host round trip per step.</para>
/// <para><b>Loss.</b> After the forward pass the readout trajectory and the spike lists are copied back once; losses
/// (any <see cref="ILoss"/>, custom ones included) are evaluated on the host and their adjoint drives are turned into
/// per-step additive terms, impulses and per-spike ∂L/∂t, which are uploaded once. One round trip per batch.</para>
/// <para><b>Backward.</b> Per grid point: loss impulses and dL/dW −= τs·λI rows (threads over post neurons), the Eventprop
/// jumps (one thread per spike of the step), then the jumps are applied and the adjoints stepped back with the closed-form
/// τ integrals. Every trial accumulates into its own gradient buffer; the buffers are summed on the device in trial
/// order (no atomics), so the result is reproducible.</para>
/// <para><b>Memory.</b> The forward pass keeps a state snapshot every K ≈ √N grid points; the backward pass recomputes one
/// K-step segment at a time from its snapshot and the recorded spikes (bit-identical to the forward pass) for the τ
/// integrals, so neuron state takes O(B·n·√N), not O(B·n·N). Spike lists grow with the spikes (a forward pass that
/// overflows them is rerun with more room: no spike is ever dropped). What still grows with N is per readout neuron
/// (trace and loss drive: B·R·N floats) or per step (spike and input offsets: B·N ints). <see cref="DeviceMemoryBytes"/>
/// reports what is allocated.</para>
/// </remarks>
public sealed class GpuSteppedEngine : IGradientEngine, IDisposable
{
    private readonly Lock _sync = new();
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly Action<Index2D, KernelViews, KernelDims, int, int> _deliver, _stepAndDetect, _resetSpikes, _restore, _events, _transport, _stepBack;
    private readonly Action<Index1D, KernelViews, KernelDims, int> _compact;
    private readonly Action<Index1D, KernelViews, KernelDims> _reduce;
    private readonly Action<KernelConfig, KernelViews, KernelDims> _forwardTrials, _backwardTrials;
    private readonly Action<Index2D, KernelViews, LossViews, KernelDims> _lossIntegrate, _lossDrive;
    private readonly Action<Index1D, KernelViews, LossViews, KernelDims> _lossCrossEntropy;
    private readonly Dictionary<string, MemoryBuffer> _buffers = [];
    private SteppedPlan? _plan;
    private int _capacity;
    private bool _disposed;

    /// <summary>Creates an engine on <paramref name="device"/> with step <paramref name="dt"/> for trials of <paramref name="duration"/> ms.</summary>
    /// <param name="device">Where the kernels run.</param>
    /// <param name="dt">Time step in ms (as <see cref="SteppedEngine"/>).</param>
    /// <param name="duration">Trial length T in ms.</param>
    /// <param name="maxSpikesPerNeuron">Optional cap, as <see cref="SteppedEngine"/>: exceeding it throws <see cref="SpikeBufferLimitException"/>.</param>
    /// <param name="timeConstantGradients">Whether to compute dL/dτm and dL/dτs.</param>
    /// <param name="minimumThresholdSlope">Lower bound on the recorded I − V used as the jump's divisor.</param>
    /// <param name="slopeAtGridPoint">Record I − V at the grid point instead of I − ϑ at the in-step crossing.</param>
    /// <param name="persistentKernels">Run each pass of a minibatch as one launch (a thread group per trial, group barriers
    /// between the phases of a grid point; default) instead of one launch per phase and grid point. Same arithmetic, same
    /// results bit for bit; the per-phase launches are the fallback.</param>
    /// <param name="deviceLosses">Evaluate <c>sum</c> and <c>sum_exp</c> and build their drives on the device, so only losses and
    /// outputs come back (default); other losses, and all losses when false, are evaluated on the host from the readout trace.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <exception cref="InvalidOperationException">CUDA was asked for but no CUDA device is present.</exception>
    public GpuSteppedEngine(GpuDevice device, double dt, double duration, int? maxSpikesPerNeuron = null,
        bool timeConstantGradients = true, double minimumThresholdSlope = 1e-3, bool slopeAtGridPoint = false, bool persistentKernels = true,
        bool deviceLosses = true)
    {
        // The CPU engine validates the settings with the same rules and messages.
        var settings = new SteppedEngine(dt, duration, 1, maxSpikesPerNeuron, timeConstantGradients, minimumThresholdSlope, slopeAtGridPoint);
        Dt = settings.Dt;
        Duration = settings.Duration;
        Steps = settings.Steps;
        MaxSpikesPerNeuron = maxSpikesPerNeuron;
        TimeConstantGradients = timeConstantGradients;
        MinimumThresholdSlope = minimumThresholdSlope;
        SlopeAtGridPoint = slopeAtGridPoint;
        PersistentKernels = persistentKernels;
        DeviceLosses = deviceLosses;
        Device = device;

        _context = Context.Create(b => b.Cuda().CPU().EnableAlgorithms());
        try
        {
            if (device == GpuDevice.Cuda)
            {
                var cuda = _context.GetCudaDevices();
                if (cuda.Count == 0) throw new InvalidOperationException(NoCudaMessage);
                _accelerator = cuda[0].CreateAccelerator(_context);
            }
            else
            {
                _accelerator = _context.GetCPUDevice(0).CreateAccelerator(_context);
            }
            _deliver = _accelerator.LoadAutoGroupedStreamKernel<Index2D, KernelViews, KernelDims, int, int>(SteppedKernels.Deliver);
            _stepAndDetect = _accelerator.LoadAutoGroupedStreamKernel<Index2D, KernelViews, KernelDims, int, int>(SteppedKernels.StepAndDetect);
            _resetSpikes = _accelerator.LoadAutoGroupedStreamKernel<Index2D, KernelViews, KernelDims, int, int>(SteppedKernels.ResetSpikes);
            _restore = _accelerator.LoadAutoGroupedStreamKernel<Index2D, KernelViews, KernelDims, int, int>(SteppedKernels.Restore);
            _compact = _accelerator.LoadAutoGroupedStreamKernel<Index1D, KernelViews, KernelDims, int>(SteppedKernels.Compact);
            _events = _accelerator.LoadAutoGroupedStreamKernel<Index2D, KernelViews, KernelDims, int, int>(SteppedKernels.Events);
            _transport = _accelerator.LoadAutoGroupedStreamKernel<Index2D, KernelViews, KernelDims, int, int>(SteppedKernels.Transport);
            _stepBack = _accelerator.LoadAutoGroupedStreamKernel<Index2D, KernelViews, KernelDims, int, int>(SteppedKernels.StepBack);
            _reduce = _accelerator.LoadAutoGroupedStreamKernel<Index1D, KernelViews, KernelDims>(SteppedKernels.Reduce);
            _forwardTrials = _accelerator.LoadStreamKernel<KernelViews, KernelDims>(SteppedKernels.ForwardTrials);
            _backwardTrials = _accelerator.LoadStreamKernel<KernelViews, KernelDims>(SteppedKernels.BackwardTrials);
            _lossIntegrate = _accelerator.LoadAutoGroupedStreamKernel<Index2D, KernelViews, LossViews, KernelDims>(LossKernels.Integrate);
            _lossDrive = _accelerator.LoadAutoGroupedStreamKernel<Index2D, KernelViews, LossViews, KernelDims>(LossKernels.Drive);
            _lossCrossEntropy = _accelerator.LoadAutoGroupedStreamKernel<Index1D, KernelViews, LossViews, KernelDims>(LossKernels.CrossEntropy);
        }
        catch
        {
            _accelerator?.Dispose();
            _context.Dispose();
            throw;
        }
    }

    /// <summary>The one-line message for a CUDA request on a machine without a CUDA device.</summary>
    public const string NoCudaMessage = "No CUDA device found: the GPU engine needs an NVIDIA GPU with a CUDA driver; use --device cpu (or ilgpu-cpu to run the kernels on the CPU).";

    /// <summary>Whether a CUDA device is present (false when the driver is missing or fails to load).</summary>
    public static bool CudaAvailable()
    {
        try
        {
            using var context = Context.Create(b => b.Cuda());
            return context.GetCudaDevices().Count > 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return false;
        }
    }

    /// <summary>Whether <c>sum</c> and <c>sum_exp</c> are evaluated on the device (see the constructor).</summary>
    public bool DeviceLosses { get; }

    /// <summary>Whether each pass runs as one launch with a thread group per trial (see the constructor).</summary>
    public bool PersistentKernels { get; }

    /// <summary>The device the kernels run on.</summary>
    public GpuDevice Device { get; }

    /// <summary>Name of the accelerator (e.g. the GPU's model).</summary>
    public string DeviceName => _accelerator.Name;

    /// <summary>Bytes of device memory this engine holds (its buffers, grown to the largest batch so far).</summary>
    public long DeviceMemoryBytes
    {
        get
        {
            lock (_sync) return _buffers.Values.Sum(b => b.LengthInBytes);
        }
    }

    /// <summary>Spike slots per trial on the device (grown when a forward pass overflows them; settable for tests).</summary>
    internal int SpikeSlots
    {
        get => _capacity;
        set => _capacity = value;
    }

    /// <summary>Time step (ms).</summary>
    public double Dt { get; }

    /// <inheritdoc />
    public double Duration { get; }

    /// <summary>Number of steps N = T/dt.</summary>
    public int Steps { get; }

    /// <summary>The optional per-neuron spike cap per trial (null: none).</summary>
    public int? MaxSpikesPerNeuron { get; }

    /// <summary>Whether dL/dτ is computed.</summary>
    public bool TimeConstantGradients { get; }

    /// <summary>Lower bound on the recorded I − V used as the jump divisor.</summary>
    public double MinimumThresholdSlope { get; }

    /// <summary>Whether spikes record I − V at the grid point instead of I − ϑ at the in-step crossing.</summary>
    public bool SlopeAtGridPoint { get; }

    /// <inheritdoc />
    public EvaluationResult Evaluate(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        lock (_sync)
        {
            var run = Forward(network, batch, loss);
            return new EvaluationResult(run.MeanLoss, run.Predictions, run.Labels, run.HiddenCounts);
        }
    }

    /// <inheritdoc />
    public GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization = null)
    {
        regularization?.Validate();
        lock (_sync)
        {
            var run = Forward(network, batch, loss);
            var gradient = Backward(network, run, regularization);
            return new GradientResult(run.MeanLoss, run.Predictions, run.Labels, run.HiddenCounts, gradient);
        }
    }

    /// <summary>Frees the device buffers, the accelerator and the ILGPU context.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var b in _buffers.Values) b.Dispose();
            _buffers.Clear();
            _accelerator.Dispose();
            _context.Dispose();
        }
    }

    // ------------------------------------------------------------------ buffers

    private ArrayView<T> Buffer<T>(string name, long length) where T : unmanaged
    {
        length = Math.Max(1, length);
        if (_buffers.TryGetValue(name, out var existing))
        {
            if (existing is MemoryBuffer1D<T, Stride1D.Dense> typed && typed.Length >= length) return typed.View.SubView(0, length);
            existing.Dispose();
            _buffers.Remove(name);
        }
        var buffer = _accelerator.Allocate1D<T>(length);
        _buffers[name] = buffer;
        return buffer.View;
    }

    private ArrayView<T> Upload<T>(string name, T[] data) where T : unmanaged
    {
        var view = Buffer<T>(name, data.Length);
        if (data.Length > 0) view.SubView(0, data.Length).CopyFromCPU(data);
        return view;
    }

    private static T[] Download<T>(ArrayView<T> view, long length) where T : unmanaged
    {
        var data = new T[length];
        if (length > 0) view.SubView(0, length).CopyToCPU(data);
        return data;
    }

    // ------------------------------------------------------------------ forward

    /// <summary>What the forward pass leaves for the loss and the backward pass.</summary>
    private sealed class ForwardRun
    {
        public required SteppedPlan Plan { get; init; }
        public required KernelViews Views { get; init; }
        public required KernelDims Dims { get; init; }
        public required int[] Labels { get; init; }
        public required int[] SpikeEnd { get; init; }
        public required int[] SpikeNeuron { get; init; }
        public required int[] SpikeCounts { get; init; }
        public required float[] TraceV { get; init; }
        public required float[] TraceI { get; init; }
        public required LossEvaluation[] Evaluations { get; init; }
        public required double[][] ImpulseSlopes { get; init; }
        public required Dictionary<string, long[]> HiddenCounts { get; init; }
        public required double[] Values { get; init; }
        public required int[] Predictions { get; init; }
        /// <summary>Set when the loss was evaluated on the device (sum, sum_exp): its drive is built there too.</summary>
        public LossViews? DeviceLoss { get; init; }

        public double MeanLoss
        {
            get
            {
                double sum = 0;
                foreach (double v in Values) sum += v;
                return sum / Values.Length;
            }
        }
    }

    private SteppedPlan PreparePlan(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        network.Validate();
        if (_plan is null || !_plan.Fits(network, Dt, Steps)) _plan = new SteppedPlan(network, Dt, Steps);
        _plan.Refresh(network);
        return _plan;
    }

    private int StepOf(double time)
    {
        double x = Math.Floor(time / Dt + 0.5);
        return x >= Steps ? Steps : (int)x;
    }

    private ForwardRun Forward(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(loss);
        if (batch.Count == 0) throw new ArgumentException("The batch is empty; pass at least one sample.", nameof(batch));
        var plan = PreparePlan(network);
        bool spikingReadout = network.Readout.IsSpiking;
        if (loss.Readout == ReadoutKind.Spiking && !spikingReadout)
            throw new ArgumentException($"Loss '{loss.Name}' needs a spiking readout but '{network.Readout.Name}' is a leaky integrator; build it with Readout(..., spiking: true).");
        if (loss.Readout == ReadoutKind.LeakyIntegrator && spikingReadout)
            throw new ArgumentException($"Loss '{loss.Name}' reads readout voltages but '{network.Readout.Name}' is spiking; build it with Readout(..., spiking: false).");
        int B = batch.Count, N = Steps, n = plan.NeuronCount, R = plan.ReadoutSize, inputs = plan.InputSize;
        var labels = new int[B];
        for (int b = 0; b < B; b++)
        {
            var s = batch[b] ?? throw new ArgumentException($"Sample {b} of the batch is null.", nameof(batch));
            if (s.Label < 0 || s.Label >= network.Readout.Size)
                throw new ArgumentException($"Sample {b} of the batch has label {s.Label}, which is not a class of readout '{network.Readout.Name}' (0…{network.Readout.Size - 1}).", nameof(batch));
            if (s.MaxChannel >= inputs)
                throw new ArgumentException($"Sample {b} of the batch uses input channel {s.MaxChannel} but input '{network.Input.Name}' has {inputs} channels (0…{inputs - 1}); the data and the network's input size do not match.");
            labels[b] = s.Label;
        }

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
        var (records, weights) = CompileConnections(network, plan);

        if (_capacity == 0) _capacity = Math.Max(64, 4 * n);
        var dims = new KernelDims
        {
            Trials = B, Neurons = n, Inputs = inputs, Connections = records.Length, WeightCount = weights.Length, Readout = R, ReadoutOffset = plan.ReadoutOffset, Steps = N,
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
            var hidden = new Dictionary<string, long[]>();
            foreach (var pop in network.Hidden)
            {
                var c = new long[pop.Size];
                int off = plan.PopulationOffset[pop.Index];
                for (int b = 0; b < B; b++)
                    for (int i = 0; i < pop.Size; i++) c[i] += counts[b * n + off + i];
                hidden[pop.Name] = c;
            }

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
                    if (!double.IsFinite(values[b]))
                        throw new InvalidOperationException($"Loss '{loss.Name}' is {values[b]} on sample {b} of the batch; the readout voltages have probably diverged (lower the learning rate or check the weights).");
                    int best = 0;
                    for (int k = 1; k < R; k++)
                        if (outputs[b * R + k] > outputs[b * R + best]) best = k;
                    predictions[b] = best;
                }
                return new ForwardRun
                {
                    Plan = plan, Views = w, Dims = dims, Labels = labels, SpikeCounts = counts, HiddenCounts = hidden,
                    SpikeEnd = PersistentKernels ? [] : Download(w.SpikeEnd, (long)B * (N + 1)), SpikeNeuron = [],
                    TraceV = [], TraceI = [], Evaluations = [], ImpulseSlopes = [], Values = values, Predictions = predictions, DeviceLoss = l,
                };
            }

            var spikeEnd = Download(w.SpikeEnd, (long)B * (N + 1));
            var spikeNeuron = Download(w.SpikeNeuron, slots);
            var traceV = Download(w.TraceV, trace);
            var traceI = Download(w.TraceI, trace);
            var evaluations = new LossEvaluation[B];
            var impulseSlopes = new double[B][];
            var rateMem = SteppedEngine.ReadoutRates(plan, true);
            var rateSyn = SteppedEngine.ReadoutRates(plan, false);
            Parallel(B, b =>
            {
                int len = R * (N + 1);
                var tv = traceV.AsSpan(b * len, len).ToArray();
                var ti = traceI.AsSpan(b * len, len).ToArray();
                var readoutTrace = new SteppedReadoutTrace(tv, ti, rateMem, rateSyn, Dt, N, ReadoutSpikeTimes(plan, b, spikeEnd, spikeNeuron, counts));
                var e = loss.Evaluate(readoutTrace, labels[b]);
                if (!double.IsFinite(e.Value))
                    throw new InvalidOperationException($"Loss '{loss.Name}' is {e.Value} on sample {b} of the batch; the readout voltages have probably diverged (lower the learning rate or check the weights).");
                if (e.Outputs.Length != R)
                    throw new InvalidOperationException($"Loss '{loss.Name}' returned {e.Outputs.Length} outputs but the readout has {R} neurons.");
                evaluations[b] = e;
                impulseSlopes[b] = ReadoutDrive.ImpulseSlopes(e.Drive, readoutTrace, plan);
            });

            return new ForwardRun
            {
                Plan = plan, Views = w, Dims = dims, Labels = labels, SpikeEnd = spikeEnd, SpikeNeuron = spikeNeuron, SpikeCounts = counts,
                TraceV = traceV, TraceI = traceI, Evaluations = evaluations, ImpulseSlopes = impulseSlopes, HiddenCounts = hidden,
                Values = evaluations.Select(e => e.Value).ToArray(), Predictions = evaluations.Select(e => e.Prediction).ToArray(),
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

    // ------------------------------------------------------------------ backward

    private ParameterSet Backward(Network network, ForwardRun run, ActivityRegularization? regularization)
    {
        var plan = run.Plan;
        var w = run.Views;
        var dims = run.Dims;
        int B = dims.Trials, N = Steps, n = plan.NeuronCount, R = plan.ReadoutSize, ro = plan.ReadoutOffset, C = dims.Capacity;
        bool tau = TimeConstantGradients;
        double dt = Dt;
        var stream = _accelerator.DefaultStream;

        var regJump = new float[n];
        if (regularization is { Strength: > 0 })
        {
            double tauReadout = network.TauMem(network.Readout.Name).Values.Average();
            foreach (var pop in plan.Populations.Where(p => !p.IsReadout))
            {
                if (!run.HiddenCounts.TryGetValue(pop.Population.Name, out var c)) continue;
                for (int i = 0; i < pop.Size; i++)
                    regJump[pop.Offset + i] = NeuronStepFunctions.RegularizationJump(tauReadout, regularization.Strength, regularization.TargetSpikes, c[i], B);
            }
        }

        // The loss drives as per-step additive terms, impulses per grid point and ∂L/∂t per spike (host, once per batch).
        var driveV = new float[(long)B * N * R];
        var driveI = new float[(long)B * N * R];
        var impulseV = new float[(long)B * (N + 1) * R];
        var impulseI = new float[(long)B * (N + 1) * R];
        var spikeTime = new double[(long)B * C];
        var driveTauMem = new double[B * R];
        var driveTauSyn = new double[B * R];
        double scale = 1.0 / B;
        int readoutSpiking = plan.Network.Readout.IsSpiking ? plan.SpikingIndex[plan.Network.Readout.Index] : -1;
        bool anyStepDrive = false, anyImpulse = false, anySpikeTerm = false;
        if (run.DeviceLoss is { } deviceLoss)
        {
            _lossDrive(new Index2D(R, B), w, deviceLoss, dims);
            anyStepDrive = true;
        }
        else Parallel(B, b =>
        {
            var drive = new ReadoutDrive();
            drive.Prepare(run.Evaluations[b].Drive.Scaled(scale), plan, run.ImpulseSlopes[b]);
            if (drive.HasStepDrive) anyStepDrive = true;
            if (drive.Impulses.Count > 0) anyImpulse = anySpikeTerm = true; // impulses may carry corner terms
            if (drive.HasSpikeTimeTerms) anySpikeTerm = true;
            int stride = N + 1, len = R * stride;
            if (drive.HasStepDrive)
            {
                var lv = new float[R];
                var li = new float[R];
                var vq = new float[R];
                var cq = new float[R];
                var volts = new double[R];
                var dStart = new double[R];
                var dEnd = new double[R];
                var scratch = new double[R];
                var tm = driveTauMem.AsSpan(b * R, R);
                var ts = driveTauSyn.AsSpan(b * R, R);
                for (int q = 0; q < N; q++)
                {
                    Array.Clear(lv);
                    Array.Clear(li);
                    for (int j = 0; j < R; j++)
                    {
                        vq[j] = run.TraceV[b * len + j * stride + q];
                        cq[j] = run.TraceI[b * len + j * stride + q];
                    }
                    if (drive.NeedsVoltages)
                    {
                        for (int j = 0; j < R; j++) volts[j] = run.TraceV[b * len + j * stride + q];
                        drive.EvaluateVoltageDrive(q * dt, volts, dStart, scratch);
                        for (int j = 0; j < R; j++) volts[j] = run.TraceV[b * len + j * stride + q + 1];
                        drive.EvaluateVoltageDrive((q + 1) * dt, volts, dEnd, scratch);
                    }
                    drive.ApplyStep(q * dt, lv, li, tau ? vq : default, tau ? cq : default,
                        drive.NeedsVoltages ? dStart : default, drive.NeedsVoltages ? dEnd : default, tm, ts, tau);
                    for (int j = 0; j < R; j++)
                    {
                        driveV[((long)b * N + q) * R + j] = lv[j];
                        driveI[((long)b * N + q) * R + j] = li[j];
                    }
                }
            }

            double[]? corner = null;
            int lastGrid = -1;
            foreach (var imp in drive.Impulses)
            {
                if (corner is not null && imp.Grid != lastGrid) AssignCorner(b, lastGrid, corner);
                lastGrid = imp.Grid;
                int g = ro + imp.Neuron;
                NeuronStepFunctions.Impulse(imp.DLossdV, plan.RateMem[g], plan.RateSyn[g], imp.Offset, out float dv, out float di);
                long idx = ((long)b * (N + 1) + imp.Grid) * R + imp.Neuron;
                impulseV[idx] += dv;
                impulseI[idx] += di;
                if (imp.CornerSlope != 0)
                {
                    corner ??= new double[R];
                    corner[imp.Neuron] += imp.DLossdV * imp.CornerSlope;
                }
            }

            if (readoutSpiking >= 0 && drive.HasSpikeTimeTerms)
            {
                var seen = new int[R];
                int total = run.SpikeEnd[b * stride + N];
                for (int p = 0; p < total; p++)
                {
                    int j = run.SpikeNeuron[b * C + p] - ro;
                    if (j >= 0 && j < R) spikeTime[(long)b * C + p] += drive.SpikeTimeTerm(j, seen[j]++);
                }
            }
            if (corner is not null) AssignCorner(b, lastGrid, corner);
        });

        void AssignCorner(int b, int k, double[] corner)
        {
            // As SteppedEngine.FindCornerSpikes: the spike of grid point k with the most negative weight onto each readout
            // neuron (populations in order, spikes latest-listed first, strict <) carries the corner term.
            if (k >= 1 && k <= N && corner.Any(c => c != 0))
            {
                int stride = N + 1;
                int from = run.SpikeEnd[b * stride + k - 1], to = run.SpikeEnd[b * stride + k];
                var best = new int[R];
                var bestWeight = new float[R];
                Array.Fill(best, -1);
                Array.Fill(bestWeight, float.PositiveInfinity);
                foreach (var pop in plan.Spiking)
                    foreach (var o in plan.Outgoings[pop.Population.Index])
                    {
                        if (o.PostOffset != ro) continue;
                        for (int p = to - 1; p >= from; p--)
                        {
                            int i = run.SpikeNeuron[b * C + p] - pop.Offset;
                            if (i < 0 || i >= pop.Size) continue;
                            for (int j = 0; j < R; j++)
                            {
                                if (corner[j] == 0) continue;
                                float wt = o.Weights[i * o.PostSize + j];
                                if (wt < bestWeight[j])
                                {
                                    bestWeight[j] = wt;
                                    best[j] = p;
                                }
                            }
                        }
                    }
                for (int j = 0; j < R; j++)
                    if (best[j] >= 0) spikeTime[(long)b * C + best[j]] += corner[j];
            }
            Array.Clear(corner);
        }

        w.RegularizationJump.SubView(0, n).CopyFromCPU(regJump);
        // Drives a loss does not have (no per-step drive: max, first_spike; no impulses: sum, sum_exp) are zeroed on the
        // device instead of uploaded.
        if (run.DeviceLoss is null)
        {
            UploadOrClear(w.DriveV, driveV, anyStepDrive);
            UploadOrClear(w.DriveI, driveI, anyStepDrive);
        }
        UploadOrClear(w.ImpulseV, impulseV, anyImpulse);
        UploadOrClear(w.ImpulseI, impulseI, anyImpulse);
        UploadOrClear(w.SpikeTimeTerm, spikeTime, anySpikeTerm);
        w.LambdaV.MemSetToZero(stream);
        w.LambdaI.MemSetToZero(stream);
        w.Jump.MemSetToZero(stream);
        w.TauMemSum.MemSetToZero(stream);
        w.TauSynSum.MemSetToZero(stream);
        w.TrialGradient.MemSetToZero(stream);

        // Largest number of spikes on each grid point over the batch: the width of the jump kernel's launch.
        var widest = new int[N + 1];
        if (!PersistentKernels)
            for (int b = 0; b < B; b++)
                for (int k = 1; k <= N; k++)
                    widest[k] = Math.Max(widest[k], run.SpikeEnd[b * (N + 1) + k] - run.SpikeEnd[b * (N + 1) + k - 1]);

        var grid = new Index2D(n, B);
        int K = dims.Interval;
        if (PersistentKernels) _backwardTrials(new KernelConfig(B, GroupSize(n)), w, dims);
        else BackwardPerStep();
        _reduce(checked((int)dims.WeightCount), w, dims);
        stream.Synchronize();
        var dense = Download(w.Gradient, dims.WeightCount);
        var tauMem = tau ? Download(w.TauMemSum, (long)B * n) : [];
        var tauSyn = tau ? Download(w.TauSynSum, (long)B * n) : [];
        if (run.DeviceLoss is { } l && tau)
        {
            driveTauMem = Download(l.DriveTauMem, (long)B * R);
            driveTauSyn = Download(l.DriveTauSyn, (long)B * R);
        }
        return Collect(network, plan, dims, dense, tauMem, tauSyn, driveTauMem, driveTauSyn);

        void BackwardPerStep()
        {
            for (int seg = dims.Snapshots - 1; seg >= 0; seg--)
            {
                int a = seg * K, end = Math.Min(a + K, N);
                if (tau)
                {
                    // Recompute the segment's states from its snapshot and the recorded spikes (the forward pass's arithmetic).
                    _restore(grid, w, dims, a, a);
                    for (int kk = a + 1; kk <= end; kk++)
                    {
                        _stepAndDetect(grid, w, dims, kk, a);
                        if (widest[kk] > 0) _resetSpikes(new Index2D(widest[kk], B), w, dims, kk, a);
                        _deliver(grid, w, dims, kk, a);
                    }
                }
                for (int k = end; k > a; k--)
                {
                    _events(grid, w, dims, k, a);
                    if (widest[k] > 0) _transport(new Index2D(widest[k], B), w, dims, k, a);
                    _stepBack(grid, w, dims, k, a);
                }
            }
            _events(grid, w, dims, 0, 0);
            _stepBack(grid, w, dims, 0, 0);
        }
    }

    /// <summary>Threads per group of the persistent kernels: enough for the neurons, within the device's and the kernels' limits.</summary>
    internal int GroupSize(int neurons)
    {
        int warp = Math.Max(1, _accelerator.WarpSize);
        int wanted = (neurons + warp - 1) / warp * warp;
        return Math.Max(1, Math.Min(Math.Min(wanted, SteppedKernels.MaxGroupSize), _accelerator.MaxNumThreadsPerGroup));
    }

    /// <summary>The connections in the order of the device's flat weight array: the input's outgoing ones, then each dynamic population's.</summary>
    private static IEnumerable<SteppedPlan.Outgoing> ConnectionOrder(Network network, SteppedPlan plan)
    {
        foreach (var pop in network.Populations)
        {
            if (pop != network.Input && plan.PopulationOffset[pop.Index] < 0) continue;
            foreach (var o in plan.Outgoings[pop.Index]) yield return o;
        }
    }

    /// <summary>
    /// The device records of the connections and their weights, each connection's W[pre, post] row-major one after the
    /// other: device memory for weights and per-trial gradients follows the stored weights, not (inputs + n) × n.
    /// </summary>
    private static (ConnectionRecord[] Records, float[] Weights) CompileConnections(Network network, SteppedPlan plan)
    {
        var records = new List<ConnectionRecord>();
        long total = 0;
        foreach (var pop in network.Populations)
        {
            if (pop != network.Input && plan.PopulationOffset[pop.Index] < 0) continue;
            foreach (var o in plan.Outgoings[pop.Index])
            {
                records.Add(new ConnectionRecord
                {
                    FromInput = pop == network.Input ? 1 : 0,
                    PreOffset = pop == network.Input ? 0 : plan.PopulationOffset[pop.Index],
                    PreSize = o.Rows, PostOffset = o.PostOffset, PostSize = o.PostSize, WeightOffset = total,
                });
                total += o.Weights.Length;
            }
        }
        var weights = new float[total];
        long at = 0;
        foreach (var o in ConnectionOrder(network, plan))
        {
            o.Weights.CopyTo(weights, at);
            at += o.Weights.Length;
        }
        return (records.ToArray(), weights);
    }

    /// <summary>The gradient in the network's parameter layout: weights from the device's flat array, τ's reduced in trial order.</summary>
    private ParameterSet Collect(Network network, SteppedPlan plan, KernelDims dims, float[] dense, double[] tauMem, double[] tauSyn,
        double[] driveTauMem, double[] driveTauSyn)
    {
        int B = dims.Trials, n = dims.Neurons, R = dims.Readout;
        bool tau = TimeConstantGradients;
        var gradient = network.Parameters.ZerosLike();
        long offset = 0;
        foreach (var o in ConnectionOrder(network, plan))
        {
            Array.Copy(dense, offset, gradient[o.ParameterIndex].Values, 0, o.Weights.Length);
            offset += o.Weights.Length;
        }
        if (tau)
        {
            foreach (var pop in plan.Populations)
            {
                var tm = gradient[pop.TauMemParameter].Values;
                var ts = gradient[pop.TauSynParameter].Values;
                for (int b = 0; b < B; b++)
                    for (int i = 0; i < pop.Size; i++)
                    {
                        int g = pop.Offset + i;
                        double sm = tauMem[b * n + g], ss = tauSyn[b * n + g];
                        if (pop.IsReadout)
                        {
                            sm += driveTauMem[b * R + i];
                            ss += driveTauSyn[b * R + i];
                        }
                        tm[i] += sm * plan.RateMem[g];
                        ts[i] -= ss * plan.RateSyn[g];
                    }
            }
        }
        return gradient;
    }

    /// <summary>The weighting rate of a loss the device evaluates: 0 for <c>sum</c>, 1/T for <c>sum_exp</c>.</summary>
    private bool DeviceLossRate(ILoss loss, out double rate)
    {
        rate = loss switch
        {
            Losses.SumLoss => 0,
            Losses.SumExpLoss => 1.0 / (Dt * Steps),
            _ => double.NaN,
        };
        return !double.IsNaN(rate);
    }

    /// <summary>Uploads the readout constants and labels and runs the loss kernels (z and the cross-entropy).</summary>
    private LossViews LossOnDevice(SteppedPlan plan, KernelDims dims, KernelViews w, int[] labels, double rate)
    {
        int R = plan.ReadoutSize, B = dims.Trials;
        double dt = Dt;
        var constants = new double[R * LossKernels.ConstantCount];
        for (int j = 0; j < R; j++)
        {
            int g = plan.ReadoutOffset + j;
            double m = plan.RateMem[g], s = plan.RateSyn[g], tm = plan.TauMem[g], ts = plan.TauSyn[g];
            double em = Math.Exp(-m * dt), es = Math.Exp(-s * dt), psi = ExpKernels.Psi2(dt, m, s, em, es);
            var c = constants.AsSpan(j * LossKernels.ConstantCount, LossKernels.ConstantCount);
            c[LossKernels.FromV] = ExpKernels.Psi2(dt, rate + m, 0);
            c[LossKernels.FromI] = m * ExpKernels.Psi3(dt, rate + m, rate + s, 0);
            c[LossKernels.StepDecay] = Math.Exp(-rate * dt);
            c[LossKernels.InvMem] = 1.0 / (1.0 + rate * tm);
            c[LossKernels.InvSyn] = 1.0 / (1.0 + rate * ts);
            c[LossKernels.PsiSyn] = ExpKernels.Psi2(dt, rate + s, 0);
            c[LossKernels.PsiMem] = ExpKernels.Psi2(dt, rate + m, 0);
            c[LossKernels.MemPsi3] = m * ExpKernels.Psi3(dt, rate + m, rate + s, 0);
            c[LossKernels.Em] = em;
            c[LossKernels.Es] = es;
            c[LossKernels.AdjointVtoI] = s * psi;
            c[LossKernels.Psi] = psi;
            c[LossKernels.DtEm] = dt * em;
            c[LossKernels.StepMemPsi3] = m * ExpKernels.Psi3(dt, m, m, s);
            c[LossKernels.DtEs] = dt * es;
            c[LossKernels.SynPsi3] = s * ExpKernels.Psi3(dt, m, s, s);
        }
        var l = new LossViews
        {
            Constants = Upload("LossConstants", constants),
            Labels = Upload("LossLabels", labels),
            Outputs = Buffer<double>("LossOutputs", (long)B * R),
            Coefficients = Buffer<double>("LossCoefficients", (long)B * R),
            Values = Buffer<double>("LossValues", B),
            DriveTauMem = Buffer<double>("LossDriveTauMem", (long)B * R),
            DriveTauSyn = Buffer<double>("LossDriveTauSyn", (long)B * R),
            Rate = rate,
            Duration = dt * Steps,
            Scale = 1.0 / B,
        };
        _lossIntegrate(new Index2D(R, B), w, l, dims);
        _lossCrossEntropy(B, w, l, dims);
        _accelerator.DefaultStream.Synchronize();
        return l;
    }

    private void UploadOrClear<T>(ArrayView<T> view, T[] data, bool any) where T : unmanaged
    {
        if (data.Length == 0) return;
        var target = view.SubView(0, data.Length);
        if (any) target.CopyFromCPU(data);
        else target.MemSetToZero(_accelerator.DefaultStream);
    }
}
