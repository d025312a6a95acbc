namespace Eventprop.Benchmarks;

/// <summary>Samples the managed heap (<see cref="GC.GetTotalMemory(bool)"/>) every few milliseconds on a background task and
/// keeps the largest value seen; <see cref="Stop"/> ends the sampling and returns it.</summary>
internal sealed class PeakHeapSampler : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _task;
    private long _peak;

    /// <summary>Starts sampling every <paramref name="intervalMs"/> ms.</summary>
    public PeakHeapSampler(int intervalMs)
    {
        _task = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                _peak = Math.Max(_peak, GC.GetTotalMemory(false));
                try { await Task.Delay(intervalMs, _stop.Token); } catch (TaskCanceledException) { }
            }
        });
    }

    /// <summary>Stops sampling and returns the largest managed heap seen (bytes).</summary>
    public long Stop()
    {
        _stop.Cancel();
        _task.Wait();
        return _peak;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_stop.IsCancellationRequested) Stop();
        _stop.Dispose();
    }
}
