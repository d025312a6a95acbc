using System.Diagnostics;
using System.Globalization;
using Eventprop.Core.Training;

namespace Eventprop.Cli;

/// <summary>
/// A one-line progress bar for training on a terminal: the epoch's bar, batch, running loss and accuracy, and the
/// estimated time left in the epoch and in the whole run. It redraws in place (carriage return), at most
/// <see cref="MinimumInterval"/> apart, and erases itself before each epoch's summary line is printed.
/// </summary>
/// <remarks>The run's ETA uses the mean duration of the epochs finished in this process (the current epoch's own rate
/// before the first one ends).</remarks>
public sealed class ProgressBar : ITrainingCallback
{
    private readonly TextWriter _terminal;
    private readonly int _totalEpochs;
    private readonly Func<TimeSpan> _clock;
    private TimeSpan _epochStart;
    private TimeSpan? _lastDraw;
    private readonly List<double> _epochSeconds = [];
    private int _drawnLength;
    private double _lossSum, _accuracySum;
    private int _batchesSeen;

    /// <summary>Minimum time between redraws.</summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Creates a bar writing to <paramref name="terminal"/> for a run of <paramref name="totalEpochs"/> epochs.</summary>
    /// <param name="terminal">Where to draw (normally standard error, when it is a terminal).</param>
    /// <param name="totalEpochs">The run's total epochs (for the run ETA).</param>
    /// <param name="clock">Elapsed-time source (tests pass a fake one); default a stopwatch started now.</param>
    public ProgressBar(TextWriter terminal, int totalEpochs, Func<TimeSpan>? clock = null)
    {
        _terminal = terminal;
        _totalEpochs = totalEpochs;
        if (clock is null)
        {
            var watch = Stopwatch.StartNew();
            clock = () => watch.Elapsed;
        }
        _clock = clock;
        _epochStart = _clock();
    }

    /// <inheritdoc />
    public void OnBatchEnd(Trainer trainer, BatchProgress progress)
    {
        if (progress.Batch == 1) { _lossSum = _accuracySum = 0; _batchesSeen = 0; }
        _lossSum += progress.Loss;
        _accuracySum += progress.Accuracy;
        _batchesSeen++;
        var now = _clock();
        if (progress.Batch < progress.Batches && _lastDraw is { } last && now - last < MinimumInterval) return;
        _lastDraw = now;
        Draw(Line(progress, now));
    }

    /// <inheritdoc />
    public void OnEpochEnd(Trainer trainer, EpochMetrics metrics)
    {
        var now = _clock();
        _epochSeconds.Add((now - _epochStart).TotalSeconds);
        _epochStart = now;
        Clear();
    }

    /// <summary>Erases the bar (call before printing anything else on the terminal).</summary>
    public void Clear()
    {
        if (_drawnLength == 0) return;
        _terminal.Write('\r' + new string(' ', _drawnLength) + '\r');
        _terminal.Flush();
        _drawnLength = 0;
    }

    /// <summary>The bar's text for <paramref name="p"/> at elapsed time <paramref name="now"/>.</summary>
    public string Line(BatchProgress p, TimeSpan now)
    {
        const int width = 24;
        double fraction = p.Batches == 0 ? 1 : (double)p.Batch / p.Batches;
        int filled = (int)Math.Round(fraction * width);
        double epochElapsed = (now - _epochStart).TotalSeconds;
        double epochLeft = fraction > 0 ? epochElapsed * (1 - fraction) / fraction : double.NaN;
        double perEpoch = _epochSeconds.Count > 0 ? _epochSeconds.Average() : (fraction > 0 ? epochElapsed / fraction : double.NaN);
        int epochsAfterThis = Math.Max(0, _totalEpochs - p.Epoch);
        double runLeft = epochLeft + epochsAfterThis * perEpoch;
        return string.Create(CultureInfo.InvariantCulture,
            $"epoch {p.Epoch}/{_totalEpochs} [{new string('#', filled)}{new string('.', width - filled)}] batch {p.Batch}/{p.Batches}  loss {_lossSum / Math.Max(1, _batchesSeen):F4}  acc {100 * _accuracySum / Math.Max(1, _batchesSeen):F1} %  ETA epoch {Clock(epochLeft)}, run {Clock(runLeft)}");
    }

    /// <summary>Seconds as m:ss or h:mm:ss ("?" when unknown).</summary>
    public static string Clock(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "?";
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
    }

    private void Draw(string line)
    {
        string padded = line.Length < _drawnLength ? line + new string(' ', _drawnLength - line.Length) : line;
        _terminal.Write('\r' + padded);
        _terminal.Flush();
        _drawnLength = Math.Max(line.Length, _drawnLength);
    }
}
