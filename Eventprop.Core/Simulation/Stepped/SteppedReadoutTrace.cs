using Eventprop.Core.Losses;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// The readout trajectory of one time-stepped trial as losses see it: V and I of every readout neuron at every grid
/// point (after that step's spikes were delivered), with the exact free evolution in between. Integrals are the
/// closed forms over each step, so they are exact for the stepped trajectory.
/// </summary>
/// <remarks>
/// The engine reuses the buffers from trial to trial: a trace is valid only while the loss evaluates it (losses must
/// not keep it). <see cref="SteppedSimulation"/> hands out owned copies.
/// </remarks>
public sealed class SteppedReadoutTrace : ReadoutTrace
{
    private readonly float[] _v;
    private readonly float[] _i;
    private readonly double[] _rateMem;
    private readonly double[] _rateSyn;
    private readonly double _dt;
    private readonly int _steps;
    private readonly double[][] _spikeTimes;

    /// <param name="v">V per neuron and grid point, [neuron·(steps + 1) + step].</param>
    /// <param name="i">I, same layout.</param>
    /// <param name="rateMem">1/τm per readout neuron.</param>
    /// <param name="rateSyn">1/τs per readout neuron.</param>
    /// <param name="dt">Step (ms).</param>
    /// <param name="steps">Number of steps N (T = N·dt).</param>
    /// <param name="spikeTimes">Spike times (ms) per readout neuron (empty arrays for a leaky integrator).</param>
    public SteppedReadoutTrace(float[] v, float[] i, double[] rateMem, double[] rateSyn, double dt, int steps, double[][] spikeTimes)
    {
        _v = v;
        _i = i;
        _rateMem = rateMem;
        _rateSyn = rateSyn;
        _dt = dt;
        _steps = steps;
        _spikeTimes = spikeTimes;
    }

    /// <inheritdoc />
    public override int Size => _rateMem.Length;

    /// <inheritdoc />
    public override double Duration => _dt * _steps;

    /// <inheritdoc />
    public override double IntegrateVoltage(int neuron, double rate = 0)
    {
        Check(neuron);
        if (!(rate >= 0) || !double.IsFinite(rate))
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The integration rate must be finite and ≥ 0 (1/ms).");
        double m = _rateMem[neuron], s = _rateSyn[neuron], dt = _dt;
        double fromV = ExpKernels.Psi2(dt, rate + m, 0);
        double fromI = m * ExpKernels.Psi3(dt, rate + m, rate + s, 0);
        double stepDecay = Math.Exp(-rate * dt);
        int baseIndex = neuron * (_steps + 1);
        double sum = 0, weight = 1;
        for (int n = 0; n < _steps; n++)
        {
            if (n % 256 == 0 && rate != 0) weight = Math.Exp(-rate * dt * n); // re-anchor the running product
            sum += weight * (_v[baseIndex + n] * fromV + _i[baseIndex + n] * fromI);
            weight *= stepDecay;
        }
        return sum;
    }

    /// <inheritdoc />
    public override double Voltage(int neuron, double time)
    {
        Check(neuron);
        double T = Duration;
        if (!(time >= 0 && time <= T)) throw new ArgumentOutOfRangeException(nameof(time), time, $"Time must lie in [0, {T}] ms.");
        int n = Math.Min((int)Math.Floor(time / _dt), _steps);
        double s = Math.Max(0, time - n * _dt);
        int idx = neuron * (_steps + 1) + n;
        double v = _v[idx], cur = _i[idx];
        if (s == 0) return v;
        double m = _rateMem[neuron], r = _rateSyn[neuron];
        double em = Math.Exp(-m * s), es = Math.Exp(-r * s);
        return v * em + cur * m * ExpKernels.Psi2(s, m, r, em, es);
    }

    /// <remarks>
    /// The trapezoidal rule on the grid, Σₙ dt·[f(tₙ, Vₙ) + f(tₙ₊₁, Vₙ₊₁)]/2, with the recorded Vₙ: the same per-step
    /// discretisation the backward pass uses for a voltage-dependent drive (constant over each step at the mean of its two
    /// ends), so a loss's value and its drive see the same quadrature. Its error is O(dt²) for a leaky-integrator readout.
    /// For a spiking readout the recorded Vₙ is the value after the step's reset.
    /// </remarks>
    public override double Integrate(VoltageFunction function)
    {
        ArgumentNullException.ThrowIfNull(function);
        int size = Size, stride = _steps + 1;
        var voltages = new double[size];
        double sum = 0;
        for (int n = 0; n <= _steps; n++)
        {
            for (int k = 0; k < size; k++) voltages[k] = _v[k * stride + n];
            double f = function(n * _dt, voltages);
            sum += n == 0 || n == _steps ? 0.5 * f : f;
        }
        return sum * _dt;
    }

    /// <remarks>
    /// The maximum over the recorded grid points t₀ … t_N (the values a loss can see without interpolation), the first one
    /// on ties. <see cref="VoltageMaximum.Piece"/> is the step index n of tₙ = n·dt, and <see cref="VoltageMaximum.Time"/>
    /// is exactly that grid time, so an impulse the loss places there lands on the grid point.
    /// </remarks>
    public override VoltageMaximum Maximum(int neuron)
    {
        Check(neuron);
        int baseIndex = neuron * (_steps + 1), best = 0;
        float max = _v[baseIndex];
        for (int n = 1; n <= _steps; n++)
        {
            float v = _v[baseIndex + n];
            if (v > max)
            {
                max = v;
                best = n;
            }
        }
        return new VoltageMaximum(best * _dt, max, best);
    }

    /// <inheritdoc />
    public override ReadOnlySpan<double> SpikeTimes(int neuron)
    {
        Check(neuron);
        return _spikeTimes[neuron];
    }

    /// <summary>V̇ = (I − V)/τm of a readout neuron at grid point <paramref name="step"/>, after the spikes delivered there.</summary>
    public double SlopeAtStep(int neuron, int step)
    {
        int idx = neuron * (_steps + 1) + step;
        return _rateMem[neuron] * ((double)_i[idx] - _v[idx]);
    }

    /// <summary>V of a readout neuron at grid point <paramref name="step"/>.</summary>
    public float VoltageAtStep(int neuron, int step) => _v[neuron * (_steps + 1) + step];

    private void Check(int neuron)
    {
        if ((uint)neuron >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(neuron), neuron, $"The readout has {Size} neurons.");
    }
}
