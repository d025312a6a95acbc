using System.CommandLine;
using System.CommandLine.Help;
using System.Runtime.InteropServices;
using Eventprop.Core.Simulation;
using Eventprop.Core.Training;

namespace Eventprop.Cli;

/// <summary>Entry point of the <c>eventprop</c> command.</summary>
public static class Program
{
    /// <summary>
    /// Process entry point. Ctrl-C (SIGINT) stops <c>train</c> and <c>study</c> after the current epoch (with a checkpoint)
    /// and exits with 130; so does SIGTERM (Slurm's scancel and its signal before a time limit). A second Ctrl-C, or Ctrl-C in any other command, ends the process at once (also 130).
    /// </summary>
    public static int Main(string[] args)
    {
        using var stop = new CancellationTokenSource();
        bool graceful = IsGraceful(args);
        Console.CancelKeyPress += (_, e) =>
        {
            if (!graceful || stop.IsCancellationRequested) return; // terminate now (the runtime exits as killed by SIGINT: 130)
            e.Cancel = true;
            Console.Error.WriteLine("stopping after the current epoch (Ctrl-C again to abort)…");
            stop.Cancel();
        };
        // SIGTERM (Slurm's scancel, or its signal before a time limit) stops train and study like the first Ctrl-C.
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            if (!graceful) return; // the default: end now
            // Slurm signals every process of the job and the batch script forwards it too: a repeat is not an abort.
            context.Cancel = true;
            if (stop.IsCancellationRequested) return;
            Console.Error.WriteLine("SIGTERM: stopping after the current epoch…");
            stop.Cancel();
        });
        return Run(args, Console.Out, Console.Error, stop.Token);
    }

    /// <summary>Whether <paramref name="args"/> run <c>train</c> or <c>study</c> (also through a response file or after an alias).</summary>
    internal static bool IsGraceful(string[] args)
    {
        try
        {
            var result = CommandLineSyntax.Build(TextWriter.Null, TextWriter.Null, default)
                .Parse(args.Where(x => x != CommandLineSyntax.Verbose).ToArray(), CommandLineSyntax.Parser);
            return result.CommandResult.Command.Name is "train" or "study";
        }
        catch (IOException) { return false; } // an unreadable response file: the run reports it
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
            if (rest.Length > 0 && rest[0] == "help") rest[0] = "--help";
            var root = CommandLineSyntax.Build(output, error, stop);
            var result = root.Parse(rest.Length == 0 ? ["--help"] : rest, CommandLineSyntax.Parser);
            if (result.Errors.Count > 0 && result.Action is not HelpAction)
            {
                error.WriteLine($"error: {ParseErrorMessage.For(result, rest)}");
                return ExitCodes.UserError;
            }
            if (result.Action is not HelpAction && result.GetResult(root.Options.OfType<VersionOption>().Single()) is not null)
            {
                output.WriteLine(CommandLineSyntax.Version);
                return ExitCodes.Success;
            }
            int code = result.Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
            if (result.Action is HelpAction) HelpDetails.Write(result, output);
            return rest.Length == 0 ? ExitCodes.UserError : code; // no command: the help, as a usage error
        }
        catch (UserError e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.UserError;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or TrainingDivergedException
            or SpikeLimitExceededException or Core.Simulation.Stepped.SpikeBufferLimitException or ArgumentException or KeyNotFoundException
            or Core.Nir.NirFormatException)
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
}
