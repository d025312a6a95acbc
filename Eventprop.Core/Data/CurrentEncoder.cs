namespace Eventprop.Core.Data;

/// <summary>
/// Analog (constant-current) encoding of grey-scale images, seed 004 §2.1: pixel j with grey value g becomes the constant
/// input value x_j = g/255 ∈ [0, 1] on channel j for the whole trial (<see cref="SpikeSample.FromCurrents"/>); no spikes.
/// Channel j is the pixel index (row-major, channel-major for several colour channels), the layout a conv first layer reads.
/// </summary>
public sealed record CurrentEncoder
{
    /// <summary>The input value of a pixel with grey value <paramref name="grey"/>: g/255.</summary>
    public static double Value(byte grey) => grey / 255.0;

    /// <summary>Encodes one image: one constant input value per pixel, channel = pixel index.</summary>
    /// <param name="pixels">Grey values (0–255), one per channel; at least one.</param>
    /// <param name="label">Class label of the sample, or −1.</param>
    /// <exception cref="ArgumentException">The image has no pixels or the label is below −1.</exception>
    public SpikeSample Encode(ReadOnlySpan<byte> pixels, int label = -1)
    {
        var x = new double[pixels.Length];
        for (int i = 0; i < x.Length; i++) x[i] = Value(pixels[i]);
        return SpikeSample.FromCurrents(x, label);
    }
}

/// <summary>Loads MNIST as analog input (<see cref="CurrentEncoder"/>: x = g/255 per pixel), IDX images and labels through <see cref="MnistIdx"/>.</summary>
public static class MnistCurrent
{
    /// <summary>Reads an images file and a labels file and encodes every image (channels = pixels, 784 for MNIST; classes "0".."9").</summary>
    /// <param name="imagesPath">IDX3 images file, gzip-compressed or raw (e.g. <c>train-images-idx3-ubyte.gz</c>).</param>
    /// <param name="labelsPath">IDX1 labels file, gzip-compressed or raw (e.g. <c>train-labels-idx1-ubyte.gz</c>).</param>
    /// <exception cref="InvalidDataException">A file is malformed, the counts disagree, or a label is above 9.</exception>
    public static SpikeDataset Load(string imagesPath, string labelsPath)
    {
        var images = MnistIdx.ReadImages(imagesPath);
        var labels = MnistIdx.ReadLabels(labelsPath);
        return EncodeChecked(images, labels, $"{Path.GetFileName(imagesPath)} (current)", Path.GetFileName(labelsPath));
    }

    /// <summary>Encodes images already in memory; labels are digits 0–9.</summary>
    /// <param name="images">The images.</param>
    /// <param name="labels">One label (0–9) per image.</param>
    /// <param name="name">Name of the resulting dataset.</param>
    /// <exception cref="InvalidDataException">The counts disagree or a label is above 9.</exception>
    public static SpikeDataset Encode(MnistImages images, IReadOnlyList<byte> labels, string name = "MNIST (current)") =>
        EncodeChecked(images, labels, name, "labels");

    /// <summary>The images' shape as [channels, height, width] (MNIST: [1, 28, 28]), the <c>network.input_shape</c> of a conv first layer.</summary>
    /// <param name="images">The images.</param>
    public static int[] Shape(MnistImages images)
    {
        ArgumentNullException.ThrowIfNull(images);
        return [1, images.Rows, images.Columns];
    }

    private static SpikeDataset EncodeChecked(MnistImages images, IReadOnlyList<byte> labels, string name, string labelsName)
    {
        MnistLatency.CheckLabels(images, labels, labelsName);
        var encoder = new CurrentEncoder();
        var samples = new SpikeSample[images.Count];
        for (int i = 0; i < samples.Length; i++)
            samples[i] = encoder.Encode(images.Image(i), labels[i]);
        return new SpikeDataset(samples, images.PixelsPerImage, SpikeDataset.NumberedClassNames(MnistLatency.Classes), name);
    }
}
