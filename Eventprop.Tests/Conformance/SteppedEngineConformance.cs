using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;

namespace Eventprop.Tests.Conformance;

/// <summary>The CPU time-stepped Eventprop engine at dt = 0.01 ms, one thread.</summary>
public sealed class SteppedEngineConformance : EngineConformance
{
    /// <inheritdoc />
    protected override IGradientEngine Engine => new SteppedEngine(AgreementDt, Duration, threads: 1);
}
