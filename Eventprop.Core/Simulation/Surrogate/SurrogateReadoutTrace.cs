using Eventprop.Core.Losses;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>
/// The readout trajectory of one BPTT trial as losses see it (double copies of the grid values), and the map from a
/// loss's <see cref="AdjointDrive"/> to per-grid-point derivatives ∂L/∂V_n, ∂L/∂I_n that BPTT feeds back.
/// </summary>
/// <remarks>
/// <para><b>Exact propagators.</b> Between grid points V follows the exact free evolution from (V_n, I_n), as in the
/// stepped engine: integrals are the closed forms per step, <see cref="Voltage"/> is exact, <see cref="Integrate"/> the
/// trapezoidal rule on the grid, <see cref="Maximum"/> the largest grid value. The loss values equal the stepped engine's.</para>
/// <para><b>Zenke–Vogels.</b> The readout is the sequence U_1…U_N: ∫e^{−ρt}V dt is dt·Σ_{n=1}^{N} e^{−ρt_n}U_n (so the
/// <c>sum</c> loss reads the time average of U; seed 001's logits Σ_n U[n] are N times larger), <see cref="Integrate"/> is the
/// same rectangle rule, <see cref="Voltage"/> interpolates linearly, <see cref="Maximum"/> is the largest U_n.</para>
/// Each drive is differentiated through exactly these discrete definitions, so BPTT gets the gradient of the value the
/// loss reported.
/// </remarks>
internal sealed class SurrogateReadoutTrace : ReadoutTrace
{
    private readonly double[] _v; // [neuron·(N + 1) + n]
    private readonly double[] _i;
    private readonly double[] _rateMem;
    private readonly double[] _rateLeak;
    private readonly double[] _rateSyn;
    private readonly double _dt;
    private readonly int _steps;
    private readonly bool _exact;

    public SurrogateReadoutTrace(int size, int steps, double dt, bool exact)
    {
        _v = new double[size * (steps + 1)];
        _i = new double[size * (steps + 1)];
        _rateMem = new double[size];
        _rateLeak = new double[size];
        _rateSyn = new double[size];
        _dt = dt;
        _steps = steps;
        _exact = exact;
    }

    /// <summary>V per neuron and grid point, [neuron·(N + 1) + n] (filled by the engine).</summary>
    public double[] V => _v;

    /// <summary>I, same layout.</summary>
    public double[] I => _i;

    /// <summary>1/τm per neuron.</summary>
    public double[] RateMem => _rateMem;

    /// <summary>ℓ/τm per neuron: the membrane's decay rate (1/τm leaky, 0 for the non-leaky integrator).</summary>
    public double[] RateLeak => _rateLeak;

    /// <summary>1/τs per neuron.</summary>
    public double[] RateSyn => _rateSyn;

    public override int Size => _rateMem.Length;

    public override double Duration => _dt * _steps;

    private int First => _exact ? 0 : 1;
    private int Last => _exact ? _steps - 1 : _steps;

    public override double IntegrateVoltage(int neuron, double rate = 0)
    {
        Check(neuron);
        if (!(rate >= 0) || !double.IsFinite(rate))
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The integration rate must be finite and ≥ 0 (1/ms).");
        var (wv, wi) = IntegralWeights(neuron, rate);
        int b = neuron * (_steps + 1);
        double sum = 0;
        for (int n = First; n <= Last; n++)
        {
            double w = Math.Exp(-rate * _dt * n);
            sum += w * (_v[b + n] * wv + _i[b + n] * wi);
        }
        return sum;
    }

    /// <summary>The per-step weights of V_n and I_n in ∫e^{−ρt}V dt (before the factor e^{−ρ t_n}).</summary>
    private (double FromV, double FromI) IntegralWeights(int neuron, double rate) =>
        _exact ? IntegralWeights(_rateMem[neuron], _rateSyn[neuron], rate, Leak(neuron)) : (_dt, 0);

    // m = 1/τm is the input gain, leak·m the membrane's decay rate.
    private (double FromV, double FromI) IntegralWeights(double m, double s, double rate, double leak) =>
        (ExpKernels.Psi2(_dt, rate + leak * m, 0), m * ExpKernels.Psi3(_dt, rate + leak * m, rate + s, 0));

