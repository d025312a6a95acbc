using System.Globalization;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using ScottPlot;
using SkiaSharp;

namespace Eventprop.Cli;

/// <summary>One line of a line plot: its legend label and its points.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="X">X values.</param>
/// <param name="Y">Y values (NaN leaves a gap: the point is skipped).</param>
public sealed record PlotSeries(string Label, double[] X, double[] Y);

/// <summary>
/// The figures of a run directory, each written as PNG and SVG (ScottPlot). Files are written atomically (to a
/// temporary name, then moved), so an interrupted run never leaves a half-written image.
/// </summary>
public static class Plots
{
    /// <summary>Default figure size in pixels.</summary>
    public const int Width = 900, Height = 600;

    /// <summary>
    /// A line plot of <paramref name="series"/>, saved as <c>{basePath}.png</c> and <c>{basePath}.svg</c>.
    /// </summary>
    /// <param name="basePath">Path without extension.</param>
    /// <param name="title">Figure title.</param>
    /// <param name="xLabel">X-axis label.</param>
    /// <param name="yLabel">Y-axis label.</param>
    /// <param name="series">The lines.</param>
    /// <param name="logX">Plot x on a log10 scale (x must be &gt; 0).</param>
    public static void SaveLines(string basePath, string title, string xLabel, string yLabel, IEnumerable<PlotSeries> series, bool logX = false)
    {
        var plot = new Plot();
        AddLines(plot, series, logX);
        plot.Title(title);
        plot.XLabel(logX ? xLabel + " (log10)" : xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.LowerRight);
        Save(basePath, plot, Width, Height);
    }

    /// <summary>
    /// The distribution of every connection's learned delays before and after training (histograms of 30 bins over
    /// [0, the largest delay], as lines); <c>{name}.png/.svg</c> in <paramref name="runDir"/>. Nothing when there are none.
    /// </summary>
    public static void DelayDistributions(string runDir, string name, Network before, Network after, string title)
    {
        if (after.Delayed.Count == 0) return;
        var series = new List<PlotSeries>();
        foreach (var c in after.Delayed)
        {
            var initial = before.DelaysOf(c)!.Value.Delays.Values;
            var final = after.DelaysOf(c)!.Value.Delays.Values;
            double max = Math.Max(initial.Max(), final.Max());
            if (!(max > 0)) max = 1;
            const int bins = 30;
            var centres = Enumerable.Range(0, bins).Select(b => (b + 0.5) * max / bins).ToArray();
            double[] Counts(double[] values)
            {
                var counts = new double[bins];
                foreach (double d in values) counts[Math.Min(bins - 1, (int)(d / max * bins))]++;
                return counts;
            }
            series.Add(new PlotSeries($"{c.Name} before", centres, Counts(initial)));
            series.Add(new PlotSeries($"{c.Name} after", centres, Counts(final)));
        }
        SaveLines(Path.Combine(runDir, name), title, "delay (ms)", "synapses (or neurons, axonal)", series);
    }

    /// <summary>
    /// Learning curves of a run from its metrics rows (keys as in metrics.json: epoch, loss, train_accuracy,
    /// validation_accuracy, test_accuracy): loss on top, accuracies (%) below; <c>learning_curves.png/.svg</c> in <paramref name="runDir"/>.
    /// </summary>
    public static void LearningCurves(string runDir, IReadOnlyList<IReadOnlyDictionary<string, object?>> rows, string title)
    {
        if (rows.Count == 0) return;
        double[] epochs = Column(rows, "epoch");
        var top = new Plot();
        var multiplot = new Multiplot(top);
        var bottom = multiplot.AddPlot();
        AddLines(top, [new PlotSeries("training loss", epochs, Column(rows, "loss")), new PlotSeries("validation loss", epochs, Column(rows, "validation_loss"))], false);
        top.Title(title);
        top.YLabel("loss");
        top.ShowLegend(Alignment.UpperRight);
        var accuracies = new[] { ("train", "train_accuracy"), ("validation", "validation_accuracy"), ("test", "test_accuracy") }
            .Select(k => new PlotSeries(k.Item1, epochs, Column(rows, k.Item2).Select(a => 100 * a).ToArray()));
        AddLines(bottom, accuracies, false);
        bottom.XLabel("epoch");
        bottom.YLabel("accuracy (%)");
        bottom.ShowLegend(Alignment.LowerRight);
        Save(Path.Combine(runDir, "learning_curves"), multiplot, Width, Height + 200);
    }

