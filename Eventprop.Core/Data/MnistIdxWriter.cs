using System.Buffers.Binary;

namespace Eventprop.Core.Data;

/// <summary>Writes MNIST IDX files (uncompressed), the layout <see cref="MnistIdx"/> reads; atomically (temporary file, then rename).</summary>
public static class MnistIdxWriter
{
    /// <summary>Writes an IDX3 images file.</summary>
    public static void WriteImages(string path, MnistImages images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var header = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(0), MnistIdx.ImagesMagic);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), images.Count);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), images.Rows);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), images.Columns);
        WriteAtomic(path, stream =>
        {
            stream.Write(header);
            for (int i = 0; i < images.Count; i++) stream.Write(images.Image(i));
        });
    }

    /// <summary>Writes an IDX1 labels file.</summary>
    public static void WriteLabels(string path, ReadOnlySpan<byte> labels)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(0), MnistIdx.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), labels.Length);
        var copy = labels.ToArray();
        WriteAtomic(path, stream =>
        {
            stream.Write(header);
            stream.Write(copy);
        });
    }

    private static void WriteAtomic(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write)) write(stream);
            File.Move(temp, full, overwrite: false);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
