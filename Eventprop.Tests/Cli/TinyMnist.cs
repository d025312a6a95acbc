using Eventprop.Core.Data;
using Eventprop.Tests.Data;

namespace Eventprop.Tests.Cli;

/// <summary>A tiny MNIST in the real IDX layout (4×4 or <c>side</c>×<c>side</c> images with known pixels, labels 0/1 alternating) for CLI tests.</summary>
internal static class TinyMnist
{
    /// <summary>Writes the four IDX files into <paramref name="dir"/>; returns the training pixels (side² per image, in order).</summary>
    public static byte[] Write(TempDirectory dir, int train, int test, int side = 4)
    {
        byte[] Pixels(int count, int offset) => Enumerable.Range(0, count * side * side).Select(i => (byte)((i * 37 + offset) % 256)).ToArray();
        static byte[] Labels(int count) => Enumerable.Range(0, count).Select(i => (byte)(i % 2)).ToArray();
        var trainPixels = Pixels(train, 0);
        MnistIdxWriter.WriteImages(dir.File("train-images-idx3-ubyte"), new MnistImages(train, side, side, trainPixels));
        MnistIdxWriter.WriteLabels(dir.File("train-labels-idx1-ubyte"), Labels(train));
        MnistIdxWriter.WriteImages(dir.File("t10k-images-idx3-ubyte"), new MnistImages(test, side, side, Pixels(test, 11)));
        MnistIdxWriter.WriteLabels(dir.File("t10k-labels-idx1-ubyte"), Labels(test));
        return trainPixels;
    }
}
