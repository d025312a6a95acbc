using System.Globalization;
using Eventprop.Cli;
using Eventprop.Tests.Audio;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// The spiking-FSDD path end to end on a few synthetic recordings named like FSDD's: <c>data encode-audio</c> writes
/// fsdd_train.h5 / fsdd_test.h5, <c>dataset.kind = fsdd</c> trains on them, <c>--cv speaker</c> folds by speaker,
/// and trials longer than T are reported.
/// </summary>
public sealed class FsddDatasetTests
{
    private static readonly string Configs = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "experiments", "configs");

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        return (Program.Run(args, o, e), o.ToString(), e.ToString());
    }

    /// <summary>Writes {digit}_{speaker}_{index}.wav tones (0.12 s at 8 kHz, pitch by digit) into <paramref name="folder"/>.</summary>
    private static void WriteRecordings(string folder, IEnumerable<int> indices)
    {
        Directory.CreateDirectory(folder);
        foreach (int digit in new[] { 0, 1 })
            foreach (string speaker in new[] { "ann", "bob" })
                foreach (int index in indices)
                {
                    double f = 400 + 600 * digit + 30 * index;
                    var frames = Enumerable.Range(0, 960).Select(n => new[] { 0.5 * Math.Sin(2 * Math.PI * f * n / 8000) }).ToArray();
                    File.WriteAllBytes(Path.Combine(folder, $"{digit}_{speaker}_{index}.wav"), WaveFileTests.Wave(1, 16, 1, 8000, frames));
                }
    }

    private static void Encode(string folder, string output)
    {
        var r = Run("data", "encode-audio", folder, "--out", output, "--label-from", @"^(\d)_", "--speaker-from", @"^\d_([a-z]+)_", "--threads", "2");
        Assert.True(r.Code == 0, r.Err + r.Out);
    }

    [Fact]
    public void EncodedRecordingsTrainAndCrossValidateBySpeaker()
    {
        using var dir = new TempDirectory();
        WriteRecordings(dir.File("train-wav"), [5, 6, 7]);
        WriteRecordings(dir.File("test-wav"), [0]);
        string data = dir.File("data");
        Directory.CreateDirectory(data);
        string config = Path.Combine(Configs, "fsdd_sum_exp.json");
        var missing = Run("train", "--config", config, "--data", data, "--epochs", "1");
        Assert.Equal(2, missing.Code);
        Assert.Contains("fsdd_train.h5", missing.Err);
        Assert.Contains("encode-audio", missing.Err);

        Encode(dir.File("train-wav"), Path.Combine(data, "fsdd_train.h5"));
        Encode(dir.File("test-wav"), Path.Combine(data, "fsdd_test.h5"));
        string[] small = ["--set", "network.hidden=6", "--set", "training.batch_size=4"];
        var run = Run(["train", "--config", config, "--data", data, "--out", dir.File("run"), "--epochs", "1", "--quiet", .. small]);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("test accuracy", run.Out);

        var cv = Run(["train", "--config", config, "--data", data, "--out", dir.File("cv"), "--epochs", "1", "--quiet", "--cv", "speaker", .. small]);
        Assert.True(cv.Code == 0, cv.Err + cv.Out);
        Assert.Contains("cross-validation over 2 of 2 speakers", cv.Out);
        Assert.True(Directory.Exists(dir.File(Path.Combine("cv", "speaker-0"))) && Directory.Exists(dir.File(Path.Combine("cv", "speaker-1"))));

        // Trials longer than T (here 60 ms of 120 ms recordings) are cropped with a note, never silently.
        var cropped = Run(["train", "--config", config, "--data", data, "--out", dir.File("short"), "--epochs", "1", "--set", "engine.duration_ms=60", .. small]);
        Assert.True(cropped.Code == 0, cropped.Err + cropped.Out);
        Assert.Contains("cropped", cropped.Out + cropped.Err);
        Assert.Contains("cropped_input_spikes", File.ReadAllText(dir.File(Path.Combine("short", "summary.json"))));

        // The raster of one trial per class.
        var raster = Run("data", "raster", Path.Combine(data, "fsdd_test.h5"), "--out", dir.File("raster.png"), "--width", "600", "--height", "300");
        Assert.True(raster.Code == 0, raster.Err);
        Assert.Contains("2 trials", raster.Out);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(dir.File("raster.png"))[..4]);
        Assert.Equal(2, Run("data", "raster", Path.Combine(data, "fsdd_test.h5"), "--out", dir.File("raster.svg")).Code);
    }
}
