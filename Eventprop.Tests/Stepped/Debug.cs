using Eventprop.Benchmarks;
using Xunit;
using Xunit.Abstractions;
namespace Eventprop.Tests.Stepped;
public class DebugBench(ITestOutputHelper o)
{
    [Fact]
    public void Run()
    {
        var c = SteppedBenchmarkCase.Standard[0] with { Hidden = 16 };
        var net = SteppedBenchmark.BuildNetwork(c);
        var samples = SteppedBenchmark.BuildSamples(c, 1);
        var ex = new Eventprop.Core.Simulation.ExactEngine(1000).Gradient(net, samples, Eventprop.Losses.Loss.Sum());
        o.WriteLine($"exact loss {ex.Loss} spikes {ex.HiddenSpikeCounts["hidden"].Sum()} minslope {ex.Trials[0].MinThresholdSlope}");
        foreach (var p in ex.Gradient) o.WriteLine($"{p.Name}: max {p.Values.Max(Math.Abs)}");
        foreach (double dt in new[] { 1, 0.1, 0.01 })
        {
            var r = new Eventprop.Core.Simulation.Stepped.SteppedEngine(dt, 1000, 1).Gradient(net, samples, Eventprop.Losses.Loss.Sum());
            o.WriteLine($"dt {dt} loss {r.Loss} spikes {r.HiddenSpikeCounts["hidden"].Sum()} err {SteppedTestCases.RelativeError(r.Gradient, ex.Gradient)}");
            foreach (var p in r.Gradient) o.WriteLine($"{p.Name}: max {p.Values.Max(Math.Abs)}");
        }
    }
}
