using Eventprop.Core.Losses;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using MathNet.Numerics;
using Xunit;

namespace Eventprop.Tests.Losses;

public class LossTests
{
    [Fact]
    public void EntropyQuadratureIsAccurateToTheGradientTolerance()
    {
        // The engine integrates 8-point Gauss–Legendre between the readout's events on panels ≤ τ/(4(1 + |V| + |I|)); a
        // reference with 32 points on panels of τ/16 must agree to far better than the 1e-5 gradient tolerance.
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var c = new GradientCase(CaseKind.Recurrent, Seed: seed, Inputs: 4, Hidden: [6], Recurrent: [true], Readout: 3, InputSpikes: 40, Duration: 50);
            var (network, sample) = c.Build();
            var trial = new ExactEngine(c.Duration).Simulate(network, sample);
            var trace = trial.Readout;
            double engineValue = new EntropyLoss().Evaluate(trace, sample.Label).Value;
            var breaks = Enumerable.Range(0, trace.Size)
                .SelectMany(k => { var r = trial.Records[trial.Plan.ReadoutOffset + k]; return Enumerable.Range(0, r.Count).Select(r.Time); })
                .Append(0).Append(c.Duration).Where(t => t <= c.Duration).Distinct().Order().ToArray();
            double minTau = network.TauMem("out").Values.Concat(network.TauSyn("out").Values).Min();
            double reference = 0;
            var v = new double[trace.Size];
            for (int b = 0; b + 1 < breaks.Length; b++)
            {
                int panels = Math.Max(1, (int)Math.Ceiling(16 * (breaks[b + 1] - breaks[b]) / minTau));
                double h = (breaks[b + 1] - breaks[b]) / panels;
                for (int p = 0; p < panels; p++)
                    reference += Integrate.GaussLegendre(t =>
                    {
                        for (int k = 0; k < v.Length; k++) v[k] = trace.Voltage(k, t);
                        double max = v.Max(), sum = v.Sum(x => Math.Exp(x - max));
                        return Math.Log(sum) + max - v[sample.Label];
                    }, breaks[b] + p * h, breaks[b] + (p + 1) * h, 32);
            }
            reference /= c.Duration;
            Assert.Equal(reference, engineValue, Math.Abs(reference) * 1e-12);
        }
    }

    [Fact]
    public void LossesAreFoundByTheirConfigNames()
    {
        foreach (string name in Loss.Names) Assert.Equal(name, Loss.FromName(name).Name);
        var e = Assert.Throws<ArgumentException>(() => Loss.FromName("summ"));
        Assert.Contains("sum_exp", e.Message);
    }

    [Fact]
    public void FirstSpikeRejectsBadParameters()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FirstSpikeLoss(tau0: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FirstSpikeLoss(tau1: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FirstSpikeLoss(alpha: -1));
    }

    [Fact]
    public void SumAndSumExpMatchTheirDefinitions()
    {
        var c = new GradientCase(CaseKind.FeedForward, Seed: 4, Inputs: 3, Hidden: [5], Recurrent: [false], Readout: 3, InputSpikes: 30, Duration: 40);
        var (network, sample) = c.Build();
        var trace = new ExactEngine(c.Duration).Simulate(network, sample).Readout;
        double T = c.Duration;
        var zSum = Enumerable.Range(0, 3).Select(k => trace.Integrate((t, v) => v[k]) / T).ToArray();
        var zExp = Enumerable.Range(0, 3).Select(k => trace.Integrate((t, v) => Math.Exp(-t / T) * v[k]) / T).ToArray();
        double Ce(double[] z) => Math.Log(z.Sum(Math.Exp)) - z[sample.Label];
        Assert.Equal(Ce(zSum), Loss.Sum().Evaluate(trace, sample.Label).Value, 1e-12);
        Assert.Equal(Ce(zExp), Loss.SumExp().Evaluate(trace, sample.Label).Value, 1e-12);
        Assert.Equal(zExp, Loss.SumExp().Evaluate(trace, sample.Label).Outputs, (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void MaxFindsTheMaximumOfTheVoltage()
    {
        var c = new GradientCase(CaseKind.Recurrent, Seed: 8, Inputs: 3, Hidden: [6], Recurrent: [true], Readout: 3, InputSpikes: 30, Duration: 40, InputSpan: 0.6);
        var (network, sample) = c.Build();
        var trace = new ExactEngine(c.Duration).Simulate(network, sample).Readout;
        for (int k = 0; k < 3; k++)
        {
            var max = trace.Maximum(k);
            double sampled = Enumerable.Range(0, 40001).Select(i => trace.Voltage(k, i * c.Duration / 40000)).Max();
            // No sampled point lies above it, and it is attained (a grid cannot get closer than h·|V̇| to a corner maximum).
            Assert.True(max.Value >= sampled - 1e-12, $"sampled {sampled} above the maximum {max.Value}");
            Assert.Equal(max.Value, trace.Voltage(k, max.Time), 1e-12);
            Assert.True(max.Value - sampled < 1e-3, $"the maximum {max.Value} is far above every sample {sampled}");
        }
    }
}
