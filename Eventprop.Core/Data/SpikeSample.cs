namespace Eventprop.Core.Data;

/// <summary>
/// One trial of input spikes: parallel arrays of spike times (ms) and input channels, sorted by time,
/// with a class label and an optional speaker id. Immutable once built. Or, made by <see cref="FromCurrents"/>, an
/// analog trial: one constant input value per channel (seed 004's image as a constant current) and no spikes.
/// </summary>
/// <remarks>
/// The constructor validates its input and sorts unsorted spikes by time (a stable sort, so spikes with
/// equal times keep their order). Times must be finite and non-negative, channels non-negative; whether a
/// channel fits a network's input population is checked where the sample meets the network.
/// An analog sample (<see cref="IsAnalog"/>) has <see cref="Count"/> = 0 and its values in <see cref="Currents"/>; only
/// the surrogate-gradient engine takes it (docs/analog-input.md), the others and the spike augmentations refuse it.
/// </remarks>
public sealed class SpikeSample
{
    private readonly double[] _times;
    private readonly int[] _channels;
    private readonly double[]? _currents;

    private SpikeSample(double[] currents, int label, int speaker)
    {
        _times = [];
        _channels = [];
        _currents = currents;
        Label = label;
        Speaker = speaker;
    }

    /// <summary>
    /// An analog sample: input channel j carries the constant value <paramref name="currents"/>[j] during the whole trial
    /// (seed 004 §2.1: the image injected as a constant input current, x = g/255 per pixel). It has no spikes.
    /// </summary>
    /// <param name="currents">One value per input channel, each finite and in [0, 1]; at least one.</param>
    /// <param name="label">Class label (≥ 0), or −1 for an unlabelled sample.</param>
    /// <param name="speaker">Speaker id where the dataset has one, else −1.</param>
    /// <exception cref="ArgumentException">No values, a value outside [0, 1] or not finite, or the label is below −1.</exception>
    public static SpikeSample FromCurrents(ReadOnlySpan<double> currents, int label = -1, int speaker = -1)
    {
        if (currents.Length == 0)
            throw new ArgumentException("An analog sample needs one input value per channel; got none.");
        if (label < -1)
            throw new ArgumentException($"Spike sample label {label} is negative; use a class index ≥ 0, or −1 for unlabelled.");
        for (int i = 0; i < currents.Length; i++)
        {
            double x = currents[i];
            if (!double.IsFinite(x) || x < 0 || x > 1)
                throw new ArgumentException($"Analog input value {i} is {x}; input currents must be finite and in [0, 1] (scale the data, e.g. x = g/255 for grey values).");
        }
        return new SpikeSample(currents.ToArray(), label, speaker);
    }

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

    /// <summary>Number of spikes (0 for an analog sample).</summary>
    public int Count => _times.Length;

    /// <summary>Whether this is an analog sample (<see cref="FromCurrents"/>): constant input values and no spikes.</summary>
    public bool IsAnalog => _currents is not null;

    /// <summary>An analog sample's constant input value per channel, in [0, 1] (empty for a spike sample).</summary>
    public ReadOnlySpan<double> Currents => _currents;

    /// <summary>Class label, or −1 when unlabelled.</summary>
    public int Label { get; }

    /// <summary>Speaker id (SHD/SSC), or −1 when the dataset has none.</summary>
    public int Speaker { get; }

    /// <summary>Time of the last spike in ms, or 0 for an empty sample.</summary>
    public double LastSpikeTime => _times.Length == 0 ? 0 : _times[^1];

    /// <summary>Largest channel index used, or −1 for an empty sample (an analog sample uses all its channels: their count − 1).</summary>
    public int MaxChannel => _currents is { } x ? x.Length - 1 : _channels.Length == 0 ? -1 : _channels.Max();

    /// <summary>A copy of this sample with another label and/or speaker.</summary>
    public SpikeSample WithLabel(int label, int? speaker = null) =>
        _currents is { } x ? new SpikeSample(x, label, speaker ?? Speaker) : new(_times, _channels, label, speaker ?? Speaker);

    /// <summary>Throws the one-line refusal of a consumer that needs spikes when this sample is analog.</summary>
    /// <param name="consumer">What refuses it, in the user's words (e.g. "The exact Eventprop engine", "augment.shift").</param>
    /// <exception cref="ArgumentException">The sample is analog.</exception>
    public void RequireSpikes(string consumer)
    {
        if (_currents is not null)
            throw new ArgumentException($"{consumer} needs input spikes, but this sample is analog (a constant input current per channel, dataset.encoding current); use the surrogate engine (method surrogate) or latency-encoded input (dataset.encoding latency).");
    }

    /// <inheritdoc />
    public override string ToString() => _currents is { } x
        ? $"SpikeSample(analog, {x.Length} channels, label {Label}, speaker {Speaker})"
        : $"SpikeSample({Count} spikes, label {Label}, speaker {Speaker}, last {LastSpikeTime:0.###} ms)";
}
