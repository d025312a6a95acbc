using System.Text.Json;
using Eventprop.Cli;
using Eventprop.Core.Model;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// Learned delays in configs: <c>network.hidden[i].delays</c> / <c>.recurrent_delays</c> ([low, high] ms, uniform initial
/// values) and <c>.delay_kind</c>; <c>training.max_delay_ms</c> and <c>training.delay_learning_rate_scale</c>. They build the
/// library's delays, write back, survive <c>model.json</c>, and wrong values or engines are one line naming the key.
/// </summary>
public sealed class LearnedDelayConfigTests
{
    private static readonly string[] Delayed =
        ["network.hidden=[{\"size\":5,\"recurrent\":true,\"delays\":[1,20],\"recurrent_delays\":[0,5],\"delay_kind\":\"axonal\"}]", "engine.kind=exact"];

    [Fact]
    public void DelaysBuildWriteBackAndSurviveTheModelFile()
    {
        var config = RunConfig.Load(null, [.. Delayed, "training.max_delay_ms=30", "training.delay_learning_rate_scale=100"]);
        Assert.Equal(30, config.Training.MaxDelayMs);
        Assert.Equal(100, config.Training.DelayLearningRateScale);
        var net = config.Network.Build(config.Seed, 7, 3, spikingReadout: false);
        var d = net.Parameters["in->hidden.axonal_delay"];
        Assert.Equal((1, 7), (d.Rows, d.Columns));
        Assert.All(d.Values, x => Assert.InRange(x, 1, 20));
        Assert.All(net.Parameters["hidden->hidden.axonal_delay"].Values, x => Assert.InRange(x, 0, 5));
        Assert.Contains("learned axonal delays", config.Network.DescribeHidden());

        string written = JsonSerializer.Serialize(config, RunConfig.Json);
        var again = RunConfig.FromJson(System.Text.Json.Nodes.JsonNode.Parse(written)!, "", []);
        Assert.Equal(d.Values, again.Network.Build(config.Seed, 7, 3, false).Parameters["in->hidden.axonal_delay"].Values);

        using var dir = new TempDirectory();
        string path = dir.File("model.json");
        ModelFiles.WriteModel(path, net, 25);
        var back = ModelFiles.ReadModel(path).Network;
        Assert.Equal(2, back.Delayed.Count);
        foreach (var p in net.Parameters) Assert.Equal(p.Values, back.Parameters[p.Name].Values);

        var synaptic = RunConfig.Load(null, ["network.hidden=[{\"size\":4,\"delays\":[0,10]}]", "engine.kind=exact"]).Network.Build(1, 6, 2, false);
        ModelFiles.WriteModel(path, synaptic, 25);
        Assert.Equal(synaptic.Parameters["in->hidden.delay"].Values, ModelFiles.ReadModel(path).Network.Parameters["in->hidden.delay"].Values);
    }

    [Theory]
    [InlineData("network.hidden=[{\"size\":5,\"delays\":[5,1]}]", "network.hidden[0].delays must be [low, high] in ms with 0 ≤ low ≤ high")]
    [InlineData("network.hidden=[{\"size\":5,\"delays\":[-1,3]}]", "network.hidden[0].delays must be [low, high] in ms with 0 ≤ low ≤ high")]
    [InlineData("network.hidden=[{\"size\":5,\"delays\":\"long\"}]", "network.hidden[0].delays must be [low, high] in ms, e.g. [0,50]")]
    [InlineData("network.hidden=[{\"size\":5,\"delays\":[0,5],\"delay_kind\":\"dendritic\"}]", "network.hidden[0].delay_kind must be 'synaptic' or 'axonal', got 'dendritic'.")]
    [InlineData("network.hidden=[{\"size\":5,\"delay_kind\":\"axonal\"}]", "network.hidden[0].delay_kind is set but the layer has no learned delays")]
    [InlineData("training.max_delay_ms=0", "training.max_delay_ms must be a number of ms > 0")]
    public void BadDelayKeysAreOneLineErrors(string set, string expected)
    {
        var e = Assert.Throws<UserError>(() => RunConfig.Load(null, [set, "engine.kind=exact"]).Validate());
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("engine.device=cuda")]
    [InlineData("engine.device=ilgpu-cpu")]
    [InlineData("method=surrogate")]
    public void EnginesWithoutDelaysAreRefusedByTheConfig(string set)
    {
        var e = Assert.Throws<UserError>(() => RunConfig.Load(null, ["network.hidden=[{\"size\":5,\"delays\":[0,5]}]", "engine.kind=stepped", set]).Validate());
        Assert.Equal("network.hidden[0] has learned delays, which need method eventprop on engine.kind exact, or on engine.kind stepped with engine.device cpu (or auto); the surrogate and GPU engines do not simulate them yet.", e.Message);
    }