    /// <summary>The leak coefficient ℓ (1 or 0) of a readout neuron.</summary>
    private double Leak(int neuron) => _rateLeak[neuron] == 0 ? 0 : 1;

    /// <summary>
    /// ∂/∂τm and ∂/∂τs of value(weights(1/τm, 1/τs)), where value is linear in the two weights: the weights' τ-derivatives
    /// by Richardson-extrapolated central differences of their closed forms (relative error ~1e-11), then the chain rule.
    /// </summary>
    private (double DTauMem, double DTauSyn) TauPartials(int neuron, Func<double, double, (double, double)> weights, Func<double, double, double> value)
    {
        double tm = 1 / _rateMem[neuron], ts = 1 / _rateSyn[neuron];
        (double, double) Diff(Func<double, (double, double)> f, double x)
        {
            (double, double) D(double h)
            {
                var (a1, b1) = f(x + h);
                var (a0, b0) = f(x - h);
                return ((a1 - a0) / (2 * h), (b1 - b0) / (2 * h));
            }
            double step = 1e-3 * x;
            var (p1, q1) = D(step);
            var (p2, q2) = D(step / 2);
            return ((4 * p2 - p1) / 3, (4 * q2 - q1) / 3);
        }
        var (vm, im) = Diff(t => weights(1 / t, 1 / ts), tm);
        var (vs, isyn) = Diff(t => weights(1 / tm, 1 / t), ts);
        return (value(vm, im), value(vs, isyn));
    }

    public override double Voltage(int neuron, double time)
    {
        Check(neuron);
        double T = Duration;
        if (!(time >= 0 && time <= T)) throw new ArgumentOutOfRangeException(nameof(time), time, $"Time must lie in [0, {T}] ms.");
        var (n, wv, wi, wNext) = VoltageWeights(neuron, time);
        int b = neuron * (_steps + 1) + n;
        double v = wv * _v[b] + wi * _i[b];
        if (wNext != 0) v += wNext * _v[b + 1];
        return v;
    }

    /// <summary>V(t) = wV·V_n + wI·I_n + wNext·V_{n+1}.</summary>
    private (int N, double WV, double WI, double WNext) VoltageWeights(int neuron, double time)
    {
        int n = Math.Min((int)Math.Floor(time / _dt), _steps);
        double s = Math.Max(0, time - n * _dt);
        if (s == 0 || n == _steps) return (n, 1, 0, 0);
        if (!_exact)
        {
            double u = s / _dt;
            return (n, 1 - u, 0, u);
        }
        double m = _rateMem[neuron], l = _rateLeak[neuron], r = _rateSyn[neuron];
        double em = Math.Exp(-l * s), es = Math.Exp(-r * s);
        return (n, em, m * ExpKernels.Psi2(s, l, r, em, es), 0);
    }

    private double QuadratureWeight(int n)
    {
        if (_exact) return n == 0 || n == _steps ? 0.5 * _dt : _dt;
        return n == 0 ? 0 : _dt;
    }

    public override double Integrate(VoltageFunction function)
    {
        ArgumentNullException.ThrowIfNull(function);
        int size = Size, stride = _steps + 1;
        var voltages = new double[size];
        double sum = 0;
        for (int n = 0; n <= _steps; n++)
        {
            double w = QuadratureWeight(n);
            if (w == 0) continue;
            for (int k = 0; k < size; k++) voltages[k] = _v[k * stride + n];
            sum += w * function(n * _dt, voltages);
        }
        return sum;
    }

    public override VoltageMaximum Maximum(int neuron)
    {
        Check(neuron);
        int b = neuron * (_steps + 1), best = 0;
        double max = _v[b];
        for (int n = 1; n <= _steps; n++)
            if (_v[b + n] > max)
            {
                max = _v[b + n];
                best = n;
            }
        return new VoltageMaximum(best * _dt, max, best);
    }

    public override ReadOnlySpan<double> SpikeTimes(int neuron)
    {
        Check(neuron);
        return [];
    }

