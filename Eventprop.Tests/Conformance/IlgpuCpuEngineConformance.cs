using Eventprop.Core.Simulation;
using Eventprop.Tests.Gpu;
using Xunit;

namespace Eventprop.Tests.Conformance;

/// <summary>
/// The GPU time-stepped engine's ILGPU kernels on ILGPU's CPU accelerator (no GPU needed); engines shared by the class, so
/// the context and kernels load once. Kept small (the whole class must stay under 90 s on a 2-core machine): the accelerator
/// takes seconds per trial at dt = 0.01 ms, so only the agreement tests run there (one gradient call per model, shared),
/// and the tests that do not compare with the exact engine run at dt = 0.5 ms (the step of <c>GpuSteppedEngineTests</c>).
/// </summary>
public sealed class IlgpuCpuEngineConformance(GpuEngineFixture fixture) : EngineConformance, IClassFixture<GpuEngineFixture>
{
    /// <inheritdoc />
    protected override IGradientEngine Engine => fixture.Engine(AgreementDt, Duration);

    /// <inheritdoc />
    protected override IGradientEngine QuickEngine => fixture.Engine(0.5, Duration);
}
