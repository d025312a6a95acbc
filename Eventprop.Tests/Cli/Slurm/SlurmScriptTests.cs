using System.Diagnostics;
using Eventprop.Cli;
using Xunit;

namespace Eventprop.Tests.Cli.Slurm;

/// <summary>The batch script of a Slurm study, the state of a task from its markers and squeue, without Slurm (issue 19).</summary>
public sealed class SlurmScriptTests
{
    private static readonly List<StudyTask> Tasks =
    [
        new(0, "a", null, 1, "a-seed1", ["training.epochs=2", "seed=1"]),
        new(1, "a", null, 2, "a-seed2", ["training.epochs=2", "seed=2"]),
        new(2, "b's", null, 1, "b_s-seed1", ["method=\"surrogate\"", "seed=1"]),
    ];

    private static string Script(SlurmResources r, IReadOnlyList<int>? indices = null) =>
        SlurmScript.Generate("qs", "/shared/runs/qs", "dotnet '/opt/eventprop/eventprop.dll'", Tasks, indices ?? [0, 1, 2], r);

    [Fact]
    public void TheScriptAsksForTheResourcesAndTheSignalBeforeTheTimeLimit()
    {
        var lines = Script(new SlurmResources("gpu", "2:00:00", 4, 2, true, ["--account=lab", "--mem=8G"])).Split('\n');
        Assert.Contains("#SBATCH --array=0-2%2", lines);
        Assert.Contains("#SBATCH --partition=gpu", lines);
        Assert.Contains("#SBATCH --time=2:00:00", lines);
        Assert.Contains("#SBATCH --cpus-per-task=4", lines);
        Assert.Contains("#SBATCH --gres=gpu:1", lines);
        Assert.Contains("#SBATCH --signal=B:TERM@60", lines);
        Assert.Contains("#SBATCH --account=lab", lines);
        Assert.Contains("#SBATCH --mem=8G", lines);
        Assert.Contains("  2) run='b_s-seed1'; sets=(--set 'method=\"surrogate\"' --set 'seed=1') ;;", lines);
    }

    [Fact]
    public void WithoutAGpuOrLimitsTheScriptAsksForNoneOfThem()
    {
        string script = Script(new SlurmResources(null, null, 1, null, false, []), [1, 2]);
        Assert.Contains("#SBATCH --array=1-2\n", script);
        Assert.DoesNotContain("--gres", script);
        Assert.DoesNotContain("--partition", script);
        Assert.DoesNotContain("--time", script);
    }

    [Fact]
    public void TheScriptIsValidBash()
    {
        string path = Path.Combine(Path.GetTempPath(), $"eventprop-sbatch-{Guid.NewGuid():N}.sh");
        File.WriteAllText(path, Script(new SlurmResources("debug", "10:00", 1, 1, false, [])));
        try
        {
            using var bash = Process.Start(new ProcessStartInfo("bash", ["-n", path]) { RedirectStandardError = true })!;
            string err = bash.StandardError.ReadToEnd();
            bash.WaitForExit();
            Assert.True(bash.ExitCode == 0, err);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("0,1,2", "0-2")]
    [InlineData("5,0,1,2,8,7", "0-2,5,7-8")]
    [InlineData("3", "3")]
    public void ArraySpecJoinsConsecutiveIndicesIntoRanges(string indices, string expected) =>
        Assert.Equal(expected, SlurmScript.ArraySpec(indices.Split(',').Select(int.Parse).ToList()));

    [Theory]
    [InlineData("", null, TaskState.NotSubmitted)]
    [InlineData("", "PD", TaskState.Pending)]
    [InlineData("", "R", TaskState.Running)]
    [InlineData("task.started", "R", TaskState.Running)]
    [InlineData("task.started", null, TaskState.Failed)]
    [InlineData("task.started,task.done", null, TaskState.Done)]
    [InlineData("task.started,task.done", "CG", TaskState.Done)]
    [InlineData("task.started,task.error", null, TaskState.Failed)]
    [InlineData("task.started,task.error", "CG", TaskState.Failed)]
    [InlineData("task.started,task.interrupted", null, TaskState.Interrupted)]
    [InlineData("task.started,task.interrupted", "PD", TaskState.Pending)]
    public void TheStateComesFromTheMarkersAndSqueue(string markers, string? squeue, TaskState expected) =>
        Assert.Equal(expected, TaskMarkers.Derive(markers.Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(), squeue));

    [Fact]
    public void SqueueLinesGiveTheArrayIndexAndState()
    {
        var parsed = SlurmStudy.ParseSqueue("12_0 R\n12_3 PD\n  \n12_[4-5] PD\nnonsense\n").ToList();
        Assert.Equal([(0, "R"), (3, "PD")], parsed);
    }

    [Fact]
    public void MarkerFilesDoNotCountAsContentOfARunDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"eventprop-markers-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, TaskMarkers.Started), "x");
            File.WriteAllText(Path.Combine(dir, ".task.started.tmp"), "x");
            File.WriteAllText(Path.Combine(dir, TaskMarkers.ErrorOutput), "");
            Assert.False(RunDirectory.HasContent(dir));
            File.WriteAllText(Path.Combine(dir, "config.json"), "{}");
            Assert.True(RunDirectory.HasContent(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
