using Eventprop.Core.Losses;

namespace Eventprop.Tests.Stepped;

/// <summary>
/// Small losses written only for the engine tests, one per kind of <see cref="AdjointDrive"/> term, so the engines are
/// tested through the loss contract exactly as the library's losses use it.
/// </summary>
internal static class TestLosses
{
    /// <summary>Cross-entropy of z_k = (1/T)∫e^{−t/T}V_k dt (the sum_exp form): exponential drive with rate 1/T.</summary>
    public sealed class DecayingSum : ILoss
    {
        public string Name => "test_decaying_sum";
        public ReadoutKind Readout => ReadoutKind.LeakyIntegrator;

        public LossEvaluation Evaluate(ReadoutTrace trace, int label)
        {
            double T = trace.Duration, rate = 1 / T;
            var z = Enumerable.Range(0, trace.Size).Select(k => trace.IntegrateVoltage(k, rate) / T).ToArray();
            var p = Softmax(z);
            var drive = new AdjointDrive();
            for (int k = 0; k < z.Length; k++) drive.AddExponential(k, (p[k] - (k == label ? 1 : 0)) / T, rate);
            return new LossEvaluation(-Math.Log(p[label]), z, drive);
        }
    }

    /// <summary>L = Σ_k a_k V_k(t₀) at a fixed time t₀ off the grid: voltage impulses.</summary>
    public sealed class VoltageAtTime(double fraction) : ILoss
    {
        public string Name => "test_voltage_at_time";
        public ReadoutKind Readout => ReadoutKind.LeakyIntegrator;

        public LossEvaluation Evaluate(ReadoutTrace trace, int label)
        {
            double t0 = fraction * trace.Duration;
            var z = new double[trace.Size];
            var drive = new AdjointDrive();
            double value = 0;
            for (int k = 0; k < z.Length; k++)
            {
                double a = k == label ? -1.0 : 0.5 + 0.25 * k;
                z[k] = trace.Voltage(k, t0);
                value += a * z[k];
                drive.AddImpulse(k, t0, a);
            }
            return new LossEvaluation(value, z, drive);
        }
    }

    /// <summary>
    /// Only an adjoint jump, or its equivalent impulse: λ_V of <paramref name="neuron"/> jumps by 0.05 at t = fraction·T, as
    /// <c>first_spike</c>'s phantom spike does at T; with <paramref name="asImpulse"/> the drive is instead the impulse
    /// ∂L/∂V = −τm·0.05 (τm of the neuron given as <paramref name="tauMem"/>). The reported loss is 0.
    /// </summary>
    public sealed class AdjointJumpAt(int neuron, double fraction, ReadoutKind readout, bool asImpulse = false, double tauMem = 0) : ILoss
    {
        public string Name => "test_adjoint_jump";
        public ReadoutKind Readout => readout;

        public LossEvaluation Evaluate(ReadoutTrace trace, int label)
        {
            double t = fraction * trace.Duration;
            var drive = asImpulse ? new AdjointDrive().AddImpulse(neuron, t, -tauMem * 0.05) : new AdjointDrive().AddAdjointJump(neuron, t, 0.05);
            return new(0, new double[trace.Size], drive);
        }
    }

    /// <summary>Spiking readout: L = Σ_k a_k·(first spike time of k) over neurons that spiked: spike-time terms.</summary>
    public sealed class FirstSpikeTimes : ILoss
    {
        public string Name => "test_first_spike_times";
        public ReadoutKind Readout => ReadoutKind.Spiking;

        public LossEvaluation Evaluate(ReadoutTrace trace, int label)
        {
            var z = new double[trace.Size];
            var drive = new AdjointDrive();
            double value = 0;
            for (int k = 0; k < z.Length; k++)
            {
                var times = trace.SpikeTimes(k);
                double a = k == label ? 0.05 : -0.02 * (k + 1);
                z[k] = times.Length > 0 ? -times[0] : double.NegativeInfinity;
                if (times.Length == 0) continue;
                value += a * times[0];
                drive.AddSpikeTime(k, 0, a);
            }
            return new LossEvaluation(value, z, drive);
        }
    }

    /// <summary>L = (1/2T) Σ_k ∫ c_k V_k² dt: a voltage-dependent drive c_k V_k/T. Its value uses Simpson's rule on <see cref="ReadoutTrace.Voltage"/>.</summary>
    public sealed class SquaredVoltage : ILoss
    {
        public string Name => "test_squared_voltage";
        public ReadoutKind Readout => ReadoutKind.LeakyIntegrator;

        public LossEvaluation Evaluate(ReadoutTrace trace, int label)
        {
            double T = trace.Duration;
            int n = trace.Size;
            const int points = 4000;
            var z = new double[n];
            double value = 0;
            for (int k = 0; k < n; k++)
            {
                double h = T / points, sum = 0;
                for (int i = 0; i <= points; i++)
                {
                    double v = trace.Voltage(k, Math.Min(T, i * h));
                    sum += (i == 0 || i == points ? 1 : i % 2 == 1 ? 4 : 2) * v * v;
                }
                z[k] = sum * h / 3;
                value += Weight(k, label) * z[k] / (2 * T);
            }
            var drive = new AdjointDrive().AddVoltageDependent((t, voltages, d) =>
            {
                for (int k = 0; k < d.Length; k++) d[k] = Weight(k, label) * voltages[k] / T;
            });
            return new LossEvaluation(value, z, drive);
        }

        private static double Weight(int k, int label) => k == label ? -1.0 : 1.0 + 0.5 * k;
    }

    private static double[] Softmax(double[] z)
    {
        double max = z.Max();
        var p = z.Select(x => Math.Exp(x - max)).ToArray();
        double s = p.Sum();
        return p.Select(x => x / s).ToArray();
    }
}
