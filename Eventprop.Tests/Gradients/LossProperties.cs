using System.Collections.Concurrent;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Gradients;

/// <summary>
/// Finite-difference properties for every loss of the family (weights and τ's, recurrent networks included), in the same
/// style as <see cref="GradientProperties"/>: ≥ 100 generated cases each, discards counted with their reasons.
/// </summary>
public class LossProperties(ITestOutputHelper output)
{
    private const int Cases = 100;

    private void Run(string name, Arbitrary<GradientCase> cases, Func<GradientCase, ILoss> loss, Action<GradientCase, Network, SpikeSample, GradientCheckReport>? observe = null)
    {
        var stats = new PropertyStatistics();
        var property = Prop.ForAll(cases, c =>
        {
            var (network, sample) = c.Build();
            var report = GradientCheck.Run(new ExactEngine(c.Duration), network, sample, loss(c));
            stats.Add(report, c.Hidden.Sum());
            observe?.Invoke(c, network, sample, report);
            return (report.Outcome != GradientCheckOutcome.Failed).Label(report.Detail ?? "passed");
        });
        try
        {
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(Cases).WithReplay(GradientProperties.Seed, 0x9E3779B97F4A7C15UL), property);
        }
        finally
        {
            output.WriteLine($"seed {GradientProperties.Seed}: " + stats.Summary(name));
        }
        Assert.True(stats.Evaluated >= 0.9 * Cases, $"only {stats.Evaluated} of {Cases} cases were evaluated: {stats.Summary(name)}");
    }

    [Fact]
    public void SumExp() => Run("sum_exp", GradientCase.AnyKind(), _ => Loss.SumExp());

    [Fact]
    public void CustomMeanSquaredError() => Run("custom mse", GradientCase.AnyKind(), c => CustomLoss.MeanSquaredError(c.Duration, c.Readout));

    [Fact]
    public void Entropy() => Run("entropy", GradientCase.AnyKind(), _ => Loss.Entropy());

    [Fact]
    public void Max()
    {
        // Inputs end at 0.6·T in half the cases (the readout relaxes: maxima at turning points between events) and run past T
        // in the other half (activity continues to the end: maxima at T).
        var where = new ConcurrentDictionary<string, int>();
        Run("max", GradientCase.AnyKind(false, 0.6, 1.3), _ => Loss.Max(), (c, network, sample, _) =>
        {
            var trial = new ExactEngine(c.Duration).Simulate(network, sample);
            for (int k = 0; k < c.Readout; k++)
            {
                double t = trial.Readout.Maximum(k).Time;
                var records = trial.Records[trial.Plan.ReadoutOffset + k];
                string kind = t == 0 ? "at 0" : t == c.Duration ? "at T"
                    : Enumerable.Range(0, records.Count).Any(r => records.Time(r) == t) ? "at an event" : "between events";
                where.AddOrUpdate(kind, 1, (_, n) => n + 1);
            }
        });
        output.WriteLine("maxima: " + string.Join(", ", where.OrderBy(x => x.Key).Select(x => $"{x.Key} {x.Value}")));
        Assert.True(where.GetValueOrDefault("between events") >= 20, "too few maxima between events");
        Assert.True(where.GetValueOrDefault("at T") >= 20, "too few maxima at T");
    }

    [Theory]
    [InlineData(FirstSpikeTimingTerm.Exponential)]
    [InlineData(FirstSpikeTimingTerm.Reciprocal)]
    public void FirstSpike(FirstSpikeTimingTerm timing)
    {
        // α large enough that the timing term matters against the cross-entropy term.
        int silentLabel = 0, phantomChecked = 0;
        Run($"first_spike ({timing})", GradientCase.AnyKind(spikingReadout: true),
            c => new FirstSpikeLoss(tau0: 2, tau1: 20, alpha: 0.05, timing, phantomSpikes: false),
            (c, network, sample, report) =>
            {
                var trial = new ExactEngine(c.Duration).Simulate(network, sample);
                if (trial.Readout.SpikeTimes(sample.Label).Length > 0 || report.Discarded) return;
                Interlocked.Increment(ref silentLabel);
                // The phantom spike is a heuristic: check it against the surrogate loss it defines.
                PhantomCheck.AssertMatchesSurrogate(network, sample, c.Duration, new FirstSpikeLoss(tau0: 2, tau1: 20, alpha: 0.05, timing));
                Interlocked.Increment(ref phantomChecked);
            });
        output.WriteLine($"label neuron silent (phantom spike) in {silentLabel} cases; {phantomChecked} phantom gradients checked against their surrogate");
        Assert.True(silentLabel >= 10, $"only {silentLabel} cases had a silent label neuron");
    }
}

/// <summary>Checks the phantom-spike gradient against the surrogate it defines.</summary>
internal static class PhantomCheck
{
    /// <summary>
    /// With a silent label neuron y, the phantom jump Δλ_V = c at T (c = ∂timing/∂t_y at T, over N = 1) is the adjoint of
    /// the surrogate S(θ) = −τ_m,y·c·V_y(T; θ). So gradient(with phantom) − gradient(without) = ∇S, and ∇S is found by
    /// central differences of V_y(T), which is smooth while no spike appears or disappears.
    /// </summary>
    public static void AssertMatchesSurrogate(Network network, SpikeSample sample, double duration, FirstSpikeLoss loss)
    {
        var engine = new ExactEngine(duration);
        var net = network.Clone();
        var with = engine.Gradient(net, sample, loss).Gradient;
        var without = engine.Gradient(net, sample, new FirstSpikeLoss(loss.Tau0, loss.Tau1, loss.Alpha, loss.Timing, phantomSpikes: false)).Gradient;
        int y = sample.Label;
        double tauMem = net.TauMem(net.Readout.Name)[y];
        double c = loss.TimingTerm(duration, duration).Derivative;
        var baseTrial = engine.Simulate(net, sample);
        int[] counts = baseTrial.AllSpikeCounts();
        foreach (var p in net.Parameters)
        {
            for (int i = 0; i < p.Length; i++)
            {
                double x = p.Values[i];
                var values = p.Values;
                int index = i;
                // V_y(T) is as piecewise smooth as the loss: take its derivative inside the smooth piece, as GradientCheck does.
                (double, bool, bool) At(double step)
                {
                    values[index] = x + step;
                    var trial = engine.Simulate(net, sample);
                    values[index] = x;
                    return (trial.Readout.Voltage(y, duration), trial.AllSpikeCounts().AsSpan().SequenceEqual(counts), trial.HasSameEventOrder(baseTrial));
                }
                var (_, plusCounts, _) = At(1e-6);
                var (_, minusCounts, _) = At(-1e-6);
                if (!plusCounts || !minusCounts) return; // a spike appears or disappears: not smooth here
                double? dV = GradientCheck.SmoothDerivative(At, 1e-4);
                Assert.True(dV.HasValue, $"no smooth piece around {p.Name}[{i}]");
                double expected = -tauMem * c * dV!.Value;
                double actual = with[p.Name].Values[i] - without[p.Name].Values[i];
                double err = Math.Abs(actual - expected);
                Assert.True(err <= 1e-9 || err <= 1e-5 * Math.Abs(expected),
                    $"phantom gradient {p.Name}[{i}]: {actual:E6} vs surrogate {expected:E6}");
            }
        }
    }
}
