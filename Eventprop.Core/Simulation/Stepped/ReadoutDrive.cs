using Eventprop.Core.Losses;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>
/// A loss's <see cref="AdjointDrive"/> prepared for the time-stepped backward pass: exponential drive terms grouped by
/// rate, voltage-dependent drives, impulses (and adjoint jumps, as the equivalent impulses) sorted by time and spike-time
/// terms by (neuron, spike ordinal).
/// </summary>
/// <remarks>
/// <para>Over one step [t₀, t₀ + dt] a drive d(t) = C·e^{−ρ(t − t₀)} on ∂l_V/∂V has the particular adjoint solution
/// λV^p = P e^{−ρ(t − t₀)}, λI^p = Q e^{−ρ(t − t₀)}, P = −C/(1 + ρτm), Q = P/(1 + ρτs). The engine propagates the
/// total adjoint with the free propagator Φ and then adds λ^p(t₀) − Φ·λ^p(t₀ + dt), which makes the step exact; the
/// τ-gradient integrals get the matching closed-form corrections. Exponential terms are exact this way; a voltage-
/// dependent drive is taken as constant over each step at the mean of its values at both ends (trapezoidal rule).</para>
/// </remarks>
public sealed class ReadoutDrive
{
    private readonly List<double> _rates = [];
    private readonly List<double[]> _coefficients = [];
    private readonly List<RateConstants> _constants = [];
    private RateConstants? _zeroRate;
    private readonly List<VoltageDependentDrive> _voltageDependent = [];
    private readonly List<(int Grid, int Neuron, double Offset, double DLossdV, double CornerSlope)> _impulses = [];
    private readonly Dictionary<long, double> _spikeTimeTerms = [];
    private double[] _stepFactor = [];
    private double[] _em = [], _es = [], _adjointVtoI = [], _psi = [], _dtEm = [], _memPsi3 = [], _dtEs = [], _synPsi3 = [];
    private int _size;

    /// <summary>Whether there is any drive to apply per step.</summary>
    public bool HasStepDrive => _rates.Count > 0 || _voltageDependent.Count > 0;

    /// <summary>Whether a voltage-dependent drive needs the readout voltages in the backward pass.</summary>
    public bool NeedsVoltages => _voltageDependent.Count > 0;

    /// <summary>
    /// Impulses (grid point, readout neuron, time after the grid point, ∂L/∂V, V̇ of the neuron just after the grid
    /// point's spikes, or 0) sorted by time, latest first. A non-zero <c>CornerSlope</c> marks a loss impulse that lies on
    /// a grid point: if hidden spikes reach the neuron there, the impulse's time moves with them (see the engine).
    /// </summary>
    public IReadOnlyList<(int Grid, int Neuron, double Offset, double DLossdV, double CornerSlope)> Impulses => _impulses;

    /// <summary>Whether the drive has ∂L/∂t terms at readout spikes.</summary>
    public bool HasSpikeTimeTerms => _spikeTimeTerms.Count > 0;

