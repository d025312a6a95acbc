namespace Eventprop.Core.Audio;

/// <summary>The cochlea's input conditioning: RMS normalisation and the Hann ramps at both ends.</summary>
public static class AudioPreprocessing
{
    /// <summary>The RMS the Heidelberg cochlea scales every recording to.</summary>
    public const double ReferenceRms = 0.3;

    /// <summary>Scales <paramref name="samples"/> in place to root-mean-square <paramref name="targetRms"/>; all-zero (or empty) input is left as it is.</summary>
    public static void NormaliseRms(Span<double> samples, double targetRms = ReferenceRms)
    {
        double sum = 0;
        foreach (double v in samples) sum += v * v;
        if (sum == 0) return;
        double scale = targetRms / Math.Sqrt(sum / samples.Length);
        foreach (ref double v in samples) v *= scale;
    }

    /// <summary>
    /// Multiplies the first ⌊n/2⌋ samples by the rising half of a symmetric Hann window of length 2⌊n/2⌋ and the last
    /// ⌊n/2⌋ by its falling half (one Hann window over the whole signal; an odd middle sample is kept).
    /// </summary>
    public static void ApplyRamps(Span<double> samples)
    {
        int half = samples.Length / 2;
        int length = 2 * half;
        if (half == 0) return;
        double step = 2 * Math.PI / (length - 1);
        for (int k = 0; k < half; k++)
        {
            double w = 0.5 - 0.5 * Math.Cos(step * k);
            samples[k] *= w;
            samples[samples.Length - 1 - k] *= w;
        }
    }
}
