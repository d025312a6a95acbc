using System.Numerics;

namespace Eventprop.Core.Audio;

/// <summary>
/// In-place iterative radix-2 inverse FFT of one fixed power-of-two length, with precomputed twiddles, single-threaded.
/// </summary>
/// <remarks>
/// The cochlea runs hundreds of these per recording inside its own parallel loop over channels. MathNet's FFT (used
/// for everything else) runs its radix-2 stages in parallel tasks according to the process-wide
/// <c>MathNet.Numerics.Control.MaxDegreeOfParallelism</c>; nested in our loop that doubled the CPU time per recording,
/// and changing the global setting would change the caller's other MathNet use. Checked against MathNet in the tests.
/// </remarks>
internal sealed class Radix2Fft
{
    private readonly Complex[] _twiddles;
    private readonly int[] _reversed;

    /// <summary>A transform of <paramref name="length"/> points (a power of two ≥ 1).</summary>
    public Radix2Fft(int length)
    {
        if (length < 1 || !BitOperations.IsPow2(length)) throw new ArgumentOutOfRangeException(nameof(length), length, "The radix-2 FFT needs a power-of-two length.");
        Length = length;
        _twiddles = new Complex[Math.Max(1, length / 2)];
        for (int k = 0; k < length / 2; k++)
        {
            double angle = 2 * Math.PI * k / length; // inverse transform: e^{+2πik/N}
            _twiddles[k] = new Complex(Math.Cos(angle), Math.Sin(angle));
        }
        _reversed = new int[length];
        int bits = BitOperations.Log2((uint)length);
        for (int i = 0; i < length; i++)
            _reversed[i] = bits == 0 ? 0 : (int)(ReverseBits((uint)i) >> (32 - bits));
    }

    /// <summary>Points of the transform.</summary>
    public int Length { get; }

    /// <summary>True when <paramref name="length"/> is a power of two this class can transform.</summary>
    public static bool Supports(int length) => length >= 1 && BitOperations.IsPow2(length);

    /// <summary>x ← (1/N)·Σ_j x_j·e^(+2πi·jk/N), the inverse DFT with numpy's scaling.</summary>
    public void Inverse(Span<Complex> x)
    {
        int n = Length;
        if (x.Length != n) throw new ArgumentException($"This FFT transforms {n} points, not {x.Length}.", nameof(x));
        for (int i = 0; i < n; i++)
        {
            int j = _reversed[i];
            if (j > i) (x[i], x[j]) = (x[j], x[i]);
        }
        for (int size = 2; size <= n; size <<= 1)
        {
            int half = size >> 1, stride = n / size;
            for (int start = 0; start < n; start += size)
            {
                for (int k = 0; k < half; k++)
                {
                    Complex t = _twiddles[k * stride] * x[start + k + half];
                    Complex u = x[start + k];
                    x[start + k] = u + t;
                    x[start + k + half] = u - t;
                }
            }
        }
        double scale = 1.0 / n;
        for (int i = 0; i < n; i++) x[i] *= scale;
    }

    private static uint ReverseBits(uint v)
    {
        v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
        v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
        v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
        v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
        return (v >> 16) | (v << 16);
    }
}