    /// <summary>Reads <paramref name="drive"/> (already scaled to the batch mean) for readout neurons with the given τ's.</summary>
    /// <param name="drive">The trial's drive.</param>
    /// <param name="plan">The plan.</param>
    /// <param name="impulseSlopes">Per impulse of <paramref name="drive"/> (same order): V̇ of its neuron just after the
    /// spikes delivered at its grid point, when it lies on one (see <see cref="ImpulseSlopes"/>); empty when there are none.</param>
    public void Prepare(AdjointDrive drive, SteppedPlan plan, ReadOnlySpan<double> impulseSlopes)
    {
        int size = plan.ReadoutSize, off = plan.ReadoutOffset;
        double dt = plan.Dt, T = plan.Dt * plan.Steps;
        _size = size;
        _rates.Clear();
        _coefficients.Clear();
        _constants.Clear();
        _voltageDependent.Clear();
        _impulses.Clear();
        _spikeTimeTerms.Clear();
        if (_em.Length != size)
        {
            _em = new double[size]; _es = new double[size]; _adjointVtoI = new double[size]; _psi = new double[size];
            _dtEm = new double[size]; _memPsi3 = new double[size]; _dtEs = new double[size]; _synPsi3 = new double[size];
        }
        for (int j = 0; j < size; j++)
        {
            double m = plan.RateMem[off + j], s = plan.RateSyn[off + j];
            _em[j] = Math.Exp(-m * dt);
            _es[j] = Math.Exp(-s * dt);
            _psi[j] = ExpKernels.Psi2(dt, m, s, _em[j], _es[j]);
            _adjointVtoI[j] = s * _psi[j];
            _dtEm[j] = dt * _em[j];
            _memPsi3[j] = m * ExpKernels.Psi3(dt, m, m, s);
            _dtEs[j] = dt * _es[j];
            _synPsi3[j] = s * ExpKernels.Psi3(dt, m, s, s);
        }
        foreach (var term in drive.Exponential)
        {
            CheckNeuron(term.Neuron, size);
            int g = _rates.IndexOf(term.Rate);
            if (g < 0)
            {
                g = _rates.Count;
                _rates.Add(term.Rate);
                _coefficients.Add(new double[size]);
                _constants.Add(new RateConstants(term.Rate, plan, dt));
            }
            _coefficients[g][term.Neuron] += term.Coefficient;
        }
        _voltageDependent.AddRange(drive.VoltageDependent);
        _zeroRate = _voltageDependent.Count > 0 ? new RateConstants(0, plan, dt) : null;
        if (_stepFactor.Length < _rates.Count) _stepFactor = new double[_rates.Count];
        for (int q = 0; q < drive.Impulses.Count; q++)
        {
            var imp = drive.Impulses[q];
            CheckNeuron(imp.Neuron, size);
            AddImpulse(imp.Neuron, imp.Time, imp.DLossdV, q < impulseSlopes.Length ? impulseSlopes[q] : 0, "impulse", plan);
        }
        foreach (var jump in drive.Jumps)
        {
            // λV,k += Δ at t is the impulse ∂L/∂V_k(t) = −τm,k·Δ (the impulse's jump is −m·∂L/∂V).
            CheckNeuron(jump.Neuron, size);
            // A jump acts when the backward pass reaches its time; it never moves with a spike.
            AddImpulse(jump.Neuron, jump.Time, -jump.DeltaLambdaV * plan.TauMem[off + jump.Neuron], 0, "adjoint jump", plan);
        }
        _impulses.Sort((x, y) => (y.Grid, y.Offset).CompareTo((x.Grid, x.Offset)));
        foreach (var st in drive.SpikeTimes)
        {
            CheckNeuron(st.Neuron, size);
            long key = ((long)st.Neuron << 32) | (uint)st.SpikeIndex;
            _spikeTimeTerms[key] = _spikeTimeTerms.GetValueOrDefault(key) + st.DLossdt;
        }
    }

    /// <summary>∂L/∂t of spike <paramref name="ordinal"/> of readout neuron <paramref name="neuron"/> (0 when none).</summary>
    public double SpikeTimeTerm(int neuron, int ordinal) =>
        _spikeTimeTerms.GetValueOrDefault(((long)neuron << 32) | (uint)ordinal);

    /// <summary>
    /// Evaluates the voltage-dependent drives at time t into <paramref name="result"/>
    /// (Σ coefficient·f(t, V(t))).
    /// </summary>
    public void EvaluateVoltageDrive(double time, ReadOnlySpan<double> voltages, Span<double> result, Span<double> scratch)
    {
        result.Clear();
        foreach (var vd in _voltageDependent)
        {
            scratch.Clear();
            vd.Function(time, voltages, scratch);
            for (int j = 0; j < result.Length; j++) result[j] += vd.Coefficient * scratch[j];
        }
    }

