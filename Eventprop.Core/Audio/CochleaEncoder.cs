using System.Numerics;
using Eventprop.Core.Data;
using Eventprop.Core.Training;

namespace Eventprop.Core.Audio;

/// <summary>
/// Turns a recording into spikes with the Heidelberg cochlea (Cramer et al. 2020, the chain that made SHD and SSC):
/// RMS normalisation, Hann ramps, hydrodynamic basilar membrane, Meddis inner hair cell and a bushy cell per channel.
/// </summary>
/// <remarks>
/// Thread-safe: one encoder may encode several recordings at once (the transfer cache is shared and locked).
/// Output is a function of the recording, the options, the seed and the index alone: channel k of recording i draws
/// from its own generator seeded by (seed, i, k), whatever the thread count.
/// </remarks>
public sealed class CochleaEncoder
{
    private readonly BasilarMembrane _membrane;
    private readonly LinkedList<(int FftLength, double SampleRate, Lazy<BasilarMembraneFilterBank> Bank)> _cache = new();
    private readonly Lock _cacheLock = new();

    /// <summary>An encoder with the given options (default: the Heidelberg cochlea at 700 channels).</summary>
    public CochleaEncoder(CochleaOptions? options = null)
    {
        Options = options ?? new CochleaOptions();
        if (Options.ChannelCount < 1) throw new ArgumentOutOfRangeException(nameof(options), Options.ChannelCount, "The cochlea needs at least one channel.");
        if (Options.Threads < 1) throw new ArgumentOutOfRangeException(nameof(options), Options.Threads, "Threads must be ≥ 1.");
        _membrane = new BasilarMembrane(Options.Membrane);
    }

    /// <summary>The options.</summary>
    public CochleaOptions Options { get; }

    /// <summary>The membrane model in use.</summary>
    public BasilarMembrane Membrane => _membrane;

    /// <summary>Encodes <paramref name="clip"/> into spikes (times in ms, channels 0..N−1 from base to apex).</summary>
    /// <param name="clip">The recording.</param>
    /// <param name="seed">The user's seed.</param>
    /// <param name="index">The recording's index in its batch (so that recordings of one batch draw differently).</param>
    /// <param name="label">Label of the returned sample.</param>
    /// <param name="speaker">Speaker of the returned sample.</param>
    public SpikeSample Encode(AudioClip clip, long seed, long index = 0, int label = -1, int speaker = -1)
    {
        var (bank, spectrum, outputLength) = Prepare(clip);
        int channels = Options.ChannelCount;
        var perChannel = new List<int>[channels];
        double dt = 1 / bank.OutputRate;
        int pairs = (channels + 1) / 2;
        Parallel.For(0, pairs, new ParallelOptions { MaxDegreeOfParallelism = Options.Threads },
            () => new ChannelWork(bank.OutputLength),
            (pair, _, work) =>
            {
                int first = 2 * pair, second = first + 1;
                if (second < channels) bank.Velocity(spectrum, first, second, work.Velocity, work.SecondVelocity, work.Fft);
                else bank.Velocity(spectrum, first, work.Velocity, work.Fft);
                for (int k = first; k <= Math.Min(second, channels - 1); k++)
                {
                    var velocity = (k == first ? work.Velocity : work.SecondVelocity).AsSpan(0, outputLength);
                    var probability = work.Probability.AsSpan(0, outputLength);
                    Options.HairCell.Run(velocity, dt, probability);
                    var spikes = new List<int>();
                    Options.BushyCell.Run(probability, dt, new TrainingRandom(ChannelSeed(seed, index, k)), spikes);
                    perChannel[k] = spikes;
                }
                return work;
            },
            _ => { });
        return Collect(perChannel, outputLength, bank.OutputRate, label, speaker);
    }

    /// <summary>The membrane velocity of one channel (the deterministic first stage), sampled at <paramref name="rate"/> Hz.</summary>
    public double[] MembraneVelocity(AudioClip clip, int channel, out double rate)
    {
        if ((uint)channel >= (uint)Options.ChannelCount) throw new ArgumentOutOfRangeException(nameof(channel), channel, $"Channel must lie in 0..{Options.ChannelCount - 1}.");
        var (bank, spectrum, outputLength) = Prepare(clip);
        var v = new double[bank.OutputLength];
        bank.Velocity(spectrum, channel, v, new Complex[bank.OutputLength]);
        rate = bank.OutputRate;
        return v[..outputLength];
    }

