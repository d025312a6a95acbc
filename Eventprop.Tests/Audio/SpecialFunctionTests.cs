using System.Numerics;
using Eventprop.Core.Audio;
using MathNet.Numerics;
using Xunit;

namespace Eventprop.Tests.Audio;

/// <summary>
/// The special functions the basilar membrane needs, against values computed independently with mpmath 1.3 at 60
/// digits (H0⁽¹⁾ via 2/(πi)·K0(−iz) where the direct form loses precision), and the radix-2 inverse FFT against the DFT.
/// </summary>
public sealed class SpecialFunctionTests
{
    /// <summary>z, then Re and Im of H0⁽¹⁾(z)·e^(−iz) (the scaled form; the plain one overflows for Im z ≪ 0).</summary>
    public static TheoryData<double, double, double, double> ScaledHankelValues() => new()
    {
        { 1, 0, 0.48770374908695632, -0.59620620960600407 },
        { 1, 1, 0.21727230879540347, -0.59524356219709305 },
        { 0.5, 0.1, 0.52928355919527141, -0.8640689541728422 },
        { 10, -2, 0.19162363903111579, -0.16104059469448863 },
        { 50, 30, 0.051258827379767177, -0.09091882674162631 },
        { 300, -5, 0.032828254682887666, -0.032312589628480981 },
        { 20, -800, 0.028207276257041629, -0.00035264614899181374 }, // plain H0⁽¹⁾ ≈ e^800: overflows a double
        { 3, 200, 0.00042229325248745897, -0.056379050373402331 },  // plain H0⁽¹⁾ ≈ e^−200
    };

    [Theory]
    [MemberData(nameof(ScaledHankelValues))]
    public void ScaledHankelOfComplexArgumentMatchesKnownValues(double re, double im, double expectedRe, double expectedIm)
    {
        var h = SpecialFunctions.HankelH1Scaled(0, new Complex(re, im));
        var expected = new Complex(expectedRe, expectedIm);
        Assert.True(Complex.Abs(h - expected) <= 1e-12 * Complex.Abs(expected), $"H0s({re}+{im}i) = {h}, expected {expected}");
    }

    /// <summary>k, J0(k), J1(k), Y0(k), Y1(k) (mpmath).</summary>
    public static TheoryData<double, double, double, double, double> BesselValues() => new()
    {
        { 0.1, 0.99750156206604003, 0.049937526036242, -1.5342386513503668, -6.4589510947020266 },
        { 1.0, 0.76519768655796655, 0.44005058574493352, 0.088256964215676958, -0.78121282130028872 },
        { 2.5, -0.048383776468197996, 0.49709410246427404, 0.49807035961523189, 0.1459181379667858 },
        { 10.0, -0.24593576445134834, 0.043472746168861437, 0.055671167283599391, 0.24901542420695388 },
        { 37.0, 0.010862369724899695, -0.13058003873375646, -0.13071487908859496, -0.012629455885387862 },
    };

    [Theory]
    [MemberData(nameof(BesselValues))]
    public void BesselFunctionsOfRealArgumentMatchKnownValues(double k, double j0, double j1, double y0, double y1)
    {
        Assert.Equal(j0, SpecialFunctions.BesselJ(0, k), 1e-13);
        Assert.Equal(j1, SpecialFunctions.BesselJ(1, k), 1e-13);
        Assert.Equal(y0, SpecialFunctions.BesselY(0, k), 1e-13);
        Assert.Equal(y1, SpecialFunctions.BesselY(1, k), 1e-13);
    }

    /// <summary>
    /// Over the whole membrane and spectrum (up to 22.05 kHz) the WKB phase G has 0 &lt; Im G ≲ 68, where the plain
    /// H0⁽¹⁾(G) ≈ e^(iG) shrinks to ~e^(−68); the scaled form keeps the transfer finite and non-zero everywhere.
    /// </summary>
    [Fact]
    public void TheTransferIsFiniteAndNonZeroOverTheWholeMembraneAndSpectrum()
    {
        var membrane = new BasilarMembrane();
        foreach (double f in new[] { 1.0, 100, 1000, 4000, 11025, 22050 })
            for (int k = 0; k < 700; k += 23)
            {
                var v = membrane.Transfer(2 * Math.PI * f, membrane.Position(k, 700));
                Assert.True(double.IsFinite(v.Real) && double.IsFinite(v.Imaginary) && v != Complex.Zero, $"v({f} Hz, channel {k}) = {v}");
            }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(64)]
    [InlineData(1024)]
    public void Radix2InverseFftMatchesTheDefinitionOfTheInverseDft(int n)
    {
        var random = new Random(n);
        var x = Enumerable.Range(0, n).Select(_ => new Complex(random.NextDouble() - 0.5, random.NextDouble() - 0.5)).ToArray();
        var expected = new Complex[n];
        for (int k = 0; k < n; k++)
        {
            Complex sum = 0;
            for (int j = 0; j < n; j++) sum += x[j] * Complex.FromPolarCoordinates(1, 2 * Math.PI * ((long)j * k % n) / n);
            expected[k] = sum / n;
        }
        var y = x.ToArray();
        new Radix2Fft(n).Inverse(y);
        for (int k = 0; k < n; k++) Assert.True(Complex.Abs(y[k] - expected[k]) <= 1e-13, $"n = {n}, bin {k}: {y[k]} vs {expected[k]}");
    }

    [Fact]
    public void Radix2InverseFftOfKnownSpectra()
    {
        // A single bin m of height n is the complex exponential e^(2πi·mk/n); a constant spectrum is a unit impulse.
        const int n = 16, m = 3;
        var x = new Complex[n];
        x[m] = n;
        new Radix2Fft(n).Inverse(x);
        for (int k = 0; k < n; k++)
        {
            var e = Complex.FromPolarCoordinates(1, 2 * Math.PI * m * k / n);
            Assert.True(Complex.Abs(x[k] - e) <= 1e-14, $"sample {k}: {x[k]} vs {e}");
        }
        var flat = Enumerable.Repeat(Complex.One, n).ToArray();
        new Radix2Fft(n).Inverse(flat);
        Assert.True(Complex.Abs(flat[0] - 1) <= 1e-15);
        for (int k = 1; k < n; k++) Assert.True(Complex.Abs(flat[k]) <= 1e-15);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Radix2Fft(12));
    }
}
