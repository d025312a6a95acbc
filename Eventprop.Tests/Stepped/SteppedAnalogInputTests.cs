using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Stepped;

/// <summary>
/// Analog input (a constant current x_c per channel) in the CPU time-stepped Eventprop engine, against the engine's spike
/// path, whose gradients are checked against the exact engine (and that against finite differences): an analog trial is,
/// by definition, channel c spiking at every grid point t_k = k·dt (k = 0…N−1) through weights scaled by x_c·dt. So the
/// analog trial on W and that spike trial on W' = diag(x·dt)·W must give the same spikes and loss, and
/// dL/dW[c, ·] = x_c·dt·dL/dW'[c, ·] with every other gradient equal. The analog path runs other code (one drive per
/// trial, one gradient pass per trial from Σ_k λI), so this compares two implementations of the same model.
/// </summary>
public class SteppedAnalogInputTests(ITestOutputHelper output)
{
    /// <summary>Float32 sums in another order (the drive summed once per trial instead of row by row at each grid point).</summary>
    private const double Tolerance = 1e-5;

    /// <summary>The spike sample that an analog sample is on the grid: every nonzero channel spikes at every grid point.</summary>
    private static SpikeSample PulseTrains(SpikeSample analog, double dt, int steps)
    {
        var x = analog.Currents.ToArray();
        var times = new List<double>();
        var channels = new List<int>();
        for (int k = 0; k < steps; k++)
            for (int c = 0; c < x.Length; c++)
                if (x[c] != 0)
                {
                    times.Add(k * dt);
                    channels.Add(c);
                }
        return new SpikeSample(times.ToArray(), channels.ToArray(), analog.Label);
    }

    /// <summary>Input weights of the spike twin: row c (dense) scaled by x_c·dt; a shared conv kernel by the one nonzero value·dt.</summary>
    private static Network SpikeTwin(Network network, SpikeSample analog, double dt)
    {
        var twin = network.Clone();
        var x = analog.Currents.ToArray();
        foreach (var c in twin.Connections.Where(c => c.Pre == twin.Input))
        {
            var w = twin.Parameters[c.Name].Values;
            if (c.Connectivity is DenseConnectivity)
            {
                int post = c.Post.Size;
                for (int i = 0; i < w.Length; i++) w[i] *= x[i / post] * dt;
            }
            else
            {
                double value = Uniform(x);
                for (int i = 0; i < w.Length; i++) w[i] *= value * dt;
            }
        }
        return twin;
    }

    /// <summary>The one nonzero value of an analog sample (a conv kernel is shared, so only uniform input has a spike twin).</summary>
    private static double Uniform(double[] x)
    {
        var values = x.Where(v => v != 0).Distinct().ToArray();
        Assert.Single(values);
        return values[0];
    }

    /// <summary>The spike twin's gradient mapped back onto the analog network's parameters (the chain rule through W' = s·W).</summary>
    private static ParameterSet MapBack(Network network, SpikeSample analog, double dt, ParameterSet twinGradient)
    {
        var result = twinGradient.Clone();
        var x = analog.Currents.ToArray();
        foreach (var c in network.Connections.Where(c => c.Pre == network.Input))
        {
            var g = result[c.Name].Values;
            if (c.Connectivity is DenseConnectivity)
                for (int i = 0; i < g.Length; i++) g[i] *= x[i / c.Post.Size] * dt;
            else
                for (int i = 0; i < g.Length; i++) g[i] *= Uniform(x) * dt;
        }
        return result;
    }

    private static SpikeSample UniformAnalog(SpikeSample analog, double value) =>
        SpikeSample.FromCurrents(analog.Currents.ToArray().Select(v => v == 0 ? 0 : value).ToArray(), analog.Label);

    private static IEnumerable<(string Name, Network Network, SpikeSample Sample, double Duration)> DenseCases() =>
        new[] { CaseKind.FeedForward, CaseKind.Recurrent, CaseKind.IntegrateAndFire, CaseKind.SubtractiveReset }
            .SelectMany(kind => GradientCase.Sample(kind, 3, seed: 11))
            .Select((c, i) =>
            {
                var (net, sample) = new AnalogCase(c, 500 + i).Build();
                return (c.ToString(), net, sample, c.Duration);
            });

    private static IEnumerable<(string Name, Network Network, SpikeSample Sample, double Duration)> ConvCases() =>
        ConvGradientCase.Sample(6, seed: 5).Select((c, i) =>
        {
            var (net, sample) = new AnalogCase(c, 700 + i).Build();
            return (c.ToString(), net, UniformAnalog(sample, 0.6), c.Duration);
        });

