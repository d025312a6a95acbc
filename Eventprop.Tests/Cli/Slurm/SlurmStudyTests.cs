using System.Diagnostics;
using System.Text.Json.Nodes;
using Eventprop.Cli;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli.Slurm;

/// <summary><c>eventprop study --slurm</c>, <c>study status|collect</c>: bad input without Slurm, and a real 3-task study on a running cluster (issue 19).</summary>
public sealed class SlurmStudyTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    /// <inheritdoc/>
    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// A study of the quick start on a third of its data (100 trials per class): one series, 3 seeds, 2 epochs, one
    /// engine thread (so every run is reproducible anywhere).
    /// </summary>
    private string WriteStudy(string name = "qs3", int epochs = 2)
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Eventprop.sln"))) d = d.Parent;
        var quickStart = JsonNode.Parse(File.ReadAllText(Path.Combine(d!.FullName, "experiments", "configs", "randman_quickstart.json")));
        var study = new JsonObject
        {
            ["name"] = name,
            ["base"] = quickStart,
            ["seeds"] = new JsonArray(1, 2, 3),
            ["series"] = new JsonArray(new JsonObject { ["label"] = "qs", ["set"] = new JsonObject { ["training.epochs"] = epochs, ["engine.threads"] = 1, ["dataset.samples_per_class"] = 100 } }),
        };
        string path = _dir.File($"{name}.json");
        File.WriteAllText(path, study.ToJsonString());
        return path;
    }

    private static void AssertOneLineError((int Code, string Out, string Err) r, params string[] parts)
    {
        Assert.Equal(ExitCodes.UserError, r.Code);
        string line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        foreach (string p in parts) Assert.Contains(p, line, StringComparison.Ordinal);
    }

    [Fact]
    public void SlurmWithoutSbatchOnPathIsOneLine()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "eventprop.dll");
        string dotnet = Environment.ProcessPath is string host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
        var info = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { dll, "study", "--config", WriteStudy(), "--out", _dir.File("out"), "--slurm" }) info.ArgumentList.Add(a);
        info.Environment["PATH"] = _dir.Path; // nothing there, so no sbatch
        if (dotnet == "dotnet") info.FileName = FindOnPath("dotnet") ?? "dotnet";
        using var p = Process.Start(info)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        AssertOneLineError((p.ExitCode, "", err), "--slurm needs Slurm's 'sbatch' on PATH", "leave out --slurm");
        Assert.False(Directory.Exists(_dir.File("out")));
    }

    [Fact]
    public void AStudyFolderHoldingADifferentStudyIsRefusedInOneLine()
    {
        string outDir = _dir.File("out");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, SlurmStudy.RecordFile),
            """{ "study": "{\"name\":\"other\"}", "common": [], "resources": { "partition": null, "time": null, "cpus_per_task": 1, "max_parallel": null, "gpu": false, "extra_args": [] }, "eventprop": "x", "jobs": ["7"] }""");
        AssertOneLineError(CliProcess.Run("study", "--config", WriteStudy(), "--out", outDir, "--slurm"), $"'{outDir}' already holds a different study", "choose another --out");
    }

    [Fact]
    public void StatusOfAFolderThatIsNoSlurmStudyIsOneLine() =>
        AssertOneLineError(CliProcess.Run("study", "status", _dir.Path), "is not a Slurm study folder", SlurmStudy.RecordFile);

    [Fact]
    public void SlurmResourcesWithoutSlurmAreRefused() =>
        AssertOneLineError(CliProcess.Run("study", "--config", WriteStudy(), "--out", _dir.File("out"), "--partition", "gpu"), "--partition is a Slurm resource", "add --slurm");

    [SlurmFact]
    public void AnUnknownPartitionIsSlurmsRefusalInOneLine()
    {
        string outDir = _dir.File("out");
        AssertOneLineError(CliProcess.Run("study", "--config", WriteStudy(), "--out", outDir, "--slurm", "--partition", "nosuch"),
            "Slurm refused the study (sbatch: error:", "nvalid partition");
        Assert.False(Directory.Exists(outDir)); // nothing left behind to refuse the corrected submission
    }

    [SlurmFact]
    public void AStudyOnSlurmCollectsTheSameTableAsALocalStudy()
    {
        string study = WriteStudy();
        string slurmDir = _dir.File("slurm"), localDir = _dir.File("local");
        var submitted = CliProcess.Run("study", "--config", study, "--out", slurmDir, "--slurm", "--max-parallel", "2");
        Assert.True(submitted.Code == 0, submitted.Err);
        Assert.Contains("submitted 3 tasks as Slurm job", submitted.Out, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --array=0-2%2", File.ReadAllText(Path.Combine(slurmDir, SlurmScript.FileName)), StringComparison.Ordinal);

        var local = CliProcess.Run("study", "--config", study, "--out", localDir, "--quiet");
        Assert.True(local.Code == 0, local.Err);

        var clock = Stopwatch.StartNew();
        string status = "";
        while (clock.Elapsed.TotalSeconds < 240)
        {
            status = CliProcess.Run("study", "status", slurmDir).Out;
            if (status.Contains("3 tasks: 3 done", StringComparison.Ordinal)) break;
            Assert.DoesNotContain("failed", status, StringComparison.Ordinal);
            Thread.Sleep(500);
        }
        Assert.True(status.Contains("3 tasks: 3 done", StringComparison.Ordinal), $"not done within 240 s:\n{status}");

        var collected = CliProcess.Run("study", "collect", slurmDir);
        Assert.True(collected.Code == 0, collected.Err);
        Assert.Equal(Accuracies(localDir), Accuracies(slurmDir));
        Assert.Equal(3, Accuracies(slurmDir).Count);
        foreach (string run in new[] { "qs-seed1", "qs-seed2", "qs-seed3" })
            Assert.Equal("exit 0", File.ReadAllText(Path.Combine(slurmDir, run, TaskMarkers.Done)).Trim());
    }

    [SlurmFact]
    public void ATaskCancelledWithScancelIsResumedFromItsCheckpointAndCollectGivesTheFullTable()
    {
        // One task of 8 short epochs (about 0.3 s each here): cancelled after its first epoch, resumed, compared with a local run.
        string study = WriteStudy("qsc", epochs: 8);
        string[] small = ["--seeds", "1"];
        string dir = _dir.File("slurm"), localDir = _dir.File("local"), runDir = Path.Combine(dir, "qs-seed1");
        var submitted = CliProcess.Run(["study", "--config", study, "--out", dir, "--slurm", .. small]);
        Assert.True(submitted.Code == 0, submitted.Err);
        string job = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, SlurmStudy.RecordFile)))!["jobs"]![0]!.GetValue<string>();

        WaitFor(() => File.Exists(Path.Combine(runDir, "metrics.json")), 90, "the first epoch of the task", dir);
        using (var scancel = Process.Start(new ProcessStartInfo("scancel", [$"{job}_0"]) { RedirectStandardError = true })!)
        {
            string err = scancel.StandardError.ReadToEnd();
            Assert.True(scancel.WaitForExit(30_000) && scancel.ExitCode == 0, $"scancel failed: {err}");
        }
        WaitFor(() => CliProcess.Run("study", "status", dir).Out.Contains("1 tasks: 1 interrupted", StringComparison.Ordinal), 30, "the task to be interrupted", dir);
        Assert.True(File.Exists(Path.Combine(runDir, "checkpoint.h5")));
        int epochsBefore = JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "summary.json")))!["epochs"]!.GetValue<int>();
        Assert.InRange(epochsBefore, 1, 7);
        Assert.Contains("interrupted", CliProcess.Run("study", "collect", dir).Out, StringComparison.Ordinal);

        var resumed = CliProcess.Run("study", "resume", dir, "--slurm");
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains("resubmitted 1 of 1 tasks (0) as Slurm job", resumed.Out, StringComparison.Ordinal);
        var local = CliProcess.Run(["study", "--config", study, "--out", localDir, "--quiet", .. small]);
        Assert.True(local.Code == 0, local.Err);
        SlurmCrossValidationTests.WaitUntilDone(dir, 1, 90);

        var collected = CliProcess.Run("study", "collect", dir);
        Assert.True(collected.Code == 0, collected.Err);
        Assert.Contains("study qsc: 1 runs; table in", collected.Out, StringComparison.Ordinal);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "summary.json")))!;
        Assert.Equal(8, summary["epochs"]!.GetValue<int>());
        // The resubmitted task's output (Slurm's log of array task 0) is train's final line, which says where it resumed.
        string resumedLine = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"done: 8 epochs ({8 - epochsBefore} after resuming at epoch {epochsBefore})");
        Assert.Contains(resumedLine, File.ReadAllText(Path.Combine(dir, SlurmScript.LogFolder, "0.out")), StringComparison.Ordinal);
        // Resumed from the checkpoint, bit-identical to the uninterrupted local run.
        Assert.Equal(Accuracies(localDir), Accuracies(dir));
        Assert.Single(Accuracies(dir));
    }

    private static void WaitFor(Func<bool> condition, double seconds, string what, string dir)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed.TotalSeconds > seconds)
                throw new Xunit.Sdk.XunitException($"timed out after {seconds} s waiting for {what}:\n{CliProcess.Run("study", "status", dir).Out}");
            Thread.Sleep(100);
        }
    }

    private static List<string> Accuracies(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "results.csv")).Skip(1).Select(l => string.Join(',', l.Split(',')[..6])).ToList();

    [Fact]
    public void CollectOnAPartialStudyNamesTheMissingRunsAndShowsNoMean()
    {
        // A study folder as --slurm writes it, with one of three tasks finished (its files copied from a local run).
        string study = WriteStudy(epochs: 1);
        string localDir = _dir.File("local"), dir = _dir.File("partial");
        var local = CliProcess.Run("study", "--config", study, "--out", localDir, "--quiet", "--seeds", "1");
        Assert.True(local.Code == 0, local.Err);
        Directory.CreateDirectory(Path.Combine(dir, "qs-seed1"));
        foreach (string f in new[] { "summary.json", "metrics.json" }) File.Copy(Path.Combine(localDir, "qs-seed1", f), Path.Combine(dir, "qs-seed1", f));
        File.WriteAllText(Path.Combine(dir, "qs-seed1", TaskMarkers.Done), "exit 0");
        Directory.CreateDirectory(Path.Combine(dir, "qs-seed2"));
        File.WriteAllText(Path.Combine(dir, "qs-seed2", TaskMarkers.Started), "host x");
        File.WriteAllText(Path.Combine(dir, "qs-seed2", TaskMarkers.Error), "error: out of memory (exit 1)");
        var parsed = StudyCommand.Parse(File.ReadAllText(study), study);
        var record = new SlurmStudyRecord(StudyCommand.Serialize(parsed), [], new SlurmResources(null, null, 1, null, false, []), "x", []);
        File.WriteAllText(Path.Combine(dir, SlurmStudy.RecordFile), System.Text.Json.JsonSerializer.Serialize(record,
            new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower }));

        var status = CliProcess.Run("study", "status", dir);
        Assert.Contains("qs-seed2  failed: error: out of memory (exit 1)", status.Out, StringComparison.Ordinal);
        Assert.Contains("3 tasks: 1 done, 1 failed, 1 not submitted", status.Out, StringComparison.Ordinal);

        var collected = CliProcess.Run("study", "collect", dir);
        Assert.True(collected.Code == 0, collected.Err);
        Assert.Contains("1 of 3 runs finished; missing qs-seed2 (failed), qs-seed3 (not submitted)", collected.Out, StringComparison.Ordinal);
        string md = File.ReadAllText(Path.Combine(dir, "results.md"));
        Assert.Contains("| qs | – | – | – | – | missing: seed 2 failed, seed 3 not submitted |", md, StringComparison.Ordinal);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(dir, "results.csv")).Length);
    }

    private static string? FindOnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);
}
