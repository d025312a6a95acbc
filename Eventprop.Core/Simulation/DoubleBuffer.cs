namespace Eventprop.Core.Simulation;

/// <summary>A growable array of doubles with no per-append allocation once warm.</summary>
internal sealed class DoubleBuffer
{
    private double[] _items;

    public DoubleBuffer(int capacity = 8) => _items = new double[Math.Max(1, capacity)];

    public int Count { get; private set; }

    public double this[int i]
    {
        get => _items[i];
        set => _items[i] = value;
    }

    public void Add(double x)
    {
        if (Count == _items.Length) Array.Resize(ref _items, _items.Length * 2);
        _items[Count++] = x;
    }

    public void Clear() => Count = 0;

    public ReadOnlySpan<double> AsSpan() => _items.AsSpan(0, Count);
}
