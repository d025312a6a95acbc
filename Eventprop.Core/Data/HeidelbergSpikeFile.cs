using System.Buffers;
using System.Globalization;
using PureHDF;
using PureHDF.Selections;
using PureHDF.VOL.Native;

namespace Eventprop.Core.Data;

/// <summary>
/// Reads the Heidelberg spiking datasets (SHD, SSC) from their published HDF5 layout.
/// </summary>
/// <remarks>
/// Layout (Cramer et al. 2020), one entry per trial along the first dimension:
/// <list type="bullet">
/// <item><c>spikes/times</c> — variable-length float16/32/64, spike times in <b>seconds</b> (converted to ms here).</item>
/// <item><c>spikes/units</c> — variable-length unsigned integers (uint16 in the published files), channel 0..699.</item>
/// <item><c>labels</c> — integer class label.</item>
/// <item><c>extra/speaker</c> — integer speaker id (optional; −1 when absent).</item>
/// <item><c>extra/keys</c> — class names indexed by label (optional; "0", "1", … when absent).</item>
/// <item><c>extra/meta_info</c> — a group of per-speaker datasets (optional; kept as strings in <see cref="SpikeDataset.MetaInfo"/>).</item>
/// </list>
/// Empty trials are allowed. Every value is checked; bad input raises <see cref="InvalidDataException"/> with a
/// one-line message that names the file and the problem. Trials are read in blocks so that the transient memory
/// stays small next to the samples themselves.
/// </remarks>
public static class HeidelbergSpikeFile
{
    /// <summary>Number of input channels of SHD and SSC (the cochlea model's 700 fibres).</summary>
    public const int DefaultChannelCount = 700;

    /// <summary>Trials read from the file at a time; bounds the transient memory of a load.</summary>
    internal const int TrialsPerBlock = 512;

    private const double MillisecondsPerSecond = 1000.0;

    /// <summary>Reads an SHD or SSC file (decompressed <c>.h5</c>) into a <see cref="SpikeDataset"/> with times in ms.</summary>
    /// <param name="path">Path of the <c>.h5</c> file, e.g. <c>shd_train.h5</c>.</param>
    /// <param name="channelCount">Number of input channels; units must lie in [0, channelCount).</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not HDF5, or its layout or values are wrong (the message says which).</exception>
    public static SpikeDataset Read(string path, int channelCount = DefaultChannelCount)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (channelCount < 1) throw new ArgumentOutOfRangeException(nameof(channelCount), channelCount, "Need at least one channel.");
        string name = Path.GetFileName(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{name}: file not found at '{Path.GetFullPath(path)}'; download it with HeidelbergDownloader or pass the path of a decompressed .h5 file.", path);
        if (StartsWithGzipMagic(path))
            throw new InvalidDataException($"{name}: the file is gzip-compressed; decompress it first (gunzip, or let HeidelbergDownloader fetch it).");

        NativeFile file;
        try
        {
            file = H5File.OpenRead(path);
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"{name}: not a readable HDF5 file ({ErrorText.OneLine(e.Message)}); is this an SHD/SSC .h5 file?", e);
        }

