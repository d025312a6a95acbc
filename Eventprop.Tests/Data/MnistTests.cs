using System.Buffers.Binary;
using System.IO.Compression;
using Eventprop.Core.Data;
using Xunit;

namespace Eventprop.Tests.Data;

public sealed class MnistTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static byte[] Idx(int magic, int[] dims, byte[] payload)
    {
        var bytes = new byte[4 + 4 * dims.Length + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        payload.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private string Write(string name, byte[] bytes, bool gzip)
    {
        string path = _dir.File(name);
        if (!gzip)
        {
            File.WriteAllBytes(path, bytes);
            return path;
        }
        using var output = new GZipStream(File.Create(path), CompressionLevel.Fastest);
        output.Write(bytes);
        return path;
    }

    private static (byte[] Pixels, byte[] Labels) RandomImages(int count, int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[count * rows * columns];
        random.NextBytes(pixels);
        var labels = Enumerable.Range(0, count).Select(_ => (byte)random.Next(10)).ToArray();
        return (pixels, labels);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_idx_images_and_labels(bool gzip)
    {
        var (pixels, labels) = RandomImages(5, 4, 3, seed: 1);
        string images = Write("images-idx3-ubyte" + (gzip ? ".gz" : ""), Idx(0x803, [5, 4, 3], pixels), gzip);
        string labelFile = Write("labels-idx1-ubyte" + (gzip ? ".gz" : ""), Idx(0x801, [5], labels), gzip);

        var read = MnistIdx.ReadImages(images);

        Assert.Equal((5, 4, 3), (read.Count, read.Rows, read.Columns));
        for (int i = 0; i < 5; i++) Assert.Equal(pixels.AsSpan(i * 12, 12).ToArray(), read.Image(i).ToArray());
        Assert.Equal(labels, MnistIdx.ReadLabels(labelFile));
    }

    [Fact]
    public void Bad_magic_numbers_and_sizes_are_reported()
    {
        var (pixels, labels) = RandomImages(2, 2, 2, seed: 2);
        string wrongMagic = Write("wrong-magic", Idx(0x801, [2, 2, 2], pixels), gzip: false);
        var e = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadImages(wrongMagic));
        Assert.Contains("wrong-magic: magic number 0x00000801", e.Message);

        string labelsAsImages = Write("labels-as-images.gz", Idx(0x803, [2, 2, 2], pixels), gzip: true);
        e = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadLabels(labelsAsImages));
        Assert.Contains("labels-as-images.gz: magic number 0x00000803", e.Message);

        string truncated = Write("truncated", Idx(0x803, [3, 2, 2], pixels), gzip: false); // header says 12 bytes, holds 8
        e = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadImages(truncated));
        Assert.Contains("truncated: header announces 12 pixel bytes but the file holds only 8", e.Message);

        string trailing = Write("trailing.gz", Idx(0x801, [1], labels), gzip: true); // header says 1 label, holds 2
        e = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadLabels(trailing));
        Assert.Contains("trailing.gz: the file holds more data", e.Message);

        string shortHeader = Write("short", [0, 0, 8], gzip: false);
        e = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadImages(shortHeader));
        Assert.Contains("short: file ends inside the header", e.Message);

        string negative = Write("negative", Idx(0x803, [-1, 2, 2], []), gzip: false);
        e = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadImages(negative));
        Assert.Contains("negative: header announces -1 images", e.Message);
    }

    [Fact]
    public void Latency_encoding_follows_the_formula()
    {
        // every grey value once, as a 16 × 16 image
        var pixels = Enumerable.Range(0, 256).Select(g => (byte)g).ToArray();
        var encoder = new LatencyEncoder { DurationMs = 20, TimeStepMs = 1 };

        var sample = encoder.Encode(pixels, label: 3);

        Assert.Equal(3, sample.Label);
        Assert.Equal(254, sample.Count); // g = 0 and g = 1 are silent
        var byChannel = Enumerable.Range(0, sample.Count).ToDictionary(i => sample.Channels[i], i => sample.Times[i]);
        for (int g = 0; g < 256; g++)
        {
            if (g <= 1)
            {
                Assert.False(byChannel.ContainsKey(g));
                continue;
            }
            double expected = (255.0 - g) / 255.0 * (20.0 - 4 * 1.0) + 2 * 1.0;
            Assert.Equal(expected, byChannel[g], 12);
        }
        Assert.Equal(2.0, byChannel[255], 12);            // black fires first, at 2 dt
        Assert.Equal(2.0 + 253.0 / 255 * 16, byChannel[2], 12);

        var other = new LatencyEncoder { DurationMs = 40, TimeStepMs = 0.5, SilentAtOrBelow = 100 }.Encode(pixels);
        Assert.Equal(155, other.Count);
        Assert.All(Enumerable.Range(0, other.Count), i =>
            Assert.Equal((255.0 - other.Channels[i]) / 255.0 * (40.0 - 2.0) + 1.0, other.Times[i], 12));
    }

    [Fact]
    public void Loads_latency_mnist_dataset_from_files()
    {
        var (pixels, labels) = RandomImages(6, 28, 28, seed: 3);
        string images = Write("imgs.gz", Idx(0x803, [6, 28, 28], pixels), gzip: true);
        string labelFile = Write("lbls", Idx(0x801, [6], labels), gzip: false);

        var data = MnistLatency.Load(images, labelFile);

        Assert.Equal(784, data.ChannelCount);
        Assert.Equal(10, data.ClassCount);
        Assert.Equal(6, data.Count);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(labels[i], data[i].Label);
            Assert.Equal(pixels.Skip(i * 784).Take(784).Count(g => g > 1), data[i].Count);
        }

        string fewerLabels = Write("fewer", Idx(0x801, [5], labels[..5]), gzip: false);
        var e = Assert.Throws<InvalidDataException>(() => MnistLatency.Load(images, fewerLabels));
        Assert.Contains("fewer: 5 labels for 6 images", e.Message);
    }
}
