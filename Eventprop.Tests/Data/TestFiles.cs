using PureHDF;

namespace Eventprop.Tests.Data;

/// <summary>A fresh temporary directory, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "eventprop-tests-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// Writes files in the published SHD/SSC layout with PureHDF (variable-length datasets the way h5py writes them:
/// HDF5 VLEN sequences in the global heap; an empty trial can be a null sequence). Leave a field null to omit the dataset.
/// </summary>
internal sealed class HeidelbergLayout
{
    public object? Times { get; set; }
    public object? Units { get; set; }
    public object? Labels { get; set; }
    public object? Speakers { get; set; }
    public string[]? Keys { get; set; }
    public H5Group? MetaInfo { get; set; }
    public int FixedStringLength { get; set; }

    public void Write(string path)
    {
        var spikes = new H5Group();
        if (Times is not null) spikes["times"] = Times;
        if (Units is not null) spikes["units"] = Units;
        var file = new H5File { ["spikes"] = spikes };
        if (Labels is not null) file["labels"] = Labels;
        var extra = new H5Group();
        if (Speakers is not null) extra["speaker"] = Speakers;
        if (Keys is not null) extra["keys"] = Keys;
        if (MetaInfo is not null) extra["meta_info"] = MetaInfo;
        if (extra.Count > 0) file["extra"] = extra;
        file.Write(path, new H5WriteOptions(DefaultStringLength: FixedStringLength));
    }

    /// <summary>A small valid SHD-like layout: float16 seconds, uint16 units, 3 trials (one empty), 20 classes.</summary>
    public static HeidelbergLayout Valid() => new()
    {
        Times = new Half[]?[] { [(Half)0.001f, (Half)0.25f, (Half)0.5f], null, [(Half)1.0f] },
        Units = new ushort[]?[] { [3, 699, 0], null, [42] },
        Labels = new ushort[] { 1, 19, 0 },
        Speakers = new ushort[] { 7, 2, 7 },
        Keys = Enumerable.Range(0, 20).Select(i => $"class-{i}").ToArray(),
    };
}
