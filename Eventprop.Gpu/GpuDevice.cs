namespace Eventprop.Gpu;

/// <summary>Where <see cref="GpuSteppedEngine"/> runs its kernels.</summary>
public enum GpuDevice
{
    /// <summary>The first CUDA GPU.</summary>
    Cuda,

    /// <summary>ILGPU's CPU accelerator: the same kernels, emulated on the CPU (slow; for tests and machines without a GPU).</summary>
    IlgpuCpu,
}
