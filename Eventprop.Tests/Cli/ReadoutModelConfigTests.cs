using System.Text.Json;
using Eventprop.Cli;
using Eventprop.Core.Model.Neurons;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// <c>network.readout_model</c> (seed 004's summed-current readout): <c>li</c> (default) builds the leaky readout,
/// <c>integrator</c> the non-leaky one with the configured τm; the key writes back, survives <c>model.json</c>, and the
/// combinations no engine can run are one line naming the keys.
/// </summary>
public sealed class ReadoutModelConfigTests
{
    [Fact]
    public void TheDefaultIsTheLeakyReadout()
    {
        var config = RunConfig.Load(null, ["network.hidden=5"]);
        Assert.Equal("li", config.Network.ReadoutModel);
        var net = config.Network.Build(config.Seed, 7, 3, spikingReadout: false);
        Assert.IsType<LeakyIntegrator>(net.Readout.Model);
    }

    [Fact]
    public void IntegratorBuildsTheNonLeakyReadoutWithTheConfiguredTimeConstants()
    {
        var config = RunConfig.Load(null, ["network.hidden=5", "network.readout_model=integrator", "loss=last_voltage",
            "engine.kind=exact", "network.readout_tau_mem=12.5", "network.readout_tau_syn=3"]);
        var net = config.Network.Build(config.Seed, 7, 3, spikingReadout: false);
        Assert.IsType<NonLeakyIntegrator>(net.Readout.Model);
        Assert.False(net.Readout.Model!.IsSpiking);
        Assert.Equal([12.5, 12.5, 12.5], net.TauMem("out").Values);
        Assert.Equal([3.0, 3.0, 3.0], net.Parameters.TauSyn("out").Values);
        // the key is written back, and the written config reads to the same readout
        string written = JsonSerializer.Serialize(config, RunConfig.Json);
        Assert.Contains("\"readout_model\": \"integrator\"", written);
        var again = RunConfig.FromJson(System.Text.Json.Nodes.JsonNode.Parse(written)!, "", []);
        Assert.IsType<NonLeakyIntegrator>(again.Network.Build(config.Seed, 7, 3, false).Readout.Model);
    }

    [Fact]
    public void TheIntegratorReadoutSurvivesTheModelFile()
    {
        var config = RunConfig.Load(null, ["network.hidden=4", "network.readout_model=integrator", "loss=last_voltage", "engine.kind=exact"]);
        var net = config.Network.Build(3, 6, 2, spikingReadout: false);
        using var dir = new TempDirectory();
        string path = dir.File("model.json");
        ModelFiles.WriteModel(path, net, 25);
        Assert.Contains("\"model\":\"integrator\"", File.ReadAllText(path).Replace(" ", ""));
        var back = ModelFiles.ReadModel(path).Network;
        Assert.IsType<NonLeakyIntegrator>(back.Readout.Model);
        foreach (var p in net.Parameters) Assert.Equal(p.Values, back.Parameters[p.Name].Values);
    }

    [Theory]
    [InlineData(new[] { "network.readout_model=lif" }, "network.readout_model 'lif' is not a readout model; choose one of: li, integrator.")]
    [InlineData(new[] { "network.readout_model=integrator", "loss=first_spike", "engine.kind=exact" }, "network.readout_model 'integrator' is a non-spiking readout, but loss first_spike reads spike times")]
    [InlineData(new[] { "network.readout_model=integrator", "loss=last_voltage", "engine.kind=stepped" }, "network.readout_model 'integrator' needs engine.kind exact (or method surrogate)")]
    public void ImpossibleReadoutsAreOneLineErrors(string[] sets, string expected)
    {
        var e = Assert.Throws<UserError>(() => RunConfig.Load(null, sets));
        Assert.StartsWith(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TheSurrogateEngineAcceptsTheIntegratorOnItsSteppedGrid()
    {
        var config = RunConfig.Load(null, ["method=surrogate", "network.readout_model=integrator", "loss=last_voltage", "engine.kind=stepped"]);
        Assert.Equal("integrator", config.Network.ReadoutModel);
    }
}
