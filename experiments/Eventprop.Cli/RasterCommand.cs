using System.Globalization;
using Eventprop.Core.Data;
using ScottPlot;

namespace Eventprop.Cli;

/// <summary><c>eventprop data raster FILE.h5 --out FILE.png</c>: the spikes of the first trial of each class, one panel per class.</summary>
public static class RasterCommand
{
    internal const string Help = """
        eventprop data raster FILE.h5 --out FILE.png [--classes N] [--width PX] [--height PX]
                                                    spike raster of the first trial of each class (at most N classes,
                                                    default 20), panels in rows of five
        """;

    private const int PanelsPerRow = 5;

    /// <summary>Runs <c>data raster</c> with the arguments after the subcommand's name.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "data raster", ["out", "classes", "width", "height"], []);
        if (a.Positional.Count != 1) throw new UserError("data raster takes one file: eventprop data raster fsdd_test.h5 --out raster.png");
        string path = a.Positional[0];
        if (!File.Exists(path)) throw new UserError($"File '{path}' not found; give an SHD-layout file (e.g. one written by 'data encode-audio').");
        string outPath = a.Value("out") ?? throw new UserError("data raster needs --out FILE.png (where the figure goes).");
        if (!outPath.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw new UserError($"--out '{outPath}' must name a .png file.");
        int maxClasses = a.Int("classes") ?? 20, width = a.Int("width") ?? 800, height = a.Int("height") ?? 450;
        if (maxClasses < 1) throw new UserError($"--classes must be ≥ 1, got {maxClasses}.");
        if (width is < 200 or > 8000 || height is < 200 or > 8000) throw new UserError($"--width and --height must lie in 200..8000 pixels, got {width} x {height}.");

        var data = HeidelbergSpikeFile.Read(path);
        var firsts = Enumerable.Range(0, data.ClassCount)
            .Select(c => data.Samples.FirstOrDefault(s => s.Label == c))
            .Where(s => s is not null).Take(maxClasses).Select(s => s!).ToArray();
        if (firsts.Length == 0) throw new UserError($"'{path}' holds no trials to draw.");

        double duration = Math.Max(1, firsts.Max(s => s.LastSpikeTime));
        double gapX = 0.08 * duration, gapY = 0.12 * data.ChannelCount;
        var plot = new Plot();
        for (int i = 0; i < firsts.Length; i++)
        {
            var s = firsts[i];
            double x0 = (i % PanelsPerRow) * (duration + gapX);
            double y0 = (firsts.Length - 1) / PanelsPerRow * (data.ChannelCount + gapY) - i / PanelsPerRow * (data.ChannelCount + gapY);
            var xs = s.Times.ToArray().Select(t => x0 + t).ToArray();
            var ys = s.Channels.ToArray().Select(c => y0 + c).ToArray();
            if (xs.Length > 0) plot.Add.Markers(xs, ys, MarkerShape.FilledSquare, 1f, Colors.Navy.WithAlpha(0.25)); // one translucent colour: density shows, the PNG stays small
            var label = plot.Add.Text(Inv($"{data.ClassNames[s.Label]}: {s.Count / 1000.0:F0}k spikes"), x0, y0 + data.ChannelCount + gapY * 0.6);
            label.LabelFontSize = 11;
        }
        plot.Title(Inv($"{Path.GetFileName(path)}: first trial per class ({duration:F0} ms per panel; channels 0-{data.ChannelCount - 1} from the base up)"));
        plot.Axes.Title.Label.FontSize = 14;
        plot.HideGrid();
        plot.Axes.Left.TickLabelStyle.IsVisible = false;
        plot.Axes.Bottom.TickLabelStyle.IsVisible = false;
        string? folder = Path.GetDirectoryName(Path.GetFullPath(outPath));
        if (folder is not null) Directory.CreateDirectory(folder);
        string tmp = Path.ChangeExtension(outPath, ".tmp.png");
        plot.SavePng(tmp, width, height);
        File.Move(tmp, outPath, overwrite: true);
        output.WriteLine(Inv($"wrote {outPath}: {firsts.Length} trials ({new FileInfo(outPath).Length / 1024} KiB)"));
        return 0;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