    /// <summary>The hair cell's firing probability of one channel (the deterministic second stage), sampled at <paramref name="rate"/> Hz.</summary>
    public double[] HairCellProbability(AudioClip clip, int channel, out double rate)
    {
        var v = MembraneVelocity(clip, channel, out rate);
        var p = new double[v.Length];
        Options.HairCell.Run(v, 1 / rate, p);
        return p;
    }

    /// <summary>The FFT length this encoder uses for a recording of <paramref name="sampleCount"/> samples.</summary>
    public int FftLengthFor(int sampleCount)
    {
        if (Options.FftLength == CochleaFftLength.Exact || sampleCount < 2) return Math.Max(2, sampleCount);
        // the smallest L = 2M − 2 ≥ n with M a power of two (M ≥ ⌈(n + 2)/2⌉; ⌊n/2⌋ + 1 falls one short for odd n = 2^k·2 − 1)
        int bins = (int)BitOperations.RoundUpToPowerOf2((uint)((sampleCount + 3) / 2));
        return 2 * bins - 2;
    }

    private (BasilarMembraneFilterBank Bank, Complex[] Spectrum, int OutputLength) Prepare(AudioClip clip)
    {
        ArgumentNullException.ThrowIfNull(clip);
        if (!(clip.SampleRate > 2) || !double.IsFinite(clip.SampleRate))
            throw new ArgumentException($"The recording's sample rate {clip.SampleRate} Hz is not usable; it must be finite and > 2 Hz.", nameof(clip));
        var x = clip.Samples.ToArray();
        if (Options.NormaliseRms) AudioPreprocessing.NormaliseRms(x);
        if (Options.ApplyRamps) AudioPreprocessing.ApplyRamps(x);
        int fftLength = FftLengthFor(x.Length);
        if (x.Length < fftLength) Array.Resize(ref x, fftLength);
        var bank = Bank(fftLength, clip.SampleRate);
        return (bank, bank.Spectrum(x), Math.Max(1, clip.Samples.Length / 2 + 1));
    }

    private BasilarMembraneFilterBank Bank(int fftLength, double sampleRate)
    {
        Lazy<BasilarMembraneFilterBank> lazy;
        lock (_cacheLock)
        {
            var node = _cache.First;
            while (node is not null && (node.Value.FftLength != fftLength || node.Value.SampleRate != sampleRate)) node = node.Next;
            if (node is not null)
            {
                _cache.Remove(node);
                _cache.AddFirst(node);
                return node.Value.Bank.Value; // a bank being prepared by another thread is awaited here
            }
            // concurrent requests for one grid share one preparation
            lazy = new Lazy<BasilarMembraneFilterBank>(() => BasilarMembraneFilterBank.Prepare(_membrane, Options.ChannelCount, fftLength, sampleRate, Options.Threads));
            _cache.AddFirst((fftLength, sampleRate, lazy));
            long bytes = 0;
            for (node = _cache.First; node is not null; node = node.Next)
            {
                bytes += 16L * Options.ChannelCount * (node.Value.FftLength / 2 + 1);
                if (bytes > Options.TransferCacheBytes && node != _cache.First)
                {
                    while (_cache.Last != node) _cache.RemoveLast();
                    _cache.RemoveLast();
                    break;
                }
            }
        }
        return lazy.Value;
    }

    private SpikeSample Collect(List<int>[] perChannel, int outputLength, double rate, int label, int speaker)
    {
        // counting sort by sample index; channels ascending within a sample
        var counts = new int[outputLength + 1];
        int total = 0;
        foreach (var list in perChannel) { foreach (int s in list) counts[s + 1]++; total += list.Count; }
        for (int i = 1; i <= outputLength; i++) counts[i] += counts[i - 1];
        var times = new double[total];
        var channels = new int[total];
        double msPerSample = 1000.0 / rate;
        for (int k = 0; k < perChannel.Length; k++)
        {
            foreach (int s in perChannel[k])
            {
                int at = counts[s]++;
                times[at] = s * msPerSample;
                channels[at] = k;
            }
        }
        return new SpikeSample(times, channels, label, speaker);
    }

    /// <summary>The seed of channel <paramref name="channel"/> of recording <paramref name="index"/> (SplitMix64-style mixing).</summary>
    internal static long ChannelSeed(long seed, long index, int channel)
    {
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)index * 0xC2B2AE3D27D4EB4FUL ^ (ulong)channel * 0x165667B19E3779F9UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return unchecked((long)(z ^ (z >> 31)));
    }

    private sealed class ChannelWork(int length)
    {
        public readonly double[] Velocity = new double[length];
        public readonly double[] SecondVelocity = new double[length];
        public readonly double[] Probability = new double[length];
        public readonly Complex[] Fft = new Complex[length];
    }
}
