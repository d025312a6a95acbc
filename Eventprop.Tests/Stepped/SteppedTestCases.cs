using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;

namespace Eventprop.Tests.Stepped;

/// <summary>Helpers shared by the time-stepped engine tests: comparing gradients and picking well-conditioned cases.</summary>
internal static class SteppedTestCases
{
    /// <summary>A batch of <paramref name="trials"/> random samples: <paramref name="spikes"/> input spikes each, uniform over
    /// [0, <paramref name="span"/>) ms and the channels, labels cycling through the readout.</summary>
    public static SpikeSample[] Batch(Network net, int trials, double span, int seed, int spikes = 30)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, trials).Select(b =>
        {
            var times = Enumerable.Range(0, spikes).Select(_ => span * rng.NextDouble()).ToArray();
            var channels = Enumerable.Range(0, spikes).Select(_ => rng.Next(net.Input.Size)).ToArray();
            return new SpikeSample(times, channels, label: b % net.Readout.Size);
        }).ToArray();
    }

    /// <summary>‖a − b‖ / ‖b‖ over the parameters selected by <paramref name="include"/>.</summary>
    public static double RelativeError(ParameterSet a, ParameterSet b, Func<Parameter, bool>? include = null)
    {
        double num = 0, den = 0;
        for (int p = 0; p < b.Count; p++)
        {
            if (include is not null && !include(b[p])) continue;
            for (int i = 0; i < b[p].Length; i++)
            {
                double d = a[p].Values[i] - b[p].Values[i];
                num += d * d;
                den += b[p].Values[i] * b[p].Values[i];
            }
        }
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }

    /// <summary>Asserts that every element of the named <paramref name="parameters"/> in <paramref name="actual"/> lies within
    /// <paramref name="relative"/> × max(<paramref name="floor"/>, the parameter's largest |element| in <paramref name="expected"/>)
    /// of the element in <paramref name="expected"/>.</summary>
    public static void AssertClose(ParameterSet expected, ParameterSet actual, IEnumerable<Parameter> parameters, double relative, double floor)
    {
        foreach (var p in parameters)
        {
            var e = expected[p.Name].Values;
            var a = actual[p.Name].Values;
            double scale = Math.Max(floor, e.Max(Math.Abs));
            for (int i = 0; i < e.Length; i++) Xunit.Assert.True(Math.Abs(e[i] - a[i]) <= relative * scale, $"{p.Name}[{i}]: {a[i]} vs {e[i]}");
        }
    }

    /// <summary>
    /// A case is well-conditioned for a dt-convergence check when every spike of the exact forward pass crosses the
    /// threshold steeply (τm·V̇ ≥ <paramref name="minSlope"/>), so shifting spikes by a fraction of a step cannot make
    /// one appear or vanish, and when some hidden spike exists (so the transport terms are exercised).
    /// </summary>
    public static bool WellConditioned(Network network, SpikeSample sample, double duration, double minSlope = 0.05)
    {
        var trial = new ExactEngine(duration).Simulate(network, sample);
        if (trial.TotalSpikes == 0 || trial.MinThresholdSlope < minSlope) return false;
        // No spike close to the end of the trial, where the stepped scheme could move it past T.
        foreach (var pop in network.Hidden)
            for (int i = 0; i < pop.Size; i++)
                foreach (double t in trial.SpikeTimes(pop.Name, i))
                    if (t > duration - 0.5) return false;
        return true;
    }

    /// <summary>
    /// The first <paramref name="count"/> well-conditioned cases of a model family (<see cref="CaseKind.IntegrateAndFire"/>,
    /// <see cref="CaseKind.SubtractiveReset"/>, <see cref="CaseKind.ThresholdsAndResets"/>) whose hidden layer is not the
    /// standard LIF (the generator draws LIF for some layers).
    /// </summary>
    public static List<(GradientCase Case, Network Network, SpikeSample Sample)> ModelCases(CaseKind kind, int count) =>
        Cases(kind, 4 * count).Where(c => c.Network.Hidden.Any(p => !p.Model!.IsStandardLif)).Take(count).ToList();

    /// <summary>The first <paramref name="count"/> well-conditioned cases of a family, from consecutive seeds.</summary>
    public static List<(GradientCase Case, Network Network, SpikeSample Sample)> Cases(CaseKind kind, int count, int firstSeed = 1)
    {
        var result = new List<(GradientCase, Network, SpikeSample)>();
        for (int seed = firstSeed; result.Count < count && seed < firstSeed + 500; seed++)
        {
            var c = new GradientCase(kind, seed, Inputs: 4, Hidden: kind == CaseKind.FeedForward ? [5, 4] : [6],
                Recurrent: kind == CaseKind.FeedForward ? [false, false] : [true], Readout: 3, InputSpikes: 30, Duration: 40);
            var (net, sample) = c.Build();
            if (!WellConditioned(net, sample, c.Duration)) continue;
            // Cases whose exact gradient vanishes (no spike reaches the readout) would compare nothing.
            var g = new ExactEngine(c.Duration).Gradient(net, [sample], Loss.Sum()).Gradient;
            if (g.Where(p => p.Kind == ParameterKind.Weight && p.PostPopulation != "out").All(p => p.Values.All(x => x == 0))) continue;
            result.Add((c, net, sample));
        }
        return result;
    }
}
