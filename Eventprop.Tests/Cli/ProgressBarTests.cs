using Eventprop.Cli;
using Eventprop.Core.Training;
using Xunit;

namespace Eventprop.Tests.Cli;

public class ProgressBarTests
{
    [Fact]
    public void EtaStartsAtTheSecondBatchThenUsesFinishedEpochs()
    {
        var now = TimeSpan.Zero;
        var writer = new StringWriter();
        var bar = new ProgressBar(writer, totalEpochs: 3, clock: () => now);

        // Epoch 1: the first batch (warm-up) ends at 2 s: no estimate yet.
        now = TimeSpan.FromSeconds(2);
        bar.OnBatchEnd(null!, new BatchProgress(1, 1, 10, 1.5, 0.25, 0.01));
        Assert.Contains("ETA epoch ?, run ?", bar.Line(new BatchProgress(1, 1, 10, 1.5, 0.25, 0.01), now));
        // Batch 5 of 10 at 10 s: 2 s per batch after the first, 5 batches = 10 s left; the epoch will take 20 s, so the
        // run has 10 s + 2 epochs x 20 s left.
        now = TimeSpan.FromSeconds(10);
        string first = bar.Line(new BatchProgress(1, 5, 10, 1.5, 0.25, 0.01), now);
        Assert.Contains("epoch 1/3", first);
        Assert.Contains("batch 5/10", first);
        Assert.Contains("[############............]", first);
        Assert.Contains("ETA epoch 0:10, run 0:50", first);

        // Epoch 1 ends at 30 s (it took 30 s); epoch 2's first batch ends at 32 s, its second at 35 s: 3 s per batch,
        // 2 batches left = 6 s, then one epoch of 30 s (the finished epochs' mean).
        now = TimeSpan.FromSeconds(30);
        bar.OnEpochEnd(null!, new EpochMetrics(1, 1, 0.5, null, null, 0.01, new Dictionary<string, double>(), 0, 30));
        now = TimeSpan.FromSeconds(32);
        bar.OnBatchEnd(null!, new BatchProgress(2, 1, 4, 1.0, 0.5, 0.01));
        now = TimeSpan.FromSeconds(35);
        Assert.Contains("ETA epoch 0:06.0, run 0:36", bar.Line(new BatchProgress(2, 2, 4, 1.0, 0.5, 0.01), now));
    }

    [Fact]
    public void TheLineFitsTheTerminalWidth()
    {
        var now = TimeSpan.Zero;
        var writer = new StringWriter();
        var bar = new ProgressBar(writer, totalEpochs: 300, clock: () => now, width: 80);
        bar.OnBatchEnd(null!, new BatchProgress(1, 1, 1000, 1.5, 0.25, 0.01));
        now = TimeSpan.FromSeconds(100);
        bar.OnBatchEnd(null!, new BatchProgress(1, 500, 1000, 1.5, 0.25, 0.01));
        string drawn = writer.ToString().Split('\r')[^1];
        Assert.True(drawn.Length <= 79, $"{drawn.Length} characters: '{drawn}'");
        Assert.Contains("batch 500/1000", drawn);
        Assert.Contains("ETA epoch", drawn);
        var full = bar.Line(new BatchProgress(1, 500, 1000, 1.5, 0.25, 0.01), now);
        Assert.True(full.Length > 79); // the fitting did something
        Assert.Equal(full, new ProgressBar(new StringWriter(), 300, () => now, width: 400).Fit(full));
    }

    [Fact]
    public void WithoutATerminalItWritesPlainLinesAtMostEveryThirtySeconds()
    {
        var now = TimeSpan.Zero;
        var writer = new StringWriter();
        var bar = new ProgressBar(writer, totalEpochs: 2, clock: () => now, plain: true);
        for (int b = 1; b <= 100; b++)
        {
            now = TimeSpan.FromSeconds(b); // 1 s per batch: lines at 30 s and 60 s and 90 s; none at the last batch
            bar.OnBatchEnd(null!, new BatchProgress(1, b, 100, 1.0, 0.5, 0.01));
        }
        string text = writer.ToString();
        Assert.DoesNotContain("\r", text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("batch 30/100", lines[0]);
        Assert.Contains("batch 90/100", lines[2]);
        bar.Clear(); // nothing drawn in place, nothing to erase
        Assert.Equal(text, writer.ToString());
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
        Assert.Equal("0:01.8", ProgressBar.Clock(1.84)); // tenths under 10 s, where whole seconds would be off by up to 50 %
        Assert.Equal("0:12", ProgressBar.Clock(12.4));
    }
}
