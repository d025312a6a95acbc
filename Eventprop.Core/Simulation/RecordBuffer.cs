namespace Eventprop.Core.Simulation;

/// <summary>The recorded states (t, V, I) of one neuron after each event that touched it, interleaved in one array.</summary>
internal sealed class RecordBuffer(int capacity)
{
    // Uninitialised: only the first 3·Count entries are ever read, and a generous capacity then costs no zeroing and
    // no page faults for the part that is never written.
    private double[] _data = GC.AllocateUninitializedArray<double>(3 * Math.Max(4, capacity));

    public int Count { get; private set; }

    public double Time(int k) => _data[3 * k];

    public double Voltage(int k) => _data[3 * k + 1];

    public double Current(int k) => _data[3 * k + 2];

    public void Add(double t, double v, double i)
    {
        int at = 3 * Count;
        if (at + 3 > _data.Length)
        {
            var grown = GC.AllocateUninitializedArray<double>(_data.Length * 2);
            _data.AsSpan(0, at).CopyTo(grown);
            _data = grown;
        }
        _data[at] = t;
        _data[at + 1] = v;
        _data[at + 2] = i;
        Count++;
    }

    /// <summary>Index of the last record at or before <paramref name="t"/> (0 if none).</summary>
    public int IndexAt(double t)
    {
        int lo = 0, hi = Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (_data[3 * mid] <= t) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }
}
