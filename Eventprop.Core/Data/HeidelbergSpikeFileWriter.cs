using PureHDF;

namespace Eventprop.Core.Data;

/// <summary>
/// Writes spike trials in the published SHD/SSC HDF5 layout, which <see cref="HeidelbergSpikeFile.Read"/> (and h5py
/// code written for SHD) reads unchanged. The writer's counterpart of the reader, so it lives beside it.
/// </summary>
/// <remarks>
/// Layout: <c>spikes/times</c> (variable-length float32, seconds), <c>spikes/units</c> (variable-length uint16),
/// <c>labels</c> (uint16), and when given <c>extra/speaker</c> (uint16), <c>extra/keys</c> (class names by label) and
/// <c>extra/meta_info/&lt;name&gt;</c> (string lists, e.g. speaker names by speaker id) and <c>extra/file_names</c> (a
/// name per trial; the reader ignores it). Times are written as float32
/// seconds (the published files use float16, whose 0.5 ms steps near 1 s would move the cochlea's 0.25 ms grid).
/// The file is written to a temporary name in the target folder and renamed into place, so a crash or a full disk
/// never leaves a half-written file under the final name.
/// </remarks>
public static class HeidelbergSpikeFileWriter
{
    /// <summary>One trial as stored: spike times in seconds and channel ids, in time order.</summary>
    /// <param name="TimesSeconds">Spike times in seconds, ascending, finite and ≥ 0.</param>
    /// <param name="Units">Channel of each spike (0..65535).</param>
    /// <param name="Label">Class label (0..65535).</param>
    /// <param name="Speaker">Speaker id (0..65535), or −1 when the file has no speakers.</param>
    public sealed record Trial(float[] TimesSeconds, ushort[] Units, int Label, int Speaker = -1);

    /// <summary>Converts a <see cref="SpikeSample"/> (ms) to a stored trial (seconds).</summary>
    public static Trial ToTrial(SpikeSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var times = new float[sample.Count];
        var units = new ushort[sample.Count];
        for (int i = 0; i < times.Length; i++)
        {
            int channel = sample.Channels[i];
            if (channel > ushort.MaxValue) throw new ArgumentException($"Spike {i} has channel {channel}; the SHD layout stores channels as uint16 (≤ 65535).", nameof(sample));
            times[i] = (float)(sample.Times[i] / 1000.0);
            units[i] = (ushort)channel;
        }
        return new Trial(times, units, sample.Label, sample.Speaker);
    }

    /// <summary>Writes <paramref name="trials"/> to <paramref name="path"/> atomically (replacing an existing file).</summary>
    /// <param name="path">Target <c>.h5</c> path; its folder must exist.</param>
    /// <param name="trials">The trials; either all or none have a speaker.</param>
    /// <param name="classNames">Class names indexed by label (written to <c>extra/keys</c>), or null.</param>
    /// <param name="metaInfo">Lists written as <c>extra/meta_info/&lt;key&gt;</c> (e.g. <c>speaker</c> → names by id), or null.</param>
    /// <param name="trialNames">A name per trial (e.g. its recording's file name) written to <c>extra/file_names</c>, or null.</param>
    /// <exception cref="ArgumentException">A trial's values do not fit the layout (the message says which).</exception>
    public static void Write(string path, IReadOnlyList<Trial> trials, IReadOnlyList<string>? classNames = null,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? metaInfo = null, IReadOnlyList<string>? trialNames = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(trials);
        bool hasSpeakers = trials.Count > 0 && trials[0].Speaker >= 0;
        var times = new float[trials.Count][];
        var units = new ushort[trials.Count][];
        var labels = new ushort[trials.Count];
        var speakers = hasSpeakers ? new ushort[trials.Count] : null;
        for (int i = 0; i < trials.Count; i++)
        {
            var t = trials[i];
            if (t.TimesSeconds.Length != t.Units.Length)
                throw new ArgumentException($"Trial {i} has {t.TimesSeconds.Length} times but {t.Units.Length} units.", nameof(trials));
            for (int s = 0; s < t.TimesSeconds.Length; s++)
                if (!float.IsFinite(t.TimesSeconds[s]) || t.TimesSeconds[s] < 0 || (s > 0 && t.TimesSeconds[s] < t.TimesSeconds[s - 1]))
                    throw new ArgumentException($"Trial {i}, spike {s}: times must be finite, ≥ 0 and ascending.", nameof(trials));
            if (t.Label is < 0 or > ushort.MaxValue)
                throw new ArgumentException($"Trial {i} has label {t.Label}; the layout stores labels as uint16 (0..65535).", nameof(trials));
            if (classNames is not null && t.Label >= classNames.Count)
                throw new ArgumentException($"Trial {i} has label {t.Label} but only {classNames.Count} class names are given.", nameof(trials));
            if ((t.Speaker >= 0) != hasSpeakers)
                throw new ArgumentException($"Trial {i} {(hasSpeakers ? "has no speaker" : "has a speaker")} unlike trial 0; give every trial a speaker or none.", nameof(trials));
            if (t.Speaker > ushort.MaxValue)
                throw new ArgumentException($"Trial {i} has speaker {t.Speaker}; the layout stores speakers as uint16 (0..65535).", nameof(trials));
            times[i] = t.TimesSeconds;
            units[i] = t.Units;
            labels[i] = (ushort)t.Label;
            if (speakers is not null) speakers[i] = (ushort)t.Speaker;
        }

        var file = new H5File
        {
            ["spikes"] = new H5Group { ["times"] = times, ["units"] = units },
            ["labels"] = labels,
        };
        var extra = new H5Group();
        if (speakers is not null) extra["speaker"] = speakers;
        if (classNames is not null) extra["keys"] = classNames.ToArray();
        if (metaInfo is { Count: > 0 })
        {
            var meta = new H5Group();
            foreach (var (key, values) in metaInfo) meta[key] = values.ToArray();
            extra["meta_info"] = meta;
        }
        if (trialNames is not null)
        {
            if (trialNames.Count != trials.Count) throw new ArgumentException($"{trialNames.Count} trial names for {trials.Count} trials.", nameof(trialNames));
            extra["file_names"] = trialNames.ToArray();
        }
        if (extra.Count > 0) file["extra"] = extra;

        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? ".";
        string temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            file.Write(temporary);
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}
