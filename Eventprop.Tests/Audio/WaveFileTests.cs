using System.Buffers.Binary;
using Eventprop.Core.Audio;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Audio;

/// <summary>WAV files of every supported format, written here byte by byte, read back to the samples they hold.</summary>
public sealed class WaveFileTests
{
    /// <summary>Samples exactly representable in every format (multiples of 1/128 in [−1, 1)).</summary>
    private static readonly double[] Values = [0, 0.5, -0.5, 0.25, -1, 127 / 128.0, -3 / 128.0, 1 / 128.0];

    /// <summary>A RIFF/WAVE file: tag 1 (PCM), 3 (float) or 0xFFFE (extensible, with the sub-format's tag), any channels.</summary>
    internal static byte[] Wave(ushort tag, int bits, int channels, int rate, double[][] frames, ushort? subFormat = null, bool listChunk = false)
    {
        int width = bits / 8;
        var data = new byte[frames.Length * channels * width];
        for (int i = 0; i < frames.Length; i++)
            for (int c = 0; c < channels; c++)
            {
                var b = data.AsSpan((i * channels + c) * width, width);
                double v = frames[i][c];
                bool isFloat = (subFormat ?? tag) == 3;
                if (isFloat && bits == 32) BinaryPrimitives.WriteSingleLittleEndian(b, (float)v);
                else if (isFloat) BinaryPrimitives.WriteDoubleLittleEndian(b, v);
                else if (bits == 8) b[0] = (byte)(v * 128 + 128);
                else if (bits == 16) BinaryPrimitives.WriteInt16LittleEndian(b, (short)(v * 32768));
                else if (bits == 24) { int s = (int)(v * 8388608); b[0] = (byte)s; b[1] = (byte)(s >> 8); b[2] = (byte)(s >> 16); }
                else BinaryPrimitives.WriteInt32LittleEndian(b, (int)(v * 2147483648.0));
            }
        int fmtSize = tag == 0xFFFE ? 40 : 16;
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write("RIFF"u8); w.Write(0); w.Write("WAVE"u8);
        if (listChunk) { w.Write("LIST"u8); w.Write(3); w.Write("abc"u8); w.Write((byte)0); } // odd size: padded
        w.Write("fmt "u8); w.Write(fmtSize);
        w.Write(tag); w.Write((ushort)channels); w.Write(rate); w.Write(rate * channels * width); w.Write((ushort)(channels * width)); w.Write((ushort)bits);
        if (tag == 0xFFFE)
        {
            w.Write((ushort)22); w.Write((ushort)bits); w.Write(0);
            w.Write(subFormat!.Value); w.Write(new byte[] { 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71 });
        }
        w.Write("data"u8); w.Write(data.Length); w.Write(data);
        w.Flush();
        var bytes = ms.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), bytes.Length - 8);
        return bytes;
    }

    [Theory]
    [InlineData((ushort)1, 8)]
    [InlineData((ushort)1, 16)]
    [InlineData((ushort)1, 24)]
    [InlineData((ushort)1, 32)]
    [InlineData((ushort)3, 32)]
    [InlineData((ushort)3, 64)]
    public void EachFormatReadsBackTheSamplesItHolds(ushort tag, int bits)
    {
        using var dir = new TempDirectory();
        string path = dir.File($"tone-{tag}-{bits}.wav");
        File.WriteAllBytes(path, Wave(tag, bits, 1, 11025, Values.Select(v => new[] { v }).ToArray(), listChunk: true));
        var clip = WaveFile.Read(path);
        Assert.Equal(11025, clip.SampleRate);
        Assert.Equal(Values, clip.Samples);
    }

    [Theory]
    [InlineData((ushort)1, 16)]
    [InlineData((ushort)1, 24)]
    [InlineData((ushort)3, 32)]
    public void ExtensibleFormatsReadLikeThePlainOnes(ushort subFormat, int bits)
    {
        var bytes = Wave(0xFFFE, bits, 1, 8000, Values.Select(v => new[] { v }).ToArray(), subFormat);
        Assert.Equal(Values, WaveFile.Parse(bytes, "x.wav").Samples);
    }

    [Fact]
    public void StereoIsMixedToMonoByAveraging()
    {
        var frames = Values.Select((v, i) => new[] { v, i % 2 == 0 ? 0.5 : -0.25 }).ToArray();
        var clip = WaveFile.Parse(Wave(1, 16, 2, 44100, frames), "stereo.wav");
        Assert.Equal(44100, clip.SampleRate);
        Assert.Equal(frames.Select(f => (f[0] + f[1]) / 2), clip.Samples);
    }

    [Fact]
    public void DamagedFilesAreOneLineErrorsNamingTheFile()
    {
        var good = Wave(1, 16, 1, 8000, Values.Select(v => new[] { v }).ToArray());
        var truncated = good[..^5];
        var e = Assert.Throws<InvalidDataException>(() => WaveFile.Parse(truncated, "cut.wav"));
        Assert.StartsWith("cut.wav: ", e.Message);
        Assert.Contains("truncated", e.Message);
        var notWave = Assert.Throws<InvalidDataException>(() => WaveFile.Parse("hello world, not audio"u8, "notes.txt"));
        Assert.Contains("notes.txt: not a WAV file", notWave.Message);
        var alaw = Wave(1, 16, 1, 8000, [[0.0]]);
        BinaryPrimitives.WriteUInt16LittleEndian(alaw.AsSpan(20), 6);
        Assert.Contains("encoding 6 is not supported", Assert.Throws<InvalidDataException>(() => WaveFile.Parse(alaw, "a.wav")).Message);
        foreach (var m in new[] { e.Message, notWave.Message }) Assert.DoesNotContain('\n', m);
    }
}
