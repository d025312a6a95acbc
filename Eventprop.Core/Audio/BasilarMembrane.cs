using System.Numerics;
using MathNet.Numerics;

namespace Eventprop.Core.Audio;

/// <summary>
/// The transfer function of the hydrodynamic basilar-membrane model (Sieroka, Dosch &amp; Rupp 2006) as the Heidelberg
/// cochlea uses it: membrane velocity at a place c (cm from the base) per unit of stapes input at angular frequency ω.
/// </summary>
/// <remarks>
/// With ξ(ω, c) = s(c) − m·ω² − i·ω·r(c), g(ω, c) = ω·sqrt(ρ / (h·ξ)), the WKB phase G(ω, c) and the middle-ear
/// term Z(ω) (see <c>design/cochlea.md</c>), the transfer is v(ω, c) = (2ω/ξ)·P(ω, c)·Z(ω)/P(ω, 0) with
/// P(ω, c) = sqrt(G/g)·H0⁽¹⁾(G). The Hankel function is evaluated in its exponentially scaled form
/// H0⁽¹⁾(z)·e^(−iz) and the exponentials of the ratio P(ω, c)/P(ω, 0) are combined before they are taken, so that no
/// intermediate overflows where the plain function would (large imaginary parts of G towards the apex).
/// Complex square roots and logarithms are principal values throughout, as in the reference.
/// </remarks>
public sealed class BasilarMembrane
{
    private readonly double _a, _alpha, _rho, _c0, _h, _m, _r0;

    /// <summary>A membrane with the given parameters (default: those of the Heidelberg cochlea).</summary>
    public BasilarMembrane(BasilarMembraneParameters? parameters = null)
    {
        Parameters = parameters ?? new BasilarMembraneParameters();
        _a = Parameters.StiffnessOffset;
        _alpha = Parameters.StiffnessDecay;
        _rho = Parameters.Density;
        _c0 = Parameters.BaseStiffness;
        _h = Parameters.Height;
        _m = Parameters.Mass;
        _r0 = Parameters.BaseDamping;
    }

    /// <summary>The model's parameters.</summary>
    public BasilarMembraneParameters Parameters { get; }

    /// <summary>Place of channel <paramref name="channel"/> of <paramref name="channelCount"/> in cm from the base (linspace(0, L, N)).</summary>
    public double Position(int channel, int channelCount)
    {
        if (channelCount < 1) throw new ArgumentOutOfRangeException(nameof(channelCount), channelCount, "Need at least one channel.");
        if ((uint)channel >= (uint)channelCount) throw new ArgumentOutOfRangeException(nameof(channel), channel, $"Channel must lie in 0..{channelCount - 1}.");
        return channelCount == 1 ? 0 : Parameters.Length * channel / (channelCount - 1);
    }

    /// <summary>The terms of the transfer function that do not depend on the place, for one angular frequency.</summary>
    internal readonly struct FrequencyTerms
    {
        /// <summary>Angular frequency ω in rad/s.</summary>
        public readonly double Omega;

        /// <summary>G(ω, 0) = 2·g(ω, 0)/α.</summary>
        public readonly Complex BaseG;

        /// <summary>2i·√2·ω / (α·sqrt(2h(mω² + a))), the factor of the logarithm in G.</summary>
        public readonly Complex LogFactor;

        /// <summary>A of the logarithm ln(A/B(c)).</summary>
        public readonly Complex A;

        /// <summary>sqrt(a + mω²).</summary>
        public readonly double RootAMass;

        /// <summary>Z(ω) / (sqrt(G0/g0)·H0s(G0)), with H0s the scaled Hankel function; multiply by e^(i(G − G0)).</summary>
        public readonly Complex MiddleEarOverBase;

        public FrequencyTerms(double omega, Complex baseG, Complex logFactor, Complex a, double rootAMass, Complex middleEarOverBase)
        {
            Omega = omega;
            BaseG = baseG;
            LogFactor = logFactor;
            A = a;
            RootAMass = rootAMass;
            MiddleEarOverBase = middleEarOverBase;
        }
    }

