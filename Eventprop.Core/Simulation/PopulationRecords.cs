namespace Eventprop.Core.Simulation;

/// <summary>
/// The recorded states of one population in the exact engine: after every event that touched the population, one row
/// holding the event's time and (V, I) of every neuron of the population, as [V₀ … V_{n−1}, I₀ … I_{n−1}].
/// </summary>
/// <remarks>
/// Connections are dense, so an event touches whole populations: one contiguous row per event replaces one record
/// stream per neuron (the forward pass writes, and the backward pass reads, sequentially). A population gets a row when
/// a population connected to it fires or an input arrives, and when one of its own neurons spikes (its reset); all its
/// neurons therefore share the time of their last row, and the last row is the population's current state.
/// </remarks>
internal sealed class PopulationRecords
{
    private readonly RecordArrayPool _pool;
    private double[] _times;
    private double[] _states;

    public PopulationRecords(int size, int capacityRows, RecordArrayPool pool)
    {
        Size = size;
        _pool = pool;
        int rows = Math.Max(4, capacityRows);
        _times = pool.Rent(rows);
        _states = pool.Rent(rows * 2 * size);
        _times[0] = 0;
        _states.AsSpan(0, 2 * size).Clear();
        Count = 1; // row 0: at rest at t = 0
    }

    /// <summary>Neurons in the population.</summary>
    public int Size { get; }

    /// <summary>Rows recorded (row 0 is the resting state at t = 0).</summary>
    public int Count { get; private set; }

    /// <summary>Time of the last row: every neuron's state is known there.</summary>
    public double LastTime => _times[Count - 1];

    public double Time(int row) => _times[row];

    public double Voltage(int row, int neuron) => _states[row * 2 * Size + neuron];

    public double Current(int row, int neuron) => _states[row * 2 * Size + Size + neuron];

    /// <summary>The last row's (V, I) block: the population's current state, to be updated in place.</summary>
    public Span<double> LastRow => _states.AsSpan((Count - 1) * 2 * Size, 2 * Size);

    /// <summary>The (V, I) block of <paramref name="row"/>.</summary>
    public ReadOnlySpan<double> Row(int row) => _states.AsSpan(row * 2 * Size, 2 * Size);

    /// <summary>
    /// Appends a row at <paramref name="t"/> whose state is the previous row evolved to t in closed form:
    /// V ← V e^{−ℓs/τm} + (I/τm) Ψ(s; ℓ/τm, 1/τs), I ← I e^{−s/τs}, with the decay rates ℓ/τm in <paramref name="rateLeak"/>
    /// and the input gains 1/τm in <paramref name="rateMem"/>.
    /// </summary>
    public void AppendEvolved(double t, ReadOnlySpan<double> rateLeak, ReadOnlySpan<double> rateMem, ReadOnlySpan<double> rateSyn, bool uniformRates, ref PropagatorCache cache)
    {
        int n = Size;
        if (Count == _times.Length || (Count + 1) * 2 * n > _states.Length)
        {
            if (_times.Length == 0) throw new InvalidOperationException("The trial's records were released.");
            int rows = 2 * Count;
            var times = _pool.Rent(rows);
            var states = _pool.Rent(rows * 2 * n);
            _times.AsSpan(0, Count).CopyTo(times);
            _states.AsSpan(0, Count * 2 * n).CopyTo(states);
            _pool.Return(_times);
            _pool.Return(_states);
            _times = times;
            _states = states;
        }
        double s = t - _times[Count - 1];
        int from = (Count - 1) * 2 * n, to = from + 2 * n;
        _times[Count] = t;
        Count++;
        var prevV = _states.AsSpan(from, n);
        var prevI = _states.AsSpan(from + n, n);
        var v = _states.AsSpan(to, n);
        var cur = _states.AsSpan(to + n, n);
        if (s <= 0)
        {
            prevV.CopyTo(v);
            prevI.CopyTo(cur);
        }
        else if (uniformRates)
        {
            double m = rateMem[0];
            cache.Set(s, rateLeak[0], rateSyn[0]);
            double dm = cache.DecayMem, ds = cache.DecaySyn, k = m * cache.PsiMemSyn;
            for (int i = 0; i < n; i++)
            {
                double i0 = prevI[i];
                v[i] = prevV[i] * dm + i0 * k;
                cur[i] = i0 * ds;
            }
        }
        else
        {
            for (int i = 0; i < n; i++)
            {
                double m = rateMem[i];
                cache.Set(s, rateLeak[i], rateSyn[i]);
                double i0 = prevI[i];
                v[i] = prevV[i] * cache.DecayMem + i0 * m * cache.PsiMemSyn;
                cur[i] = i0 * cache.DecaySyn;
            }
        }
    }

