using System.Text.Json;
using System.Text.Json.Nodes;
using Eventprop.Cli;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// Who may write a run directory (one process, an OS lock plus an owner file), when it may be replaced (--overwrite), and
/// what a resume may change; the same for study and --cv folders (issue 14, rules 1–5).
/// </summary>
public sealed class CliRunDirectoryTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    internal static readonly string[] Tiny =
        ["--set", "dataset.samples_per_class=12", "--set", "dataset.classes=3", "--set", "network.hidden=8", "--set", "training.batch_size=8", "--quiet"];

    private static (int Code, string Out, string Err) Run(params string[] args) => CliProcess.Run(args);

    internal static void AssertOneLineError((int Code, string Out, string Err) r, params string[] mustContain)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Err}{r.Out}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        foreach (string s in mustContain) Assert.Contains(s, lines[0]);
    }

    private static string Owner(string run) => Path.Combine(run, RunDirectory.OwnerFileName);

    [Fact]
    public void ASecondWriterInThisProcessIsRefusedUntilTheFirstReleases()
    {
        string run = _dir.File("run");
        using (RunDirectory.Acquire(run, RunDirectoryMode.New))
        {
            // The operating-system lock holds against any other open of the lock file...
            Assert.Throws<IOException>(() => new FileStream(Path.Combine(run, RunDirectory.LockFileName), FileMode.Open, FileAccess.ReadWrite, FileShare.None));
            // ...so train stops with one line naming the holder, with or without --overwrite.
            AssertOneLineError(Run(["train", "--out", run, "--epochs", "1", .. Tiny]), "is in use by process " + Environment.ProcessId, Environment.MachineName);
            AssertOneLineError(Run(["train", "--out", run, "--overwrite", "--epochs", "1", .. Tiny]), "is in use");
            Assert.True(File.Exists(Owner(run)));
        }
        Assert.False(File.Exists(Owner(run)));
        var r = Run(["train", "--out", run, "--epochs", "1", .. Tiny]);
        Assert.True(r.Code == 0, r.Err);
    }

    [Fact]
    public void AnotherProcessIsRefusedAndAKilledWriterLeavesNoLock()
    {
        string run = _dir.File("run");
        using (RunDirectory.Acquire(run, RunDirectoryMode.New))
        {
            using var child = CliProcess.Start(["train", "--out", run, "--epochs", "1", .. Tiny]);
            var output = child.StandardOutput.ReadToEndAsync();
            string err = child.StandardError.ReadToEnd();
            child.WaitForExit();
            Assert.Equal(2, child.ExitCode);
            Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"is in use by process {Environment.ProcessId}", err);
            Assert.False(File.Exists(Path.Combine(run, "config.json")));
        }

        // A child that holds a directory keeps this process out; killed with SIGKILL, it leaves its owner file behind,
        // but the OS released its lock, so this process (same host, the child gone) takes over with a note.
        string second = _dir.File("second");
        using var writer = CliProcess.Start(["train", "--out", second, "--epochs", "100000", .. Tiny]);
        _ = writer.StandardOutput.ReadToEndAsync();
        _ = writer.StandardError.ReadToEndAsync();
        try
        {
            CliProcess.WaitUntil(() => File.Exists(Path.Combine(second, "checkpoint.h5")), writer, 120, "the child's first checkpoint");
            var refused = Assert.Throws<UserError>(() => RunDirectory.Acquire(second, RunDirectoryMode.Resume, "--resume"));
            Assert.Contains($"process {writer.Id}", refused.Message);
        }
        finally
        {
            writer.Kill();
            writer.WaitForExit();
        }
        Assert.True(File.Exists(Owner(second)));
        using var taken = RunDirectory.Acquire(second, RunDirectoryMode.Resume, "--resume");
        Assert.Contains($"process {writer.Id}", taken.TookOverFrom);
    }

    [Fact]
    public void AnOwnerFileFromAnotherHostIsRefusedWithTheWayToClearIt()
    {
        string run = _dir.File("run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Owner(run), "host some-other-node\npid 12345\nstarted 2026-01-01T00:00:00.0000000Z\n");
        AssertOneLineError(Run(["train", "--out", run, "--epochs", "1", .. Tiny]), "process 12345 on host some-other-node", $"delete '{Owner(run)}'");
        File.Delete(Owner(run));
        var r = Run(["train", "--out", run, "--epochs", "1", .. Tiny]);
        Assert.True(r.Code == 0, r.Err);
    }

    [Fact]
    public void AFinishedRunIsReplacedOnlyWithOverwrite()
    {
        string run = _dir.File("run");
        Assert.Equal(0, Run(["train", "--out", run, "--epochs", "1", .. Tiny]).Code);
        string before = File.ReadAllText(Path.Combine(run, "metrics.json"));
        AssertOneLineError(Run(["train", "--out", run, "--epochs", "2", .. Tiny]), "already holds a run", $"--resume {run}", "--overwrite");
        Assert.Equal(before, File.ReadAllText(Path.Combine(run, "metrics.json")));

        File.WriteAllText(Path.Combine(run, "stale.txt"), "from the earlier run");
        var r = Run(["train", "--out", run, "--overwrite", "--epochs", "2", .. Tiny]);
        Assert.True(r.Code == 0, r.Err);
        Assert.False(File.Exists(Path.Combine(run, "stale.txt")));
        Assert.Equal(2, JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!.AsArray().Count);

        // --overwrite replaces run directories only.
        string notes = _dir.File("notes");
        Directory.CreateDirectory(notes);
        File.WriteAllText(Path.Combine(notes, "thesis.tex"), "precious");
        AssertOneLineError(Run(["train", "--out", notes, "--overwrite", "--epochs", "1", .. Tiny]), "no eventprop run");
        Assert.Equal("precious", File.ReadAllText(Path.Combine(notes, "thesis.tex")));
    }

    [Fact]
    public void ResumeRefusesConfigChangesNamingTheKey()
    {
        string run = _dir.File("run");
        Assert.Equal(0, Run(["train", "--out", run, "--epochs", "2", .. Tiny]).Code);
        string config = Path.Combine(run, "config.json");
        string original = File.ReadAllText(config);
        foreach (var (change, key) in new[]
                 {
                     (new[] { "--set", "seed=3" }, "seed"), (["--set", "loss=max"], "loss"),
                     (["--set", "training.learning_rate=0.5"], "training.learning_rate"), (["--method", "surrogate"], "method"),
                 })
        {
            AssertOneLineError(Run(["train", "--resume", run, "--epochs", "4", .. change]), $"{key} was ", "this command sets it");
            Assert.Equal(original, File.ReadAllText(config));
        }

        File.WriteAllText(config, original.Replace("\"sum_exp\"", "\"max\"", StringComparison.Ordinal));
        AssertOneLineError(Run("train", "--resume", run, "--epochs", "4"), "loss was \"sum_exp\"", "is now \"max\"", "was edited");
        File.WriteAllText(config, original);

        AssertOneLineError(Run("train", "--resume", run, "--epochs", "1"), "already has 2 epochs", "--epochs N with N > 2");
        AssertOneLineError(Run("train", "--resume", run), "has finished all its 2 epochs");

        // The device may change, with a warning that summary.json records; config.json keeps the original device.
        var r = Run("train", "--resume", run, "--epochs", "3", "--device", "cpu", "--quiet");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("warning: engine.device was \"auto\" when the checkpoint was made and is \"cpu\" now", r.Out);
        Assert.Contains("done: 3 epochs (1 after resuming at epoch 2)", r.Out);
        var resumes = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!["resumes"]!.AsArray();
        Assert.Single(resumes);
        Assert.Equal(2, resumes[0]!["after_epoch"]!.GetValue<int>());
        Assert.Equal("cpu", resumes[0]!["changed"]!["engine.device"]!["after"]!.GetValue<string>());
        var written = RunConfig.Load(config, []);
        Assert.Equal(("auto", 3), (written.Engine.Device, written.Training.Epochs));
    }

    [Fact]
    public void ResumingARunKilledBeforeItsFirstCheckpointSaysHowToStartAgain()
    {
        string run = _dir.File("run");
        Directory.CreateDirectory(run);
        var config = RunConfig.Load(null, ["dataset.samples_per_class=12", "dataset.classes=3", "network.hidden=8", "training.batch_size=8", "training.epochs=1"]);
        File.WriteAllText(Path.Combine(run, "config.json"), JsonSerializer.Serialize(config, RunConfig.Json));
        var r = Run("train", "--resume", run);
        AssertOneLineError(r, "no epoch finished", "--overwrite");
        // The hint works as written.
        string hint = r.Err[(r.Err.IndexOf("'eventprop ", StringComparison.Ordinal) + 11)..r.Err.LastIndexOf('\'')];
        var again = Run([.. hint.Split(' '), "--quiet"]);
        Assert.True(again.Code == 0, again.Err);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint.h5")));
    }

    private string WriteStudy(string series)
    {
        string path = _dir.File("study.json");
        File.WriteAllText(path, $$"""
            {
              "name": "tiny",
              "base": { "dataset": { "samples_per_class": 12, "classes": 3 }, "network": { "hidden": 8 }, "training": { "epochs": 1, "batch_size": 8 } },
              "seeds": [1],
              "series": [ {{series}} ]
            }
            """);
        return path;
    }

    [Fact]
    public void AStudyChecksEverySeriesBeforeTheFirstRun()
    {
        string study = WriteStudy("""{ "label": "fine", "set": {} }, { "label": "typo", "set": { "training.lerning_rate": 0.1 } }""");
        string outDir = _dir.File("study-out");
        AssertOneLineError(Run("study", "--config", study, "--out", outDir), "series 2 'typo'", "lerning_rate");
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void AStudyFolderIsLockedAndReplacedOnlyWithOverwrite()
    {
        string study = WriteStudy("""{ "label": "fine", "set": {} }""");
        string outDir = _dir.File("study-out");
        using (RunDirectory.Acquire(outDir, RunDirectoryMode.New))
            AssertOneLineError(Run("study", "--config", study, "--out", outDir, "--quiet"), "is in use");
        var r = Run("study", "--config", study, "--out", outDir, "--quiet");
        Assert.True(r.Code == 0, r.Err);
        AssertOneLineError(Run("study", "--config", study, "--out", outDir, "--quiet"), "already holds", "--overwrite");
        r = Run("study", "--config", study, "--out", outDir, "--quiet", "--overwrite");
        Assert.True(r.Code == 0, r.Err);
        Assert.True(File.Exists(Path.Combine(outDir, "results.csv")));
    }

    [Fact]
    public void ACrossValidationFolderIsLockedAndNotClobbered()
    {
        CliCrossValidationTests.WriteShdLike(_dir.File("shd_train.h5"), 24, 1, i => i % 3);
        CliCrossValidationTests.WriteShdLike(_dir.File("shd_test.h5"), 12, 2, i => i % 3);
        string config = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "experiments", "configs", "shd_sum_exp.json");
        string cv = _dir.File("cv");
        Directory.CreateDirectory(cv);
        File.WriteAllText(Path.Combine(cv, "cv_summary.json"), "{}");
        string[] args = ["train", "--cv", "speaker", "--config", config, "--data", _dir.Path, "--out", cv, "--quiet"];
        AssertOneLineError(Run(args), "already holds", "--overwrite");
        Assert.Equal("{}", File.ReadAllText(Path.Combine(cv, "cv_summary.json")));
        using (RunDirectory.Acquire(cv, RunDirectoryMode.Resume))
            AssertOneLineError(Run([.. args, "--overwrite"]), "is in use");
    }
}