    /// <summary>
    /// Adds the drive's effect over the step [t₀, t₀ + dt] to the readout adjoints (already propagated with the free
    /// propagator) and, with <paramref name="tau"/>, its τ-gradient corrections.
    /// </summary>
    /// <param name="t0">Start of the step (ms).</param>
    /// <param name="lambdaV">λV of the readout (slice).</param>
    /// <param name="lambdaI">λI of the readout (slice).</param>
    /// <param name="v">Readout V at t₀⁺ (slice; only read with <paramref name="tau"/>).</param>
    /// <param name="cur">Readout I at t₀⁺ (slice; only read with <paramref name="tau"/>).</param>
    /// <param name="voltageDriveStart">Voltage-dependent drive at t₀ (when <see cref="NeedsVoltages"/>).</param>
    /// <param name="voltageDriveEnd">Voltage-dependent drive at t₀ + dt.</param>
    /// <param name="tauMemSum">∫λV(I − V) accumulators of the readout (slice).</param>
    /// <param name="tauSynSum">∫λI·I accumulators of the readout (slice).</param>
    /// <param name="tau">Whether to accumulate τ-gradient corrections.</param>
    public void ApplyStep(double t0, Span<float> lambdaV, Span<float> lambdaI, ReadOnlySpan<float> v, ReadOnlySpan<float> cur,
        ReadOnlySpan<double> voltageDriveStart, ReadOnlySpan<double> voltageDriveEnd, Span<double> tauMemSum, Span<double> tauSynSum, bool tau)
    {
        int groups = _rates.Count;
        for (int g = 0; g < groups; g++) _stepFactor[g] = _rates[g] == 0 ? 1 : Math.Exp(-_rates[g] * t0);
        bool vd = _voltageDependent.Count > 0;
        for (int j = 0; j < _size; j++)
        {
            double startP = 0, startQ = 0, endP = 0, endQ = 0, pa = 0, pbV = 0, pbI = 0, pc = 0;
            for (int g = 0; g < groups; g++)
            {
                double c = _coefficients[g][j];
                if (c == 0) continue;
                var k = _constants[g];
                double P = -c * _stepFactor[g] * k.InvMem[j], Q = P * k.InvSyn[j];
                startP += P;
                startQ += Q;
                endP += P * k.StepDecay;
                endQ += Q * k.StepDecay;
                if (tau)
                {
                    pa += P * k.PsiSyn[j];
                    pbV += P * k.PsiMem[j];
                    pbI += P * k.MemPsi3[j];
                    pc += Q * k.PsiSyn[j];
                }
            }
            if (vd)
            {
                double c = 0.5 * (voltageDriveStart[j] + voltageDriveEnd[j]);
                if (c != 0)
                {
                    var k = _zeroRate!;
                    double P = -c, Q = -c;
                    startP += P;
                    startQ += Q;
                    endP += P;
                    endQ += Q;
                    if (tau)
                    {
                        pa += P * k.PsiSyn[j];
                        pbV += P * k.PsiMem[j];
                        pbI += P * k.MemPsi3[j];
                        pc += Q * k.PsiSyn[j];
                    }
                }
            }
            if (startP == 0 && endP == 0 && startQ == 0 && endQ == 0) continue;
            lambdaV[j] += (float)(startP - endP * _em[j]);
            lambdaI[j] += (float)(startQ - (endQ * _es[j] + endP * _adjointVtoI[j]));
            if (tau)
            {
                double vv = v[j], ii = cur[j];
                double a = -endP * ii * _psi[j] + ii * pa;
                double b = -endP * (vv * _dtEm[j] + ii * _memPsi3[j]) + vv * pbV + ii * pbI;
                double c = -ii * (endQ * _dtEs[j] + endP * _synPsi3[j]) + ii * pc;
                tauMemSum[j] += a - b;
                tauSynSum[j] += c;
            }
        }
    }

