using System.Text.Json;
using Eventprop.Cli;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// <c>network.hidden</c> as a list of layers (issue 13 §5): the single-number form still builds the network it built
/// before (bit for bit, against networks written by commit 3f35bd9 in Fixtures/hidden_number), a deep network is a config,
/// <c>--set</c> reaches list entries, and mistakes are one line naming the key as written.
/// </summary>
public sealed class HiddenLayerConfigTests
{
    private static string Root()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Eventprop.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("Eventprop.sln not found above the test directory.");
    }

    private static string Fixture(string name) => Path.Combine(Root(), "Eventprop.Tests", "Fixtures", "hidden_number", name);

    private static string DeepConfig => Path.Combine(Root(), "experiments", "configs", "randman_deep_5layer.json");

    private static string Json(object value) => JsonSerializer.Serialize(value);

    /// <summary>Asserts that two networks have the same populations, models, connections and parameters, bit for bit.</summary>
    private static void AssertIdentical(Network expected, Network actual)
    {
        Assert.Equal(expected.Populations.Select(p => (p.Name, p.Size, p.Kind, p.IsSpiking)), actual.Populations.Select(p => (p.Name, p.Size, p.Kind, p.IsSpiking)));
        for (int i = 0; i < expected.Populations.Count; i++)
        {
            var (e, a) = (expected.Populations[i].Model, actual.Populations[i].Model);
            Assert.Equal(e?.GetType(), a?.GetType());
            if (e is { IsSpiking: true }) Assert.Equal((e.Threshold, e.Reset, e.ResetMode), (a!.Threshold, a.Reset, a.ResetMode));
        }
        Assert.Equal(expected.Connections.Select(c => (c.Name, c.Connectivity.GetType())), actual.Connections.Select(c => (c.Name, c.Connectivity.GetType())));
        Assert.Equal(expected.Parameters.Select(p => (p.Name, p.Kind, p.Rows, p.Columns, p.Trainable)), actual.Parameters.Select(p => (p.Name, p.Kind, p.Rows, p.Columns, p.Trainable)));
        for (int i = 0; i < expected.Parameters.Count; i++)
            Assert.Equal(expected.Parameters[i].Values.Select(BitConverter.DoubleToInt64Bits), actual.Parameters[i].Values.Select(BitConverter.DoubleToInt64Bits));
    }

    [Theory]
    [InlineData("recurrent", new[] { "network.hidden=6" })]
    [InlineData("recurrent", new[] { """network.hidden=[{"size": 6}]""" })]
    [InlineData("recurrent", new[] { """network.hidden=[{"size": 6, "model": "lif", "recurrent": true, "tau_mem": 18, "tau_syn": 4, "threshold": 1, "reset": 0, "reset_mode": "value", "init": [1.0, 0.5], "recurrent_init": [0.0, 0.02], "connectivity": "dense"}]""" })]
    [InlineData("feedforward", new string[0])]
    [InlineData("feedforward", new[] { """network.hidden=[{"size": 9, "recurrent": false}]""", "network.recurrent=true" })]
    public void ASingleNumberConfigBuildsTheNetworkThatTheOldCodeBuilt(string fixture, string[] sets)
    {
        // The fixture's model.json is the initial network that commit 3f35bd9 (single-number hidden) built from the config.
        var expected = ModelFiles.ReadModel(Fixture($"{fixture}.model.json")).Network;
        var config = RunConfig.Load(Fixture($"{fixture}.config.json"), sets);
        using var p = TrainCommand.Prepare(config);
        AssertIdentical(expected, p.Network);
    }

    /// <summary>The network the CLI built before layer lists (TrainCommand.Prepare of 3f35bd9), written out here as the reference.</summary>
    private static Network OldShape(NetworkConfig n, int seed, int inputs, int classes, bool spiking, int hidden)
    {
        var builder = Network.Create(seed)
            .Input("in", inputs)
            .Lif("hidden", hidden, n.TauMem, n.TauSyn)
            .Readout("out", classes, n.ReadoutTauMem, n.ReadoutTauSyn, spiking: spiking)
            .Connect("in", "hidden", Init.Normal(n.InputInit[0], n.InputInit[1]));
        // network.readout_model (added after 3f35bd9) changes only the readout's model; li is the old readout
        if (n.ReadoutModel == "integrator")
            builder = Network.Create(seed)
                .Input("in", inputs)
                .Lif("hidden", hidden, n.TauMem, n.TauSyn)
                .Readout("out", NonLeakyIntegrator.Instance, Enumerable.Repeat(n.ReadoutTauMem, classes).ToArray(), Enumerable.Repeat(n.ReadoutTauSyn, classes).ToArray())
                .Connect("in", "hidden", Init.Normal(n.InputInit[0], n.InputInit[1]));
        if (n.Recurrent) builder = builder.Connect("hidden", "hidden", Init.Normal(n.RecurrentInit[0], n.RecurrentInit[1]));
        return builder.Connect("hidden", "out", Init.Normal(n.ReadoutInit[0], n.ReadoutInit[1])).Build();
    }

    public static TheoryData<string> SingleNumberConfigs() => new(Directory.GetFiles(Path.Combine(Root(), "experiments", "configs"), "*.json")
        .Where(f => JsonDocument.Parse(File.ReadAllText(f), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })
            .RootElement.GetProperty("network").GetProperty("hidden").ValueKind == JsonValueKind.Number)
        .Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!);

    [Theory]
    [MemberData(nameof(SingleNumberConfigs))]
    public void EveryShippedSingleNumberConfigBuildsTheOldShape(string file)
    {
        var config = RunConfig.Load(Path.Combine(Root(), "experiments", "configs", file), []);
        var n = config.Network;
        var layer = Assert.Single(n.Hidden);
        Assert.True(layer.IsSizeOnly);
        bool spiking = config.Loss == "first_spike";
        AssertIdentical(OldShape(n, config.Seed, 40, 5, spiking, layer.Size), n.Build(config.Seed, 40, 5, spiking));
        // and the config is written back in its single-number form
        Assert.Contains($"\"hidden\": {layer.Size},", JsonSerializer.Serialize(config, RunConfig.Json));
    }

    [Fact]
    public void TheFiveLayerConfigBuildsFiveLayersWithTheirOwnModelsAndConnections()
    {
        var config = RunConfig.Load(DeepConfig, []);
        var net = config.Network.Build(config.Seed, 30, 10, spikingReadout: false);
        string[] layers = ["hidden0", "hidden1", "hidden2", "hidden3", "hidden4"];
        Assert.Equal(["in", .. layers, "out"], net.Populations.Select(p => p.Name));
        Assert.Equal(config.Network.Hidden.Select(l => l.Size), layers.Select(l => net[l].Size));
        // the chain in → hidden0 → … → hidden4 → out, and a recurrent connection exactly where the config asks for one
        var expected = new List<string>();
        string pre = "in";
        for (int i = 0; i < layers.Length; i++)
        {
            expected.Add($"{pre}->{layers[i]}");
            if (config.Network.Hidden[i].Recurrent ?? config.Network.Recurrent) expected.Add($"{layers[i]}->{layers[i]}");
            pre = layers[i];
        }
        expected.Add("hidden4->out");
        Assert.Equal(expected, net.Connections.Select(c => c.Name));
        Assert.Contains(net.Connections, c => c.IsRecurrent);
        Assert.Contains(net.Hidden, p => p.Model is IntegrateAndFire);
        Assert.Contains(net.Hidden, p => p.Model!.ResetMode == ResetMode.Subtract);
        for (int i = 0; i < layers.Length; i++)
        {
            var l = config.Network.Hidden[i];
            var m = net[layers[i]].Model!;
            Assert.Equal(l.Model == "if" ? typeof(IntegrateAndFire) : typeof(Lif), m.GetType());
            Assert.Equal((l.Threshold ?? 1, l.Reset ?? 0), (m.Threshold, m.Reset));
            Assert.Equal(l.TauMem ?? config.Network.TauMem, net.TauMem(layers[i]).Values[0]);
        }
    }

    [Theory]
    [InlineData("exact")]
    [InlineData("stepped")]
    [InlineData("surrogate")]
    public void TheEnginesRunTheFiveLayerConfig(string engine)
    {
        var config = RunConfig.Load(DeepConfig, [engine == "surrogate" ? "method=surrogate" : $"engine.kind={engine}", "engine.device=cpu", "engine.threads=1", "dataset.samples_per_class=5",
            "network.hidden[0].size=12", "network.hidden[1].size=10", "network.hidden[2].size=8", "network.hidden[3].size=8", "network.hidden[4].size=6",
            // the shipped inits are for fan-ins of ~100; these carry activity through the narrow layers (2–3 spikes per neuron, measured)
            "network.hidden[1].init=[0.5,0.2]", "network.hidden[2].init=[0.6,0.2]", "network.hidden[3].init=[0.6,0.2]", "network.hidden[4].init=[0.7,0.2]"]);
        Assert.Equal([12, 10, 8, 8, 6], config.Network.Hidden.Select(l => l.Size));
        using var p = TrainCommand.Prepare(config);
        var batch = p.Train.Take(6).ToArray();
        var result = p.Engine.Gradient(p.Network, batch, p.Loss, p.Options.Regularization);
        Assert.True(double.IsFinite(result.Loss), $"loss {result.Loss}");
        Assert.Equal(p.Network.Parameters.Select(q => q.Name), result.Gradient.Select(g => g.Name));
        Assert.All(result.Gradient, g => Assert.All(g.Values, x => Assert.True(double.IsFinite(x), g.Name)));
        // the activity reaches the last layer, so the gradient reaches the first: the config's inits carry spikes through all five layers
        Assert.Contains(result.Gradient["in->hidden0"].Values, x => x != 0);
        var exact = new Core.Simulation.ExactEngine(config.Engine.DurationMs);
        var trials = batch.Select(s => exact.Simulate(p.Network, s)).ToArray();
        Assert.All(p.Network.Hidden, h => Assert.True(trials.Sum(t => t.SpikeCounts(h.Name).Sum()) > 0, $"{h.Name} is silent in all {batch.Length} trials"));
    }

    [Fact]
    public void SetReachesListEntriesAndTurnsTheSingleNumberIntoAList()
    {
        var deep = RunConfig.Load(DeepConfig, ["network.hidden[1].size=64", "network.hidden[3].model=if", """network.hidden[2].connectivity={"sparse": 0.5}"""]);
        Assert.Equal(64, deep.Network.Hidden[1].Size);
        Assert.Equal("if", deep.Network.Hidden[3].Model);
        Assert.Equal(0.5, deep.Network.Hidden[2].SparseProbability);
        Assert.Equal(RunConfig.Load(DeepConfig, []).Network.Hidden[0], deep.Network.Hidden[0]);

        // The quick start's "hidden": 128 becomes [{"size": 128}] when indexed; one past the end appends a layer.
        var two = RunConfig.Load(null, ["network.hidden[0].threshold=1.5", "network.hidden[1].size=32", "network.hidden[1].recurrent=false"]);
        Assert.Equal([128, 32], two.Network.Hidden.Select(l => l.Size));
        Assert.Equal(new double?[] { 1.5, null }, two.Network.Hidden.Select(l => l.Threshold));
        var net = two.Network.Build(1, 5, 3, false);
        Assert.Equal(["in->hidden0", "hidden0->hidden0", "hidden0->hidden1", "hidden1->out"], net.Connections.Select(c => c.Name));
        Assert.Equal(1.5, net["hidden0"].Model!.Threshold);

        // A list config writes back as a list that reads back to the same config.
        string written = JsonSerializer.Serialize(deep, RunConfig.Json);
        var again = RunConfig.FromJson(System.Text.Json.Nodes.JsonNode.Parse(written)!, "", []);
        Assert.Equal(written, JsonSerializer.Serialize(again, RunConfig.Json));
        AssertIdentical(deep.Network.Build(deep.Seed, 30, 10, false), again.Network.Build(again.Seed, 30, 10, false));
    }

    [Fact]
    public void ASparseLayerDrawsTheBuildersMaskFromTheSeed()
    {
        var config = RunConfig.Load(null, ["""network.hidden=[{"size": 7, "connectivity": {"sparse": 0.4}, "recurrent": false}]""", "seed=5"]);
        var net = config.Network.Build(config.Seed, 9, 3, false);
        var expected = Network.Create(5).Input("in", 9).Lif("hidden", 7).Readout("out", 3)
            .ConnectSparse("in", "hidden", 0.4, Init.Normal(1.0, 0.5)).Connect("hidden", "out", Init.Normal(0, 0.5)).Build();
        AssertIdentical(expected, net);
        var mask = Assert.IsType<SparseConnectivity>(net.Connections[0].Connectivity);
        Assert.True(mask.Count is > 0 and < 9 * 7, $"{mask.Count} synapses");
    }

    [Theory]
    [InlineData("network.hidden=[]", "network.hidden is an empty list")]
    [InlineData("network.hidden=0", "network.hidden must be ≥ 1, got 0.")]
    [InlineData("""network.hidden=[{"size": 4}, {"size": 0}]""", "network.hidden[1].size must be ≥ 1, got 0.")]
    [InlineData("""network.hidden=[{"size": 4}, {"size": -3}]""", "network.hidden[1].size must be ≥ 1, got -3.")]
    [InlineData("""network.hidden=[{"size": 2.5}]""", "network.hidden[0].size must be a whole number")]
    [InlineData("""network.hidden=[{"model": "if"}]""", "network.hidden[0].size is missing")]
    [InlineData("""network.hidden=[{"size": 4, "model": "alif"}]""", "network.hidden[0].model 'alif' is not a neuron model; choose one of: lif, if.")]
    [InlineData("""network.hidden=[{"size": 4, "tau": 3}]""", "unknown key 'tau' in network.hidden[0]; a layer's keys are: size, model, recurrent, tau_mem, tau_syn, threshold, reset, reset_mode, init, recurrent_init, connectivity")]
    [InlineData("""network.hidden=[{"size": 4, "threshold": 0.5, "reset": 0.5}]""", "network.hidden[0].threshold must be greater than network.hidden[0].reset")]
    [InlineData("""network.hidden=[{"size": 4, "reset": 2}]""", "network.hidden[0].threshold must be greater than network.hidden[0].reset, got threshold 1 and reset 2 (the default threshold).")]
    [InlineData("""network.hidden=[{"size": 4, "threshold": -1, "reset": -2}]""", "network.hidden[0].threshold must be > 0 for a lif layer")]
    [InlineData("""network.hidden=[{"size": 4, "reset_mode": "soft"}]""", "network.hidden[0].reset_mode must be one of value, subtract, got 'soft'.")]
    [InlineData("""network.hidden=[{"size": 4, "connectivity": {"sparse": 1.5}}]""", "network.hidden[0].connectivity: the sparse connection probability must lie in (0, 1], got 1.5")]
    [InlineData("""network.hidden=[{"size": 4, "connectivity": {"sparse": 0}}]""", "must lie in (0, 1], got 0")]
    [InlineData("""network.hidden=[{"size": 4, "connectivity": "full"}]""", "network.hidden[0].connectivity must be \"dense\" or {\"sparse\": p}")]
    [InlineData("""network.hidden=[{"size": 4, "init": [1]}]""", "network.hidden[0].init must be [mean, std] with std ≥ 0.")]
    [InlineData("""network.hidden=[{"size": 4, "tau_mem": 0}]""", "network.hidden[0].tau_mem must be ≥ 0.001 ms")]
    [InlineData("""network.hidden=[{"size": 4, "recurrent": 1}]""", "network.hidden[0].recurrent must be true or false")]
    [InlineData("network.hidden=[4]", "network.hidden[0] must be a layer object such as {\"size\": 64}, got 4.")]
    [InlineData("network.hidden=big", "network.hidden must be a whole number of neurons")]
    [InlineData("network.hidden[2].size=4", "'network.hidden' has 1 entries (indices 0–0); add one at a time (network.hidden[1])")]
    [InlineData("network.tau_mem[0]=4", "'network.tau_mem' is not a list.")]
    [InlineData("network.hidden[x].size=4", "'hidden[x]' is not a key")]
    public void LayerMistakesAreOneLineNamingTheKeyAsWritten(string set, string message)
    {
        var e = Assert.Throws<UserError>(() => RunConfig.Load(null, [set]));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AResumeThatChangesALayerNamesTheLayersKey()
    {
        var original = RunConfig.Load(DeepConfig, []);
        var requested = RunConfig.Load(DeepConfig, ["network.hidden[1].size=64"]);
        var e = Assert.Throws<UserError>(() => ResumeCheck.Compare(original, original, requested, "run"));
        Assert.Contains("network.hidden[1].size was 128 when the checkpoint was made and is now 64 (this command sets it)", e.Message);
        Assert.Empty(ResumeCheck.Compare(original, original, RunConfig.Load(DeepConfig, ["training.epochs=40"]), "run"));
        // the single-number form stays one value
        Assert.Equal("6", ResumeCheck.Flatten(RunConfig.Load(Fixture("recurrent.config.json"), []))["network.hidden"]);
    }

    [Fact]
    public void TheListedThresholdErrorOfALaterLayerNamesItsIndex()
    {
        var e = Assert.Throws<UserError>(() => RunConfig.Load(DeepConfig, ["network.hidden[2].threshold=0.2", "network.hidden[2].reset=0.3"]));
        Assert.StartsWith("network.hidden[2].threshold must be greater than network.hidden[2].reset, got threshold 0.2 and reset 0.3.", e.Message);
        var r = CliProcess.Run("train", "--config", DeepConfig, "--set", "network.hidden[4].model=alif");
        Assert.Equal(2, r.Code);
        Assert.Equal("error: network.hidden[4].model 'alif' is not a neuron model; choose one of: lif, if.", r.Err.Trim());
    }
}
