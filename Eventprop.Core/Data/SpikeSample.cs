namespace Eventprop.Core.Data;

/// <summary>
/// One trial of input spikes: parallel arrays of spike times (ms) and input channels, sorted by time,
/// with a class label and an optional speaker id. Immutable once built.
/// </summary>
/// <remarks>
/// The constructor validates its input and sorts unsorted spikes by time (a stable sort, so spikes with
/// equal times keep their order). Times must be finite and non-negative, channels non-negative; whether a
/// channel fits a network's input population is checked where the sample meets the network.
/// </remarks>
public sealed class SpikeSample
{
    private readonly double[] _times;
    private readonly int[] _channels;

    /// <summary>Builds a sample from spike times (ms) and channels of equal length.</summary>
    /// <param name="times">Spike times in milliseconds; finite and ≥ 0. Sorted here if they are not.</param>
    /// <param name="channels">Input channel of each spike; ≥ 0.</param>
    /// <param name="label">Class label (≥ 0), or −1 for an unlabelled sample.</param>
    /// <param name="speaker">Speaker id where the dataset has one (SHD/SSC), else −1.</param>
    /// <exception cref="ArgumentException">Lengths differ, a time is negative, NaN or infinite, a channel is negative, or the label is below −1.</exception>
    public SpikeSample(ReadOnlySpan<double> times, ReadOnlySpan<int> channels, int label = -1, int speaker = -1)
    {
        if (times.Length != channels.Length)
            throw new ArgumentException($"Spike sample has {times.Length} times but {channels.Length} channels; pass one channel per spike time.");
        if (label < -1)
            throw new ArgumentException($"Spike sample label {label} is negative; use a class index ≥ 0, or −1 for unlabelled.");
        bool sorted = true;
        for (int i = 0; i < times.Length; i++)
        {
            double t = times[i];
            if (!double.IsFinite(t))
                throw new ArgumentException($"Spike {i} has time {t}; spike times must be finite (ms).");
            if (t < 0)
                throw new ArgumentException($"Spike {i} has negative time {t} ms; spike times must be ≥ 0.");
            if (channels[i] < 0)
                throw new ArgumentException($"Spike {i} has negative channel {channels[i]}; channels must be ≥ 0.");
            if (i > 0 && t < times[i - 1]) sorted = false;
        }
        _times = times.ToArray();
        _channels = channels.ToArray();
        if (!sorted)
        {
            double[] t0 = _times;
            int[] c0 = _channels;
            var order = Enumerable.Range(0, t0.Length).OrderBy(i => t0[i]).ToArray(); // OrderBy is stable
            _times = order.Select(i => t0[i]).ToArray();
            _channels = order.Select(i => c0[i]).ToArray();
        }
        Label = label;
        Speaker = speaker;
    }

    /// <summary>Spike times in ms, ascending.</summary>
    public ReadOnlySpan<double> Times => _times;

    /// <summary>Input channel of each spike, in the order of <see cref="Times"/>.</summary>
    public ReadOnlySpan<int> Channels => _channels;

    /// <summary>Number of spikes.</summary>
    public int Count => _times.Length;

    /// <summary>Class label, or −1 when unlabelled.</summary>
    public int Label { get; }

    /// <summary>Speaker id (SHD/SSC), or −1 when the dataset has none.</summary>
    public int Speaker { get; }

    /// <summary>Time of the last spike in ms, or 0 for an empty sample.</summary>
    public double LastSpikeTime => _times.Length == 0 ? 0 : _times[^1];

    /// <summary>Largest channel index used, or −1 for an empty sample.</summary>
    public int MaxChannel => _channels.Length == 0 ? -1 : _channels.Max();

    /// <summary>A copy of this sample with another label and/or speaker.</summary>
    public SpikeSample WithLabel(int label, int? speaker = null) => new(_times, _channels, label, speaker ?? Speaker);

    /// <inheritdoc />
    public override string ToString() => $"SpikeSample({Count} spikes, label {Label}, speaker {Speaker}, last {LastSpikeTime:0.###} ms)";
}
