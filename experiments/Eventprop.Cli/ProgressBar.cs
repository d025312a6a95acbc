using System.Diagnostics;
using System.Globalization;
using Eventprop.Core.Training;

namespace Eventprop.Cli;

/// <summary>
/// Training progress: the epoch's bar, batch, running loss and accuracy, and the estimated time left in the epoch and in
/// the whole run. On a terminal it redraws one line in place (carriage return), at most <see cref="MinimumInterval"/>
/// apart, fitted to the terminal's width, and erases itself before each epoch's summary line is printed. When the output
/// is not a terminal (a log file, a pipe) it writes plain lines instead, at most <see cref="PlainInterval"/> apart, so
/// long epochs show progress without filling the log.
/// </summary>
/// <remarks>The ETA is measured from the end of the epoch's first batch (which includes warm-up), so it appears from the
/// second batch on. The run's ETA uses the mean duration of the epochs finished in this process (the current epoch's
/// own estimate before the first one ends).</remarks>
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
    private TimeSpan? _firstBatchEnd;
    private readonly int _width;
    private readonly bool _plain;

    /// <summary>Minimum time between redraws on a terminal.</summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Minimum time between plain progress lines (output not a terminal).</summary>
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(30);

    /// <summary>Creates a bar writing to <paramref name="terminal"/> for a run of <paramref name="totalEpochs"/> epochs.</summary>
    /// <param name="terminal">Where to draw (normally standard error).</param>
    /// <param name="totalEpochs">The run's total epochs (for the run ETA).</param>
    /// <param name="clock">Elapsed-time source (tests pass a fake one); default a stopwatch started now.</param>
    /// <param name="width">The terminal's width in characters: the line is fitted to it (at most width − 1 characters).</param>
    /// <param name="plain">Write plain lines (<see cref="PlainInterval"/> apart) instead of redrawing one line.</param>
    public ProgressBar(TextWriter terminal, int totalEpochs, Func<TimeSpan>? clock = null, int width = 120, bool plain = false)
    {
        _terminal = terminal;
        _totalEpochs = totalEpochs;
        _width = Math.Max(20, width);
        _plain = plain;
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
        var now = _clock();
        if (progress.Batch == 1) { _lossSum = _accuracySum = 0; _batchesSeen = 0; _firstBatchEnd = now; }
        _lossSum += progress.Loss;
        _accuracySum += progress.Accuracy;
        _batchesSeen++;
        if (_plain)
        {
            // The epoch's summary line follows its last batch, so plain lines only report epochs still running.
            if (progress.Batch == progress.Batches || now - (_lastDraw ?? _epochStart) < PlainInterval) return;
            _lastDraw = now;
            _terminal.WriteLine(Line(progress, now));
            _terminal.Flush();
            return;
        }
        if (progress.Batch < progress.Batches && _lastDraw is { } last && now - last < MinimumInterval) return;
        _lastDraw = now;
        Draw(Fit(Line(progress, now)));
    }

    /// <inheritdoc />
    public void OnEpochEnd(Trainer trainer, EpochMetrics metrics)
    {
        var now = _clock();
        _epochSeconds.Add((now - _epochStart).TotalSeconds);
        _epochStart = now;
        _firstBatchEnd = null;
        if (_plain) _lastDraw = now;
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
        // From the second batch on: the rate of the batches after the first (the first includes warm-up).
        double perBatch = p.Batch >= 2 && _firstBatchEnd is { } first ? (now - first).TotalSeconds / (p.Batch - 1) : double.NaN;
        double epochLeft = perBatch * (p.Batches - p.Batch);
        double perEpoch = _epochSeconds.Count > 0 ? _epochSeconds.Average() : epochElapsed + epochLeft;
        int epochsAfterThis = Math.Max(0, _totalEpochs - p.Epoch);
        double runLeft = epochLeft + epochsAfterThis * perEpoch;
        return string.Create(CultureInfo.InvariantCulture,
            $"epoch {p.Epoch}/{_totalEpochs} [{new string('#', filled)}{new string('.', width - filled)}] batch {p.Batch}/{p.Batches}  loss {_lossSum / Math.Max(1, _batchesSeen):F4}  acc {100 * _accuracySum / Math.Max(1, _batchesSeen):F1} %  ETA epoch {Clock(epochLeft)}, run {Clock(runLeft)}");
    }

    /// <summary>
    /// <paramref name="line"/> fitted to the width: a shorter bar first (down to 8 cells), then without the run's ETA,
    /// then cut.
    /// </summary>
    public string Fit(string line)
    {
        int max = _width - 1, over = line.Length - max;
        if (over <= 0) return line;
        int open = line.IndexOf('['), close = line.IndexOf(']');
        if (open >= 0 && close > open)
        {
            int cells = close - open - 1, keep = Math.Max(8, cells - over);
            double done = line[(open + 1)..close].Count(c => c == '#') / (double)cells;
            int filled = (int)Math.Round(done * keep);
            line = line[..(open + 1)] + new string('#', filled) + new string('.', keep - filled) + line[close..];
        }
        int run = line.IndexOf(", run ", StringComparison.Ordinal);
        if (line.Length > max && run > 0) line = line[..run];
        return line.Length > max ? line[..max] : line;
    }

    /// <summary>Seconds as m:ss or h:mm:ss, with tenths under 10 s (0:01.8); "?" when unknown.</summary>
    public static string Clock(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "?";
        // Under 10 s whole seconds would be off by up to 50 %: tenths there.
        if (seconds < 9.95) return string.Create(CultureInfo.InvariantCulture, $"0:0{seconds:0.0}");
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
