using Eventprop.Cli;
using Eventprop.Core.Nir;
using Eventprop.Tests.Cli;
using Xunit;

namespace Eventprop.Tests.Nir;

public class NirCliTests
{
    [Fact]
    public void ExportThenImportGivesTheSameModelFile()
    {
        using var dir = new NirTestNetworks.TempFolder();
        var net = NirTestNetworks.Mixed(seed: 2);
        string run = Path.Combine(dir.Path, "run");
        Directory.CreateDirectory(run);
        ModelFiles.WriteModel(Path.Combine(run, "model.json"), net, 40);

        var export = CliProcess.Run("export", "--nir", run, "--out", dir.File("m.nir"));
        Assert.Equal(ExitCodes.Success, export.Code);
        Assert.Equal("", export.Err);
        foreach (string line in new[] { "  in: Input, 6 channels", "  h: CubaLIF, 10 neurons", "  g_synapse: LI", "  g: IF, 7 neurons", "  out: CubaLI, 4 neurons", "  h_to_h: Linear, weight 10 × 10 (out × in), recurrent", "  - loss:", "  - trial duration: 40 ms" })
            Assert.Contains("\n" + line, "\n" + export.Out);

        var import = CliProcess.Run("import", "--nir", dir.File("m.nir"), "--out", dir.File("back.json"), "--duration-ms", "40");
        Assert.Equal(ExitCodes.Success, import.Code);
        Assert.Equal(File.ReadAllText(Path.Combine(run, "model.json")), File.ReadAllText(dir.File("back.json"))); // same network, same numbers
    }

    [Fact]
    public void BadInputIsOneLineAndOutputsAreNeverOverwritten()
    {
        using var dir = new NirTestNetworks.TempFolder();
        string model = dir.File("model.json");
        ModelFiles.WriteModel(model, NirTestNetworks.Mixed(seed: 1), 40);
        File.WriteAllText(dir.File("taken.nir"), "keep");

        var clobber = CliProcess.Run("export", "--nir", model, "--out", dir.File("taken.nir"));
        Assert.Equal(ExitCodes.UserError, clobber.Code);
        Assert.Equal($"error: --out '{dir.File("taken.nir")}' already exists; choose another name or delete it first (files are never overwritten).", clobber.Err.Trim());
        Assert.Equal("keep", File.ReadAllText(dir.File("taken.nir")));

        var missing = CliProcess.Run("export", "--nir", dir.File("nothing"), "--out", dir.File("x.nir"));
        Assert.Equal(ExitCodes.UserError, missing.Code);
        Assert.Contains("does not exist; pass a run directory (RUN_DIR) or a model.json", missing.Err);

        new NirFixture()
            .Node("in", "Input", ("shape", new long[] { 2 }))
            .Node("c", "Conv2d", ("weight", new double[4]))
            .Node("out", "Output", ("shape", new long[] { 2 }))
            .Edge("in", "c").Edge("c", "out")
            .Write(dir.File("conv.nir"));
        var conv = CliProcess.Run("import", "--nir", dir.File("conv.nir"), "--out", dir.File("conv.json"));
        Assert.Equal(ExitCodes.UserError, conv.Code);
        Assert.Single(conv.Err.Trim().Split('\n'));
        Assert.StartsWith("error: conv.nir: node 'c' is a Conv2d, which eventprop does not import yet", conv.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("conv.json")));
    }
}
