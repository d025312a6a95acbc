using System.Buffers.Binary;
using System.IO.Compression;

namespace Eventprop.Core.Data;

/// <summary>A stack of grey-scale images as stored in an MNIST IDX file: <see cref="Count"/> images of
/// <see cref="Rows"/> × <see cref="Columns"/> bytes (0 = white background, 255 = black ink), row-major.</summary>
public sealed class MnistImages
{
    private readonly byte[] _pixels;

    /// <summary>Wraps pixel data of <paramref name="count"/> images of <paramref name="rows"/> × <paramref name="columns"/> pixels.</summary>
    /// <exception cref="ArgumentException">The pixel array does not hold exactly count × rows × columns bytes.</exception>
    public MnistImages(int count, int rows, int columns, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (count < 0 || rows < 1 || columns < 1 || (long)count * rows * columns != pixels.Length)
            throw new ArgumentException($"{count} images of {rows}×{columns} pixels need {(long)count * rows * columns} bytes, got {pixels.Length}.");
        Count = count;
        Rows = rows;
        Columns = columns;
        _pixels = pixels;
    }

    /// <summary>Number of images.</summary>
    public int Count { get; }

    /// <summary>Pixel rows per image (28 for MNIST).</summary>
    public int Rows { get; }

    /// <summary>Pixel columns per image (28 for MNIST).</summary>
    public int Columns { get; }

    /// <summary>Pixels per image (= <see cref="Rows"/> × <see cref="Columns"/>).</summary>
    public int PixelsPerImage => Rows * Columns;

    /// <summary>The grey values of image <paramref name="index"/>, row-major (pixel index = row × Columns + column).</summary>
    public ReadOnlySpan<byte> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return _pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);
    }
}

/// <summary>
/// Reads MNIST-style IDX files (<c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>, …), gzip-compressed
/// or raw (detected from the first bytes). Checks the magic number (unsigned bytes, 3 dimensions for images,
/// 1 for labels), the dimensions and that the file holds exactly the data its header announces.
/// </summary>
public static class MnistIdx
{
    /// <summary>Magic number of an IDX file of unsigned bytes with three dimensions (images).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX file of unsigned bytes with one dimension (labels).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Reads an images file (IDX3, unsigned bytes).</summary>
    /// <param name="path">Path of the file, gzip-compressed or raw.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Wrong magic number, bad dimensions, or a size that disagrees with the header.</exception>
    public static MnistImages ReadImages(string path)
    {
        string name = Path.GetFileName(path);
        using var stream = OpenMaybeGzip(path);
        int magic = ReadHeaderInt(stream, name, "magic number");
        if (magic != ImagesMagic)
            throw new InvalidDataException($"{name}: magic number 0x{magic:x8} is not 0x{ImagesMagic:x8} (IDX images of unsigned bytes, 3 dimensions); is this an images file?");
        int count = ReadHeaderInt(stream, name, "image count");
        int rows = ReadHeaderInt(stream, name, "row count");
        int columns = ReadHeaderInt(stream, name, "column count");
        if (count < 0 || rows < 1 || columns < 1 || (long)count * rows * columns > Array.MaxLength)
            throw new InvalidDataException($"{name}: header announces {count} images of {rows}×{columns} pixels, which is not a valid size.");
        byte[] pixels = ReadPayload(stream, name, (long)count * rows * columns, "pixel");
        return new MnistImages(count, rows, columns, pixels);
    }

    /// <summary>Reads a labels file (IDX1, unsigned bytes).</summary>
    /// <param name="path">Path of the file, gzip-compressed or raw.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Wrong magic number, or a size that disagrees with the header.</exception>
    public static byte[] ReadLabels(string path)
    {
        string name = Path.GetFileName(path);
        using var stream = OpenMaybeGzip(path);
        int magic = ReadHeaderInt(stream, name, "magic number");
        if (magic != LabelsMagic)
            throw new InvalidDataException($"{name}: magic number 0x{magic:x8} is not 0x{LabelsMagic:x8} (IDX labels of unsigned bytes, 1 dimension); is this a labels file?");
        int count = ReadHeaderInt(stream, name, "label count");
        if (count < 0)
            throw new InvalidDataException($"{name}: header announces {count} labels.");
        return ReadPayload(stream, name, count, "label");
    }

    private static Stream OpenMaybeGzip(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{Path.GetFileName(path)}: file not found at '{Path.GetFullPath(path)}'.", path);
        var file = File.OpenRead(path);
        int b0 = file.ReadByte(), b1 = file.ReadByte();
        file.Position = 0;
        if (b0 == 0x1f && b1 == 0x8b)
            return new BufferedStream(new GZipStream(file, CompressionMode.Decompress), 1 << 16);
        return file;
    }

    private static int ReadHeaderInt(Stream stream, string name, string what)
    {
        Span<byte> buffer = stackalloc byte[4];
        if (ReadFully(stream, buffer, name) < 4)
            throw new InvalidDataException($"{name}: file ends inside the header (reading the {what}); the file is truncated or not an IDX file.");
        return BinaryPrimitives.ReadInt32BigEndian(buffer);
    }

    private static byte[] ReadPayload(Stream stream, string name, long length, string what)
    {
        var data = new byte[length];
        int read = ReadFully(stream, data, name);
        if (read < length)
            throw new InvalidDataException($"{name}: header announces {length} {what} bytes but the file holds only {read}; the file is truncated.");
        Span<byte> probe = stackalloc byte[1];
        if (ReadFully(stream, probe, name) != 0)
            throw new InvalidDataException($"{name}: the file holds more data than its header announces ({length} {what} bytes); is the header right?");
        return data;
    }

    private static int ReadFully(Stream stream, Span<byte> buffer, string name)
    {
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int n = stream.Read(buffer[total..]);
                if (n == 0) break;
                total += n;
            }
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{name}: damaged gzip data ({ErrorText.OneLine(e.Message)}).", e);
        }
        return total;
    }
}
