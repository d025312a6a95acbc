using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Neurons;

namespace Eventprop.Tests.Nir;

/// <summary>Small networks and trials shared by the NIR tests.</summary>
internal static class NirTestNetworks
{
    /// <summary>
    /// 6 inputs → 10 LIF (recurrent, threshold 0.8, reset −0.1, per-neuron τ's) → 7 IF (subtractive reset) → 4 readout
    /// (LI, or LIF when <paramref name="spikingReadout"/>), weights strong enough that every layer spikes.
    /// </summary>
    public static Network Mixed(int seed, bool spikingReadout = false)
    {
        var random = new Random(seed);
        double[] Taus(int n, double lo, double hi) => Enumerable.Range(0, n).Select(_ => lo + (hi - lo) * random.NextDouble()).ToArray();
        var b = Network.Create(seed)
            .Input("in", 6)
            .Hidden("h", new Lif(0.8, -0.1), Taus(10, 8, 25), Taus(10, 2, 7))
            .Hidden("g", new IntegrateAndFire(1, 0, ResetMode.Subtract), Taus(7, 10, 30), Taus(7, 3, 6));
        b = spikingReadout ? b.Readout("out", Lif.Standard, Taus(4, 10, 20), Taus(4, 3, 6)) : b.Readout("out", Taus(4, 10, 20), Taus(4, 3, 6));
        return b
            .Connect("in", "h", Init.Normal(1.2, 0.4))
            .Connect("h", "h", Init.Normal(0, 0.2))
            .Connect("h", "g", Init.Normal(0.5, 0.3))
            .Connect("g", "out", Init.Normal(0.6, 0.4))
            .Build();
    }

    /// <summary><paramref name="count"/> random trials of 40 ms on <paramref name="channels"/> channels (labels 0–3).</summary>
    public static SpikeSample[] Trials(int seed, int channels, int count = 3, int spikes = 40)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(k =>
        {
            var times = Enumerable.Range(0, spikes).Select(_ => Math.Round(random.NextDouble() * 30, 3)).Order().ToArray();
            var ch = times.Select(_ => random.Next(channels)).ToArray();
            return new SpikeSample(times, ch, k % 4);
        }).ToArray();
    }

    /// <summary>A fresh temporary file path ending in <c>.nir</c> (deleted with its folder by <see cref="TempFolder"/>).</summary>
    public sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("eventprop-nir-").FullName;

        public string File(string name) => System.IO.Path.Combine(Path, name);

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }
    }
}
