using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Nir;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using PureHDF;
using Xunit;

namespace Eventprop.Tests.Nir;

public class NirRoundTripTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NetworkToNirAndBackHasIdenticalParametersSpikesAndLoss(bool spikingReadout)
    {
        using var dir = new NirTestNetworks.TempFolder();
        var original = NirTestNetworks.Mixed(seed: 3, spikingReadout);
        string path = dir.File("net.nir");
        var report = NirExport.Write(original, path);
        var back = NirImport.Read(path);

        Assert.Equal(original.Populations.Select(p => (p.Name, p.Kind, p.Size, p.Model?.ToString())), back.Populations.Select(p => (p.Name, p.Kind, p.Size, p.Model?.ToString())));
        Assert.Equal(original.Populations.Select(p => p.Model?.GetType()), back.Populations.Select(p => p.Model?.GetType()));
        Assert.Equal(original.Connections.Select(c => c.Name), back.Connections.Select(c => c.Name));
        Assert.Equal(original.Parameters.Select(p => p.Name), back.Parameters.Select(p => p.Name));
        foreach (var p in original.Parameters) Assert.Equal(p.Values, back.Parameters[p.Name].Values); // bit for bit
        Assert.Contains(report.Dropped, d => d.StartsWith("reset mode of 'g'", StringComparison.Ordinal));

        var trials = NirTestNetworks.Trials(seed: 5, channels: 6);
        var loss = spikingReadout ? Eventprop.Losses.Loss.FirstSpike() : Eventprop.Losses.Loss.SumExp();
        var exact = new ExactEngine(40);
        int spikes = 0;
        foreach (var t in trials)
        {
            var a = exact.Simulate(original, t);
            var b = exact.Simulate(back, t);
            foreach (var pop in original.Populations.Where(p => p.IsSpiking && p.HasDynamics))
                for (int i = 0; i < pop.Size; i++)
                {
                    Assert.Equal(a.SpikeTimes(pop.Name, i).ToArray(), b.SpikeTimes(pop.Name, i).ToArray());
                    spikes += a.SpikeTimes(pop.Name, i).Length;
                }
        }
        Assert.True(spikes > 50, $"only {spikes} spikes: the comparison would say little");
        Assert.Equal(exact.Evaluate(original, trials, loss).Loss, exact.Evaluate(back, trials, loss).Loss);
        var stepped = new SteppedEngine(0.1, 40, threads: 1);
        Assert.Equal(stepped.Evaluate(original, trials, loss).Loss, stepped.Evaluate(back, trials, loss).Loss);
        var sa = stepped.Simulate(original, trials[0]);
        var sb = stepped.Simulate(back, trials[0]);
        foreach (var pop in original.Hidden)
            for (int i = 0; i < pop.Size; i++) Assert.Equal(sa.SpikeTimes(pop.Name, i).ToArray(), sb.SpikeTimes(pop.Name, i).ToArray());
    }

    [Fact]
    public void LinearWeightIsOurWeightTransposedAndTimesAreSeconds()
    {
        using var dir = new NirTestNetworks.TempFolder();
        var w = new double[,] { { 1, 2, 3 }, { 4, 5, 6 } }; // W[pre, post]: 2 inputs, 3 readout neurons
        var net = Network.Create(0).Input("in", 2).Readout("out", 3, tauMem: 20, tauSyn: 5).Connect("in", "out", Init.Values(w)).Build();
        string path = dir.File("t.nir");
        NirExport.Write(net, path);

        using var file = H5File.OpenRead(path);
        var weight = file.Dataset("node/nodes/in_to_out/weight");
        Assert.Equal(new ulong[] { 3, 2 }, weight.Space.Dimensions); // (out, in)
        Assert.Equal(new double[] { 1, 4, 2, 5, 3, 6 }, weight.Read<double[]>()); // row j = post neuron j: W[0, j], W[1, j]
        Assert.Equal(new[] { 0.02, 0.02, 0.02 }, file.Dataset("node/nodes/out/tau_mem").Read<double[]>());
        Assert.Equal(new[] { 0.005, 0.005, 0.005 }, file.Dataset("node/nodes/out/w_in").Read<double[]>()); // w_in = τ_syn (s)
        Assert.Equal("CubaLI", file.Dataset("node/nodes/out/type").Read<string>());
        Assert.Equal("NIRGraph", file.Dataset("node/type").Read<string>());
        Assert.Equal(NirGraphFile.Version, file.Dataset("version").Read<string>());
        var edges = file.Dataset("node/edges");
        Assert.Equal(new ulong[] { 3, 2 }, edges.Space.Dimensions);
        Assert.Equal(new[] { "in", "in_to_out", "in_to_out", "out", "out", "output" }, edges.Read<string[]>());

        var back = NirImport.Read(path);
        Assert.Equal(new double[] { 1, 2, 3, 4, 5, 6 }, back.Weights("in", "out").Values);
    }

    [Fact]
    public void SparseConnectionsExportAsDenseWithZerosAndSimulateTheSame()
    {
        using var dir = new NirTestNetworks.TempFolder();
        var net = Network.Create(4).Input("in", 6).Lif("h", 8).Readout("out", 3)
            .ConnectSparse("in", "h", 0.5, Init.Normal(1.5, 0.3)).Connect("h", "out", Init.Normal(0.5, 0.3)).Build();
        string path = dir.File("s.nir");
        var report = NirExport.Write(net, path);
        Assert.Contains(report.Dropped, d => d.StartsWith("sparse mask of 'in->h'", StringComparison.Ordinal));
        var back = NirImport.Read(path);
        Assert.IsType<DenseConnectivity>(back.Connections[0].Connectivity);
        var rows = net.Connections[0].Synapses;
        var dense = back.Weights("in", "h");
        int nonzero = 0;
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 8; j++)
            {
                int k = rows.IndexOf(i, j);
                Assert.Equal(k < 0 ? 0 : net.Weights("in", "h").Values[k], dense[i, j]);
                if (k >= 0) nonzero++;
            }
        Assert.InRange(nonzero, 1, 47);
        var trial = NirTestNetworks.Trials(seed: 2, channels: 6)[0];
        var exact = new ExactEngine(40);
        var a = exact.Simulate(net, trial);
        var b = exact.Simulate(back, trial);
        // The same synapses and weights; the dense path sums in another order, so the times agree to rounding, not bit for bit.
        int spikes = 0;
        for (int i = 0; i < 8; i++)
        {
            var x = a.SpikeTimes("h", i).ToArray();
            var y = b.SpikeTimes("h", i).ToArray();
            Assert.Equal(x.Length, y.Length);
            for (int k = 0; k < x.Length; k++) Assert.True(Math.Abs(x[k] - y[k]) < 1e-9, $"h[{i}] spike {k}: {x[k]} vs {y[k]}");
            spikes += x.Length;
        }
        Assert.True(spikes > 5, $"only {spikes} spikes");
    }

    [Fact]
    public void ReportListsTheNodesAndWhatNirCannotHold()
    {
        var (graph, report) = NirExport.ToGraph(NirTestNetworks.Mixed(seed: 1));
        Assert.Equal(graph.Nodes.Count, report.Nodes.Count);
        Assert.Equal(["in", "h", "g_synapse", "g", "out", "in_to_h", "h_to_h", "h_to_g", "g_to_out", "output"], graph.Nodes.Select(n => n.Name));
        Assert.Equal(["Input", "CubaLIF", "LI", "IF", "CubaLI", "Linear", "Linear", "Linear", "Linear", "Output"], graph.Nodes.Select(n => n.Type));
        Assert.All(report.Nodes.Concat(report.Dropped), line => Assert.DoesNotContain('\n', line));
        foreach (var item in new[] { "loss:", "time step", "input encoding", "readout kind", "reset mode of 'g'" })
            Assert.Contains(report.Dropped, d => d.StartsWith(item, StringComparison.Ordinal));
        Assert.Contains(("h_to_h", "h"), graph.Edges); // recurrence: neuron → Linear → the same neuron
        Assert.Contains(("h", "h_to_h"), graph.Edges);
        Assert.Contains(("h_to_g", "g_synapse"), graph.Edges);
    }
}
