using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Xunit;

namespace Eventprop.Tests.Losses;

/// <summary>
/// The hidden-activity regulariser is a heuristic, so it is tested against its defining formula: at every spike k of hidden
/// neuron l in trial b, λ_V,l −= J_l with J_l = τ_m,readout·k_reg·(n̄_l − ν)/N_batch and n̄_l the batch-mean spike count of l.
/// </summary>
public class RegularizationTests
{
    /// <summary>
    /// A jump −J at a spike is the adjoint of the spike-time term c·t_k with c = −J·(τ_m V̇ at threshold), so the change in
    /// the gradient is Σ_b Σ_{l,k} −J_l·slope_{b,l,k}·∂t_{b,l,k}/∂θ — computed here from finite differences of spike times.
    /// </summary>
    [Fact]
    public void TheGradientChangesByTheDefiningFormulaWithBatchAveraging()
    {
        var c = new GradientCase(CaseKind.Recurrent, Seed: 5, Inputs: 3, Hidden: [5], Recurrent: [true], Readout: 2, InputSpikes: 40, Duration: 40);
        var (network, _) = c.Build();
        var batch = Enumerable.Range(0, 3).Select(i => (c with { Seed = 100 + i }).Build().Sample).ToArray();
        var engine = new ExactEngine(c.Duration);
        var regularization = new ActivityRegularization(Strength: 2e-3, TargetSpikes: 2);
        var plain = engine.Gradient(network, batch, Loss.Sum());
        var regularized = engine.Gradient(network, batch, Loss.Sum(), regularization);
        Assert.Equal(plain.Loss, regularized.Loss); // the heuristic changes gradients, not the loss

        var trials = plain.Trials;
        int n = batch.Length;
        var counts = plain.HiddenSpikeCounts["h0"];
        Assert.True(counts.Sum() > 10, "the test needs hidden spikes");
        double tauReadout = network.TauMem("out").Values.Average();
        var jump = counts.Select(total => tauReadout * regularization.Strength * ((double)total / n - regularization.TargetSpikes) / n).ToArray();
        Assert.Contains(jump, j => j > 0);
        Assert.Contains(jump, j => j < 0);

        int checkedValues = 0;
        foreach (var p in network.Parameters)
        {
            for (int i = 0; i < p.Length; i++)
            {
                double x = p.Values[i], h = 1e-6, expected = 0;
                bool smooth = true;
                for (int b = 0; b < n && smooth; b++)
                {
                    p.Values[i] = x + h;
                    var plus = engine.Simulate(network, batch[b]);
                    p.Values[i] = x - h;
                    var minus = engine.Simulate(network, batch[b]);
                    p.Values[i] = x;
                    for (int l = 0; l < 5 && smooth; l++)
                    {
                        var t0 = trials[b].SpikeTimes("h0", l);
                        var tp = plus.SpikeTimes("h0", l);
                        var tm = minus.SpikeTimes("h0", l);
                        if (tp.Length != t0.Length || tm.Length != t0.Length)
                        {
                            smooth = false;
                            break;
                        }
                        var slopes = trials[b].ThresholdSlopes("h0", l);
                        for (int k = 0; k < t0.Length; k++) expected += -jump[l] * slopes[k] * (tp[k] - tm[k]) / (2 * h);
                    }
                }
                if (!smooth) continue;
                double actual = regularized.Gradient[p.Name].Values[i] - plain.Gradient[p.Name].Values[i];
                double err = Math.Abs(actual - expected);
                Assert.True(err <= 1e-9 || err <= 1e-5 * Math.Abs(expected), $"{p.Name}[{i}]: regulariser changed the gradient by {actual:E6}, formula {expected:E6}");
                checkedValues++;
            }
        }
        Assert.True(checkedValues > 50, $"only {checkedValues} parameters compared");
    }

    [Fact]
    public void AtTheTargetRateTheRegulariserDoesNothing()
    {
        var c = new GradientCase(CaseKind.FeedForward, Seed: 9, Inputs: 3, Hidden: [1], Recurrent: [false], Readout: 2, InputSpikes: 30, Duration: 40);
        var (network, sample) = c.Build();
        var engine = new ExactEngine(c.Duration);
        int spikes = engine.Simulate(network, sample).TotalSpikes;
        Assert.True(spikes > 0);
        var plain = engine.Gradient(network, sample, Loss.Sum()).Gradient;
        var atTarget = engine.Gradient(network, [sample], Loss.Sum(), new ActivityRegularization(1.0, spikes)).Gradient;
        foreach (var p in plain) Assert.Equal(p.Values, atTarget[p.Name].Values);
    }
}
