using System.Globalization;
using System.Text;
using Eventprop.Core.Data;
using Eventprop.Core.Training;

namespace Eventprop.Cli;

/// <summary><c>eventprop evaluate</c>: accuracy, confusion matrix, per-class accuracy and activity of a trained checkpoint.</summary>
public static class EvaluateCommand
{
    /// <summary>Runs <c>evaluate</c>; notes about the data (cropped input spikes) go to <paramref name="notes"/> (standard error).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter? notes = null)
    {
        var a = Arguments.Parse(args, "evaluate", ["model", "data", "split", "set", "device"], []);
        a.RequireAtMostPositional(0, "evaluate");
        string model = a.Value("model") ?? throw new UserError("evaluate needs --model RUN_DIR/checkpoint.h5 (written by 'eventprop train').");
        if (!File.Exists(model)) throw new UserError($"Checkpoint '{model}' not found; pass the checkpoint.h5 of a run directory.");
        string configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(model))!, "config.json");
        if (!File.Exists(configPath)) throw new UserError($"No config.json beside '{model}'; evaluate needs the run directory that 'train' wrote.");
        var overrides = new List<string>(a.Values("set"));
        if (a.Value("data") is string data) overrides.Add($"dataset.path={System.Text.Json.JsonSerializer.Serialize(data)}");
        if (a.Value("device") is string device) overrides.Add($"engine.device={System.Text.Json.JsonSerializer.Serialize(device)}");
        var config = RunConfig.Load(configPath, overrides);
        using var p = TrainCommand.Prepare(config);
        string split = a.Value("split") ?? "test";
        SpikeDataset set = split switch
        {
            "test" => p.Test,
            "validation" => p.Validation,
            "train" => p.Train,
            _ => throw new UserError($"--split must be test, validation or train, got '{split}'."),
        } ?? throw new UserError($"This run has no {split} set.");
        var trainer = new Trainer(p.Network, p.Engine, p.Loss, p.Options);
        trainer.LoadCheckpoint(model);

        int k = p.Network.Readout.Size;
        var confusion = new long[k, k];
        double loss = 0;
        long spikes = 0;
        int hiddenNeurons = p.Network.Hidden.Sum(h => h.Size);
        for (int from = 0; from < set.Count; from += p.Options.BatchSize)
        {
            var batch = Enumerable.Range(from, Math.Min(p.Options.BatchSize, set.Count - from)).Select(i => set[i]).ToArray();
            var r = p.Evaluator.Evaluate(p.Network, batch, p.Loss);
            loss += r.Loss * batch.Length;
            for (int i = 0; i < batch.Length; i++) confusion[r.Labels[i], r.Predictions[i]]++;
            spikes += r.HiddenSpikeCounts.Values.Sum(c => c.Sum());
        }
        long correct = Enumerable.Range(0, k).Sum(c => confusion[c, c]);
        double perNeuron = (double)spikes / Math.Max(1, hiddenNeurons) / set.Count;
        output.WriteLine(Inv($"{split}: {set.Count} trials, loss {loss / set.Count:F4}, accuracy {100.0 * correct / set.Count:F2} % (chance {100.0 / k:F1} %), {perNeuron:F2} spikes per hidden neuron and trial"));
        output.WriteLine("class   trials   accuracy");
        for (int c = 0; c < k; c++)
        {
            long n = Enumerable.Range(0, k).Sum(j => confusion[c, j]);
            output.WriteLine(Inv($"{c,5} {n,8}   {(n == 0 ? "     –" : $"{100.0 * confusion[c, c] / n,6:F1} %")}"));
        }
        output.WriteLine("confusion matrix (rows: true class, columns: predicted):");
        int width = Math.Max(4, confusion.Cast<long>().Max().ToString(CultureInfo.InvariantCulture).Length + 1);
        var line = new StringBuilder("     ");
        for (int j = 0; j < k; j++) line.Append(j.ToString(CultureInfo.InvariantCulture).PadLeft(width));
        output.WriteLine(line);
        for (int c = 0; c < k; c++)
        {
            line.Clear().Append(c.ToString(CultureInfo.InvariantCulture).PadLeft(5));
            for (int j = 0; j < k; j++) line.Append(confusion[c, j].ToString(CultureInfo.InvariantCulture).PadLeft(width));
            output.WriteLine(line);
        }
        foreach (string note in p.Notes) (notes ?? output).WriteLine(note); // on standard error: standard output is the report
        return 0;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
