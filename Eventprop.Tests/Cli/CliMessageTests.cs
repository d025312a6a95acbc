using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>Errors in the user's words (config keys as written, the value's form, no .NET names) and plain JSON output (issue 14).</summary>
public sealed class CliMessageTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string Model = """
        { "duration_ms": 40,
          "populations": [ { "name": "in", "kind": "input", "size": 3 }, { "name": "hidden", "kind": "lif", "size": 2, "tau_mem": TAU, "tau_syn": 5 },
                           { "name": "out", "kind": "readout", "size": 2, "tau_mem": 20, "tau_syn": 5 } ],
          "connections": [ { "pre": "in", "post": "hidden", "weights": [[4.2, 3.4], [3.9, 4.1], [3.3, 3.8]] },
                           { "pre": "hidden", "post": "out", "weights": [[0.5, -0.3], [-0.2, 0.6]] } ] }
        """;

    [Theory]
    [InlineData("training.epochs=abc", "training.epochs must be a whole number", "--set training.epochs=5")]
    [InlineData("network.readout_init=0.3", "network.readout_init must be a list of numbers", "--set network.readout_init=[0.2,0.37]")]
    [InlineData("training.input_dropout=x", "training.input_dropout must be a number", "--set training.input_dropout=0.5")]
    [InlineData("training.ease_in=3", "training.ease_in must be true or false", "--set training.ease_in=true")]
    [InlineData("training.inputdropout=0.1", "unknown key 'inputdropout' in section 'training'", "docs/cli.md")]
    [InlineData("engine.threads=-1", "engine.threads must be ≥ 0", "got -1")]
    [InlineData("training.readout_dropout=1", "training.readout_dropout must be in [0, 1)", "got 1")]
    [InlineData("training.readout_dropout=0.5", "training.readout_dropout needs method surrogate", "method=surrogate")]
    [InlineData("network.tau_mem=1e-300", "network τ's", "≥ 0.001 ms")]
    public void ConfigErrorsNameTheKeyAndTheFormOfTheValue(string set, string message, string hint)
    {
        var r = CliProcess.Run("train", "--out", _dir.File("run"), "--set", set);
        CliRunDirectoryTests.AssertOneLineError(r, message, hint);
        Assert.DoesNotContain("System.", r.Err);
        Assert.False(Directory.Exists(_dir.File("run")));
    }

    [Fact]
    public void ModelAndSampleErrorsBlameWhatIsWrong()
    {
        string model = _dir.File("m.json"), sample = _dir.File("s.json");
        File.WriteAllText(model, Model.Replace("TAU", "1e-300", StringComparison.Ordinal));
        File.WriteAllText(sample, """{ "times": [1.0, 2.5], "channels": [0, 1], "label": 1 }""");
        CliRunDirectoryTests.AssertOneLineError(CliProcess.Run("gradient", "--model", model, "--sample", sample), "hidden.tau_mem", "too short");

        File.WriteAllText(model, Model.Replace("TAU", "20", StringComparison.Ordinal));
        File.WriteAllText(sample, """{ "times": [1.0, 2.5], "channels": [0, 1], "label": 1.5 }""");
        CliRunDirectoryTests.AssertOneLineError(CliProcess.Run("gradient", "--model", model, "--sample", sample), "'label' must be a whole number", "1.5");
    }

    [Fact]
    public void TheGradientJsonIsPlain()
    {
        string model = _dir.File("m.json"), sample = _dir.File("s.json");
        File.WriteAllText(model, Model.Replace("TAU", "20", StringComparison.Ordinal));
        File.WriteAllText(sample, """{ "times": [1.0, 2.5, 4.0], "channels": [0, 1, 2], "label": 1 }""");
        var r = CliProcess.Run("gradient", "--model", model, "--sample", sample, "--json");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("\"in->hidden\"", r.Out);
        Assert.DoesNotContain("\\u00", r.Out);
    }

    [Fact]
    public void DataErrorsGiveTheRightHint()
    {
        CliRunDirectoryTests.AssertOneLineError(CliProcess.Run("data", "info", _dir.Path), "is a directory", "shd_train.h5");
        CliRunDirectoryTests.AssertOneLineError(CliProcess.Run("train", "--out", _dir.File("run"), "--set", "dataset.kind=latency_mnist"), "MNIST", "--data DIR");
        var r = CliProcess.Run("train", "--out", _dir.File("run"), "--set", "dataset.kind=latency_mnist", "--data", _dir.Path);
        CliRunDirectoryTests.AssertOneLineError(r, "train-images-idx3-ubyte.gz");
        Assert.DoesNotContain("data download", r.Err);
    }

    [Fact]
    public void DataIsIgnoredForRandmanWithANote()
    {
        var r = CliProcess.Run(["train", "--out", _dir.File("run"), "--epochs", "1", "--data", _dir.Path, .. CliRunDirectoryTests.Tiny]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("note: --data is ignored", r.Out);
    }
}
