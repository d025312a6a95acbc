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

/// <summary>
/// The ILGPU provider of the time-stepped passes (see <see cref="GpuSteppedEngine"/> for the algorithm): the accelerator,
/// its kernels and device buffers, the forward pass with the loss evaluation and the Eventprop backward pass of a batch.
/// </summary>
/// <remarks>Not thread-safe: <see cref="GpuSteppedEngine"/> serialises the calls.</remarks>
internal sealed partial class IlgpuSteppedBackend : ISteppedBackend, IDisposable
{
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly Action<Index2D, KernelViews, KernelDims, int, int> _deliver, _stepAndDetect, _resetSpikes, _restore, _events, _transport, _stepBack, _convolutionGradient;
    private readonly Action<Index1D, KernelViews, KernelDims, int> _compact;
    private readonly Action<Index1D, KernelViews, KernelDims> _reduce;
    private readonly Action<KernelConfig, KernelViews, KernelDims> _forwardTrials, _backwardTrials;
    private readonly Action<Index2D, KernelViews, LossViews, KernelDims> _lossIntegrate, _lossDrive;
    private readonly Action<Index1D, KernelViews, LossViews, KernelDims> _lossCrossEntropy;
    private readonly Dictionary<string, MemoryBuffer> _buffers = [];
    private int _capacity;
    private bool _disposed;

    /// <summary>Opens the accelerator and loads the kernels; the settings are those of <see cref="GpuSteppedEngine"/>, already checked.</summary>
    /// <exception cref="InvalidOperationException">CUDA was asked for but no CUDA device is present.</exception>
    public IlgpuSteppedBackend(GpuDevice device, double dt, int steps, int? maxSpikesPerNeuron, bool timeConstantGradients,
        double minimumThresholdSlope, bool slopeAtGridPoint, bool persistentKernels, bool deviceLosses)
    {
        Dt = dt;
        Steps = steps;
        MaxSpikesPerNeuron = maxSpikesPerNeuron;
        TimeConstantGradients = timeConstantGradients;
        MinimumThresholdSlope = minimumThresholdSlope;
        SlopeAtGridPoint = slopeAtGridPoint;
        PersistentKernels = persistentKernels;
        DeviceLosses = deviceLosses;

        _context = Context.Create(b => b.Cuda().CPU().EnableAlgorithms());
        try
        {
            if (device == GpuDevice.Cuda)
            {
                var cuda = _context.GetCudaDevices();
                if (cuda.Count == 0) throw new InvalidOperationException(GpuSteppedEngine.NoCudaMessage);
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
            _convolutionGradient = _accelerator.LoadAutoGroupedStreamKernel<Index2D, KernelViews, KernelDims, int, int>(SteppedKernels.ConvolutionGradient);
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

    public double Dt { get; }
    public int Steps { get; }
    public int? MaxSpikesPerNeuron { get; }
    public bool TimeConstantGradients { get; }
    public double MinimumThresholdSlope { get; }
    public bool SlopeAtGridPoint { get; }
    public bool PersistentKernels { get; }
    public bool DeviceLosses { get; }

    /// <summary>Name of the accelerator.</summary>
    public string DeviceName => _accelerator.Name;

    /// <summary>Bytes of device memory the buffers hold.</summary>
    public long DeviceMemoryBytes => _buffers.Values.Sum(b => b.LengthInBytes);

    /// <summary>Bytes of the device buffer called <paramref name="name"/> (0 if none).</summary>
    public long BufferBytes(string name) => _buffers.TryGetValue(name, out var b) ? b.LengthInBytes : 0;

    /// <summary>Spike slots per trial on the device (grown when a forward pass overflows them).</summary>
    public int SpikeSlots
    {
        get => _capacity;
        set => _capacity = value;
    }

    /// <summary>Frees the device buffers, the accelerator and the ILGPU context.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var b in _buffers.Values) b.Dispose();
        _buffers.Clear();
        _accelerator.Dispose();
        _context.Dispose();
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
}
