using Eventprop.Core.Data;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Data;

/// <summary>Loads a file with as many trials as the SHD training set and bounds what the load allocates.</summary>
public sealed class HeidelbergLoadSizeTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Shd_sized_load_allocates_at_most_twice_the_spike_memory()
    {
        const int trials = 8156; // SHD training set
        var random = new Random(11);
        var times = new Half[trials][];
        var units = new ushort[trials][];
        long spikes = 0;
        for (int i = 0; i < trials; i++)
        {
            int n = random.Next(500, 1500);
            spikes += n;
            times[i] = new Half[n];
            units[i] = new ushort[n];
            double t = 0;
            for (int k = 0; k < n; k++)
            {
                t += random.NextDouble() * 0.002;
                times[i][k] = (Half)t;
                units[i][k] = (ushort)random.Next(700);
            }
        }
        string path = _dir.File("shd_sized.h5");
        new HeidelbergLayout
        {
            Times = times,
            Units = units,
            Labels = Enumerable.Range(0, trials).Select(i => (ushort)(i % 20)).ToArray(),
            Speakers = Enumerable.Range(0, trials).Select(i => (ushort)(i % 10)).ToArray(),
        }.Write(path);
        times = null!;
        units = null!;

        long before = GC.GetAllocatedBytesForCurrentThread();
        var data = HeidelbergSpikeFile.Read(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        long spikeBytes = spikes * (sizeof(double) + sizeof(int)); // the samples' time and channel arrays
        output.WriteLine($"{trials} trials, {spikes} spikes: spike arrays {spikeBytes / 1e6:0.0} MB, load allocated {allocated / 1e6:0.0} MB ({(double)allocated / spikeBytes:0.00}×), file {new FileInfo(path).Length / 1e6:0.0} MB");
        Assert.Equal(trials, data.Count);
        Assert.Equal(spikes, data.SpikeCount);
        // Everything the load allocates (the samples themselves included) bounds its peak memory.
        Assert.True(allocated <= 2 * spikeBytes, $"load allocated {allocated} bytes for {spikeBytes} bytes of spikes");
    }
}
