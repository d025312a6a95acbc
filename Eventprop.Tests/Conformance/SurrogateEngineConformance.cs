using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Surrogate;

namespace Eventprop.Tests.Conformance;

/// <summary>
/// The surrogate-gradient BPTT engine (exact-propagator discretisation, Heaviside forward spike, double precision, one
/// thread) at dt = 0.01 ms. Its forward pass is the time-stepped one, so spike counts and loss must agree with the exact
/// engine; it simulates LIF, integrate-and-fire and subtractive reset (and sparse masks). Its gradient is by design not
/// the exact one.
/// </summary>
[NotApplicable(nameof(Gradient_agrees_with_the_exact_engine),
    "a surrogate gradient replaces dS/dU by a pseudo-derivative, so it is not the exact gradient; its correctness is Eventprop.Tests.Surrogate's (smooth-forward finite differences, plain-loop BPTT reference)")]
public sealed class SurrogateEngineConformance : EngineConformance
{
    /// <inheritdoc />
    protected override IGradientEngine Engine =>
        new SurrogateEngine(AgreementDt, Duration, new SurrogateOptions { DoublePrecision = true, Threads = 1 });
}
