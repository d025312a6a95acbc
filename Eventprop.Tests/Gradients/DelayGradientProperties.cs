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
/// Learned delays (synaptic and axonal) in the exact engine: every gradient — the delays' ∂L/∂d, and the weights and τ's
/// whose adjoints now read transport terms at the arrivals — agrees with finite differences of the exact forward pass, for
/// feed-forward, recurrent and sparse networks and the loss family, with the tolerances and discard rules of
/// <see cref="GradientProperties"/> (an arrival that crosses another event is not a discard; only a changed spike count or a
/// grazing spike is). Each delayed connection's arrivals are their own events, so delays move arrivals past inputs, spikes
/// and each other.
/// </summary>
public class DelayGradientProperties(ITestOutputHelper output)
{
    private void Run(string name, int cases, Arbitrary<GradientCase> generated, Func<GradientCase, ILoss> loss)
    {
        var stats = new PropertyStatistics();
        int delayGradients = 0, nonZero = 0;
        var property = Prop.ForAll(generated, c =>
        {
            var (network, sample) = c.Build();
            var report = GradientCheck.Run(new ExactEngine(c.Duration), network, sample, loss(c));
            stats.Add(report, c.Hidden.Sum());
            foreach (var comparison in report.Comparisons.Where(x => x.Parameter.EndsWith("delay", StringComparison.Ordinal)))
            {
                Interlocked.Increment(ref delayGradients);
                if (Math.Abs(comparison.FiniteDifference) > 1e-6) Interlocked.Increment(ref nonZero);
            }
            return (report.Outcome != GradientCheckOutcome.Failed).Label(report.Detail ?? "passed");
        });
        try
        {
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(cases).WithReplay(GradientProperties.Seed, 0x9E3779B97F4A7C15UL), property);
        }
        finally
        {
            output.WriteLine($"seed {GradientProperties.Seed}: " + stats.Summary(name) + $"; {delayGradients} delay gradients compared, {nonZero} of them with |fd| > 1e-6");
        }
        Assert.True(stats.Evaluated >= 0.9 * cases, $"only {stats.Evaluated} of {cases} cases were evaluated: {stats.Summary(name)}");
        // The property must exercise the delays, not only carry them.
        Assert.True(nonZero >= delayGradients / 4, $"only {nonZero} of {delayGradients} delay gradients were non-zero");
    }

    private static Arbitrary<GradientCase> Cases(DelayKind delays, bool spikingReadout = false)
    {
        var gen =
            from kind in Gen.Elements(CaseKind.FeedForward, CaseKind.Recurrent, CaseKind.RecurrentDriven, CaseKind.Sparse, CaseKind.SubtractiveReset)
            from c in GradientCase.Arbitrary(kind).Generator
            select c with { Delays = delays, SpikingReadout = spikingReadout };
        return Arb.From(gen, c => GradientCase.Shrink(c).Select(s => s with { Delays = delays }));
    }

    [Theory]
    [InlineData(DelayKind.Synaptic)]
    [InlineData(DelayKind.Axonal)]
    public void SumLoss(DelayKind delays) => Run($"sum, {delays} delays", 60, Cases(delays), _ => Loss.Sum());

    [Fact]
    public void SumExpLoss() => Run("sum_exp, synaptic delays", 30, Cases(DelayKind.Synaptic), _ => Loss.SumExp());

    [Fact]
    public void MaxLoss() => Run("max, axonal delays", 30, Cases(DelayKind.Axonal), _ => Loss.Max());

    [Fact]
    public void EntropyLoss() => Run("entropy, synaptic delays", 30, Cases(DelayKind.Synaptic), _ => Loss.Entropy());

    [Fact]
    public void FirstSpikeLoss() => Run("first_spike, synaptic delays", 30, Cases(DelayKind.Synaptic, spikingReadout: true),
        _ => new FirstSpikeLoss(tau0: 2, tau1: 20, alpha: 0.05, FirstSpikeTimingTerm.Exponential, phantomSpikes: false));
}
