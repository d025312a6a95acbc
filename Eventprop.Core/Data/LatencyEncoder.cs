namespace Eventprop.Core.Data;

/// <summary>
/// Latency (time-to-first-spike) encoding of grey-scale images (Nowotny et al., latency MNIST): a pixel with grey
/// value g above <see cref="SilentAtOrBelow"/> fires one spike on channel = pixel index at
/// t = (255 − g)/255 · (T − 4 dt) + 2 dt, so that darker pixels fire earlier and every spike lies in [2 dt, T − 2 dt].
/// </summary>
public sealed record LatencyEncoder
{
    /// <summary>Trial duration T in ms (default 20).</summary>
    public double DurationMs { get; init; } = 20.0;

    /// <summary>Simulation time step dt in ms (default 1); keeps spikes 2 dt away from both ends of the trial.</summary>
    public double TimeStepMs { get; init; } = 1.0;

    /// <summary>Pixels with a grey value at or below this stay silent (default 1, i.e. pixels with g &gt; 1 fire).</summary>
    public byte SilentAtOrBelow { get; init; } = 1;

    /// <summary>The spike time in ms of a pixel with grey value <paramref name="grey"/> (whether or not it fires).</summary>
    public double SpikeTime(byte grey) => (255 - grey) / 255.0 * (DurationMs - 4 * TimeStepMs) + 2 * TimeStepMs;

    /// <summary>Encodes one image: one spike per pixel above <see cref="SilentAtOrBelow"/>, channel = pixel index.</summary>
    /// <param name="pixels">Grey values (0–255), one per channel.</param>
    /// <param name="label">Class label of the sample, or −1.</param>
    /// <exception cref="ArgumentException">T − 4 dt is negative or a parameter is not finite.</exception>
    public SpikeSample Encode(ReadOnlySpan<byte> pixels, int label = -1)
    {
        if (!double.IsFinite(DurationMs) || !double.IsFinite(TimeStepMs) || TimeStepMs < 0 || DurationMs < 4 * TimeStepMs)
            throw new ArgumentException($"Latency encoding needs finite T ≥ 4 dt ≥ 0; got T = {DurationMs} ms, dt = {TimeStepMs} ms.");
        int n = 0;
        foreach (byte g in pixels)
            if (g > SilentAtOrBelow) n++;
        var times = new double[n];
        var channels = new int[n];
        int k = 0;
        for (int i = 0; i < pixels.Length; i++)
        {
            if (pixels[i] <= SilentAtOrBelow) continue;
            times[k] = SpikeTime(pixels[i]);
            channels[k] = i;
            k++;
        }
        return new SpikeSample(times, channels, label);
    }
}

/// <summary>Loads latency-encoded MNIST: IDX images and labels through <see cref="MnistIdx"/>, encoded by a <see cref="LatencyEncoder"/>.</summary>
public static class MnistLatency
{
    /// <summary>Reads an images file and a labels file and encodes every image (channels = pixels, 784 for MNIST; classes "0".."9").</summary>
    /// <param name="imagesPath">IDX3 images file, gzip-compressed or raw (e.g. <c>train-images-idx3-ubyte.gz</c>).</param>
    /// <param name="labelsPath">IDX1 labels file, gzip-compressed or raw (e.g. <c>train-labels-idx1-ubyte.gz</c>).</param>
    /// <param name="encoder">The encoding; defaults to T = 20 ms, dt = 1 ms, pixels with g &gt; 1 fire.</param>
    /// <exception cref="InvalidDataException">A file is malformed, the counts disagree, or a label is above 9.</exception>
    public static SpikeDataset Load(string imagesPath, string labelsPath, LatencyEncoder? encoder = null)
    {
        var images = MnistIdx.ReadImages(imagesPath);
        var labels = MnistIdx.ReadLabels(labelsPath);
        return EncodeChecked(images, labels, encoder, $"{Path.GetFileName(imagesPath)} (latency)", labelsName: Path.GetFileName(labelsPath));
    }

    /// <summary>Encodes images already in memory; labels are digits 0–9.</summary>
    /// <param name="images">The images.</param>
    /// <param name="labels">One label (0–9) per image.</param>
    /// <param name="encoder">The encoding; defaults to T = 20 ms, dt = 1 ms, pixels with g &gt; 1 fire.</param>
    /// <param name="name">Name of the resulting dataset.</param>
    /// <exception cref="InvalidDataException">The counts disagree or a label is above 9.</exception>
    public static SpikeDataset Encode(MnistImages images, IReadOnlyList<byte> labels, LatencyEncoder? encoder = null, string name = "MNIST (latency)") =>
        EncodeChecked(images, labels, encoder, name, labelsName: "labels");

    private static SpikeDataset EncodeChecked(MnistImages images, IReadOnlyList<byte> labels, LatencyEncoder? encoder, string name, string labelsName)
    {
        CheckLabels(images, labels, labelsName);
        encoder ??= new LatencyEncoder();
        var samples = new SpikeSample[images.Count];
        for (int i = 0; i < samples.Length; i++)
            samples[i] = encoder.Encode(images.Image(i), labels[i]);
        return new SpikeDataset(samples, images.PixelsPerImage, SpikeDataset.NumberedClassNames(Classes), name);
    }

    /// <summary>MNIST's ten classes, the digits 0–9.</summary>
    internal const int Classes = 10;

    /// <summary>Checks that there is one label per image and every label is a digit 0–9.</summary>
    /// <exception cref="InvalidDataException">The counts disagree or a label is above 9.</exception>
    internal static void CheckLabels(MnistImages images, IReadOnlyList<byte> labels, string labelsName)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count != images.Count)
            throw new InvalidDataException($"{labelsName}: {labels.Count} labels for {images.Count} images; the files do not belong together.");
        for (int i = 0; i < labels.Count; i++)
            if (labels[i] >= Classes)
                throw new InvalidDataException($"{labelsName}: label {i} is {labels[i]}; MNIST labels are digits 0–9.");
    }
}
