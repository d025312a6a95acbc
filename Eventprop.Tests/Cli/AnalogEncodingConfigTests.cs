using System.Globalization;
using System.Text.Json;
using Eventprop.Cli;
using Eventprop.Core.Data;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// <c>dataset.encoding current</c> (seed 004 §2.1): MNIST IDX files load as analog samples x = g/255 in pixel order, a
/// surrogate run trains on them end to end (no trial raster, which needs input spikes), and the combinations that cannot
/// work (spike data, the exact and ILGPU engines, keys that act on input spikes) are one line naming the key as written.
/// </summary>
public sealed class AnalogEncodingConfigTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private byte[] WriteTinyMnist(int train, int test) => TinyMnist.Write(_dir, train, test);

    [Fact]
    public void CurrentEncodingLoadsTheImagesAsAnalogSamplesInPixelOrder()
    {
        var pixels = WriteTinyMnist(6, 4);
        var config = RunConfig.Load(null, ["dataset.kind=mnist", "dataset.encoding=current", "dataset.validation_fraction=0", "method=surrogate", $"dataset.path={_dir.Path}"]);
        var (train, validation, test) = TrainCommand.LoadData(config);
        Assert.Null(validation);
        Assert.Equal((6, 4, 16), (train.Count, test!.Count, train.ChannelCount));
        for (int s = 0; s < 6; s++)
        {
            Assert.True(train[s].IsAnalog);
            Assert.Equal(s % 2, train[s].Label);
            for (int j = 0; j < 16; j++) Assert.Equal(pixels[16 * s + j] / 255.0, train[s].Currents[j]);
        }
        // the same files, latency-coded: spikes, not currents (dataset.kind mnist defaults to latency; latency_mnist is the same)
        foreach (string[] sets in new[] { new[] { "dataset.kind=mnist" }, new[] { "dataset.kind=latency_mnist" } })
        {
            var latency = TrainCommand.LoadData(RunConfig.Load(null, [.. sets, "dataset.validation_fraction=0", $"dataset.path={_dir.Path}"])).Train;
            Assert.False(latency[0].IsAnalog);
            Assert.Equal(6, latency.Count);
        }
    }

    [Fact]
    public void ASurrogateRunTrainsOnAnalogInputAndSkipsTheRaster()
    {
        WriteTinyMnist(8, 4);
        string run = _dir.File("run");
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(["train", "--data", _dir.Path, "--out", run, "--set", "dataset.kind=mnist", "--set", "dataset.encoding=current",
            "--set", "dataset.validation_fraction=0", "--set", "method=surrogate", "--set", "network.hidden=6", "--set", "engine.duration_ms=5",
            "--set", "training.epochs=2", "--set", "training.batch_size=4", "--set", "loss=sum"], o, e);
        Assert.True(code == 0, e.ToString());
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json"))).RootElement;
        Assert.Equal(2, summary.GetProperty("epochs").GetInt32());
        Assert.InRange(summary.GetProperty("test_accuracy").GetDouble(), 0, 1);
        Assert.True(File.Exists(Path.Combine(run, "learning_curves.png")));
        Assert.DoesNotContain("plots not written", o.ToString());
        // the raster's simulators need input spikes: it is left out, not drawn empty or failed
        Assert.False(File.Exists(Path.Combine(run, "trial_raster.png")));
    }

    /// <summary>The time-stepped Eventprop engine trains on analog input too (engine.device auto picks the CPU engine).</summary>
    [Fact]
    public void AnEventpropRunTrainsOnAnalogInputWithTheSteppedEngine()
    {
        WriteTinyMnist(8, 4);
        string run = _dir.File("run-eventprop");
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(["train", "--data", _dir.Path, "--out", run, "--set", "dataset.kind=mnist", "--set", "dataset.encoding=current",
            "--set", "dataset.validation_fraction=0", "--set", "method=eventprop", "--set", "engine.kind=stepped", "--set", "network.hidden=6",
            "--set", "engine.duration_ms=5", "--set", "engine.dt=0.5", "--set", "training.epochs=2", "--set", "training.batch_size=4", "--set", "loss=sum"], o, e);
        Assert.True(code == 0, e.ToString());
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json"))).RootElement;
        Assert.Equal(2, summary.GetProperty("epochs").GetInt32());
        Assert.True(File.Exists(Path.Combine(run, "model.json")));
    }

    [Theory]
    [InlineData(new[] { "dataset.encoding=analog" }, "dataset.encoding must be one of latency, current, got 'analog'.")]
    [InlineData(new[] { "dataset.kind=latency_mnist", "dataset.encoding=current", "method=surrogate" }, "dataset.kind latency_mnist is latency-coded; for the analog image (dataset.encoding current) use dataset.kind mnist.")]
    [InlineData(new[] { "dataset.kind=shd", "dataset.encoding=current", "method=surrogate" }, "dataset.encoding current encodes images (dataset.kind mnist), but dataset.kind shd is already spikes")]
    [InlineData(new[] { "dataset.kind=mnist", "dataset.encoding=current", "engine.kind=exact" }, "dataset.encoding current (a constant input current per pixel) needs engine.kind stepped with method eventprop (or method surrogate); the exact engine takes input spikes only.")]
    [InlineData(new[] { "dataset.kind=mnist", "dataset.encoding=current", "engine.device=ilgpu-cpu" }, "dataset.encoding current with method eventprop runs on engine.device cpu only")]
    [InlineData(new[] { "dataset.kind=mnist", "dataset.encoding=current", "method=surrogate", "augment.shift=2" }, "augment.shift acts on input spikes, but dataset.encoding current has none")]
    [InlineData(new[] { "dataset.kind=mnist", "dataset.encoding=current", "method=surrogate", "augment.blend_probability=0.5" }, "augment.blend_probability acts on input spikes")]
    [InlineData(new[] { "dataset.kind=mnist", "dataset.encoding=current", "method=surrogate", "augment.delay_line_copies=2" }, "augment.delay_line_copies acts on input spikes")]
    [InlineData(new[] { "dataset.kind=mnist", "dataset.encoding=current", "method=surrogate", "training.input_dropout=0.2" }, "training.input_dropout acts on input spikes")]
    public void ImpossibleEncodingsAreOneLineErrors(string[] sets, string expected)
    {
        var e = Assert.Throws<UserError>(() => RunConfig.Load(null, sets));
        Assert.StartsWith(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TheEncodingKeyIsWrittenBack()
    {
        var config = RunConfig.Load(null, ["dataset.kind=mnist", "dataset.encoding=current", "method=surrogate"]);
        Assert.Contains("\"encoding\": \"current\"", JsonSerializer.Serialize(config, RunConfig.Json));
    }
}
