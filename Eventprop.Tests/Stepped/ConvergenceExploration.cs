using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Stepped;

public class ConvergenceExploration(ITestOutputHelper output)
{
    [Fact]
    public void Explore()
    {
        foreach (var kind in new[] { CaseKind.FeedForward, CaseKind.Recurrent, CaseKind.EqualTau })
            foreach (var (c, net, sample) in SteppedTestCases.Cases(kind, 3))
            {
                var exact = new ExactEngine(c.Duration).Gradient(net, [sample], Loss.Sum());
                var line = $"{kind} seed {c.Seed} spikes {exact.Trials[0].TotalSpikes} loss {exact.Loss:F5}:";
                foreach (double dt in new[] { 1.0, 0.1, 0.01, 0.001 })
                {
                    var g = new SteppedEngine(dt, c.Duration, threads: 1).Gradient(net, [sample], Loss.Sum());
                    line += $" dt={dt}: all {SteppedTestCases.RelativeError(g.Gradient, exact.Gradient):E2}" +
                            $" W {SteppedTestCases.RelativeError(g.Gradient, exact.Gradient, p => p.Kind == Core.Network.ParameterKind.Weight):E2}" +
                            $" τm {SteppedTestCases.RelativeError(g.Gradient, exact.Gradient, p => p.Kind == Core.Network.ParameterKind.TauMem):E2}" +
                            $" τs {SteppedTestCases.RelativeError(g.Gradient, exact.Gradient, p => p.Kind == Core.Network.ParameterKind.TauSyn):E2} L {g.Loss:F5};";
                }
                output.WriteLine(line);
            }
    }
}