    /// <summary>
    /// V̇ of every impulse's readout neuron just after the spikes delivered at the impulse's grid point (m·(I − V) from the
    /// trace), or 0 for an impulse between grid points; for <see cref="Prepare"/>, computed while the trace is valid.
    /// </summary>
    public static double[] ImpulseSlopes(AdjointDrive drive, SteppedReadoutTrace trace, SteppedPlan plan)
    {
        var impulses = drive.Impulses;
        if (impulses.Count == 0) return [];
        var slopes = new double[impulses.Count];
        for (int q = 0; q < impulses.Count; q++)
        {
            var imp = impulses[q];
            if ((uint)imp.Neuron >= (uint)trace.Size || !(imp.Time >= 0 && imp.Time <= trace.Duration)) continue; // Prepare reports it
            var (grid, offset) = GridPoint(imp.Time, plan.Dt, plan.Steps);
            if (offset == 0) slopes[q] = trace.SlopeAtStep(imp.Neuron, grid);
        }
        return slopes;
    }

    /// <summary>
    /// The grid point at or before <paramref name="time"/> and the time after it. A time within 1e-9 steps of a grid point
    /// is that grid point with offset 0 (e.g. n·dt from <see cref="SteppedReadoutTrace.Maximum"/>, whose quotient by dt can
    /// round below n).
    /// </summary>
    public static (int Grid, double Offset) GridPoint(double time, double dt, int steps)
    {
        double u = time / dt, nearest = Math.Round(u);
        bool onGrid = Math.Abs(u - nearest) <= 1e-9 * Math.Max(1, nearest);
        int grid = Math.Min(onGrid ? (int)nearest : (int)Math.Floor(u), steps);
        return (grid, onGrid ? 0 : Math.Max(0, time - grid * dt));
    }

    private void AddImpulse(int neuron, double time, double dLossdV, double cornerSlope, string kind, SteppedPlan plan)
    {
        double T = plan.Dt * plan.Steps;
        if (!(time >= 0 && time <= T))
            throw new ArgumentOutOfRangeException("drive", time, $"A loss {kind} at t = {time} ms lies outside the trial [0, {T}] ms.");
        var (grid, offset) = GridPoint(time, plan.Dt, plan.Steps);
        _impulses.Add((grid, neuron, offset, dLossdV, offset == 0 ? cornerSlope : 0));
    }

    private static void CheckNeuron(int neuron, int size)
    {
        if ((uint)neuron >= (uint)size)
            throw new ArgumentOutOfRangeException(nameof(neuron), neuron, $"The loss drives readout neuron {neuron} but the readout has {size} neurons.");
    }

    /// <summary>Per-neuron constants of one drive rate ρ over one step.</summary>
    private sealed class RateConstants
    {
        public RateConstants(double rate, SteppedPlan plan, double dt)
        {
            int size = plan.ReadoutSize, off = plan.ReadoutOffset;
            StepDecay = Math.Exp(-rate * dt);
            InvMem = new double[size];
            InvSyn = new double[size];
            PsiSyn = new double[size];
            PsiMem = new double[size];
            MemPsi3 = new double[size];
            for (int j = 0; j < size; j++)
            {
                double tm = plan.TauMem[off + j], ts = plan.TauSyn[off + j], m = plan.RateMem[off + j], s = plan.RateSyn[off + j];
                InvMem[j] = 1.0 / (1.0 + rate * tm);
                InvSyn[j] = 1.0 / (1.0 + rate * ts);
                PsiSyn[j] = ExpKernels.Psi2(dt, rate + s, 0);
                PsiMem[j] = ExpKernels.Psi2(dt, rate + m, 0);
                MemPsi3[j] = m * ExpKernels.Psi3(dt, rate + m, rate + s, 0);
            }
        }

        public double StepDecay { get; }
        public double[] InvMem { get; }
        public double[] InvSyn { get; }
        public double[] PsiSyn { get; }
        public double[] PsiMem { get; }
        public double[] MemPsi3 { get; }
    }
}
