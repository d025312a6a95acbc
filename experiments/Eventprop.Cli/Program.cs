using Eventprop.Core.Simulation;
using Eventprop.Core.Training;

namespace Eventprop.Cli;

/// <summary>Entry point of the <c>eventprop</c> command.</summary>
public static class Program
{
    private const string Usage = """
        eventprop — train spiking neural networks with exact gradients (Eventprop)

        Commands:
          train       train a network; no arguments = the quick start (randman, < 2 min on 2 cores)
          evaluate    accuracy, per-class accuracy and confusion matrix of a trained checkpoint
          gradient    loss and every gradient of one trial as JSON (--model MODEL.json --sample SAMPLE.json)
          gradcheck   Eventprop against finite differences on a given or random network
          data        data info FILE | data download --to DIR
          bench       speed and memory of the time-stepped engine on SHD-sized networks (a table)
          study       several training runs (series × sweep × seeds) into one table and one plot
        Run 'eventprop <command> --help' for its options. Add --verbose to see the stack trace of an unexpected error.
        """;

    /// <summary>
    /// Process entry point. Ctrl-C (SIGINT) stops <c>train</c> and <c>study</c> after the current epoch (with a checkpoint)
    /// and exits with 130; a second Ctrl-C, or Ctrl-C in any other command, ends the process at once (also 130).
    /// </summary>
    public static int Main(string[] args)
    {
        using var stop = new CancellationTokenSource();
        bool graceful = args.FirstOrDefault(x => x != "--verbose") is "train" or "study";
        Console.CancelKeyPress += (_, e) =>
        {
            if (!graceful || stop.IsCancellationRequested) return; // terminate now (the runtime exits as killed by SIGINT: 130)
            e.Cancel = true;
            Console.Error.WriteLine("stopping after the current epoch (Ctrl-C again to abort)…");
            stop.Cancel();
        };
        return Run(args, Console.Out, Console.Error, stop.Token);
    }

    /// <summary>Runs the command line <paramref name="args"/>, writing results to <paramref name="output"/> and one-line errors to <paramref name="error"/>.</summary>
    /// <returns>The <see cref="ExitCodes"/>: 0 on success, 2 for a user error, 1 for an unexpected failure, 130 when <paramref name="stop"/> ended it early.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter error, CancellationToken stop = default)
    {
        int code = RunCommand(args, output, error, stop);
        return code == ExitCodes.Success && stop.IsCancellationRequested ? ExitCodes.Interrupted : code;
    }

    private static int RunCommand(string[] args, TextWriter output, TextWriter error, CancellationToken stop)
    {
        bool verbose = args.Contains("--verbose");
        var rest = args.Where(x => x != "--verbose").ToArray();
        try
        {
            if (rest.Length == 0 || rest[0] is "--help" or "-h" or "help")
            {
                output.WriteLine(Usage);
                return rest.Length == 0 ? 2 : 0;
            }
            string command = rest[0];
            var tail = rest[1..];
            if (tail.Contains("--help") || tail.Contains("-h"))
            {
                output.WriteLine(HelpFor(command));
                return 0;
            }
            return command switch
            {
                "train" => TrainCommand.Run(tail, output, stop),
                "evaluate" => EvaluateCommand.Run(tail, output, error),
                "gradient" => GradientCommands.Gradient(tail, output),
                "gradcheck" => GradientCommands.GradCheck(tail, output),
                "data" => DataCommands.Run(tail, output),
                "bench" => BenchCommand.Run(tail, output),
                "study" => StudyCommand.Run(tail, output, stop),
                _ => throw new UserError($"Unknown command '{command}'; commands: train, evaluate, gradient, gradcheck, data, bench, study (eventprop --help)."),
            };
        }
        catch (UserError e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.UserError;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or TrainingDivergedException
            or SpikeLimitExceededException or Core.Simulation.Stepped.SpikeBufferLimitException or ArgumentException or KeyNotFoundException)
        {
            error.WriteLine($"error: {UserMessage(e)}");
            if (verbose) error.WriteLine(e);
            return ExitCodes.UserError;
        }
        catch (Exception e)
        {
            error.WriteLine($"error: {UserMessage(e)} (an unexpected {e.GetType().Name}; rerun with --verbose for the details to report)");
            if (verbose) error.WriteLine(e);
            return ExitCodes.Unexpected;
        }
    }

    /// <summary>The first line of the exception's message without .NET's " (Parameter 'name')" suffix.</summary>
    internal static string UserMessage(Exception e)
    {
        string message = RunConfig.OneLine(e.Message);
        if (e is ArgumentException { ParamName: { } name })
            message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
        int hint = message.IndexOf(" Lower the weights or raise the engine's MaxSpikesPerNeuron.", StringComparison.Ordinal);
        if (e is SpikeLimitExceededException && hint > 0)
            message = message[..hint] + " Lower the initial weights (network.*_init) or training.learning_rate, and check the time constants (network.tau_*).";
        return message;
    }

    private static string HelpFor(string command) => command switch
    {
        "train" => TrainCommand.Help,
        "evaluate" => EvaluateCommand.Help,
        "gradient" => GradientCommands.GradientHelp,
        "gradcheck" => GradientCommands.GradCheckHelp,
        "data" => DataCommands.Help,
        "bench" => BenchCommand.Help,
        "study" => StudyCommand.Help,
        _ => throw new UserError($"Unknown command '{command}'; commands: train, evaluate, gradient, gradcheck, data, bench, study."),
    };
}
