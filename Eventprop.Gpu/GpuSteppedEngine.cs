using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Eventprop.Gpu;
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
/// reports what is allocated. The weights and the per-trial gradients are stored per connection (each connection's own
/// W[pre, post], one after the other): B·Σ pre×post floats, not B·(inputs + n)·n over all neurons; for 700 → 5×512 → 20 at
/// B = 256 that is 1.45 GB instead of 8.67 GB.</para>
/// <para><b>Orchestration.</b> The phases of a batch (validation, plan, forward, counts, regulariser jumps, backward,
/// gradient) are run by <see cref="SteppedPipeline"/>, the same orchestration as <see cref="SteppedEngine"/>'s; this engine
/// is its ILGPU <see cref="ISteppedBackend"/> provider (the device code is <c>IlgpuSteppedBackend</c>).</para>
/// </remarks>
public sealed class GpuSteppedEngine : IGradientEngine, IDisposable
{
    private readonly Lock _sync = new();
    private readonly IlgpuSteppedBackend _backend;
    private readonly SteppedPipeline _pipeline;
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
        Duration = settings.Duration;
        Device = device;

        _backend = new IlgpuSteppedBackend(device, settings.Dt, settings.Steps, maxSpikesPerNeuron, timeConstantGradients, minimumThresholdSlope,
            slopeAtGridPoint, persistentKernels, deviceLosses);
        _pipeline = new SteppedPipeline(_backend, Dt, Duration, Steps);
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
    public bool DeviceLosses => _backend.DeviceLosses;

    /// <summary>Whether each pass runs as one launch with a thread group per trial (see the constructor).</summary>
    public bool PersistentKernels => _backend.PersistentKernels;

    /// <summary>The device the kernels run on.</summary>
    public GpuDevice Device { get; }

    /// <summary>Name of the accelerator (e.g. the GPU's model).</summary>
    public string DeviceName => _backend.DeviceName;

    /// <summary>Bytes of device memory this engine holds (its buffers, grown to the largest batch so far).</summary>
    public long DeviceMemoryBytes
    {
        get
        {
            lock (_sync) return _backend.DeviceMemoryBytes;
        }
    }

    /// <summary>Bytes of the device buffer called <paramref name="name"/> (0 if none), for tests of the memory layout.</summary>
    internal long BufferBytes(string name)
    {
        lock (_sync) return _backend.BufferBytes(name);
    }

    /// <summary>Threads per group of the persistent kernels for <paramref name="neurons"/> neurons (for tests of the launch shape).</summary>
    internal int GroupSize(int neurons) => _backend.GroupSize(neurons);

    /// <summary>Spike slots per trial on the device (grown when a forward pass overflows them; settable for tests).</summary>
    internal int SpikeSlots
    {
        get => _backend.SpikeSlots;
        set => _backend.SpikeSlots = value;
    }

    /// <summary>Time step (ms).</summary>
    public double Dt => _backend.Dt;

    /// <inheritdoc />
    public double Duration { get; }

    /// <summary>Number of steps N = T/dt.</summary>
    public int Steps => _backend.Steps;

    /// <summary>The optional per-neuron spike cap per trial (null: none).</summary>
    public int? MaxSpikesPerNeuron => _backend.MaxSpikesPerNeuron;

    /// <summary>Whether dL/dτ is computed.</summary>
    public bool TimeConstantGradients => _backend.TimeConstantGradients;

    /// <summary>Lower bound on the recorded I − V used as the jump divisor.</summary>
    public double MinimumThresholdSlope => _backend.MinimumThresholdSlope;

    /// <summary>Whether spikes record I − V at the grid point instead of I − ϑ at the in-step crossing.</summary>
    public bool SlopeAtGridPoint => _backend.SlopeAtGridPoint;

    /// <inheritdoc />
    public EvaluationResult Evaluate(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss)
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _pipeline.Evaluate(network, batch, loss);
        }
    }

    /// <inheritdoc />
    public GradientResult Gradient(Network network, IReadOnlyList<SpikeSample> batch, ILoss loss, ActivityRegularization? regularization = null)
    {
        regularization?.Validate();
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _pipeline.Gradient(network, batch, loss, regularization);
        }
    }

    /// <summary>Frees the device buffers, the accelerator and the ILGPU context.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed) return;
            _disposed = true;
            _backend.Dispose();
        }
    }
}