    [Theory]
    [InlineData("dense", "sum_exp", 0.5)]
    [InlineData("dense", "max", 1.0)]
    [InlineData("conv", "sum_exp", 0.5)]
    [InlineData("conv", "sum", 1.0)]
    public void Analog_trials_equal_their_pulse_train_twin(string family, string lossName, double dt)
    {
        var loss = Loss.FromName(lossName);
        int compared = 0, spiking = 0;
        foreach (var (name, net, analog, duration) in family == "dense" ? DenseCases() : ConvCases())
        {
            var engine = new SteppedEngine(dt, duration, threads: 1);
            var twin = SpikeTwin(net, analog, dt);
            var spikes = PulseTrains(analog, dt, engine.Steps);
            var a = engine.Gradient(net, [analog], loss);
            var s = engine.Gradient(twin, [spikes], loss);
            foreach (var (pop, counts) in s.HiddenSpikeCounts) Assert.Equal(counts, a.HiddenSpikeCounts[pop]);
            Assert.Equal(s.Predictions, a.Predictions);
            Assert.Equal(s.Loss, a.Loss, 5);
            if (s.HiddenSpikeCounts.Values.Sum(c => c.Sum()) > 0) spiking++;
            var expected = MapBack(net, analog, dt, s.Gradient);
            double error = SteppedTestCases.RelativeError(a.Gradient, expected);
            output.WriteLine($"{name}: loss {a.Loss:G6}, relative gradient difference {error:E2}");
            Assert.True(error <= Tolerance, $"{name}: analog vs pulse-train twin {error:E2} > {Tolerance:E0}");
            compared++;
        }
        output.WriteLine($"{compared} cases compared, {spiking} with hidden spikes");
        Assert.True(spiking >= compared / 2, $"only {spiking} of {compared} cases have hidden spikes: the check compares little");
    }

    /// <summary>The input weight gradient without x_c (fault injection): the twin check must catch it in every case where it
    /// changes the gradient (it cannot where the input weights' gradient is zero, e.g. no hidden spike reaches the readout).</summary>
    [Theory]
    [InlineData("dense")]
    [InlineData("conv")]
    public void A_gradient_that_ignores_the_input_value_is_caught(string family)
    {
        const double dt = 0.5;
        int caught = 0, changed = 0, total = 0;
        foreach (var (name, net, analog, duration) in family == "dense" ? DenseCases() : ConvCases())
        {
            total++;
            var good = new SteppedEngine(dt, duration, threads: 1).Gradient(net, [analog], Loss.SumExp());
            var bad = new SteppedEngine(dt, duration, threads: 1) { AnalogValueIgnoredInGradient = true };
            var a = bad.Gradient(net, [analog], Loss.SumExp());
            if (SteppedTestCases.RelativeError(a.Gradient, good.Gradient) == 0) continue;
            changed++;
            var s = bad.Gradient(SpikeTwin(net, analog, dt), [PulseTrains(analog, dt, bad.Steps)], Loss.SumExp()); // the fault does not touch spike input
            if (SteppedTestCases.RelativeError(a.Gradient, MapBack(net, analog, dt, s.Gradient)) > Tolerance) caught++;
        }
        output.WriteLine($"{family}: the fault changed the gradient in {changed} of {total} cases, caught in {caught}");
        Assert.True(changed >= total / 2, $"the fault changed only {changed} of {total} cases");
        Assert.Equal(changed, caught);
    }

    [Fact]
    public void Analog_gradients_are_bit_identical_from_run_to_run_and_deterministic_across_batches()
    {
        var (name, net, analog, duration) = DenseCases().First();
        var engine = new SteppedEngine(0.5, duration, threads: 2);
        var other = SpikeSample.FromCurrents(analog.Currents.ToArray().Reverse().ToArray(), analog.Label);
        var first = engine.Gradient(net, [analog, other], Loss.SumExp());
        var second = engine.Gradient(net, [analog, other], Loss.SumExp());
        Assert.Equal(first.Loss, second.Loss);
        for (int p = 0; p < first.Gradient.Count; p++) Assert.Equal(first.Gradient[p].Values, second.Gradient[p].Values);
        // A batch's gradient is the mean of its trials' gradients.
        var one = engine.Gradient(net, [analog], Loss.SumExp()).Gradient;
        var two = engine.Gradient(net, [other], Loss.SumExp()).Gradient;
        var mean = one.Clone();
        for (int p = 0; p < mean.Count; p++)
            for (int i = 0; i < mean[p].Length; i++) mean[p].Values[i] = 0.5 * (one[p].Values[i] + two[p].Values[i]);
        Assert.True(SteppedTestCases.RelativeError(first.Gradient, mean) <= Tolerance, name);
    }
}
