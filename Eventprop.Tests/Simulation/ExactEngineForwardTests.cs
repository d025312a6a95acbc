using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Tests.Gradients;
using MathNet.Numerics;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Simulation;

public class ExactEngineForwardTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(CaseKind.FeedForward)]
    [InlineData(CaseKind.Recurrent)]
    [InlineData(CaseKind.EqualTau)]
    [InlineData(CaseKind.SharedTau)]
    public void SpikeTimesAgreeWithAnIndependentRk4Simulation(CaseKind kind)
    {
        var cases = GradientCase.Sample(kind, 12, seed: 7);
        int compared = 0, spikes = 0;
        double worst = 0;
        foreach (var c in cases)
        {
            var (network, sample) = c.Build();
            var trial = new ExactEngine(c.Duration).Simulate(network, sample);
            // Near-grazing spikes are ill-conditioned for any fixed-step method; compare well-conditioned trials only.
            if (trial.MinThresholdSlope < 0.05) continue;
            var (reference, _) = new ReferenceSimulator(network, c.Duration, 1e-3).Run(sample);
            int g = 0;
            foreach (var pop in network.Populations.Where(p => p.HasDynamics))
                for (int i = 0; i < pop.Size; i++, g++)
                {
                    var exact = trial.SpikeTimes(pop.Name, i).ToArray();
                    Assert.True(exact.Length == reference[g].Count, $"{c}: {pop.Name}[{i}] has {exact.Length} spikes, reference {reference[g].Count}");
                    for (int k = 0; k < exact.Length; k++) worst = Math.Max(worst, Math.Abs(exact[k] - reference[g][k]));
                    spikes += exact.Length;
                }
            compared++;
        }
        output.WriteLine($"{kind}: {compared} trials, {spikes} spikes compared, worst |Δt| = {worst:E2} ms");
        Assert.True(compared >= 6, $"only {compared} well-conditioned trials");
        Assert.True(spikes > 0);
        Assert.True(worst < 1e-4, $"spike times differ by up to {worst} ms");
    }

    [Fact]
    public void SpikesAreExactlyAtThresholdAndTheSlopeIsRecorded()
    {
        var c = new GradientCase(CaseKind.Recurrent, Seed: 7, Inputs: 4, Hidden: [6, 4], Recurrent: [true, false], Readout: 3, InputSpikes: 40, Duration: 50);
        var (network, sample) = c.Build();
        var trial = new ExactEngine(c.Duration).Simulate(network, sample);
        Assert.True(trial.TotalSpikes > 10);
        var plan = trial.Plan;
        for (int g = 0; g < plan.NeuronCount; g++)
        {
            var times = trial.SpikeTime[g].AsSpan();
            for (int k = 0; k < times.Length; k++)
            {
                // The state just before the spike: evolve the record in force before it.
                double t = times[k];
                int r = trial.RecordAt(g, Math.BitDecrement(t));
                var (v, i) = trial.StateAt(g, r, t);
                Assert.Equal(1.0, v, 1e-12);
                Assert.Equal(i - 1.0, trial.SpikeSlope[g][k], 1e-12);
            }
        }
    }

    [Fact]
    public void ReadoutIntegralsMatchQuadratureOfTheVoltage()
    {
        var c = new GradientCase(CaseKind.FeedForward, Seed: 11, Inputs: 3, Hidden: [5], Recurrent: [false], Readout: 3, InputSpikes: 30, Duration: 40);
        var (network, sample) = c.Build();
        var trial = new ExactEngine(c.Duration).Simulate(network, sample);
        var trace = trial.Readout;
        var (_, referenceVoltage) = new ReferenceSimulator(network, c.Duration, 1e-3).Run(sample);
        for (int k = 0; k < trace.Size; k++)
        {
            // V is smooth between the readout's events (its derivative jumps at them), so integrate piece by piece.
            var records = trial.Records[trial.Plan.ReadoutOffset + k];
            var breaks = Enumerable.Range(0, records.Count).Select(records.Time).Append(c.Duration).Distinct().ToArray();
            foreach (double rate in new[] { 0.0, 1.0 / 40, 0.3 })
            {
                double quad = 0;
                for (int p = 0; p + 1 < breaks.Length; p++)
                {
                    int pieces = (int)Math.Ceiling((breaks[p + 1] - breaks[p]) / 0.5);
                    for (int q = 0; q < pieces; q++)
                    {
                        double a = breaks[p] + (breaks[p + 1] - breaks[p]) * q / pieces;
                        double b = breaks[p] + (breaks[p + 1] - breaks[p]) * (q + 1) / pieces;
                        quad += Integrate.GaussLegendre(t => Math.Exp(-rate * t) * trace.Voltage(k, t), a, b, 16);
                    }
                }
                Assert.Equal(quad, trace.IntegrateVoltage(k, rate), Math.Abs(quad) * 1e-12 + 1e-15);
            }
            // The voltage itself against the RK4 reference.
            for (double t = 1; t < c.Duration; t += 3.7)
                Assert.Equal(referenceVoltage(k, t), trace.Voltage(k, t), 1e-3);
        }
    }

    [Fact]
    public void SmoothThroughTauMemEqualTauSyn()
    {
        // L(τs) around τs = τm: second differences stay at rounding level (no 0/0 blow-up, no kink).
        var c = new GradientCase(CaseKind.FeedForward, Seed: 3, Inputs: 3, Hidden: [4], Recurrent: [false], Readout: 2, InputSpikes: 30, Duration: 40);
        var (network, sample) = c.Build();
        var engine = new ExactEngine(c.Duration);
        var loss = Eventprop.Losses.Loss.Sum();
        var tauSyn = network.TauSyn("h0").Values;
        double tauMem = network.TauMem("h0")[0];
        var values = new List<double>();
        for (int k = -3; k <= 3; k++)
        {
            tauSyn[0] = tauMem + k * 1e-7;
            values.Add(engine.Evaluate(network, sample, loss).Value);
        }
        for (int k = 1; k < values.Count - 1; k++)
            Assert.True(Math.Abs(values[k - 1] - 2 * values[k] + values[k + 1]) < 1e-13, $"second difference {values[k - 1] - 2 * values[k] + values[k + 1]:E2} at step {k}");
        Assert.NotEqual(values[0], values[^1]); // the loss does depend on τs
    }
}
