using Eventprop.Cli;
using Eventprop.Core.Training;
using Xunit;

namespace Eventprop.Tests.Cli;

public class ProgressBarTests
{
    [Fact]
    public void EtaExtrapolatesTheCurrentEpochThenUsesFinishedEpochs()
    {
        var now = TimeSpan.Zero;
        var writer = new StringWriter();
        var bar = new ProgressBar(writer, totalEpochs: 3, clock: () => now);

        // Epoch 1, half done after 10 s: 10 s left in the epoch, and 2 more epochs at the current rate (20 s each).
        now = TimeSpan.FromSeconds(10);
        string first = bar.Line(new BatchProgress(1, 5, 10, 1.5, 0.25, 0.01), now);
        Assert.Contains("epoch 1/3", first);
        Assert.Contains("batch 5/10", first);
        Assert.Contains("[############............]", first);
        Assert.Contains("ETA epoch 0:10, run 0:50", first);

        // Epoch 1 ends at 30 s (it took 30 s); epoch 2 is a quarter done 5 s later: 15 s left, then one epoch of 30 s.
        now = TimeSpan.FromSeconds(30);
        bar.OnEpochEnd(null!, new EpochMetrics(1, 1, 0.5, null, null, 0.01, new Dictionary<string, double>(), 0, 30));
        now = TimeSpan.FromSeconds(35);
        Assert.Contains("ETA epoch 0:15, run 0:45", bar.Line(new BatchProgress(2, 1, 4, 1.0, 0.5, 0.01), now));
    }

    [Fact]
    public void RunningMeansAndRedrawsAreThrottledAndErased()
    {
        var now = TimeSpan.Zero;
        var writer = new StringWriter();
        var bar = new ProgressBar(writer, totalEpochs: 1, clock: () => now);
        bar.OnBatchEnd(null!, new BatchProgress(1, 1, 3, 2.0, 0.0, 0.01));
        now += TimeSpan.FromMilliseconds(10); // too soon: no redraw
        bar.OnBatchEnd(null!, new BatchProgress(1, 2, 3, 1.0, 1.0, 0.01));
        Assert.Equal(1, writer.ToString().Count(c => c == '\r'));
        now += TimeSpan.FromMilliseconds(10); // the last batch always draws
        bar.OnBatchEnd(null!, new BatchProgress(1, 3, 3, 0.0, 0.5, 0.01));
        string text = writer.ToString();
        Assert.Equal(2, text.Count(c => c == '\r'));
        Assert.Contains("loss 1.0000  acc 50.0 %", text); // means over the three batches
        bar.Clear();
        Assert.EndsWith("\r", writer.ToString());
        Assert.Equal("?", ProgressBar.Clock(double.NaN));
        Assert.Equal("1:01:05", ProgressBar.Clock(3665));
    }
}
