using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;

namespace Eventprop.Gpu;

/// <summary>
/// Creates the batched time-stepped engine for a device name: <c>auto</c> (CUDA when a CUDA device is present, else the CPU
/// engine), <c>cpu</c> (<see cref="SteppedEngine"/>), <c>cuda</c> or <c>ilgpu-cpu</c> (<see cref="GpuSteppedEngine"/>). Every
/// choice implements <see cref="IGradientEngine"/> with the same gradient layout, so trainers and checkpoints are unchanged.
/// </summary>
public static class SteppedEngines
{
    /// <summary>The device names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> DeviceNames { get; } = ["auto", "cpu", "cuda", "ilgpu-cpu"];

    /// <summary>What <paramref name="device"/> resolves to on this machine: <c>cpu</c>, <c>cuda</c> or <c>ilgpu-cpu</c>.</summary>
    /// <exception cref="ArgumentException">Unknown device name.</exception>
    public static string Resolve(string device) => device switch
    {
        "auto" => GpuSteppedEngine.CudaAvailable() ? "cuda" : "cpu",
        "cpu" or "cuda" or "ilgpu-cpu" => device,
        _ => throw new ArgumentException($"Unknown device '{device}'; choose one of: {string.Join(", ", DeviceNames)}.", nameof(device)),
    };

    /// <summary>Creates the engine for <paramref name="device"/> (dispose it when it is a <see cref="GpuSteppedEngine"/>).</summary>
    /// <param name="device">auto, cpu, cuda or ilgpu-cpu.</param>
    /// <param name="dt">Time step (ms).</param>
    /// <param name="duration">Trial length (ms).</param>
    /// <param name="threads">CPU engine threads (null: all cores); ignored on the ILGPU devices.</param>
    /// <param name="timeConstantGradients">Whether dL/dτ is computed.</param>
    /// <param name="maxSpikesPerNeuron">Optional spike cap per neuron and trial.</param>
    /// <exception cref="ArgumentException">Unknown device name.</exception>
    /// <exception cref="InvalidOperationException">cuda was asked for and no CUDA device is present (message: <see cref="GpuSteppedEngine.NoCudaMessage"/>).</exception>
    public static IGradientEngine Create(string device, double dt, double duration, int? threads = null, bool timeConstantGradients = true, int? maxSpikesPerNeuron = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Resolve(device) switch
        {
            "cuda" => GpuSteppedEngine.CudaAvailable()
                ? new GpuSteppedEngine(GpuDevice.Cuda, dt, duration, maxSpikesPerNeuron, timeConstantGradients)
                : throw new InvalidOperationException(GpuSteppedEngine.NoCudaMessage),
            "ilgpu-cpu" => new GpuSteppedEngine(GpuDevice.IlgpuCpu, dt, duration, maxSpikesPerNeuron, timeConstantGradients),
            _ => new SteppedEngine(dt, duration, threads, maxSpikesPerNeuron, timeConstantGradients),
        };
    }
}
