namespace Eventprop.Core.Audio;

/// <summary>A mono recording: samples (full scale ±1) at a sample rate.</summary>
/// <param name="Samples">The samples; integer formats are scaled to [−1, 1), several channels are averaged to one.</param>
/// <param name="SampleRate">Samples per second (Hz).</param>
public sealed record AudioClip(double[] Samples, double SampleRate)
{
    /// <summary>Length in milliseconds.</summary>
    public double DurationMs => Samples.Length * 1000.0 / SampleRate;
}
