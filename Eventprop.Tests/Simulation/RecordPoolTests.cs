using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Xunit;

namespace Eventprop.Tests.Simulation;

/// <summary>
/// The exact engine reuses record arrays of trials it does not hand out (training's <see cref="IGradientEngine"/> path,
/// evaluation, finite differences). Reuse must change no number and must never touch a trial the caller holds.
/// </summary>
public class RecordPoolTests
{
    private static (Network Network, SpikeSample[] Batch, double Duration) Case(int seed)
    {
        var cases = GradientCase.Sample(CaseKind.SharedTau, 4, seed);
        var (network, _) = cases[0].Build();
        var batch = cases.Select(c => c with { Inputs = cases[0].Inputs, Readout = cases[0].Readout, Duration = cases[0].Duration })
            .Select(c => c.Build().Sample).ToArray();
        return (network, batch, cases[0].Duration);
    }

    [Fact]
    public void PooledGradientEqualsTheKeptTrialsGradientBitForBit()
    {
        var (network, batch, duration) = Case(11);
        var engine = new ExactEngine(duration);
        var kept = engine.Gradient(network, batch, Loss.Sum());
        IGradientEngine training = engine;
        for (int repeat = 0; repeat < 3; repeat++)
        {
            var pooled = training.Gradient(network, batch, Loss.Sum());
            Assert.Equal(kept.Loss, pooled.Loss);
            Assert.Equal(kept.Predictions, pooled.Predictions);
            foreach (var p in kept.Gradient)
                Assert.Equal(p.Values, pooled.Gradient[p.Name].Values);
            foreach (var (name, counts) in kept.HiddenSpikeCounts)
                Assert.Equal(counts, pooled.HiddenSpikeCounts[name]);
        }
        var evaluation = engine.Evaluate(network, batch, Loss.Sum());
        Assert.Equal(kept.Loss, evaluation.Loss);
    }

    [Fact]
    public void TrialsHandedOutSurviveLaterPooledWork()
    {
        var (network, batch, duration) = Case(12);
        var engine = new ExactEngine(duration);
        var kept = engine.Gradient(network, batch[0], Loss.Sum());
        var trial = kept.Trials[0];
        int k = network.Readout.Size - 1;
        double integral = trial.Readout.IntegrateVoltage(k);
        double mid = trial.Readout.Voltage(k, duration / 2);
        Assert.True(integral != 0, "the readout should move");
        // Pooled work on other inputs reuses released arrays; the kept trial's must not be among them.
        IGradientEngine training = engine;
        for (int repeat = 0; repeat < 5; repeat++)
        {
            training.Gradient(network, batch[1..], Loss.Sum());
            engine.Evaluate(network, batch, Loss.Sum());
        }
        Assert.Equal(integral, trial.Readout.IntegrateVoltage(k));
        Assert.Equal(mid, trial.Readout.Voltage(k, duration / 2));
    }

    [Fact]
    public void ARegularisedPooledGradientEqualsTheKeptOne()
    {
        var (network, batch, duration) = Case(13);
        var engine = new ExactEngine(duration);
        var reg = new ActivityRegularization(1e-3, 2);
        var kept = engine.Gradient(network, batch, Loss.Sum(), reg);
        var pooled = ((IGradientEngine)engine).Gradient(network, batch, Loss.Sum(), reg);
        foreach (var p in kept.Gradient)
            Assert.Equal(p.Values, pooled.Gradient[p.Name].Values);
    }
}

public class RecordArrayPoolTests
{
    [Fact]
    public void ThePoolHandsBackAFittingArrayAndStaysWithinItsLimits()
    {
        var pool = new RecordArrayPool();
        var small = pool.Rent(10);
        var large = pool.Rent(1000);
        pool.Return(small);
        pool.Return(large);
        Assert.Same(small, pool.Rent(5)); // the smallest array that fits
        Assert.Same(large, pool.Rent(500));
        Assert.NotSame(large, pool.Rent(2000)); // none fits: a new one
        for (int i = 0; i < 3 * RecordArrayPool.MaxArrays; i++) pool.Return(new double[100 + i]);
        Assert.True(pool.Bytes <= 8L * RecordArrayPool.MaxArrays * (100 + 3 * RecordArrayPool.MaxArrays));
        // The largest arrays are kept: the smallest left is the MaxArrays-th largest returned.
        Assert.Equal(100 + 2 * RecordArrayPool.MaxArrays, pool.Rent(1).Length);
        int big = (int)(RecordArrayPool.MaxBytes / 8 / 3);
        for (int i = 0; i < 5; i++) pool.Return(new double[big]);
        Assert.True(pool.Bytes <= RecordArrayPool.MaxBytes, $"{pool.Bytes} bytes held");
    }
}
