using System.Buffers.Binary;
using Eventprop.Core.Data;

namespace Eventprop.Core.Audio;

/// <summary>
/// Reads RIFF WAVE files: PCM 8 (unsigned), 16, 24 and 32 bit, IEEE float 32 and 64 bit, plain or
/// WAVE_FORMAT_EXTENSIBLE, any number of channels (averaged to mono) and any sample rate.
/// </summary>
/// <remarks>
/// Our own reader rather than a DSP package: the format needs ~150 lines, and owning them lets every defect of a file
/// (truncation, an unsupported encoding, a missing chunk) be reported in one line naming the file, which the CLI's
/// <c>--skip-bad</c> relies on. Integer samples are scaled by 2^(bits−1) (8-bit: (b − 128)/128).
/// </remarks>
public static class WaveFile
{
    private const ushort FormatPcm = 1;
    private const ushort FormatFloat = 3;
    private const ushort FormatExtensible = 0xFFFE;

    /// <summary>Reads the WAV file at <paramref name="path"/> as a mono clip.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a WAV file this reader supports (the message says why, naming the file).</exception>
    public static AudioClip Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string name = Path.GetFileName(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{name}: file not found at '{Path.GetFullPath(path)}'.", path);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (IOException e) { throw new InvalidDataException($"{name}: could not read the file ({ErrorText.OneLine(e.Message)}).", e); }
        catch (UnauthorizedAccessException e) { throw new InvalidDataException($"{name}: could not read the file ({ErrorText.OneLine(e.Message)}).", e); }
        return Parse(bytes, name);
    }

    /// <summary>Parses the bytes of a WAV file; <paramref name="name"/> names it in error messages.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a WAV file this reader supports.</exception>
    public static AudioClip Parse(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length < 12 || !bytes[..4].SequenceEqual("RIFF"u8) || !bytes.Slice(8, 4).SequenceEqual("WAVE"u8))
            throw new InvalidDataException($"{name}: not a WAV file (no RIFF/WAVE header); convert it to WAV first.");
        int position = 12;
        Format? format = null;
        ReadOnlySpan<byte> data = default;
        bool haveData = false;
        while (position + 8 <= bytes.Length)
        {
            var id = bytes.Slice(position, 4);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(position + 4, 4));
            int body = position + 8;
            long available = bytes.Length - body;
            if (id.SequenceEqual("data"u8))
            {
                if (size > available)
                    throw new InvalidDataException($"{name}: the file is truncated (its data chunk declares {size} bytes, {available} are present).");
                data = bytes.Slice(body, (int)size);
                haveData = true;
                if (format is not null) break;
            }
            else if (id.SequenceEqual("fmt "u8))
            {
                if (size < 16 || size > available)
                    throw new InvalidDataException($"{name}: damaged 'fmt ' chunk ({size} bytes); expected at least 16.");
                format = ParseFormat(bytes.Slice(body, (int)size), name);
                if (haveData) break;
            }
            else if (size > available)
                throw new InvalidDataException($"{name}: the file is truncated (chunk '{Printable(id)}' declares {size} bytes, {available} are present).");
            position = checked(body + (int)size + (int)(size & 1));
        }
        if (format is null) throw new InvalidDataException($"{name}: no 'fmt ' chunk; the WAV file is damaged.");
        if (!haveData) throw new InvalidDataException($"{name}: no 'data' chunk; the WAV file is damaged or truncated.");
        return new AudioClip(Decode(data, format.Value, name), format.Value.SampleRate);
    }

    private readonly record struct Format(bool IsFloat, int Channels, int SampleRate, int BitsPerSample, int BlockAlign);

    private static Format ParseFormat(ReadOnlySpan<byte> chunk, string name)
    {
        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(chunk);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(chunk[2..]);
        uint rate = BinaryPrimitives.ReadUInt32LittleEndian(chunk[4..]);
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(chunk[12..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(chunk[14..]);
        if (tag == FormatExtensible)
        {
            if (chunk.Length < 40) throw new InvalidDataException($"{name}: damaged extensible 'fmt ' chunk ({chunk.Length} bytes, expected 40).");
            tag = BinaryPrimitives.ReadUInt16LittleEndian(chunk[24..]); // first two bytes of the sub-format GUID
        }
        if (tag is not (FormatPcm or FormatFloat))
            throw new InvalidDataException($"{name}: WAV encoding {tag} is not supported; convert to PCM (8/16/24/32-bit) or float WAV.");
        bool isFloat = tag == FormatFloat;
        if (isFloat ? bits is not (32 or 64) : bits is not (8 or 16 or 24 or 32))
            throw new InvalidDataException($"{name}: {bits}-bit {(isFloat ? "float" : "PCM")} samples are not supported; use PCM 8/16/24/32-bit or float 32/64-bit.");
        if (channels < 1) throw new InvalidDataException($"{name}: the WAV header declares {channels} channels.");
        if (rate < 1 || rate > int.MaxValue) throw new InvalidDataException($"{name}: the WAV header declares a sample rate of {rate} Hz.");
        if (blockAlign != channels * (bits / 8))
            throw new InvalidDataException($"{name}: inconsistent WAV header (block size {blockAlign} bytes for {channels} channel(s) of {bits} bits).");
        return new Format(isFloat, channels, (int)rate, bits, blockAlign);
    }

    private static double[] Decode(ReadOnlySpan<byte> data, Format f, string name)
    {
        int frames = data.Length / f.BlockAlign;
        if (frames * f.BlockAlign != data.Length && data.Length - frames * f.BlockAlign > 1) // a lone pad byte is tolerated
            throw new InvalidDataException($"{name}: the data chunk holds {data.Length} bytes, not a whole number of {f.BlockAlign}-byte frames; the file is damaged.");
        int width = f.BitsPerSample / 8;
        var samples = new double[frames];
        double mix = 1.0 / f.Channels;
        for (int i = 0; i < frames; i++)
        {
            double sum = 0;
            var frame = data.Slice(i * f.BlockAlign, f.BlockAlign);
            for (int c = 0; c < f.Channels; c++)
                sum += Sample(frame.Slice(c * width, width), f);
            samples[i] = sum * mix;
        }
        for (int i = 0; i < frames; i++)
            if (!double.IsFinite(samples[i]))
                throw new InvalidDataException($"{name}: sample {i} is not a finite number; the float WAV file is damaged.");
        return samples;
    }

    private static double Sample(ReadOnlySpan<byte> b, Format f) => (f.IsFloat, f.BitsPerSample) switch
    {
        (true, 32) => BinaryPrimitives.ReadSingleLittleEndian(b),
        (true, _) => BinaryPrimitives.ReadDoubleLittleEndian(b),
        (false, 8) => (b[0] - 128) / 128.0,
        (false, 16) => BinaryPrimitives.ReadInt16LittleEndian(b) / 32768.0,
        (false, 24) => ((b[0] | (b[1] << 8) | (b[2] << 16)) << 8 >> 8) / 8388608.0,
        _ => BinaryPrimitives.ReadInt32LittleEndian(b) / 2147483648.0,
    };

    private static string Printable(ReadOnlySpan<byte> id)
    {
        Span<char> chars = stackalloc char[id.Length];
        for (int i = 0; i < id.Length; i++) chars[i] = id[i] is >= 32 and < 127 ? (char)id[i] : '?';
        return new string(chars);
    }
}
