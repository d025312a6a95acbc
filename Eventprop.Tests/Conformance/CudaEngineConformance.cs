using Eventprop.Core.Simulation;
using Eventprop.Gpu;
using Xunit;

namespace Eventprop.Tests.Conformance;

/// <summary>One CUDA engine for <see cref="CudaEngineConformance"/>, created on first use (never where the tests are skipped).</summary>
public sealed class CudaEngineFixture : IDisposable
{
    private readonly Lazy<GpuSteppedEngine> _engine = new(() => new GpuSteppedEngine(GpuDevice.Cuda, 0.01, 40));

    /// <summary>The shared CUDA engine (dt = 0.01 ms, T = 40 ms).</summary>
    public GpuSteppedEngine Engine => _engine.Value;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_engine.IsValueCreated) _engine.Value.Dispose();
    }
}

/// <summary>
/// The GPU time-stepped engine on a CUDA device at dt = 0.01 ms. Where no CUDA device is found every test is reported
/// skipped with that reason (<see cref="RequiresCudaAttribute"/>, decided at discovery).
/// </summary>
[RequiresCuda]
public sealed class CudaEngineConformance(CudaEngineFixture fixture) : EngineConformance, IClassFixture<CudaEngineFixture>
{
    /// <inheritdoc />
    protected override IGradientEngine Engine => fixture.Engine;
}
