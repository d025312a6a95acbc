using System.Text.Json.Nodes;
using Eventprop.Core.Data;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>Data checks at load time, the crop of input spikes to the trial, and the exit codes (issue 14, rules 6 and 8).</summary>
public sealed class CliDataCheckTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string ShdConfig = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "experiments", "configs", "shd_sum_exp.json");

    private static void WriteShd(string path, int trials, int classes, int seed)
    {
        var random = new Random(seed);
        new HeidelbergLayout
        {
            Times = Enumerable.Range(0, trials).Select(_ => Enumerable.Range(0, 20).Select(_ => (Half)(0.3 * random.NextDouble())).Order().ToArray()).ToArray(),
            Units = Enumerable.Range(0, trials).Select(_ => Enumerable.Range(0, 20).Select(_ => (ushort)random.Next(700)).ToArray()).ToArray(),
            Labels = Enumerable.Range(0, trials).Select(i => (ushort)(i % classes)).ToArray(),
            Speakers = Enumerable.Range(0, trials).Select(i => (ushort)(i % 3)).ToArray(),
            Keys = Enumerable.Range(0, classes).Select(i => $"class-{i}").ToArray(),
        }.Write(path);
    }

    [Fact]
    public void TrainAndTestFilesThatDisagreeFailAtLoadNamingBothFiles()
    {
        WriteShd(_dir.File("shd_train.h5"), 40, 20, 1);
        WriteShd(_dir.File("shd_test.h5"), 18, 18, 2);
        var r = CliProcess.Run("train", "--config", ShdConfig, "--data", _dir.Path, "--out", _dir.File("run"), "--epochs", "1", "--quiet", "--set", "network.hidden=4");
        CliRunDirectoryTests.AssertOneLineError(r, $"{_dir.File("shd_test.h5")} has 18 classes but {_dir.File("shd_train.h5")} has 20");
        Assert.False(File.Exists(_dir.File("run/metrics.json")));
    }

    [Fact]
    public void ASingleClassIsRefused() =>
        CliRunDirectoryTests.AssertOneLineError(CliProcess.Run("train", "--out", _dir.File("run"), "--set", "dataset.classes=1"), "dataset.classes", "≥ 2");

    [Theory]
    [InlineData("stepped", 29.5)]
    [InlineData("exact", 30.0)]
    public void InputSpikesTheEngineCannotPlaceAreCroppedWithANotePerSplit(string engine, double limit)
    {
        // Randman trials last dataset.duration_ms = 50 ms; the engine simulates 30 ms. The stepped engine rounds spike times
        // to its 1 ms grid and has no step 30, so it cannot place spikes from 29.5 ms on; the exact engine takes t < 30.
        string run = _dir.File("run");
        var r = CliProcess.Run(["train", "--out", run, "--epochs", "1", "--set", $"engine.kind={engine}", "--set", "engine.duration_ms=30",
            .. CliRunDirectoryTests.Tiny.Where(x => x != "--quiet")]);
        Assert.True(r.Code == 0, r.Err);
        var generated = Randman.Generate(new RandmanOptions { ClassCount = 3, UnitCount = 30, SamplesPerClass = 12, ManifoldDimension = 1, Alpha = 1.0, DurationMs = 50, Seed = 1 });
        long expected = generated.Samples.Sum(s => (long)s.Times.ToArray().Count(t => t >= limit));
        Assert.True(expected > 100, $"the test needs spikes past the trial ({expected})");
        var cropped = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!["cropped_input_spikes"]!.AsObject();
        Assert.Equal(expected, cropped.Sum(kv => kv.Value!.GetValue<long>()));
        var notes = r.Out.Split('\n').Where(l => l.StartsWith("note: ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(3, notes.Length); // training, validation, test: once each
        Assert.All(notes, n => Assert.Contains("engine.duration_ms = 30 ms", n));
        Assert.Contains(notes, n => n.StartsWith($"note: training set: cropped {cropped["training set"]} of ", StringComparison.Ordinal));
    }

    [Fact]
    public void ExitCodesSayWhatHappened()
    {
        Assert.Equal(0, CliProcess.Run("--help").Code);
        Assert.Equal(2, CliProcess.Run("no-such-command").Code);
        Assert.Equal(2, CliProcess.Run("train", "--epochs", "many").Code);
    }

    [Fact]
    public async Task CtrlCFinishesTheEpochWritesTheCheckpointAndExitsWith130()
    {
        string run = _dir.File("run");
        using var child = CliProcess.Start(["train", "--out", run, "--epochs", "100000", .. CliRunDirectoryTests.Tiny]);
        var output = child.StandardOutput.ReadToEndAsync();
        var error = child.StandardError.ReadToEndAsync();
        try
        {
            CliProcess.WaitUntil(() => File.Exists(Path.Combine(run, "metrics.json")), child, 120, "the first epoch");
            CliProcess.Interrupt(child);
            Assert.True(child.WaitForExit(60_000), "the child did not stop after SIGINT");
        }
        finally
        {
            if (!child.HasExited) child.Kill();
        }
        string err = await error, stdout = await output;
        Assert.True(child.ExitCode == 130, $"exit {child.ExitCode}: {err}");
        Assert.Contains("interrupted after", stdout);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!;
        Assert.True(summary["interrupted"]!.GetValue<bool>());
        Assert.True(File.Exists(Path.Combine(run, "checkpoint.h5")));
        Assert.False(File.Exists(Path.Combine(run, Eventprop.Cli.RunDirectory.OwnerFileName)));
    }
}
