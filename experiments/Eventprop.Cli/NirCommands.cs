using System.Globalization;
using Eventprop.Core.Nir;

namespace Eventprop.Cli;

/// <summary>
/// <c>eventprop export --nir RUN_DIR|model.json --out model.nir</c> and <c>eventprop import --nir FILE --out model.json</c>:
/// a trained network to NIR (snnTorch, Norse, Lava, neuromorphic hardware) and back (docs/nir.md). Outputs are written
/// atomically and never overwrite an existing file.
/// </summary>
public static class NirCommands
{
    /// <summary>The trial length written to an imported model.json when <c>--duration-ms</c> is not given (NIR has none).</summary>
    public const double DefaultDurationMs = 1000;

    /// <summary>Runs <c>export</c>: prints the node list and what NIR cannot hold.</summary>
    public static int Export(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "export", ["nir", "out"], []);
        a.RequireAtMostPositional(0, "export");
        string source = a.Value("nir") ?? throw new UserError("export needs --nir RUN_DIR or --nir model.json (the network to export), e.g. eventprop export --nir runs/my-run --out model.nir");
        string target = a.Value("out") ?? throw new UserError("export needs --out FILE.nir (where the NIR graph goes).");
        string modelPath = source;
        if (Directory.Exists(source))
        {
            modelPath = Path.Combine(source, "model.json");
            if (!File.Exists(modelPath))
                throw new UserError($"--nir '{source}' is a directory without model.json; pass a run directory that 'eventprop train' finished, or a model.json.");
        }
        else if (!File.Exists(source))
            throw new UserError($"--nir '{source}' does not exist; pass a run directory (RUN_DIR) or a model.json.");
        RequireNew(target);
        var model = ModelFiles.ReadModel(modelPath);
        var report = NirExport.Write(model.Network, target);
        output.WriteLine(Inv($"{Path.GetFullPath(target)}: NIR graph of {modelPath}, {report.Nodes.Count} nodes"));
        foreach (string line in report.Nodes) output.WriteLine("  " + line);
        output.WriteLine("not in the file (NIR cannot hold it):");
        foreach (string line in report.Dropped) output.WriteLine("  - " + line);
        output.WriteLine(Inv($"  - trial duration: {model.DurationMs} ms (duration_ms of the model file; give it to 'eventprop import --duration-ms')."));
        return ExitCodes.Success;
    }

    /// <summary>Runs <c>import</c>: reads a NIR graph and writes a model.json.</summary>
    public static int Import(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "import", ["nir", "out", "duration-ms"], []);
        a.RequireAtMostPositional(0, "import");
        string source = a.Value("nir") ?? throw new UserError("import needs --nir FILE (a NIR graph), e.g. eventprop import --nir model.nir --out model.json");
        string target = a.Value("out") ?? throw new UserError("import needs --out model.json (where the network goes).");
        double duration = a.Double("duration-ms") ?? DefaultDurationMs;
        if (duration <= 0) throw new UserError($"--duration-ms must be > 0, got {duration.ToString(CultureInfo.InvariantCulture)}.");
        if (!File.Exists(source)) throw new UserError($"--nir '{source}' does not exist; pass a NIR file (HDF5, as nir.write or 'eventprop export --nir' write it).");
        RequireNew(target);
        var network = NirImport.Read(source);
        ModelFiles.WriteModel(target, network, duration);
        output.WriteLine(Inv($"{Path.GetFullPath(target)}: {network.Input.Size} → {string.Join(" → ", network.Hidden.Select(h => $"{h.Name} ({h.Model}, {h.Size})"))} → {network.Readout.Name} ({(network.Readout.IsSpiking ? "LIF" : "LI")}, {network.Readout.Size}) from {source}"));
        if (a.Value("duration-ms") is null)
            output.WriteLine(Inv($"note: NIR has no trial length; duration_ms = {DefaultDurationMs} ms written (set it with --duration-ms)."));
        return ExitCodes.Success;
    }

    private static void RequireNew(string target)
    {
        if (File.Exists(target) || Directory.Exists(target))
            throw new UserError($"--out '{target}' already exists; choose another name or delete it first (files are never overwritten).");
        string? folder = Path.GetDirectoryName(Path.GetFullPath(target));
        if (folder is not null && !Directory.Exists(folder))
            throw new UserError($"--out '{target}': folder '{folder}' does not exist; create it first.");
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
