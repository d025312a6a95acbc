using System.CommandLine;
using System.CommandLine.Parsing;

namespace Eventprop.Cli;

/// <summary>
/// The "Details:" section that <c>--help</c> adds after System.CommandLine's generated help (usage, arguments, options from
/// <see cref="CommandLineSyntax"/>) for the commands that need more than their option list (what <c>train</c> writes, …).
/// </summary>
internal static class HelpDetails
{
    /// <summary>Writes the details of the command that <paramref name="result"/> asked help for, if it has any.</summary>
    internal static void Write(ParseResult result, TextWriter output)
    {
        var command = result.CommandResult;
        if (command.Parent is not CommandResult { Parent: null }) return; // only top-level commands have details
        string? text = Details(command.Command.Name);
        if (text is null) return;
        output.WriteLine("Details:");
        foreach (string line in text.Split('\n')) output.WriteLine("  " + line.TrimEnd());
        output.WriteLine();
    }

    /// <summary>The details of top-level command <paramref name="command"/>, or null.</summary>
    internal static string? Details(string command) => command switch
    {
        "train" => TrainDetails,
        "evaluate" => EvaluateDetails,
        "gradcheck" => GradCheckDetails,
        "bench" => BenchCommand.Help.Split('\n', 2)[1].Trim(),
        "study" => StudyDetails,
        "data" => DataCommands.Help.Trim(),
        _ => null,
    };

    private const string TrainDetails = """
        Without --config: the quick start (generated randman, 10 classes; 30 → 128 recurrent → 10; stepped engine dt 1 ms;
        sum_exp; 30 epochs). Config keys: docs/cli.md; shipped configs: experiments/configs/.
          eventprop train --resume RUN_DIR [--epochs N]                continue a run
          eventprop train --cv speaker --config FILE.json --data DIR   leave-one-speaker-out cross-validation
        The run directory (--out; default runs/<name>-<UTC time>; it must be new or empty) gets:
          config.json               the resolved config (every key)
          checkpoint_config.json    the config the checkpoint was made with (what --resume compares with; do not edit)
          metrics.csv, metrics.json the metrics of every epoch (loss, accuracies, ...)
          summary.json              final and best-epoch metrics, cropped input spikes per split, resumes
          checkpoint.h5             parameters, Adam and schedule state, random state (for --resume and evaluate)
          model.json                the trained network and parameters (docs/formats.md; for 'eventprop gradient')
          learning_curves.png/.svg  loss and accuracies per epoch
          delays.png/.svg           learned delays before and after training (networks with learned delays)
          trial_raster.png/.svg     input, hidden spikes and readout voltages of one test trial
          .eventprop.lock, .eventprop.owner   while it runs: one writer at a time (docs/cli.md: run directories)
        --cv speaker: one such run per fold in DIR/speaker-<id>/, and in DIR config.json, cv_summary.csv, cv_summary.json.
        --set reaches list entries: --set network.hidden[1].size=64 (network.hidden is a number or a list of layers).
        Ctrl-C finishes the current epoch, writes the checkpoint and summary, and exits with 130.
        """;

    private const string EvaluateDetails = """
        Rebuilds the run from the config.json beside the checkpoint (the same data, splits and network), loads the
        parameters and prints loss, accuracy, mean spikes per hidden neuron and trial, per-class accuracy and the
        confusion matrix (rows: true class, columns: predicted) of the chosen split.
        """;

    private const string GradCheckDetails = """
        Compares the exact engine's Eventprop gradients with finite differences (Ridders). Without --model: a random
        5 → 4 (recurrent) → 3 network and a random trial from --seed. Prints the worst relative and absolute error per
        parameter group; exit code 0 when all agree (rel. 1e-5 or abs. 1e-9), 3 when not, 4 when the case is discarded
        (a spike grazes threshold or a spike count changes within the step).
        """;

    private const string StudyDetails = """
        Trains every series of the study (× every sweep value × every seed) from its base config, one run directory each,
        and writes one table (results.csv, results.md: test accuracy mean ± std over seeds, seconds per epoch, peak managed
        memory during the run) and one plot (results.png/.svg: test accuracy against the sweep value, or per epoch without
        a sweep). Shipped studies: experiments/configs/studies/randman_surrogate_study.json,
        experiments/configs/studies/randman_eventprop_vs_bptt.json.
        """;
}
