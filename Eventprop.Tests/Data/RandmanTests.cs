using Eventprop.Core.Data;
using Xunit;

namespace Eventprop.Tests.Data;

public sealed class RandmanTests
{
    private static readonly RandmanOptions Small = new() { SamplesPerClass = 60, Seed = 7 };

    [Fact]
    public void Same_seed_gives_identical_data_and_another_seed_different_data()
    {
        var a = Randman.Generate(Small);
        var b = Randman.Generate(Small);
        var c = Randman.Generate(Small with { Seed = 8 });

        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Label, b[i].Label);
            Assert.Equal(a[i].Times.ToArray(), b[i].Times.ToArray());
            Assert.Equal(a[i].Channels.ToArray(), b[i].Channels.ToArray());
        }
        Assert.NotEqual(a[0].Times.ToArray(), c[0].Times.ToArray());
    }

    [Fact]
    public void Every_unit_fires_the_configured_number_of_times_within_the_duration()
    {
        var options = Small with { UnitCount = 12, SpikesPerUnit = 2, ClassCount = 3, DurationMs = 30, StepFraction = 0.5 };
        var data = Randman.Generate(options);

        Assert.Equal(3 * 60, data.Count);
        Assert.Equal(12, data.ChannelCount);
        Assert.Equal(new[] { 60, 60, 60 }, data.CountPerClass());
        foreach (var s in data)
        {
            Assert.Equal(24, s.Count);
            Assert.All(Enumerable.Range(0, 12), u => Assert.Equal(2, s.Channels.ToArray().Count(c => c == u)));
            Assert.All(s.Times.ToArray(), t => Assert.InRange(t, 0.0, 15.0));
        }
        // standardisation: per class and unit, the earliest spike is at 0 and the latest just under the window
        for (int label = 0; label < 3; label++)
        {
            var unit0 = data.Where(s => s.Label == label).SelectMany(s => Enumerable.Range(0, s.Count).Where(i => s.Channels[i] == 0).Select(i => s.Times[i])).ToArray();
            Assert.Equal(0.0, unit0.Min(), 9);
            Assert.InRange(unit0.Max(), 15.0 * (1 - 1e-5), 15.0);
        }
    }

    [Fact]
    public void Classes_are_separable_by_nearest_centroid_on_spike_time_vectors()
    {
        var data = Randman.Generate(new RandmanOptions { SamplesPerClass = 100, Seed = 3 }); // paper defaults otherwise
        int units = data.ChannelCount, classes = data.ClassCount;
        double[] Vector(SpikeSample s)
        {
            var v = new double[units];
            for (int i = 0; i < s.Count; i++) v[s.Channels[i]] = s.Times[i];
            return v;
        }
        var train = data.Take(data.Count / 2).ToArray();
        var test = data.Skip(data.Count / 2).ToArray();
        var centroids = new double[classes][];
        for (int k = 0; k < classes; k++)
        {
            var members = train.Where(s => s.Label == k).Select(Vector).ToArray();
            centroids[k] = Enumerable.Range(0, units).Select(u => members.Average(m => m[u])).ToArray();
        }
        double Distance(double[] a, double[] b) => a.Zip(b, (x, y) => (x - y) * (x - y)).Sum();
        var trainVectors = train.Select(s => (Vector: Vector(s), s.Label)).ToArray();
        int nearestCentroid = test.Count(s => Enumerable.Range(0, classes).MinBy(k => Distance(centroids[k], Vector(s))) == s.Label);
        int nearestNeighbour = test.Count(s => trainVectors.MinBy(t => Distance(t.Vector, Vector(s))).Label == s.Label);
        double centroidAccuracy = (double)nearestCentroid / test.Length;
        double neighbourAccuracy = (double)nearestNeighbour / test.Length;
        // The default problem is built to defeat linear read-outs (seeds 1-5 give 31-41 % nearest-centroid accuracy),
        // but every class lies on its own smooth curve, which a nearest neighbour follows (95-97 %). Chance is 10 %.
        Assert.True(centroidAccuracy > 0.25, $"nearest-centroid accuracy {centroidAccuracy:P1}, chance is {1.0 / classes:P0}");
        Assert.True(neighbourAccuracy > 0.8, $"nearest-neighbour accuracy {neighbourAccuracy:P1}, chance is {1.0 / classes:P0}");
    }

    [Fact]
    public void Manifold_cutoff_and_smoothness_follow_alpha()
    {
        var smooth = new SmoothRandomManifold(4, 1, alpha: 2, new Random(1));
        var rough = new SmoothRandomManifold(4, 1, alpha: 1, new Random(1));
        Assert.Equal(32, smooth.FrequencyCutoff);   // ⌈1000^(1/2)⌉
        Assert.Equal(1000, rough.FrequencyCutoff);  // ⌈1000^(1/1)⌉, capped at 1000

        // mean squared increment over a fine grid: rougher manifolds change faster
        static double Roughness(SmoothRandomManifold m)
        {
            var y0 = new double[4];
            var y1 = new double[4];
            double sum = 0;
            for (int i = 0; i < 500; i++)
            {
                m.Evaluate([i / 500.0], y0);
                m.Evaluate([(i + 1) / 500.0], y1);
                sum += y0.Zip(y1, (a, b) => (a - b) * (a - b)).Sum();
            }
            return sum;
        }
        Assert.True(Roughness(rough) > Roughness(smooth));
    }
}
