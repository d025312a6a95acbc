namespace Eventprop.Core.Training;

/// <summary>
/// The trainer's random source: xoshiro256** seeded through SplitMix64. Unlike <see cref="Random"/>, its whole state is
/// four 64-bit words that checkpoints save and restore, so a resumed run draws exactly what an uninterrupted one would.
/// </summary>
public sealed class TrainingRandom
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator seeded from <paramref name="seed"/> (SplitMix64 expands it to the 256-bit state).</summary>
    public TrainingRandom(long seed)
    {
        ulong x = unchecked((ulong)seed);
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>The four state words (for checkpoints).</summary>
    public ulong[] State
    {
        get => [_s0, _s1, _s2, _s3];
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Length != 4) throw new ArgumentException($"A TrainingRandom state has 4 words, not {value.Length}.", nameof(value));
            if ((value[0] | value[1] | value[2] | value[3]) == 0) throw new ArgumentException("A TrainingRandom state cannot be all zero.", nameof(value));
            (_s0, _s1, _s2, _s3) = (value[0], value[1], value[2], value[3]);
        }
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform on [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer on [0, <paramref name="count"/>) (unbiased, by rejection).</summary>
    public int NextInt(int count)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The range must hold at least one value.");
        ulong n = (ulong)count;
        ulong limit = ulong.MaxValue - ulong.MaxValue % n;
        ulong x;
        do x = NextUInt64(); while (x >= limit);
        return (int)(x % n);
    }

    /// <summary>A standard normal draw (Box–Muller, one value per call).</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>A Gamma(<paramref name="shape"/>, <paramref name="scale"/>) draw (Marsaglia–Tsang; shape ≥ 1).</summary>
    public double NextGamma(double shape, double scale)
    {
        if (!(shape >= 1) || !double.IsFinite(shape)) throw new ArgumentOutOfRangeException(nameof(shape), shape, "This Gamma sampler needs a finite shape ≥ 1.");
        if (!(scale > 0) || !double.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "The Gamma scale must be finite and > 0.");
        double d = shape - 1.0 / 3.0, c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            double x = NextNormal(), v = 1.0 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v)))
                return d * v * scale;
        }
    }

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