    /// <summary>Gives the arrays back to the pool; the records must not be read afterwards.</summary>
    public void Release()
    {
        _pool.Return(_times);
        _pool.Return(_states);
        _times = [];
        _states = [];
        Count = 0;
    }

    /// <summary>Index of the last row at or before <paramref name="t"/> (0 if none).</summary>
    public int IndexAt(double t)
    {
        int lo = 0, hi = Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (_times[mid] <= t) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }
}

/// <summary>One neuron's view of its population's rows: the (t, V, I) after each event that touched the population.</summary>
internal readonly struct NeuronRecords(PopulationRecords population, int neuron)
{
    public int Count => population.Count;

    public double Time(int k) => population.Time(k);

    public double Voltage(int k) => population.Voltage(k, neuron);

    public double Current(int k) => population.Current(k, neuron);

    /// <summary>Index of the last record at or before <paramref name="t"/> (0 if none).</summary>
    public int IndexAt(double t) => population.IndexAt(t);
}

/// <summary>
/// Record arrays kept for reuse by one engine. The rows of a trial run to megabytes; allocating them afresh for every
/// trial costs page faults and full garbage collections, so trials whose records are no longer needed give them back.
/// Thread-safe; keeps at most <see cref="MaxArrays"/> arrays and <see cref="MaxBytes"/> bytes (the largest arrays win).
/// </summary>
internal sealed class RecordArrayPool
{
    public const int MaxArrays = 16;
    public const long MaxBytes = 256L << 20;
    private readonly List<double[]> _free = [];
    private long _bytes;

    /// <summary>Bytes held now.</summary>
    public long Bytes
    {
        get
        {
            lock (_free) return _bytes;
        }
    }

    /// <summary>An array of at least <paramref name="length"/> elements, uninitialised.</summary>
    public double[] Rent(int length)
    {
        lock (_free)
        {
            int best = -1;
            for (int k = 0; k < _free.Count; k++)
                if (_free[k].Length >= length && (best < 0 || _free[k].Length < _free[best].Length)) best = k;
            if (best >= 0)
            {
                var a = _free[best];
                _free.RemoveAt(best);
                _bytes -= 8L * a.Length;
                return a;
            }
        }
        // Uninitialised: only written rows are read, so a generous capacity costs no zeroing.
        return GC.AllocateUninitializedArray<double>(length);
    }

    /// <summary>Takes an array back; smaller arrays make room for it while a limit is exceeded, or it is dropped.</summary>
    public void Return(double[] array)
    {
        long size = 8L * array.Length;
        if (array.Length == 0 || size > MaxBytes) return;
        lock (_free)
        {
            while (_free.Count > 0 && (_free.Count >= MaxArrays || _bytes + size > MaxBytes))
            {
                int smallest = 0;
                for (int k = 1; k < _free.Count; k++)
                    if (_free[k].Length < _free[smallest].Length) smallest = k;
                if (_free[smallest].Length >= array.Length) return; // everything kept is at least as useful
                _bytes -= 8L * _free[smallest].Length;
                _free.RemoveAt(smallest);
            }
            _free.Add(array);
            _bytes += size;
        }
    }
}
