using Eventprop.Core.Simulation;

namespace Eventprop.Tests.Conformance;

/// <summary>
/// The exact event-driven engine: the reference of the agreement tests, so those compare it with a second instance of
/// itself (they still check that a fresh engine reproduces the reference); its own correctness is the finite-difference
/// properties' (Eventprop.Tests.Gradients).
/// </summary>
public sealed class ExactEngineConformance : EngineConformance
{
    /// <inheritdoc />
    protected override IGradientEngine Engine => new ExactEngine(Duration);
}
