using Eventprop.Core.Simulation;
using MathNet.Numerics;
using Xunit;

namespace Eventprop.Tests.Simulation;

public class ExpKernelsTests
{
    // Definitions by quadrature: Psi(Δ; a, b) = ∫₀^Δ e^{−a(Δ−s)} e^{−bs} ds, Psi(Δ; a, b, c) = ∫₀^Δ e^{−a(Δ−s)} Psi(s; b, c) ds.
    private static double Psi2Reference(double d, double a, double b) =>
        Integrate.GaussLegendre(s => Math.Exp(-a * (d - s) - b * s), 0, d, 256);

    private static double Psi3Reference(double d, double a, double b, double c) =>
        Integrate.GaussLegendre(s => Math.Exp(-a * (d - s)) * Psi2Reference(s, b, c), 0, d, 128);

    public static TheoryData<double, double, double, double> Nodes() => new()
    {
        { 1.0, 0.1, 0.2, 0.0 },
        { 5.0, 0.05, 0.05, 0.2 },       // coincident pair
        { 5.0, 0.2, 0.2, 0.2 },         // all coincident
        { 3.0, 0.1, 0.1 + 1e-9, 0.0 },  // nearly coincident
        { 2.0, 0.0, 0.0, 0.0 },         // all zero: Δ²/2
        { 40.0, 1.0, 0.05, 0.0 },       // widely spread
        { 1e-6, 0.3, 0.2, 0.1 },        // tiny interval
        { 10.0, 0.0, 0.1666, 0.0 },     // spread just above the Taylor switch
        { 10.0, 0.0, 0.04999, 0.0 },    // spread just below it
    };

    [Theory]
    [MemberData(nameof(Nodes))]
    public void Psi3MatchesItsIntegralDefinition(double delta, double a, double b, double c)
    {
        double reference = Psi3Reference(delta, a, b, c);
        Assert.Equal(reference, ExpKernels.Psi3(delta, a, b, c), Math.Abs(reference) * 1e-12 + 1e-300);
        // Symmetric in its nodes.
        Assert.Equal(ExpKernels.Psi3(delta, a, b, c), ExpKernels.Psi3(delta, c, a, b), Math.Abs(reference) * 1e-14);
    }

    [Theory]
    [InlineData(1.0, 0.1, 0.2)]
    [InlineData(5.0, 0.2, 0.2)]
    [InlineData(5.0, 0.2, 0.2 + 1e-12)]
    [InlineData(100.0, 1.0, 0.001)]
    [InlineData(3.0, 0.0, 0.0)]
    public void Psi2MatchesItsIntegralDefinition(double delta, double a, double b)
    {
        double reference = Psi2Reference(delta, a, b);
        Assert.Equal(reference, ExpKernels.Psi2(delta, a, b), Math.Abs(reference) * 1e-13);
    }

    [Fact]
    public void Psi3IsSmoothAcrossTheSwitchBetweenTaylorAndRecursion()
    {
        // Spread·Δ = 0.5 is where the method changes; the values on both sides must join to rounding level.
        double delta = 2.0, a = 0.1, c0 = a + 0.25;
        double below = ExpKernels.Psi3(delta, a, 0.2, c0 - 1e-12);
        double above = ExpKernels.Psi3(delta, a, 0.2, c0 + 1e-12);
        double slope = (ExpKernels.Psi3(delta, a, 0.2, c0 + 1e-4) - ExpKernels.Psi3(delta, a, 0.2, c0 - 1e-4)) / 2e-4;
        Assert.Equal(below + slope * 2e-12, above, Math.Abs(above) * 1e-14);
    }

    [Theory]
    [InlineData(1e-20)]
    [InlineData(1e-8)]
    [InlineData(0.3)]
    [InlineData(-0.49)]
    [InlineData(2.0)]
    [InlineData(-30.0)]
    public void ExprelAndLog1PAreAccurate(double x)
    {
        // Reference from decimal arithmetic series where |x| is small, the direct formula elsewhere.
        double exprel = Math.Abs(x) < 1e-3 ? 1 + x / 2 + x * x / 6 : (Math.Exp(x) - 1) / x;
        Assert.Equal(exprel, ExpKernels.Exprel(x), Math.Abs(exprel) * 1e-14);
        if (x > -1)
        {
            double log1p = Math.Abs(x) < 1e-3 ? x - x * x / 2 + x * x * x / 3 : Math.Log(1 + x);
            Assert.Equal(log1p, ExpKernels.Log1P(x), Math.Abs(log1p) * 1e-14);
        }
    }
}