    /// <summary>The place-independent terms at angular frequency <paramref name="omega"/> (rad/s, &gt; 0).</summary>
    internal FrequencyTerms Terms(double omega)
    {
        double mw2 = _m * omega * omega;
        Complex baseXi = new(_c0 - _a - mw2, -omega * _r0);
        Complex baseG0 = omega * Complex.Sqrt(_rho / (_h * baseXi));
        Complex baseG = 2 * baseG0 / _alpha;
        double rootAMass = Math.Sqrt(_a + mw2);
        Complex logFactor = new Complex(0, 2 * Math.Sqrt(2) * omega) / (_alpha * Math.Sqrt(2 * _h * (mw2 + _a)));
        Complex i = Complex.ImaginaryOne;
        Complex a = -_alpha * Complex.Sqrt(_c0 - _a - omega * (_m * omega + i * _r0))
                    + i * _alpha * (2 * _a + omega * (2 * _m * omega + i * _r0)) / (2 * rootAMass);
        Complex middleEar = MiddleEar(omega);
        Complex basePScaled = Complex.Sqrt(baseG / baseG0) * SpecialFunctions.HankelH1Scaled(0, baseG);
        return new FrequencyTerms(omega, baseG, logFactor, a, rootAMass, middleEar / basePScaled);
    }

    /// <summary>The middle-ear term Z(ω) = sqrt(2c0/h)·(i·J0(k) + Y0(k)) / (J1(k) − i·Y1(k)), k = (4πf/α)·sqrt(2/(h·c0)).</summary>
    public Complex MiddleEar(double omega)
    {
        double f = omega / (2 * Math.PI);
        double k = 4 * Math.PI * f / _alpha * Math.Sqrt(2 / (_h * _c0));
        Complex numerator = new(SpecialFunctions.BesselY(0, k), SpecialFunctions.BesselJ(0, k));
        Complex denominator = new(SpecialFunctions.BesselJ(1, k), -SpecialFunctions.BesselY(1, k));
        return Math.Sqrt(2 * _c0 / _h) * numerator / denominator;
    }

    /// <summary>The WKB phase G(ω, c) at angular frequency <paramref name="omega"/> and place <paramref name="position"/> (cm).</summary>
    public Complex Phase(double omega, double position) => Phase(Terms(omega), position, out _, out _);

    /// <summary>The transfer v(ω, c): membrane velocity per unit input at angular frequency ω (rad/s) and place c (cm).</summary>
    public Complex Transfer(double omega, double position) => Transfer(Terms(omega), position);

    internal Complex Transfer(in FrequencyTerms t, double position)
    {
        Complex g = Phase(t, position, out Complex xi, out Complex smallG);
        Complex scaledP = Complex.Sqrt(g / smallG) * SpecialFunctions.HankelH1Scaled(0, g);
        // e^{i(G − G0)} restores the scaling of both Hankel functions at once.
        Complex d = g - t.BaseG;
        double magnitude = Math.Exp(-d.Imaginary);
        Complex phase = new(magnitude * Math.Cos(d.Real), magnitude * Math.Sin(d.Real));
        return 2 * t.Omega / xi * scaledP * phase * t.MiddleEarOverBase;
    }

    private Complex Phase(in FrequencyTerms t, double position, out Complex xi, out Complex smallG)
    {
        double omega = t.Omega;
        double decay = Math.Exp(-_alpha * position);
        double halfDecay = Math.Exp(-_alpha * position / 2);
        double stiffness = _c0 * decay - _a;
        double damping = _r0 * halfDecay;
        xi = new Complex(stiffness - _m * omega * omega, -omega * damping);
        smallG = omega * Complex.Sqrt(_rho / (_h * xi));
        Complex i = Complex.ImaginaryOne;
        Complex b = 0.5 * _alpha / halfDecay
                    * (-2 * Complex.Sqrt(new Complex(_c0 * decay - _a - _m * omega * omega, -halfDecay * omega * _r0))
                       + i * (2 * _a + omega * (2 * _m * omega + i * halfDecay * _r0)) / t.RootAMass);
        return t.BaseG - t.LogFactor * Complex.Log(t.A / b);
    }
}
