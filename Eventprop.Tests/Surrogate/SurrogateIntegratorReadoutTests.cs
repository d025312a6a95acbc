using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// The surrogate engine with the non-leaky integrator readout (τm V̇ = I) and the <c>last_voltage</c> loss: the smooth-forward
/// finite-difference property of <see cref="SurrogateGradientTests.SmoothForwardGradientsMatchFiniteDifferences"/> (every
/// weight and τ, the readout's τ's through the readout trace's ℓ = 0 quadrature and interpolation weights included).
/// </summary>
public class SurrogateIntegratorReadoutTests(ITestOutputHelper output)
{
    private static Arbitrary<SurrogateCase> Cases(Discretisation scheme, bool integrator, params string[] losses) => Arb.From(
        from c in GradientCase.AnyKind().Generator
        from loss in Gen.Elements(losses)
        from reg in Gen.Elements(false, true)
        from beta in Gen.Elements(1.0, 2.0, 5.0)
        from dt in Gen.Elements(0.5, 1.0)
        select new SurrogateCase(c with { IntegratorReadout = integrator }, scheme, loss, reg, beta, dt));

    [Theory]
    [InlineData(Discretisation.ExactPropagator, 40)]
    [InlineData(Discretisation.ZenkeVogels, 40)]
    public void SmoothForwardGradientsWithTheIntegratorReadoutMatchFiniteDifferences(Discretisation scheme, int cases) =>
        SurrogateGradientTests.AssertSmoothProperty(Cases(scheme, true, "last_voltage", "sum", "sum_exp", "max", "entropy"), cases, $"{scheme}, integrator readout", output);

    [Theory]
    [InlineData(Discretisation.ExactPropagator, 20)]
    [InlineData(Discretisation.ZenkeVogels, 20)]
    public void SmoothForwardGradientsOfLastVoltageOnTheLeakyReadoutMatchFiniteDifferences(Discretisation scheme, int cases) =>
        SurrogateGradientTests.AssertSmoothProperty(Cases(scheme, false, "last_voltage"), cases, $"{scheme}, li readout, last_voltage", output);
}
