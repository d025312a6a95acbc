using System.Text.Json;

namespace Eventprop.Tests.Audio;

/// <summary>
/// The published cochlea's outputs for three FSDD recordings (shared/data/cochlea-reference) and the recordings
/// themselves (shared/data/fsdd). shared/ lies beside the repository (../shared) or inside it (CI copies).
/// </summary>
internal sealed class CochleaReference
{
    public static readonly string[] Names = ["0_george_0", "5_jackson_10", "9_yweweler_20"];

    public required string Name { get; init; }
    public required int InputSamples { get; init; }
    public required double BmSampleRate { get; init; }
    public required int BmSamples { get; init; }
    public required int[] Channels { get; init; }
    public required Dictionary<int, double[]> Velocity { get; init; }
    public required Dictionary<int, double[]> Probability { get; init; }
    public required int SpikesTotal { get; init; }
    public required int[] SpikesPerChannel { get; init; }
    public required int[] SpikesPer10Ms { get; init; }

    public string RecordingPath => Path.Combine(SharedData, "fsdd", "recordings", Name + ".wav");

    public static string SharedData { get; } = FindSharedData();

    public static CochleaReference Load(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData, "cochlea-reference", name + ".json")));
        var r = doc.RootElement;
        Dictionary<int, double[]> Series(string key) => r.GetProperty(key).EnumerateObject()
            .ToDictionary(p => int.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture), p => p.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray());
        int[] Ints(string key) => r.GetProperty(key).EnumerateArray().Select(v => v.GetInt32()).ToArray();
        return new CochleaReference
        {
            Name = name,
            InputSamples = r.GetProperty("input_samples").GetInt32(),
            BmSampleRate = r.GetProperty("bm_sample_rate_hz").GetDouble(),
            BmSamples = r.GetProperty("bm_samples").GetInt32(),
            Channels = Ints("channels"),
            Velocity = Series("basilar_membrane_velocity"),
            Probability = Series("hair_cell_probability"),
            SpikesTotal = r.GetProperty("spikes_total").GetInt32(),
            SpikesPerChannel = Ints("spikes_per_channel"),
            SpikesPer10Ms = Ints("spikes_per_10ms"),
        };
    }

    private static string FindSharedData()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Eventprop.sln"))) d = d.Parent;
        if (d is null) throw new InvalidOperationException("Eventprop.sln not found above the test directory.");
        foreach (var candidate in new[] { Path.Combine(d.FullName, "shared", "data"), Path.Combine(d.FullName, "..", "shared", "data") })
            if (Directory.Exists(Path.Combine(candidate, "cochlea-reference"))) return Path.GetFullPath(candidate);
        throw new InvalidOperationException($"shared/data/cochlea-reference not found inside or beside {d.FullName}.");
    }
}
