namespace Eventprop.Core.Audio;

/// <summary>How long the FFT of a recording is, and so on which frequency grid the membrane's transfer is evaluated.</summary>
public enum CochleaFftLength
{
    /// <summary>
    /// Zero-pad the recording to the length L = 2M − 2 whose M = L/2 + 1 bins are the next power of two at or above
    /// ⌊n/2⌋ + 1. Recordings of similar length share one grid, so its transfer (the costly part) is computed once
    /// and cached; the inverse FFTs are radix-2. The output is cut back to ⌊n/2⌋ + 1 samples. Differs from the
    /// reference by the absent circular wrap-around of the FFT filter and the finer grid: sample by sample by up to
    /// the size of a series' maximum, while the spike statistics stay close (measured in docs/speech.md). About 15×
    /// faster than <see cref="Exact"/> on the FSDD.
    /// </summary>
    PaddedPowerOfTwo,

    /// <summary>The FFT over exactly the recording's samples, as the reference implementation does (matches it to ~1e-9 of each series' maximum; slow: one transfer per distinct length, ~3 s of CPU per second of 8 kHz audio).</summary>
    Exact,
}

/// <summary>Settings of <see cref="CochleaEncoder"/>; the defaults are those of the Heidelberg cochlea that made SHD and SSC.</summary>
public sealed record CochleaOptions
{
    /// <summary>Channels (bushy cells), evenly spaced from the base (channel 0, high frequencies) to the apex.</summary>
    public int ChannelCount { get; init; } = 700;

    /// <summary>Scale each recording to RMS 0.3 before the ramps (as the reference); all-zero input is never scaled.</summary>
    public bool NormaliseRms { get; init; } = true;

    /// <summary>Multiply the recording by one Hann window over its whole length (the reference's ramps).</summary>
    public bool ApplyRamps { get; init; } = true;

    /// <summary>The FFT length policy (default: padded, cached transfer).</summary>
    public CochleaFftLength FftLength { get; init; } = CochleaFftLength.PaddedPowerOfTwo;

    /// <summary>Threads for one recording's channels (≥ 1).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Most bytes of cached transfer tables kept (oldest dropped first).</summary>
    public long TransferCacheBytes { get; init; } = 768L << 20;

    /// <summary>The basilar membrane.</summary>
    public BasilarMembraneParameters Membrane { get; init; } = new();

    /// <summary>The inner hair cell.</summary>
    public InnerHairCell HairCell { get; init; } = new();

    /// <summary>The bushy cell of each channel.</summary>
    public BushyCell BushyCell { get; init; } = new();
}