        using (file)
        {
            try
            {
                return ReadOpened(file, name, channelCount);
            }
            catch (InvalidDataException)
            {
                throw;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new InvalidDataException($"{name}: could not read the file ({ErrorText.OneLine(e.Message)}); the file may be truncated or damaged.", e);
            }
        }
    }

    private static SpikeDataset ReadOpened(NativeFile file, string name, int channelCount)
    {
        var times = RequireDataset(file, name, "spikes/times");
        var units = RequireDataset(file, name, "spikes/units");
        var labelsSet = RequireDataset(file, name, "labels");

        var timeType = RequireVariableLength(times, name, "spikes/times", H5DataTypeClass.FloatingPoint, "floating-point");
        var unitType = RequireVariableLength(units, name, "spikes/units", H5DataTypeClass.FixedPoint, "integer");
        if (timeType.Size is not (2 or 4 or 8))
            throw new InvalidDataException($"{name}: dataset 'spikes/times' holds {timeType.Size * 8}-bit floats; expected float16, float32 or float64.");

        long trialCount = TrialCount(times, name, "spikes/times");
        CheckSameLength(units, name, "spikes/units", trialCount);
        CheckSameLength(labelsSet, name, "labels", trialCount);

        string[]? classNames = null;
        if (file.LinkExists("extra/keys"))
            classNames = ReadStrings(file.Dataset("extra/keys"), name, "extra/keys");

        long[] labels = ReadIntegers(labelsSet, name, "labels");
        int classLimit = classNames?.Length ?? int.MaxValue;
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0 || labels[i] >= classLimit)
                throw new InvalidDataException(classNames is null
                    ? $"{name}: trial {i} has label {labels[i]}; labels must be ≥ 0."
                    : $"{name}: trial {i} has label {labels[i]}, outside 0..{classLimit - 1} (extra/keys lists {classLimit} classes).");
        }

        long[]? speakers = null;
        if (file.LinkExists("extra/speaker"))
        {
            var speakerSet = file.Dataset("extra/speaker");
            CheckSameLength(speakerSet, name, "extra/speaker", trialCount);
            speakers = ReadIntegers(speakerSet, name, "extra/speaker");
            for (int i = 0; i < speakers.Length; i++)
                if (speakers[i] < 0 || speakers[i] > int.MaxValue)
                    throw new InvalidDataException($"{name}: trial {i} has speaker id {speakers[i]}; speaker ids must be ≥ 0.");
        }

        var metaInfo = file.LinkExists("extra/meta_info") ? ReadMetaInfo(file, name) : null;

        var samples = new SpikeSample[trialCount];
        double[] timeBuffer = ArrayPool<double>.Shared.Rent(1024);
        int[] channelBuffer = ArrayPool<int>.Shared.Rent(1024);
        try
        {
            for (long start = 0; start < trialCount; start += TrialsPerBlock)
            {
                ulong blockLength = (ulong)Math.Min(TrialsPerBlock, trialCount - start);
                var selection = new HyperslabSelection((ulong)start, blockLength);
                Array[] timeBlock = ReadTimeBlock(times, timeType.Size, selection);
                Array[] unitBlock = ReadUnitBlock(units, name, unitType, selection);
                for (int j = 0; j < (int)blockLength; j++)
                {
                    long trial = start + j;
                    Array? t = timeBlock[j];
                    Array? u = unitBlock[j];
                    int n = t?.Length ?? 0;
                    int m = u?.Length ?? 0;
                    if (n != m)
                        throw new InvalidDataException($"{name}: trial {trial} has {n} spike times but {m} units; 'spikes/times' and 'spikes/units' must match per trial.");
                    if (timeBuffer.Length < n)
                    {
                        ArrayPool<double>.Shared.Return(timeBuffer);
                        ArrayPool<int>.Shared.Return(channelBuffer);
                        timeBuffer = ArrayPool<double>.Shared.Rent(n);
                        channelBuffer = ArrayPool<int>.Shared.Rent(n);
                    }
                    if (n > 0)
                    {
                        ConvertTimes(t!, timeBuffer, name, trial);
                        ConvertUnits(u!, channelBuffer, name, trial, channelCount);
                    }
                    samples[trial] = new SpikeSample(timeBuffer.AsSpan(0, n), channelBuffer.AsSpan(0, n),
                        (int)labels[trial], speakers is null ? -1 : (int)speakers[trial]);
                    timeBlock[j] = null!;
                    unitBlock[j] = null!;
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(timeBuffer);
            ArrayPool<int>.Shared.Return(channelBuffer);
        }

        return new SpikeDataset(samples, channelCount, classNames, name, metaInfo);
    }

    private static IH5Dataset RequireDataset(NativeFile file, string name, string datasetPath)
    {
        if (!file.LinkExists(datasetPath))
            throw new InvalidDataException($"{name}: dataset '{datasetPath}' is missing; is this an SHD/SSC file?");
        try
        {
            return file.Dataset(datasetPath);
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"{name}: '{datasetPath}' is not a readable dataset ({ErrorText.OneLine(e.Message)}); is this an SHD/SSC file?", e);
        }
    }

    private static IH5DataType RequireVariableLength(IH5Dataset dataset, string name, string datasetPath, H5DataTypeClass baseClass, string baseDescription)
    {
        var type = dataset.Type;
        if (type.Class != H5DataTypeClass.VariableLength || type.VariableLength.BaseType.Class != baseClass)
            throw new InvalidDataException($"{name}: dataset '{datasetPath}' holds {Describe(type)}; expected variable-length {baseDescription} arrays (one per trial).");
        return type.VariableLength.BaseType;
    }

    private static string Describe(IH5DataType type) => type.Class == H5DataTypeClass.VariableLength
        ? $"variable-length {type.VariableLength.BaseType.Class} ({type.VariableLength.BaseType.Size * 8}-bit) data"
        : $"{type.Class} ({type.Size * 8}-bit) data";

    private static long TrialCount(IH5Dataset dataset, string name, string datasetPath)
    {
        var dims = dataset.Space.Dimensions;
        if (dims.Length != 1)
            throw new InvalidDataException($"{name}: dataset '{datasetPath}' has {dims.Length} dimensions; expected one entry per trial (1-D).");
        if (dims[0] > int.MaxValue)
            throw new InvalidDataException($"{name}: dataset '{datasetPath}' has {dims[0]} entries, more than this reader supports.");
        return (long)dims[0];
    }

    private static void CheckSameLength(IH5Dataset dataset, string name, string datasetPath, long trialCount)
    {
        long n = TrialCount(dataset, name, datasetPath);
        if (n != trialCount)
            throw new InvalidDataException($"{name}: lengths disagree: 'spikes/times' has {trialCount} trials but '{datasetPath}' has {n}.");
    }

    private static Array[] ReadTimeBlock(IH5Dataset times, int size, Selection selection) => size switch
    {
        2 => times.Read<Half[][]>(fileSelection: selection),
        4 => times.Read<float[][]>(fileSelection: selection),
        _ => times.Read<double[][]>(fileSelection: selection),
    };

    private static Array[] ReadUnitBlock(IH5Dataset units, string name, IH5DataType type, Selection selection)
    {
        bool signed = type.FixedPoint.IsSigned;
        return (type.Size, signed) switch
        {
            (1, false) => units.Read<byte[][]>(fileSelection: selection),
            (2, false) => units.Read<ushort[][]>(fileSelection: selection),
            (4, false) => units.Read<uint[][]>(fileSelection: selection),
            (8, false) => units.Read<ulong[][]>(fileSelection: selection),
            (1, true) => units.Read<sbyte[][]>(fileSelection: selection),
            (2, true) => units.Read<short[][]>(fileSelection: selection),
            (4, true) => units.Read<int[][]>(fileSelection: selection),
            (8, true) => units.Read<long[][]>(fileSelection: selection),
            _ => throw new InvalidDataException($"{name}: dataset 'spikes/units' holds {type.Size * 8}-bit integers; expected 8, 16, 32 or 64 bits."),
        };
    }

    private static void ConvertTimes(Array source, double[] target, string name, long trial)
    {
        switch (source)
        {
            case Half[] h:
                for (int i = 0; i < h.Length; i++) target[i] = (double)h[i];
                break;
            case float[] f:
                for (int i = 0; i < f.Length; i++) target[i] = f[i];
                break;
            case double[] d:
                d.CopyTo(target, 0);
                break;
        }
        for (int i = 0; i < source.Length; i++)
        {
            double seconds = target[i];
            if (!double.IsFinite(seconds) || seconds < 0)
                throw new InvalidDataException($"{name}: trial {trial}, spike {i} has time {seconds.ToString(CultureInfo.InvariantCulture)} s; spike times must be finite and ≥ 0.");
            target[i] = seconds * MillisecondsPerSecond;
        }
    }

    private static void ConvertUnits(Array source, int[] target, string name, long trial, int channelCount)
    {
        for (int i = 0; i < source.Length; i++)
        {
            long unit = source switch
            {
                ushort[] a => a[i],
                byte[] a => a[i],
                uint[] a => a[i],
                ulong[] a => a[i] > long.MaxValue ? long.MaxValue : (long)a[i],
                short[] a => a[i],
                sbyte[] a => a[i],
                int[] a => a[i],
                long[] a => a[i],
                _ => throw new InvalidOperationException("unreachable: unit array type " + source.GetType()),
            };
            if (unit < 0 || unit >= channelCount)
                throw new InvalidDataException($"{name}: trial {trial}, spike {i} has unit {unit}, outside 0..{channelCount - 1}.");
            target[i] = (int)unit;
        }
    }

    /// <summary>Reads a 1-D integer dataset of any width and signedness as <see cref="long"/>.</summary>
    private static long[] ReadIntegers(IH5Dataset dataset, string name, string datasetPath)
    {
        var type = dataset.Type;
        if (type.Class != H5DataTypeClass.FixedPoint)
            throw new InvalidDataException($"{name}: dataset '{datasetPath}' holds {Describe(type)}; expected integers.");
        bool signed = type.FixedPoint.IsSigned;
        return (type.Size, signed) switch
        {
            (1, false) => Array.ConvertAll(dataset.Read<byte[]>(), v => (long)v),
            (2, false) => Array.ConvertAll(dataset.Read<ushort[]>(), v => (long)v),
            (4, false) => Array.ConvertAll(dataset.Read<uint[]>(), v => (long)v),
            (8, false) => Array.ConvertAll(dataset.Read<ulong[]>(), v => v > long.MaxValue ? long.MaxValue : (long)v),
            (1, true) => Array.ConvertAll(dataset.Read<sbyte[]>(), v => (long)v),
            (2, true) => Array.ConvertAll(dataset.Read<short[]>(), v => (long)v),
            (4, true) => Array.ConvertAll(dataset.Read<int[]>(), v => (long)v),
            (8, true) => dataset.Read<long[]>(),
            _ => throw new InvalidDataException($"{name}: dataset '{datasetPath}' holds {type.Size * 8}-bit integers; expected 8, 16, 32 or 64 bits."),
        };
    }

    private static string[] ReadStrings(IH5Dataset dataset, string name, string datasetPath)
    {
        var type = dataset.Type;
        if (!IsString(type))
            throw new InvalidDataException($"{name}: dataset '{datasetPath}' holds {Describe(type)}; expected strings.");
        if (dataset.Space.Dimensions.Length > 1)
            throw new InvalidDataException($"{name}: dataset '{datasetPath}' has {dataset.Space.Dimensions.Length} dimensions; expected a 1-D list of strings.");
        return dataset.Read<string[]>().Select(s => (s ?? "").TrimEnd('\0')).ToArray();
    }

    /// <summary>Fixed-length strings, or variable-length strings (a sequence of 1-byte characters, as h5py writes them).</summary>
    private static bool IsString(IH5DataType type) =>
        type.Class == H5DataTypeClass.String
        || (type.Class == H5DataTypeClass.VariableLength && type.VariableLength.BaseType.Class == H5DataTypeClass.FixedPoint
            && type.VariableLength.BaseType.Size == 1);

    private static Dictionary<string, IReadOnlyList<string>> ReadMetaInfo(NativeFile file, string name)
    {
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        IH5Object metaObject = file.Get("extra/meta_info");
        if (metaObject is not IH5Group group)
            throw new InvalidDataException($"{name}: 'extra/meta_info' is not a group; expected a group of per-speaker datasets.");
        foreach (var child in group.Children())
        {
            if (child is not IH5Dataset dataset) continue; // nested groups carry nothing the published files use
            string path = "extra/meta_info/" + child.Name;
            var type = dataset.Type;
            // meta_info is informational: a type this reader does not decode is recorded as such instead of failing the load
            string[] values = type.Class switch
            {
                H5DataTypeClass.FixedPoint => ReadIntegers(dataset, name, path).Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray(),
                H5DataTypeClass.FloatingPoint => ReadFloats(dataset, name, path).Select(v => v.ToString("R", CultureInfo.InvariantCulture)).ToArray(),
                _ when IsString(type) => ReadStrings(dataset, name, path),
                _ => [$"<not decoded: {Describe(type)}>"],
            };
            result[child.Name] = values;
        }
        return result;
    }

    private static double[] ReadFloats(IH5Dataset dataset, string name, string datasetPath) => dataset.Type.Size switch
    {
        2 => Array.ConvertAll(dataset.Read<Half[]>(), v => (double)v),
        4 => Array.ConvertAll(dataset.Read<float[]>(), v => (double)v),
        8 => dataset.Read<double[]>(),
        _ => throw new InvalidDataException($"{name}: dataset '{datasetPath}' holds {dataset.Type.Size * 8}-bit floats; expected 16, 32 or 64 bits."),
    };

    private static bool StartsWithGzipMagic(string path)
    {
        using var stream = File.OpenRead(path);
        return stream.ReadByte() == 0x1f && stream.ReadByte() == 0x8b;
    }
}
