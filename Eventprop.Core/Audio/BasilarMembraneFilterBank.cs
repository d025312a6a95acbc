using System.Numerics;
using MathNet.Numerics.IntegralTransforms;

namespace Eventprop.Core.Audio;

/// <summary>
/// Applies the basilar membrane to a recording as the Heidelberg cochlea does: the spectrum X = FFT(x) (length n),
/// its first M = ⌊n/2⌋ + 1 bins at angular frequencies ω_j = 2π·linspace(1, fs/2, M), multiplied by the transfer
/// v(ω_j, c) of each channel, and the real part of the length-M inverse FFT as the membrane velocity.
/// </summary>
/// <remarks>
/// The result has M samples, which the reference (and so SHD) treats as sampled at fs/2 (<see cref="OutputRate"/>);
/// this reproduces the published datasets. The transfer of a grid (n, fs) is the expensive part (one Hankel function
/// per bin and channel); <see cref="Prepare"/> computes it once for reuse by every recording of that length.
/// </remarks>
public sealed class BasilarMembraneFilterBank
{
    private readonly Complex[][] _transfer;
    private readonly Radix2Fft? _radix2;

    /// <summary>The transfer of every channel on the frequency grid of <paramref name="sampleCount"/> samples at <paramref name="sampleRate"/>.</summary>
    private BasilarMembraneFilterBank(BasilarMembrane membrane, int channelCount, int sampleCount, double sampleRate, int threads)
    {
        SampleCount = sampleCount;
        SampleRate = sampleRate;
        ChannelCount = channelCount;
        int bins = sampleCount / 2 + 1;
        if (Radix2Fft.Supports(bins)) _radix2 = new Radix2Fft(bins);
        var terms = new BasilarMembrane.FrequencyTerms[bins];
        for (int j = 0; j < bins; j++) terms[j] = membrane.Terms(2 * Math.PI * GridFrequency(j, bins, sampleRate));
        _transfer = new Complex[channelCount][];
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) };
        Parallel.For(0, channelCount, options, k =>
        {
            double position = membrane.Position(k, channelCount);
            var row = new Complex[bins];
            for (int j = 0; j < bins; j++) row[j] = membrane.Transfer(terms[j], position);
            _transfer[k] = row;
        });
    }

    /// <summary>Prepares the filter bank for recordings of <paramref name="sampleCount"/> samples at <paramref name="sampleRate"/> Hz.</summary>
    /// <param name="membrane">The membrane model.</param>
    /// <param name="channelCount">Channels, evenly spaced from the base (0) to the apex (N − 1).</param>
    /// <param name="sampleCount">Samples per recording (≥ 2).</param>
    /// <param name="sampleRate">Sample rate in Hz (&gt; 2).</param>
    /// <param name="threads">Threads for computing the transfer.</param>
    public static BasilarMembraneFilterBank Prepare(BasilarMembrane membrane, int channelCount, int sampleCount, double sampleRate, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(membrane);
        if (channelCount < 1) throw new ArgumentOutOfRangeException(nameof(channelCount), channelCount, "Need at least one channel.");
        if (sampleCount < 2) throw new ArgumentOutOfRangeException(nameof(sampleCount), sampleCount, "Need at least two samples.");
        if (!(sampleRate > 2) || !double.IsFinite(sampleRate)) throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, "The sample rate must be finite and > 2 Hz.");
        return new BasilarMembraneFilterBank(membrane, channelCount, sampleCount, sampleRate, threads);
    }

    /// <summary>Samples per recording this bank is prepared for.</summary>
    public int SampleCount { get; }

    /// <summary>Input sample rate in Hz.</summary>
    public double SampleRate { get; }

    /// <summary>Number of channels.</summary>
    public int ChannelCount { get; }

    /// <summary>Samples of each channel's output, M = ⌊n/2⌋ + 1.</summary>
    public int OutputLength => SampleCount / 2 + 1;

    /// <summary>The rate the output is treated as sampled at, fs/2 (as in the reference).</summary>
    public double OutputRate => SampleRate / 2;

    /// <summary>Frequency in Hz of bin <paramref name="j"/> of <paramref name="bins"/>: linspace(1, fs/2, M)[j].</summary>
    public static double GridFrequency(int j, int bins, double sampleRate) =>
        bins == 1 ? 1 : j == bins - 1 ? sampleRate / 2 : 1 + j * ((sampleRate / 2 - 1) / (bins - 1));

    /// <summary>The transfer v(ω_j, c) of channel <paramref name="channel"/> on this bank's grid.</summary>
    public ReadOnlySpan<Complex> Transfer(int channel) => _transfer[channel];

    /// <summary>The half spectrum (first M bins of the FFT) of a prepared recording.</summary>
    public Complex[] Spectrum(ReadOnlySpan<double> samples)
    {
        if (samples.Length != SampleCount)
            throw new ArgumentException($"This filter bank is prepared for {SampleCount} samples, not {samples.Length}.", nameof(samples));
        var full = new Complex[samples.Length];
        for (int i = 0; i < full.Length; i++) full[i] = samples[i];
        Fourier.Forward(full, FourierOptions.Matlab);
        return full.AsSpan(0, OutputLength).ToArray();
    }

    /// <summary>Membrane velocity of one channel from the recording's half spectrum.</summary>
    /// <param name="spectrum">From <see cref="Spectrum"/>.</param>
    /// <param name="channel">Channel index.</param>
    /// <param name="velocity">Output of <see cref="OutputLength"/> samples.</param>
    /// <param name="work">Scratch of <see cref="OutputLength"/> values.</param>
    public void Velocity(ReadOnlySpan<Complex> spectrum, int channel, Span<double> velocity, Complex[] work)
    {
        ArgumentNullException.ThrowIfNull(work);
        int m = OutputLength;
        if (spectrum.Length != m || velocity.Length != m || work.Length != m)
            throw new ArgumentException($"Spectrum, output and scratch must each hold {m} values.");
        var row = _transfer[channel];
        for (int j = 0; j < m; j++) work[j] = row[j] * spectrum[j];
        InverseFft(work);
        for (int j = 0; j < m; j++) velocity[j] = work[j].Real;
    }

    /// <summary>
    /// Membrane velocity of two channels with one inverse FFT: Re(IFFT(Y)) is the IFFT of the Hermitian part
    /// H_j = (Y_j + conj(Y_(M−j) mod M))/2, which is real, so IFFT(H₁ + i·H₂) = u₁ + i·u₂.
    /// </summary>
    /// <param name="spectrum">From <see cref="Spectrum"/>.</param>
    /// <param name="first">First channel.</param>
    /// <param name="second">Second channel.</param>
    /// <param name="firstVelocity">Output of the first channel (<see cref="OutputLength"/> samples).</param>
    /// <param name="secondVelocity">Output of the second channel.</param>
    /// <param name="work">Scratch of <see cref="OutputLength"/> values.</param>
    public void Velocity(ReadOnlySpan<Complex> spectrum, int first, int second, Span<double> firstVelocity, Span<double> secondVelocity, Complex[] work)
    {
        ArgumentNullException.ThrowIfNull(work);
        int m = OutputLength;
        if (spectrum.Length != m || firstVelocity.Length != m || secondVelocity.Length != m || work.Length != m)
            throw new ArgumentException($"Spectrum, outputs and scratch must each hold {m} values.");
        var a = _transfer[first];
        var b = _transfer[second];
        for (int j = 0; j < m; j++)
        {
            int mirror = j == 0 ? 0 : m - j;
            Complex y1 = a[j] * spectrum[j], y1m = a[mirror] * spectrum[mirror];
            Complex y2 = b[j] * spectrum[j], y2m = b[mirror] * spectrum[mirror];
            // H1 + i·H2 with H = (Y_j + conj(Y_mirror))/2
            double h1Re = 0.5 * (y1.Real + y1m.Real), h1Im = 0.5 * (y1.Imaginary - y1m.Imaginary);
            double h2Re = 0.5 * (y2.Real + y2m.Real), h2Im = 0.5 * (y2.Imaginary - y2m.Imaginary);
            work[j] = new Complex(h1Re - h2Im, h1Im + h2Re);
        }
        InverseFft(work);
        for (int j = 0; j < m; j++)
        {
            firstVelocity[j] = work[j].Real;
            secondVelocity[j] = work[j].Imaginary;
        }
    }

    private void InverseFft(Complex[] work)
    {
        if (_radix2 is not null) _radix2.Inverse(work);
        else Fourier.Inverse(work, FourierOptions.Matlab);
    }
}
