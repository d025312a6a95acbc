using System.Globalization;
using Eventprop.Cli;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// The System.CommandLine front end (issue 14): every command, subcommand and option the hand-written parser knew still
/// parses with its meaning, the handlers and the definitions agree, help, version, response files, bundling and the
/// one-line parse errors with suggestions.
/// </summary>
public sealed class CliSyntaxTests
{
    /// <summary>The options each command took before System.CommandLine (from the Arguments.Parse calls), written out by hand.</summary>
    public static TheoryData<string, string, string> Commands => new()
    {
        { "train", "config set data out seed epochs resume cv device method partition time cpus-per-task max-parallel sbatch-arg", "quiet overwrite slurm" },
        { "evaluate", "model data split set device", "" },
        { "gradient", "model sample loss engine dt method", "json" },
        { "gradcheck", "model sample loss seed", "" },
        { "data info", "", "" },
        { "data download", "to which", "" },
        { "data encode-audio", "out channels label-from speaker-from seed threads", "skip-bad exact-fft" },
        { "data convert-mnist-json", "to test", "" },
        { "lr-range-test", "config set data out min max steps device method", "overwrite quiet" },
        { "gradient-report", "config set data out batches gamma method", "overwrite quiet" },
        { "tune-surrogate", "config set data out batches min-gamma max-gamma tolerance max-iterations method", "overwrite quiet" },
        { "bench", "cases batches batch threads loss device", "" },
        { "export", "nir out", "" },
        { "import", "nir out duration-ms", "" },
        { "study", "config set out data seeds values series device partition time cpus-per-task max-parallel sbatch-arg", "quiet overwrite slurm" },
        { "study status", "", "" },
        { "study resume", "partition time cpus-per-task max-parallel sbatch-arg", "slurm" },
        { "study collect", "", "" },
    };

    private static System.CommandLine.ParseResult Parse(params string[] args) =>
        CommandLineSyntax.Build(TextWriter.Null, TextWriter.Null, default).Parse(args, CommandLineSyntax.Parser);

