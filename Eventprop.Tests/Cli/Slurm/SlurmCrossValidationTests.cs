using System.Diagnostics;
using System.Text.Json.Nodes;
using Eventprop.Cli;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli.Slurm;

/// <summary><c>eventprop train --cv speaker --slurm</c>: bad input without Slurm, and a real 3-fold cross-validation on a running cluster (issue 19).</summary>
public sealed class SlurmCrossValidationTests : IDisposable
{
    private static readonly string ShdConfig = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "experiments", "configs", "shd_sum_exp.json");
    private static readonly int[] Speakers = [3, 5, 8];
    private readonly TempDirectory _dir = new();

    /// <inheritdoc/>
    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// SHD-layout files with 3 speakers (30 training trials, uneven ids) and the train --cv arguments of a tiny network,
    /// 1 epoch and one engine thread, so that a fold gives the same numbers wherever it runs.
    /// </summary>
    private string[] CvArgs(string outDir, params string[] more)
    {
        if (!File.Exists(_dir.File("shd_train.h5")))
        {
            CliCrossValidationTests.WriteShdLike(_dir.File("shd_train.h5"), 30, 4, i => Speakers[i % 3]);
            CliCrossValidationTests.WriteShdLike(_dir.File("shd_test.h5"), 10, 5, i => Speakers[i % 3]);
        }
        return ["train", "--config", ShdConfig, "--data", _dir.Path, "--out", outDir, "--epochs", "1", "--quiet", "--cv", "speaker",
            "--set", "network.hidden=8", "--set", "engine.duration_ms=400", "--set", "augment.delay_line_copies=0", "--set", "training.batch_size=16",
            "--set", "engine.threads=1", .. more];
    }

    private static void AssertOneLineError((int Code, string Out, string Err) r, params string[] parts)
    {
        Assert.Equal(ExitCodes.UserError, r.Code);
        string line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        foreach (string p in parts) Assert.Contains(p, line, StringComparison.Ordinal);
    }

    [Fact]
    public void CvSlurmWithoutSbatchOnPathIsOneLine()
    {
        string outDir = _dir.File("out");
        var info = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] args = [Path.Combine(AppContext.BaseDirectory, "eventprop.dll"), .. CvArgs(outDir, "--slurm")];
        foreach (string a in args) info.ArgumentList.Add(a);
        info.Environment["PATH"] = _dir.File("empty"); // no sbatch there
        using var p = Process.Start(info)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        AssertOneLineError((p.ExitCode, "", err), "--slurm needs Slurm's 'sbatch' on PATH", "leave out --slurm to run the cross-validation here");
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void AFolderHoldingAStudyIsRefusedForACrossValidationInOneLine()
    {
        string outDir = _dir.File("out");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, SlurmStudy.RecordFile),
            """{ "study": "{\"name\":\"other\"}", "common": [], "resources": { "partition": null, "time": null, "cpus_per_task": 1, "max_parallel": null, "gpu": false, "extra_args": [] }, "eventprop": "x", "jobs": ["7"] }""");
        AssertOneLineError(CliProcess.Run(CvArgs(outDir, "--slurm")), $"'{outDir}' already holds a different study", "choose another --out");
    }

    [Fact]
    public void SlurmOptionsOutsideACrossValidationAreRefusedInOneLine()
    {
        AssertOneLineError(CliProcess.Run(CvArgs(_dir.File("out"), "--partition", "gpu")), "--partition is a Slurm resource", "add --slurm");
        AssertOneLineError(CliProcess.Run("train", "--epochs", "1", "--slurm"), "train --slurm submits a cross-validation: add --cv speaker", "study --slurm");
        AssertOneLineError(CliProcess.Run("train", "--epochs", "1", "--max-parallel", "2"), "--max-parallel is a Slurm resource");
    }

    [SlurmFact]
    public void AnUnknownPartitionIsSlurmsRefusalInOneLine()
    {
        string outDir = _dir.File("out");
        AssertOneLineError(CliProcess.Run(CvArgs(outDir, "--slurm", "--partition", "nosuch")), "Slurm refused the cross-validation (sbatch: error:", "nvalid partition");
        Assert.False(Directory.Exists(outDir));
    }

    [SlurmFact]
    public void ACrossValidationOnSlurmCollectsTheSameSummaryAsALocalOne()
    {
        string slurmDir = _dir.File("slurm"), localDir = _dir.File("local");
        var submitted = CliProcess.Run(CvArgs(slurmDir, "--slurm"));
        Assert.True(submitted.Code == 0, submitted.Err);
        Assert.Contains("submitted 3 folds of leave-one-speaker-out cross-validation (speakers 3, 5, 8) as Slurm job", submitted.Out, StringComparison.Ordinal);
        string script = File.ReadAllText(Path.Combine(slurmDir, SlurmScript.FileName));
        Assert.Contains("#SBATCH --array=0-2\n", script, StringComparison.Ordinal);
        Assert.Contains("  2) run='speaker-8'; sets=(--set 'dataset.hold_out_speaker=8') ;;", script, StringComparison.Ordinal);
        // The same folder again: this cross-validation is there already.
        AssertOneLineError(CliProcess.Run(CvArgs(slurmDir, "--slurm")), "already holds this cross-validation", $"study resume {slurmDir} --slurm");

        var local = CliProcess.Run(CvArgs(localDir));
        Assert.True(local.Code == 0, local.Err);

        string status = WaitUntilDone(slurmDir, 3, 120);
        Assert.Contains("speaker-5  done", status, StringComparison.Ordinal);
        var collected = CliProcess.Run("study", "collect", slurmDir);
        Assert.True(collected.Code == 0, collected.Err);
        Assert.Contains("cross-validation over 3 of 3 speakers: validation accuracy (best epoch per fold)", collected.Out, StringComparison.Ordinal);

        // Per fold and the mean and sd lines: the numbers of the local run, bit for bit.
        var slurmCsv = File.ReadAllLines(Path.Combine(slurmDir, "cv_summary.csv"));
        Assert.Equal(File.ReadAllLines(Path.Combine(localDir, "cv_summary.csv")), slurmCsv);
        Assert.Equal(6, slurmCsv.Length); // header, 3 folds, mean, sd
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(slurmDir, "cv_summary.json")))!;
        var localSummary = JsonNode.Parse(File.ReadAllText(Path.Combine(localDir, "cv_summary.json")))!;
        foreach (string key in new[] { "mean_best_validation_accuracy", "sd_best_validation_accuracy", "mean_final_validation_accuracy", "folds_completed" })
            Assert.Equal(localSummary[key]!.ToJsonString(), summary[key]!.ToJsonString());
        Assert.NotNull(summary["sd_best_validation_accuracy"]);
        foreach (int s in Speakers)
            Assert.Equal(s, RunConfig.Load(Path.Combine(slurmDir, $"speaker-{s}", "config.json"), []).Dataset.HoldOutSpeaker);
    }

    [Fact]
    public void CollectNamesTheMissingFoldsAndGivesTheMeanAndSdOnlyWhenAllAreDone()
    {
        // A Slurm cross-validation folder as --slurm writes it, with hand-made fold results (best validation accuracy
        // 0.5, 0.75 and 1.0: mean 0.75, sd 0.25); the third fold first failed.
        string dir = _dir.File("cv");
        var cv = new SlurmCvRecord("shd", [new(3, 20, 10), new(5, 20, 10), new(8, 20, 10)]);
        var record = new SlurmStudyRecord("{}", [], new SlurmResources(null, null, 1, null, false, []), "x", [], cv);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, SlurmStudy.RecordFile), System.Text.Json.JsonSerializer.Serialize(record,
            new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower }));
        double[] best = [0.5, 0.75, 1.0];
        for (int i = 0; i < 3; i++)
        {
            string fold = Path.Combine(dir, $"speaker-{Speakers[i]}");
            Directory.CreateDirectory(fold);
            string b = best[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
            File.WriteAllText(Path.Combine(fold, "metrics.json"), $$"""[{ "epoch": 1, "validation_accuracy": 0.25 }, { "epoch": 2, "validation_accuracy": {{b}} }]""");
            File.WriteAllText(Path.Combine(fold, "summary.json"), """{ "interrupted": false, "seconds": 2.0 }""");
            File.WriteAllText(Path.Combine(fold, TaskMarkers.Started), "host x");
            File.WriteAllText(Path.Combine(fold, i < 2 ? TaskMarkers.Done : TaskMarkers.Error), i < 2 ? "exit 0" : "error: disk full (exit 1)");
        }

        var status = CliProcess.Run("study", "status", dir);
        Assert.Contains("speaker-8  failed: error: disk full (exit 1)", status.Out, StringComparison.Ordinal);
        Assert.Contains("cross-validation shd: 3 tasks: 2 done, 1 failed", status.Out, StringComparison.Ordinal);
        var partial = CliProcess.Run("study", "collect", dir);
        Assert.True(partial.Code == 0, partial.Err);
        Assert.Contains("cross-validation over 2 of 3 speakers finished; missing speaker-8 (failed); no mean ± sd", partial.Out, StringComparison.Ordinal);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "cv_summary.json")))!;
        Assert.Null(summary["mean_best_validation_accuracy"]);
        Assert.Equal("speaker-8 (failed)", summary["missing"]![0]!.GetValue<string>());
        Assert.Equal(2, summary["folds_completed"]!.GetValue<int>());

        File.Delete(Path.Combine(dir, "speaker-8", TaskMarkers.Error));
        File.WriteAllText(Path.Combine(dir, "speaker-8", TaskMarkers.Done), "exit 0");
        var full = CliProcess.Run("study", "collect", dir);
        Assert.Contains("cross-validation over 3 of 3 speakers: validation accuracy (best epoch per fold) 75.0 % ± 25.0 %, final epoch 75.0 % ± 25.0 %", full.Out, StringComparison.Ordinal);
        summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "cv_summary.json")))!;
        Assert.Equal(0.75, summary["mean_best_validation_accuracy"]!.GetValue<double>(), 12);
        Assert.Equal(0.25, summary["sd_best_validation_accuracy"]!.GetValue<double>(), 12);
        Assert.Null(summary["missing"]);
        Assert.Equal(6.0, summary["seconds"]!.GetValue<double>(), 12); // the folds' training times, summed
        Assert.Equal("mean,,,,,0.75,0.75", File.ReadAllLines(Path.Combine(dir, "cv_summary.csv"))[4]);
    }

    /// <summary>Polls <c>study status</c> until all <paramref name="tasks"/> are done (failing at once on a failed task, or after <paramref name="seconds"/>).</summary>
    internal static string WaitUntilDone(string dir, int tasks, double seconds)
    {
        var clock = Stopwatch.StartNew();
        string status = "";
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            status = CliProcess.Run("study", "status", dir).Out;
            if (status.Contains($"{tasks} tasks: {tasks} done", StringComparison.Ordinal)) return status;
            Assert.DoesNotContain("failed", status, StringComparison.Ordinal);
            Thread.Sleep(300);
        }
        throw new Xunit.Sdk.XunitException($"not done within {seconds} s:\n{status}");
    }

    internal static string DotnetHost() =>
        Environment.ProcessPath is string host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host
            : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Select(d => Path.Combine(d, "dotnet")).FirstOrDefault(File.Exists) ?? "dotnet";
}
