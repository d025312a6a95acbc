using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Stepped;

/// <summary>
/// Sparse connectivity in the CPU time-stepped engine. Two oracles that do not use the sparse code paths: the dense twin of
/// a sparse case (the same network with weight 0 wherever the mask has no synapse) must give the same spikes, loss and —
/// at the mask's synapses — the same gradient; and the gradients converge to the exact engine's (whose sparse gradient is
/// checked against finite differences) as dt → 0. A fault injection shows the first check bites.
/// </summary>
public class SteppedSparseTests(ITestOutputHelper output)
{
    /// <summary>Float32 sums in another order (a row's dot product over its nonzeros instead of over all targets with zeros):
    /// relative to the gradient's norm, per parameter kind.</summary>
    private const double TwinTolerance = 1e-5;

    /// <summary>The sparse gradient laid out densely (0 off the mask), so it can be compared with the dense twin's.</summary>
    private static ParameterSet Densified(Network sparse, ParameterSet gradient, Network dense)
    {
        var result = dense.Parameters.Clone();
        for (int p = 0; p < result.Count; p++) Array.Clear(result[p].Values);
        foreach (var c in sparse.Connections)
        {
            var rows = c.Synapses;
            var src = gradient[c.Name].Values;
            var dst = result[c.Name].Values;
            for (int i = 0; i < c.Pre.Size; i++)
                for (int k = rows.Start(i); k < rows.Start(i) + rows.Length(i); k++)
                    dst[i * c.Post.Size + (rows.Targets is { } t ? t[k] : k - rows.Start(i))] = src[k];
        }
        for (int p = 0; p < result.Count; p++)
            if (result[p].Kind != ParameterKind.Weight) Array.Copy(gradient[p].Values, result[p].Values, result[p].Length);
        return result;
    }

    /// <summary>Mask-restricted dense-twin gradient (entries off the mask are the dense network's extra parameters).</summary>
    private static ParameterSet OnMask(Network sparse, ParameterSet denseGradient)
    {
        var result = denseGradient.Clone();
        foreach (var c in sparse.Connections)
        {
            var values = result[c.Name].Values;
            for (int i = 0; i < c.Pre.Size; i++)
                for (int j = 0; j < c.Post.Size; j++)
                    if (c.Synapses.IndexOf(i, j) < 0) values[i * c.Post.Size + j] = 0;
        }
        return result;
    }

    /// <summary>Largest per-kind relative difference between the sparse engine's gradient and its dense twin's.</summary>
    private static double TwinError(GradientCase c, SteppedEngine engine, ILoss loss, out GradientResult sparseResult, out GradientResult denseResult)
    {
        var (sparse, _) = c.Build();
        var (dense, _) = (c with { DenseTwin = true }).Build();
        Assert.Contains(sparse.Connections, x => x.Connectivity is SparseConnectivity);
        Assert.All(dense.Connections, x => Assert.IsType<DenseConnectivity>(x.Connectivity));
        var batch = SteppedTestCases.Batch(sparse, 3, 32, c.Seed);
        sparseResult = engine.Gradient(sparse, batch, loss, new ActivityRegularization(0.01, 2));
        denseResult = new SteppedEngine(0.5, 40, threads: 1).Gradient(dense, batch, loss, new ActivityRegularization(0.01, 2));
        var a = Densified(sparse, sparseResult.Gradient, dense);
        var b = OnMask(sparse, denseResult.Gradient);
        double worst = 0;
        foreach (var kind in new[] { ParameterKind.Weight, ParameterKind.TauMem, ParameterKind.TauSyn })
            worst = Math.Max(worst, SteppedTestCases.RelativeError(a, b, p => p.Kind == kind));
        return worst;
    }

    [Theory]
    [InlineData("sum_exp")]
    [InlineData("max")]
    public void Sparse_masks_equal_their_dense_twin_with_zeros_off_the_mask(string lossName)
    {
        var loss = Loss.FromName(lossName);
        var cases = SteppedTestCases.Cases(CaseKind.Sparse, 3);
        Assert.Equal(3, cases.Count);
        foreach (var (c, _, _) in cases)
        {
            double e = TwinError(c, new SteppedEngine(0.5, 40, threads: 1), loss, out var sparse, out var dense);
            output.WriteLine($"{lossName} {c}: relative difference {e:E2}");
            Assert.Equal(dense.Loss, sparse.Loss, 6);
            Assert.Equal(dense.Predictions, sparse.Predictions);
            foreach (var (name, counts) in dense.HiddenSpikeCounts) Assert.Equal(counts, sparse.HiddenSpikeCounts[name]);
            Assert.True(dense.HiddenSpikeCounts.Values.Sum(x => x.Sum()) > 0, "no hidden spikes: the case compares nothing");
            Assert.True(e <= TwinTolerance, $"{lossName} {c}: sparse vs dense twin {e:E2} > {TwinTolerance:E0}");
        }
    }