    private static string[] Words(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [MemberData(nameof(Commands))]
    public void EveryOldOptionParsesInBothFormsAndReachesTheHandlerAsTyped(string command, string values, string flags)
    {
        foreach (string name in Words(values))
        {
            var spaced = Parse([.. Words(command), "--" + name, "v-" + name]);
            Assert.Empty(spaced.Errors);
            Assert.Equal(["--" + name, "v-" + name], CommandLineSyntax.Canonical(spaced));
            var joined = Parse([.. Words(command), $"--{name}=a=b", "--" + name, "2"]);
            Assert.Empty(joined.Errors);
            Assert.Equal(["--" + name, "a=b", "--" + name, "2"], CommandLineSyntax.Canonical(joined));
        }
        foreach (string name in Words(flags))
        {
            var r = Parse([.. Words(command), "--" + name]);
            Assert.Empty(r.Errors);
            Assert.Equal(["--" + name], CommandLineSyntax.Canonical(r));
        }
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void TheDefinitionsNameExactlyTheOptionsTheHandlerReads(string command, string values, string flags)
    {
        // The handler's own list (its Arguments.Parse call), read from its "unknown option" message; the definitions'
        // list from the parser's. Both must equal the hand-written one, so that an option added to one side fails here.
        var expected = Words(values).Concat(Words(flags)).Select(n => "--" + n).Order(StringComparer.Ordinal).ToList();
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var ex = Assert.Throws<UserError>(() => Handler(command, ["--zz-unknown"], o));
        Assert.Equal(expected, KnownList(ex.Message));
        var r = CliProcess.Run([.. Words(command), "--zz-unknown"]);
        Assert.Equal(ExitCodes.UserError, r.Code);
        Assert.Equal(expected, KnownList(r.Err.Trim()));
    }

    private static List<string> KnownList(string message)
    {
        int known = message.IndexOf("known: ", StringComparison.Ordinal);
        if (known < 0) return [];
        return [.. message[(known + 7)..].TrimEnd('.').Split(", ", StringSplitOptions.RemoveEmptyEntries)];
    }

    private static int Handler(string command, string[] args, TextWriter o) => command switch
    {
        "train" => TrainCommand.Run(args, o, default),
        "evaluate" => EvaluateCommand.Run(args, o, o),
        "gradient" => GradientCommands.Gradient(args, o),
        "gradcheck" => GradientCommands.GradCheck(args, o),
        "bench" => BenchCommand.Run(args, o),
        "export" => NirCommands.Export(args, o),
        "import" => NirCommands.Import(args, o),
        "study" => StudyCommand.Run(args, o, default),
        "study status" => SlurmStudy.Status(args, o),
        "study resume" => SlurmStudy.Resume(args, o),
        "study collect" => SlurmStudy.Collect(args, o),
        "lr-range-test" => LearningRateRangeCommand.Run(args, o, default),
        "gradient-report" => SurrogateWidthCommands.GradientReport(args, o),
        "tune-surrogate" => SurrogateWidthCommands.TuneSurrogate(args, o),
        _ => DataCommands.Run([.. Words(command).Skip(1), .. args], o),
    };

    [Fact]
    public void PositionalArgumentsAndRepeatedSetsKeepTheirOrder()
    {
        var r = Parse("data", "encode-audio", "a.wav", "--out", "x.h5", "dir/", "--skip-bad");
        Assert.Empty(r.Errors);
        Assert.Equal(["a.wav", "dir/", "--out", "x.h5", "--skip-bad"], CommandLineSyntax.Canonical(r));
        var sets = Parse("train", "--set", "seed=1", "--epochs", "3", "--set", "network.hidden[1].size=5", "--set=loss=sum");
        Assert.Equal(["--set", "seed=1", "--set", "network.hidden[1].size=5", "--set", "loss=sum", "--epochs", "3"], CommandLineSyntax.Canonical(sets));
    }

    [Fact]
    public void ShortAliasesBundleAndResponseFilesExpand()
    {
        Assert.Equal(["--quiet", "--out", "d"], CommandLineSyntax.Canonical(Parse("train", "-q", "-o", "d")));
        var bundled = Parse("train", "-qh");
        Assert.Empty(bundled.Errors);
        Assert.IsType<System.CommandLine.Help.HelpAction>(bundled.Action);
        string rsp = Path.Combine(Path.GetTempPath(), $"eventprop-{Guid.NewGuid():N}.rsp");
        File.WriteAllLines(rsp, ["--seed", "7", "--set training.epochs=2"]);
        try
        {
            var r = Parse("train", "@" + rsp);
            Assert.Empty(r.Errors);
            Assert.Equal(["--seed", "7", "--set", "training.epochs=2"], CommandLineSyntax.Canonical(r));
        }
        finally { File.Delete(rsp); }
    }

    [Theory]
    [InlineData(new[] { "trian" }, "Unknown command 'trian'; did you mean 'train'?")]
    [InlineData(new[] { "train", "--epoch", "3" }, "Unknown option '--epoch' for 'train'; did you mean '--epochs'?")]
    [InlineData(new[] { "data", "downlaod" }, "Unknown subcommand 'data downlaod'; did you mean 'data download'?")]
    [InlineData(new[] { "study", "--seed", "1" }, "Unknown option '--seed' for 'study'; did you mean '--seeds'?")]
    [InlineData(new[] { "train", "--seed" }, "--seed needs a value, e.g. --seed N")]
    [InlineData(new[] { "train", "--quiet=yes" }, "--quiet takes no value; write just --quiet.")]
    [InlineData(new[] { "gradcheck", "extra" }, "Unexpected argument 'extra' for 'gradcheck'")]
    [InlineData(new[] { "data" }, "'data' needs a subcommand: info, download, encode-audio")]
    [InlineData(new[] { "train", "@/nonexistent/args.rsp" }, "args.rsp")]
    public void ParseErrorsAreOneLineWithTheFix(string[] args, string message)
    {
        var r = CliProcess.Run(args);
        Assert.Equal(ExitCodes.UserError, r.Code);
        Assert.Equal("", r.Out);
        string line = Assert.Single(r.Err.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains(message, line);
    }

    [Fact]
    public void HelpIsGeneratedFromTheDefinitionsAndTrainListsEveryFileItWrites()
    {
        var root = CliProcess.Run("--help");
        Assert.Equal(0, root.Code);
        foreach (string c in new[] { "train", "evaluate", "gradient", "gradcheck", "data", "bench", "export", "import", "study" }) Assert.Contains("  " + c + " ", root.Out);
        var noArgs = CliProcess.Run();
        Assert.Equal(ExitCodes.UserError, noArgs.Code);
        Assert.Equal(root.Out, noArgs.Out);
        var train = CliProcess.Run("train", "--help");
        Assert.Equal(0, train.Code);
        foreach (string option in new[] { "--config", "--set", "--data", "--out", "--overwrite", "--seed", "--epochs", "--device", "--method", "--resume", "--cv", "--quiet" })
            Assert.Contains(option + " ", train.Out);
        foreach (string file in new[] { "config.json", "checkpoint_config.json", "metrics.csv", "metrics.json", "summary.json", "checkpoint.h5",
                     "model.json", "learning_curves.png/.svg", "trial_raster.png/.svg", ".eventprop.lock", ".eventprop.owner", "cv_summary.csv", "cv_summary.json" })
            Assert.Contains(file, train.Out);
        Assert.Equal(train.Out, CliProcess.Run("train", "--epochs", "3", "-h").Out);
        var info = CliProcess.Run("data", "info", "--help");
        Assert.Contains("eventprop data info", info.Out);
        Assert.DoesNotContain("Details:", info.Out);
    }

    [Theory]
    [InlineData(new[] { "train" }, true)]
    [InlineData(new[] { "--verbose", "study", "--config", "x.json" }, true)]
    [InlineData(new[] { "train", "--help" }, true)]
    [InlineData(new[] { "evaluate", "--model", "m.h5" }, false)]
    [InlineData(new[] { "data", "info", "f.h5" }, false)]
    [InlineData(new string[0], false)]
    public void CtrlCStopsAfterTheEpochOnlyForTrainAndStudy(string[] args, bool graceful) => Assert.Equal(graceful, Program.IsGraceful(args));

    [Fact]
    public void AResponseFileThatRunsTrainIsGraceful()
    {
        string rsp = Path.Combine(Path.GetTempPath(), $"eventprop-{Guid.NewGuid():N}.rsp");
        File.WriteAllLines(rsp, ["train", "--epochs", "2"]);
        try { Assert.True(Program.IsGraceful(["@" + rsp])); }
        finally { File.Delete(rsp); }
    }

    [Fact]
    public void VersionIsTheInformationalVersion()
    {
        var r = CliProcess.Run("--version");
        Assert.Equal(0, r.Code);
        string expected = typeof(Program).Assembly // what MinVer (or Version) put in, read directly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;
        Assert.Equal(expected, r.Out.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+", r.Out);
        var combined = CliProcess.Run("--version", "--verbose", "--help");
        Assert.Equal(0, combined.Code); // help wins
        Assert.Contains("cannot be combined", CliProcess.Run("--version", "train").Err, StringComparison.Ordinal);
    }
}
