using Eventprop.Core.Simulation;
using Eventprop.Losses;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Gradients;

/// <summary>
/// Every Eventprop gradient of the exact engine (all weight matrices, τ_mem and τ_syn of every neuron) agrees with
/// central finite differences of the exact forward pass: relative error ≤ 1e-5 or absolute ≤ 1e-9, on random
/// networks and inputs. Cases are discarded only when a spike count changes within ±h or a spike grazes the
/// threshold (τ_mem·V̇ &lt; 1e-3); every discard is counted and printed.
/// </summary>
/// <remarks>
/// The FsCheck seed is fixed so CI is deterministic; set EVENTPROP_PROPERTY_SEED to an integer to explore others
/// (the seed used is printed). A failure shrinks to a small case and prints it as a C# expression to replay it.
/// </remarks>
public class GradientProperties(ITestOutputHelper output)
{
    internal static ulong Seed =>
        ulong.TryParse(Environment.GetEnvironmentVariable("EVENTPROP_PROPERTY_SEED"), out ulong s) ? s : 20261124UL;

    [Theory]
    [InlineData(CaseKind.FeedForward, 120)]
    [InlineData(CaseKind.Recurrent, 120)]
    [InlineData(CaseKind.EqualTau, 80)]
    [InlineData(CaseKind.RecurrentDriven, 80)]
    [InlineData(CaseKind.SharedTau, 80)]
    [InlineData(CaseKind.IntegrateAndFire, 80)]
    [InlineData(CaseKind.SubtractiveReset, 60)]
    [InlineData(CaseKind.ThresholdsAndResets, 80)]
    [InlineData(CaseKind.Deep, 60)]
    [InlineData(CaseKind.Sparse, 80)]
    public void EventpropGradientsMatchFiniteDifferences(CaseKind kind, int cases)
    {
        var stats = new PropertyStatistics();
        var property = Prop.ForAll(GradientCase.Arbitrary(kind), c =>
        {
            var (network, sample) = c.Build();
            var report = GradientCheck.Run(new ExactEngine(c.Duration), network, sample, Loss.Sum());
            stats.Add(report, c.Hidden.Sum());
            return (report.Outcome != GradientCheckOutcome.Failed).Label(report.Detail ?? "passed");
        });
        var config = Config.QuickThrowOnFailure.WithMaxTest(cases).WithReplay(Seed, 0x9E3779B97F4A7C15UL);
        try
        {
            Check.One(config, property);
        }
        finally
        {
            output.WriteLine($"seed {Seed}: " + stats.Summary(kind.ToString()));
        }
        // Discards must stay rare, or the property would test little.
        Assert.True(stats.Evaluated >= 0.9 * cases, $"only {stats.Evaluated} of {cases} cases were evaluated: {stats.Summary(kind.ToString())}");
    }

    /// <summary>Convolutions (kernel, stride, padding), average pooling folded into the next connection and a pooled dense
    /// readout, through LIF and IF layers with both reset modes: every kernel weight is shared by many synapses.</summary>
    [Fact]
    public void EventpropGradientsThroughConvolutionsMatchFiniteDifferences()
    {
        const int cases = 60;
        var stats = new PropertyStatistics();
        var property = Prop.ForAll(ConvGradientCase.Arbitrary(), c =>
        {
            var (network, sample) = c.Build();
            var report = GradientCheck.Run(new ExactEngine(c.Duration), network, sample, Loss.Sum());
            stats.Add(report, c.HiddenNeurons);
            return (report.Outcome != GradientCheckOutcome.Failed).Label(report.Detail ?? "passed");
        });
        var config = Config.QuickThrowOnFailure.WithMaxTest(cases).WithReplay(Seed, 0x9E3779B97F4A7C15UL);
        try
        {
            Check.One(config, property);
        }
        finally
        {
            output.WriteLine($"seed {Seed}: " + stats.Summary("Conv2d"));
        }
        Assert.True(stats.Evaluated >= 0.9 * cases, $"only {stats.Evaluated} of {cases} cases were evaluated: {stats.Summary("Conv2d")}");
    }
}