    /// <summary>
    /// A spike raster of one trial (input channels, then each hidden population, in different colours) above the
    /// readout voltages, from any engine's simulation of that trial; <c>{name}.png/.svg</c> in <paramref name="runDir"/>.
    /// </summary>
    /// <param name="runDir">Directory to write into.</param>
    /// <param name="name">File name without extension.</param>
    /// <param name="network">The network (for its populations).</param>
    /// <param name="sample">The trial's input.</param>
    /// <param name="hiddenSpikes">Spike times (ms) of hidden neuron <c>n</c> of a population.</param>
    /// <param name="readout">The readout's voltage trace.</param>
    /// <param name="title">Figure title.</param>
    public static void TrialRaster(string runDir, string name, Network network, SpikeSample sample,
        Func<string, int, double[]> hiddenSpikes, ReadoutTrace readout, string title)
    {
        var raster = new Plot();
        var multiplot = new Multiplot(raster);
        var volts = multiplot.AddPlot();
        int offset = 0;
        AddRaster(raster, "input", sample.Times.ToArray(), sample.Channels.ToArray(), 0, Colors.Black);
        offset += network.Input.Size;
        var palette = new ScottPlot.Palettes.Category10();
        int colour = 0;
        foreach (var population in network.Hidden)
        {
            var times = new List<double>();
            var rows = new List<int>();
            for (int n = 0; n < population.Size; n++)
                foreach (double t in hiddenSpikes(population.Name, n)) { times.Add(t); rows.Add(n); }
            AddRaster(raster, population.Name, [.. times], [.. rows], offset, palette.GetColor(colour++));
            offset += population.Size;
        }
        raster.Title(title);
        raster.YLabel("neuron (input, then hidden)");
        raster.Axes.SetLimitsX(0, readout.Duration);
        raster.ShowLegend(Alignment.UpperRight);

        int points = Math.Min(2000, Math.Max(2, (int)Math.Ceiling(readout.Duration / 0.25)) + 1);
        double[] grid = Enumerable.Range(0, points).Select(i => readout.Duration * i / (points - 1)).ToArray();
        for (int k = 0; k < readout.Size; k++)
        {
            int neuron = k;
            var line = volts.Add.ScatterLine(grid, grid.Select(t => readout.Voltage(neuron, t)).ToArray(), palette.GetColor(k % 10));
            line.LegendText = sample.Label == k ? $"class {k} (label)" : $"class {k}";
            if (sample.Label == k) line.LineWidth = 3;
        }
        volts.XLabel("time (ms)");
        volts.YLabel("readout voltage");
        volts.Axes.SetLimitsX(0, readout.Duration);
        if (readout.Size <= 12) volts.ShowLegend(Alignment.UpperLeft);
        Save(Path.Combine(runDir, name), multiplot, Width, Height + 300);
    }

    private static void AddRaster(Plot plot, string label, double[] times, int[] rows, int offset, Color color)
    {
        if (times.Length == 0) return;
        var markers = plot.Add.Markers(times, rows.Select(r => (double)(r + offset)).ToArray(), MarkerShape.FilledCircle, 2.5f, color);
        markers.LegendText = label;
    }

    private static void AddLines(Plot plot, IEnumerable<PlotSeries> series, bool logX)
    {
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var s in series)
        {
            if (s.X.Length != s.Y.Length) throw new ArgumentException($"Series '{s.Label}' has {s.X.Length} x values but {s.Y.Length} y values.");
            var keep = Enumerable.Range(0, s.X.Length).Where(j => double.IsFinite(s.Y[j]) && double.IsFinite(s.X[j]) && (!logX || s.X[j] > 0)).ToArray();
            if (keep.Length == 0) { i++; continue; }
            var line = plot.Add.Scatter(keep.Select(j => logX ? Math.Log10(s.X[j]) : s.X[j]).ToArray(), keep.Select(j => s.Y[j]).ToArray(), palette.GetColor(i++ % 10));
            line.LegendText = s.Label;
        }
    }

    private static double[] Column(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows, string key) =>
        rows.Select(r => r.TryGetValue(key, out var v) ? ToDouble(v) : double.NaN).ToArray();

    private static double ToDouble(object? v) => v switch
    {
        null => double.NaN,
        double d => d,
        int i => i,
        long l => l,
        float f => f,
        System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.Number } e => e.GetDouble(),
        IConvertible c => c.ToDouble(CultureInfo.InvariantCulture),
        _ => double.NaN,
    };

    /// <summary>The platforms whose native drawing libraries the eventprop tool package ships (Eventprop.Cli.csproj).</summary>
    internal const string PackagedPlatforms = "linux-x64, linux-arm64 and win-x64";

    /// <summary>
    /// Why the plots could not be written, in one line: a missing native drawing library (SkiaSharp's, which the figures
    /// need) is named as such, with the platform; anything else is the innermost exception's message.
    /// </summary>
    internal static string Problem(Exception e)
    {
        var chain = new List<Exception>();
        for (Exception? x = e; x is not null; x = x.InnerException) chain.Add(x);
        if (chain.Any(x => x is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException))
            return $"the native drawing library (libSkiaSharp) is missing for this platform, {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}; "
                + $"the eventprop package ships it for {PackagedPlatforms}, 'dotnet run' from the repository for every platform";
        return RunConfig.OneLine(chain[^1].Message);
    }

    private static void Save(string basePath, Plot plot, int width, int height)
    {
        Atomic(basePath + ".png", tmp => plot.SavePng(tmp, width, height));
        Atomic(basePath + ".svg", tmp => plot.SaveSvg(tmp, width, height));
    }

    private static void Save(string basePath, Multiplot multiplot, int width, int height)
    {
        Atomic(basePath + ".png", tmp => multiplot.SavePng(tmp, width, height));
        Atomic(basePath + ".svg", tmp =>
        {
            using var stream = File.Create(tmp);
            using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, width, height), stream))
                multiplot.Render(canvas, new PixelRect(0, width, height, 0));
        });
    }

    /// <summary>Writes through <paramref name="write"/> to a temporary file with the same extension, then moves it into place.</summary>
    private static void Atomic(string path, Action<string> write)
    {
        string ext = Path.GetExtension(path);
        string tmp = Path.ChangeExtension(path, ".tmp" + ext);
        write(tmp);
        File.Move(tmp, path, overwrite: true);
    }
}
