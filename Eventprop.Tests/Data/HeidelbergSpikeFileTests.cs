using System.IO.Compression;
using Eventprop.Core.Data;
using PureHDF;
using Xunit;

namespace Eventprop.Tests.Data;

public sealed class HeidelbergSpikeFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static void AssertOneLine(Exception e, params string[] fragments)
    {
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message, StringComparison.Ordinal);
    }

    private InvalidDataException ReadBroken(HeidelbergLayout layout, string fileName = "broken.h5")
    {
        string path = _dir.File(fileName);
        layout.Write(path);
        return Assert.Throws<InvalidDataException>(() => HeidelbergSpikeFile.Read(path));
    }

    [Fact]
    public void Reads_float16_seconds_as_milliseconds_with_units_labels_speakers_and_keys()
    {
        var layout = HeidelbergLayout.Valid();
        string path = _dir.File("shd_like.h5");
        layout.Write(path);

        var data = HeidelbergSpikeFile.Read(path);

        var times = (Half[]?[])layout.Times!;
        var units = (ushort[]?[])layout.Units!;
        var labels = (ushort[])layout.Labels!;
        var speakers = (ushort[])layout.Speakers!;
        Assert.Equal("shd_like.h5", data.Name);
        Assert.Equal(700, data.ChannelCount);
        Assert.Equal(layout.Keys, data.ClassNames);
        Assert.Equal(times.Length, data.Count);
        for (int i = 0; i < times.Length; i++)
        {
            var expectedTimes = (times[i] ?? []).Select(h => (double)h * 1000.0).ToArray();
            var expectedUnits = (units[i] ?? []).Select(u => (int)u).ToArray();
            Assert.Equal(expectedTimes, data[i].Times.ToArray());
            Assert.Equal(expectedUnits, data[i].Channels.ToArray());
            Assert.Equal(labels[i], data[i].Label);
            Assert.Equal(speakers[i], data[i].Speaker);
        }
        Assert.Equal(0, data[1].Count); // the empty (null) trial
    }

    [Fact]
    public void Reads_float32_and_float64_times_wide_units_and_signed_labels()
    {
        var f32 = new HeidelbergLayout
        {
            Times = new float[][] { [0.0f, 0.1234567f], [] },
            Units = new uint[][] { [5, 6], [] },
            Labels = new int[] { 2, 0 },
        };
        string p32 = _dir.File("f32.h5");
        f32.Write(p32);
        var d32 = HeidelbergSpikeFile.Read(p32);
        Assert.Equal(new[] { 0.0, (double)0.1234567f * 1000.0 }, d32[0].Times.ToArray());
        Assert.Equal(new[] { 5, 6 }, d32[0].Channels.ToArray());
        Assert.Equal(0, d32[1].Count);
        Assert.Equal(-1, d32[0].Speaker); // no extra/speaker
        Assert.Equal(new[] { "0", "1", "2" }, d32.ClassNames); // no extra/keys: named by label

        var f64 = new HeidelbergLayout
        {
            Times = new double[][] { [0.1, 0.3, 0.2] },
            Units = new byte[][] { [1, 2, 3] },
            Labels = new long[] { 0 },
            Speakers = new uint[] { 11 },
        };
        string p64 = _dir.File("f64.h5");
        f64.Write(p64);
        var d64 = HeidelbergSpikeFile.Read(p64);
        // unsorted file times are sorted together with their units
        Assert.Equal(new[] { 0.1 * 1000, 0.2 * 1000, 0.3 * 1000 }, d64[0].Times.ToArray());
        Assert.Equal(new[] { 1, 3, 2 }, d64[0].Channels.ToArray());
        Assert.Equal(11, d64[0].Speaker);
    }

    [Fact]
    public void Reads_fixed_length_class_names_and_meta_info()
    {
        var layout = HeidelbergLayout.Valid();
        layout.FixedStringLength = 12;
        layout.MetaInfo = new H5Group
        {
            ["age"] = new ushort[] { 25, 31 },
            ["body_height"] = new double[] { 1.75, 1.62 },
            ["gender"] = new[] { "female", "male" },
            ["pairs"] = new ushort[][] { [1, 2], [3] },
        };
        string path = _dir.File("meta.h5");
        layout.Write(path);

        var data = HeidelbergSpikeFile.Read(path);

        Assert.Equal(layout.Keys, data.ClassNames);
        Assert.Equal(new[] { "25", "31" }, data.MetaInfo["age"]);
        Assert.Equal(new[] { "1.75", "1.62" }, data.MetaInfo["body_height"]);
        Assert.Equal(new[] { "female", "male" }, data.MetaInfo["gender"]);
        Assert.StartsWith("<not decoded: variable-length", Assert.Single(data.MetaInfo["pairs"]));
    }

    [Fact]
    public void Reads_across_block_boundaries()
    {
        int trials = 2 * 512 + 37; // three blocks
        var random = new Random(5);
        var times = new float[trials][];
        var units = new ushort[trials][];
        for (int i = 0; i < trials; i++)
        {
            int n = random.Next(0, 6);
            times[i] = Enumerable.Range(0, n).Select(k => (float)(k * 0.01 + i * 1e-4)).ToArray();
            units[i] = Enumerable.Range(0, n).Select(_ => (ushort)random.Next(700)).ToArray();
        }
        var labels = Enumerable.Range(0, trials).Select(i => (ushort)(i % 20)).ToArray();
        string path = _dir.File("blocks.h5");
        new HeidelbergLayout { Times = times, Units = units, Labels = labels }.Write(path);

        var data = HeidelbergSpikeFile.Read(path);

        Assert.Equal(trials, data.Count);
        for (int i = 0; i < trials; i++)
        {
            Assert.Equal(times[i].Select(t => (double)t * 1000.0).ToArray(), data[i].Times.ToArray());
            Assert.Equal(units[i].Select(u => (int)u).ToArray(), data[i].Channels.ToArray());
            Assert.Equal(labels[i], data[i].Label);
        }
    }

    [Theory]
    [InlineData("spikes/times")]
    [InlineData("spikes/units")]
    [InlineData("labels")]
    public void Missing_dataset_is_named(string missing)
    {
        var layout = HeidelbergLayout.Valid();
        if (missing == "spikes/times") layout.Times = null;
        if (missing == "spikes/units") layout.Units = null;
        if (missing == "labels") layout.Labels = null;
        var e = ReadBroken(layout, "missing.h5");
        AssertOneLine(e, "missing.h5", $"'{missing}' is missing");
    }

    [Fact]
    public void Lengths_that_disagree_are_reported()
    {
        var layout = HeidelbergLayout.Valid();
        layout.Labels = new ushort[] { 1, 2 };
        AssertOneLine(ReadBroken(layout, "lengths.h5"), "lengths.h5", "lengths disagree", "'labels' has 2");

        layout = HeidelbergLayout.Valid();
        layout.Speakers = new ushort[] { 1, 2, 3, 4 };
        AssertOneLine(ReadBroken(layout, "speakers.h5"), "speakers.h5", "'extra/speaker' has 4");
    }

    [Fact]
    public void Trial_with_more_times_than_units_is_reported()
    {
        var layout = HeidelbergLayout.Valid();
        layout.Units = new ushort[]?[] { [3, 699], null, [42] };
        AssertOneLine(ReadBroken(layout, "pertrial.h5"), "pertrial.h5", "trial 0 has 3 spike times but 2 units");
    }

    [Fact]
    public void Unit_at_or_above_700_is_reported()
    {
        var layout = HeidelbergLayout.Valid();
        layout.Units = new ushort[]?[] { [3, 700, 0], null, [42] };
        AssertOneLine(ReadBroken(layout, "unit.h5"), "unit.h5", "trial 0, spike 1 has unit 700", "0..699");
    }

    [Fact]
    public void Negative_or_NaN_time_is_reported()
    {
        var layout = HeidelbergLayout.Valid();
        layout.Times = new Half[]?[] { [(Half)0.001f, (Half)(-0.25f), (Half)0.5f], null, [(Half)1.0f] };
        AssertOneLine(ReadBroken(layout, "negative.h5"), "negative.h5", "trial 0, spike 1", "-0.25 s");

        layout = HeidelbergLayout.Valid();
        layout.Times = new Half[]?[] { [(Half)0.001f, (Half)0.25f, (Half)0.5f], null, [Half.NaN] };
        AssertOneLine(ReadBroken(layout, "nan.h5"), "nan.h5", "trial 2, spike 0", "NaN");
    }

    [Fact]
    public void Label_out_of_range_is_reported()
    {
        var layout = HeidelbergLayout.Valid();
        layout.Labels = new ushort[] { 1, 20, 0 };
        AssertOneLine(ReadBroken(layout, "label.h5"), "label.h5", "trial 1 has label 20", "0..19");

        layout = HeidelbergLayout.Valid();
        layout.Keys = null;
        layout.Labels = new short[] { 1, -3, 0 };
        AssertOneLine(ReadBroken(layout, "neglabel.h5"), "neglabel.h5", "trial 1 has label -3");
    }

    [Fact]
    public void Wrong_types_are_reported()
    {
        var layout = HeidelbergLayout.Valid();
        layout.Times = new ushort[][] { [1, 2, 3], [], [4] };
        AssertOneLine(ReadBroken(layout, "inttimes.h5"), "inttimes.h5", "'spikes/times'", "expected variable-length floating-point");

        layout = HeidelbergLayout.Valid();
        layout.Labels = new float[] { 1, 2, 3 };
        AssertOneLine(ReadBroken(layout, "floatlabels.h5"), "floatlabels.h5", "'labels'", "expected integers");
    }

    [Fact]
    public void Non_hdf5_gzip_truncated_and_missing_files_are_reported()
    {
        string text = _dir.File("text.h5");
        File.WriteAllText(text, "this is not an HDF5 file at all, just some text long enough");
        AssertOneLine(Assert.Throws<InvalidDataException>(() => HeidelbergSpikeFile.Read(text)), "text.h5", "not a readable HDF5 file");

        string valid = _dir.File("valid.h5");
        HeidelbergLayout.Valid().Write(valid);
        string gz = _dir.File("valid.h5.gz");
        using (var input = File.OpenRead(valid))
        using (var output = new GZipStream(File.Create(gz), CompressionLevel.Fastest))
            input.CopyTo(output);
        AssertOneLine(Assert.Throws<InvalidDataException>(() => HeidelbergSpikeFile.Read(gz)), "valid.h5.gz", "gzip-compressed");

        string truncated = _dir.File("truncated.h5");
        var bytes = File.ReadAllBytes(valid);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => HeidelbergSpikeFile.Read(truncated));
        AssertOneLine(e, "truncated.h5");

        var missing = Assert.Throws<FileNotFoundException>(() => HeidelbergSpikeFile.Read(_dir.File("nope.h5")));
        AssertOneLine(missing, "nope.h5", "not found");
    }
}