    /// <summary>The transport of a sparse row read at the synapse's position in the row instead of its target: the dense-twin
    /// check must catch it in every case where it changes the gradient.</summary>
    [Fact]
    public void A_misindexed_sparse_transport_is_caught_by_the_dense_twin()
    {
        int changed = 0, caught = 0;
        foreach (var (c, _, _) in SteppedTestCases.Cases(CaseKind.Sparse, 6))
        {
            double faulty = TwinError(c, new SteppedEngine(0.5, 40, threads: 1) { TransportMisindexed = true }, Loss.SumExp(), out var bad, out _);
            var net = c.Build().Network;
            var good = new SteppedEngine(0.5, 40, threads: 1).Gradient(net, SteppedTestCases.Batch(net, 3, 32, c.Seed), Loss.SumExp(),
                new ActivityRegularization(0.01, 2));
            if (SteppedTestCases.RelativeError(bad.Gradient, good.Gradient) == 0) continue;
            changed++;
            if (faulty > TwinTolerance) caught++;
        }
        output.WriteLine($"fault changed the gradient in {changed} of 6 cases, caught in {caught}");
        Assert.True(changed >= 3, $"the fault changed only {changed} of 6 cases");
        Assert.Equal(changed, caught);
    }

    /// <summary>Same checks as <see cref="SteppedConvergenceTests"/> on sparse cases: the error shrinks with dt and is ≤ 2 % at 0.01 ms.</summary>
    [Fact]
    public void Sparse_gradients_converge_to_the_exact_ones()
    {
        var cases = SteppedTestCases.Cases(CaseKind.Sparse, 2);
        Assert.Equal(2, cases.Count);
        foreach (var (c, net, sample) in cases)
        {
            var exact = new ExactEngine(c.Duration).Gradient(net, [sample], Loss.Sum()).Gradient;
            var errors = new[] { 1.0, 0.1, 0.01 }.Select(dt =>
                SteppedTestCases.RelativeError(new SteppedEngine(dt, c.Duration, threads: 1).Gradient(net, [sample], Loss.Sum()).Gradient, exact)).ToArray();
            output.WriteLine($"{c}: {string.Join(", ", errors.Select(e => e.ToString("E2")))}");
            Assert.True(errors[2] < errors[1] && errors[2] < errors[0], $"{c}: error did not shrink: {string.Join(", ", errors)}");
            Assert.True(errors[2] <= 0.02, $"{c}: error {errors[2]:E2} at dt = 0.01 ms exceeds 2 %");
        }
    }

    /// <summary>A mask that keeps every synapse is dense: same gradient bit for bit.</summary>
    [Fact]
    public void A_full_mask_equals_dense_bit_for_bit()
    {
        var w = new double[,] { { 4.5, -2.0, 6.5 }, { 5.5, 3.5, 4.0 } };
        var r = new double[,] { { 0.5, -0.3 }, { 0.8, 0.1 }, { -0.6, 0.9 } };
        var full = SparseConnectivity.FromMask(new bool[,] { { true, true, true }, { true, true, true } });
        Network Build(bool sparse)
        {
            var b = Network.Create(2).Input("in", 2).Lif("h", 3).Readout("out", 2);
            if (sparse) b.Connect("in", "h", Init.Values(w), full);
            else b.Connect("in", "h", Init.Values(w));
            return b.Connect("h", "out", Init.Values(r)).Build();
        }
        var sample = new SpikeSample([1.0, 3, 4, 7, 9, 12], [0, 1, 0, 1, 0, 1], 1);
        var engine = new SteppedEngine(0.5, 30, threads: 1);
        var dense = engine.Gradient(Build(false), [sample], Loss.SumExp());
        var sparse = engine.Gradient(Build(true), [sample], Loss.SumExp());
        Assert.True(dense.HiddenSpikeCounts["h"].Sum() > 0);
        Assert.Equal(dense.Loss, sparse.Loss);
        for (int p = 0; p < dense.Gradient.Count; p++) Assert.Equal(dense.Gradient[p].Values, sparse.Gradient[p].Values);
    }
}