    [Fact]
    public void ASteppedTrainingRunLearnsDelaysOnTheCpu()
    {
        using var dir = new TempDirectory();
        string run = dir.File("run");
        var r = CliProcess.Run("train", "--out", run, "--quiet", "--epochs", "1", "--set", "dataset.kind=randman", "--set", "engine.kind=stepped",
            "--set", "network.hidden=[{\"size\":8,\"delays\":[0,10],\"recurrent\":true,\"recurrent_delays\":[0,5]}]",
            "--set", "training.delay_learning_rate_scale=100", "--set", "training.max_delay_ms=12");
        Assert.True(r.Code == 0, r.Err);
        var back = ModelFiles.ReadModel(Path.Combine(run, "model.json")).Network;
        var config = RunConfig.Load(Path.Combine(run, "config.json"), []);
        var before = config.Network.Build(config.Seed, back.Input.Size, back.Readout.Size, false);
        Assert.Equal(2, back.Delayed.Count);
        foreach (var c in back.Delayed)
        {
            var after = back.DelaysOf(c)!.Value.Delays.Values;
            var initial = before.DelaysOf(before.Delayed.Single(x => x.Name == c.Name))!.Value.Delays.Values;
            Assert.All(after, d => Assert.InRange(d, 0, 12));
            Assert.True(after.Zip(initial).Count(x => Math.Abs(x.First - x.Second) > 0.01) >= after.Length / 4, $"the delays of {c.Name} hardly moved");
        }
    }

    /// <summary>The shipped learned-delay configs keep their delays, engine and training keys when shrunk to a tiny run
    /// (the generic shipped-config test replaces the layer list, and with it the delays), and compute finite gradients,
    /// delays included, on generated SHD-layout files.</summary>
    [Theory]
    [InlineData("shd_learned_delays.json", 2, 250.0)]
    [InlineData("ssc_learned_delays.json", 2, 150.0)]
    public void ShippedDelayConfigsRunWithTheirDelays(string file, int delayed, double maxDelay)
    {
        using var dir = new TempDirectory();
        foreach (string f in new[] { "shd_train.h5", "shd_test.h5", "ssc_train.h5", "ssc_valid.h5", "ssc_test.h5" })
            CliCrossValidationTests.WriteShdLike(dir.File(f), 24, f.Length, i => i % 3);
        string path = Path.Combine(ShippedConfigTests.ConfigDirectory(), file);
        var config = RunConfig.Load(path, [$"dataset.path={JsonSerializer.Serialize(dir.Path)}", "network.hidden[0].size=6",
            "dataset.samples_per_class=4", "training.batch_size=4"]);
        config.Validate();
        var p = TrainCommand.Prepare(config);
        Assert.Equal(6, p.Network.Hidden[0].Size);
        Assert.Equal(delayed, p.Network.Delayed.Count);
        Assert.Equal(maxDelay, p.Options.MaxDelay);
        Assert.IsType<Eventprop.Core.Simulation.Stepped.SteppedEngine>(p.Engine);
        var trainer = new Eventprop.Core.Training.Trainer(p.Network, p.Engine, p.Loss, p.Options);
        var result = trainer.Engine.Gradient(p.Network, p.Train.Take(4).ToArray(), p.Loss, p.Options.Regularization);
        Assert.True(double.IsFinite(result.Loss));
        foreach (var c in p.Network.Delayed)
        {
            var d = p.Network.DelaysOf(c)!.Value.Delays;
            Assert.All(result.Gradient[d.Name].Values, x => Assert.True(double.IsFinite(x), d.Name));
        }
    }

    [Fact]
    public void ATrainingRunWritesTheDelaysAndTheirDistribution()
    {
        using var dir = new TempDirectory();
        string run = dir.File("run");
        var r = CliProcess.Run("train", "--out", run, "--quiet", "--epochs", "1", "--set", "dataset.kind=randman", "--set", "engine.kind=exact",
            "--set", "network.hidden=[{\"size\":8,\"delays\":[0,10]}]", "--set", "training.delay_learning_rate_scale=100", "--set", "training.max_delay_ms=12");
        Assert.True(r.Code == 0, r.Err);
        Assert.True(File.Exists(Path.Combine(run, "delays.png")) && File.Exists(Path.Combine(run, "delays.svg")));
        var back = ModelFiles.ReadModel(Path.Combine(run, "model.json")).Network;
        var trained = back.Parameters["in->hidden.delay"].Values;
        var config = RunConfig.Load(Path.Combine(run, "config.json"), []);
        var initial = config.Network.Build(config.Seed, back.Input.Size, back.Readout.Size, false).Parameters["in->hidden.delay"].Values;
        Assert.All(trained, d => Assert.InRange(d, 0, 12));
        Assert.True(trained.Zip(initial).Count(x => Math.Abs(x.First - x.Second) > 0.01) >= trained.Length / 4, "the delays hardly moved");
    }

    [Fact]
    public void RecurrentDelaysNeedARecurrentLayer()
    {
        var config = RunConfig.Load(null, ["network.hidden=[{\"size\":5,\"recurrent\":false,\"recurrent_delays\":[0,5]}]", "engine.kind=exact"]);
        var e = Assert.Throws<UserError>(() => config.Network.Build(1, 4, 2, false));
        Assert.Contains("network.hidden[0].recurrent_delays is set but the layer is not recurrent", e.Message);
    }
}