    /// <summary>
    /// Writes ∂L/∂V_n and ∂L/∂I_n of every readout neuron (layout of <see cref="V"/>) for the given drive, adding to
    /// <paramref name="dV"/> and <paramref name="dI"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The drive has spike-time terms or adjoint jumps (losses of spiking readouts
    /// and heuristic terms, which have no discrete-time BPTT meaning here).</exception>
    /// <param name="drive">The trial's drive (already scaled).</param>
    /// <param name="lossName">For error messages.</param>
    /// <param name="dV">∂L/∂V_n, added to.</param>
    /// <param name="dI">∂L/∂I_n, added to.</param>
    /// <param name="dTauMem">If not null: the direct ∂L/∂τm per readout neuron through the exact scheme's quadrature and
    /// interpolation weights (they depend on τ), added to.</param>
    /// <param name="dTauSyn">Likewise for τs.</param>
    public void Differentiate(AdjointDrive drive, string lossName, double[] dV, double[] dI, double[]? dTauMem = null, double[]? dTauSyn = null)
    {
        bool tau = _exact && dTauMem is not null && dTauSyn is not null;
        if (drive.SpikeTimes.Count > 0 || drive.Jumps.Count > 0)
            throw new NotSupportedException($"Loss '{lossName}' uses spike-time terms or adjoint jumps, which the surrogate-gradient engine does not support; use sum, sum_exp, max, entropy, last_voltage or a custom voltage loss.");
        int stride = _steps + 1;
        foreach (var t in drive.Exponential)
        {
            var (wv, wi) = IntegralWeights(t.Neuron, t.Rate);
            double leak = Leak(t.Neuron);
            int b = t.Neuron * stride;
            double sumV = 0, sumI = 0; // Σ c·e^{−ρ t_n}·V_n and ·I_n: the value is linear in the two weights
            for (int n = First; n <= Last; n++)
            {
                double c = t.Coefficient * Math.Exp(-t.Rate * _dt * n);
                dV[b + n] += c * wv;
                dI[b + n] += c * wi;
                sumV += c * _v[b + n];
                sumI += c * _i[b + n];
            }
            if (tau)
            {
                var (dm, ds) = TauPartials(t.Neuron, (m, r) => IntegralWeights(m, r, t.Rate, leak), (wv2, wi2) => wv2 * sumV + wi2 * sumI);
                dTauMem![t.Neuron] += dm;
                dTauSyn![t.Neuron] += ds;
            }
        }
        foreach (var imp in drive.Impulses)
        {
            var (n, wv, wi, wNext) = VoltageWeights(imp.Neuron, imp.Time);
            int b = imp.Neuron * stride + n;
            dV[b] += imp.DLossdV * wv;
            dI[b] += imp.DLossdV * wi;
            if (wNext != 0) dV[b + 1] += imp.DLossdV * wNext;
            double offset = imp.Time - n * _dt;
            if (tau && offset > 0 && n < _steps)
            {
                double vn = _v[b], i0 = _i[b], leak = Leak(imp.Neuron);
                var (dm, ds) = TauPartials(imp.Neuron, (m, r) => (Math.Exp(-leak * m * offset), m * ExpKernels.Psi2(offset, leak * m, r)),
                    (wv2, wi2) => imp.DLossdV * (wv2 * vn + wi2 * i0));
                dTauMem![imp.Neuron] += dm;
                dTauSyn![imp.Neuron] += ds;
            }
        }
        if (drive.VoltageDependent.Count > 0)
        {
            int size = Size;
            var voltages = new double[size];
            var d = new double[size];
            for (int n = 0; n <= _steps; n++)
            {
                double w = QuadratureWeight(n);
                if (w == 0) continue;
                for (int k = 0; k < size; k++) voltages[k] = _v[k * stride + n];
                foreach (var term in drive.VoltageDependent)
                {
                    Array.Clear(d);
                    term.Function(n * _dt, voltages, d);
                    for (int k = 0; k < size; k++) dV[k * stride + n] += w * term.Coefficient * d[k];
                }
            }
        }
    }

    private void Check(int neuron)
    {
        if ((uint)neuron >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(neuron), neuron, $"The readout has {Size} neurons.");
    }
}
