using System.Diagnostics;
using System.Globalization;
using Eventprop.Core.Audio;
using Eventprop.Core.Data;

namespace Eventprop.Cli;

/// <summary><c>eventprop data encode-audio INPUT... --out FILE.h5</c>: recordings → SHD-layout spikes with the Heidelberg cochlea.</summary>
public static class EncodeAudioCommand
{
    internal const string Help = """
        eventprop data encode-audio INPUT... --out FILE.h5 [--channels 700] [--label-from REGEX] [--speaker-from REGEX]
                                    [--seed N] [--threads N] [--skip-bad] [--exact-fft]
                                                    WAV files or folders of them → spikes of the Heidelberg cochlea (the
                                                    model that made SHD/SSC) in the SHD layout; REGEX's first group on the
                                                    file name gives the label/speaker (integers as is, else sorted names)
        """;

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);

    /// <summary>Runs <c>data encode-audio</c> with the arguments after the subcommand's name.</summary>
    /// <param name="args">INPUT... and options.</param>
    /// <param name="output">Progress and the summary.</param>
    public static int Run(IReadOnlyList<string> args, TextWriter output)
    {
        var a = Arguments.Parse(args, "data encode-audio", ["out", "channels", "label-from", "speaker-from", "seed", "threads"], ["skip-bad", "exact-fft"]);
        if (a.Positional.Count == 0)
            throw new UserError("data encode-audio needs WAV files or folders: eventprop data encode-audio recordings/ --out spikes.h5");
        string outPath = a.Value("out") ?? throw new UserError("data encode-audio needs --out FILE.h5 (where the spikes go).");
        if (File.Exists(outPath) || Directory.Exists(outPath))
            throw new UserError($"--out '{outPath}' already exists; choose another name or delete it first (files are never overwritten).");
        int channels = a.Int("channels") ?? HeidelbergSpikeFile.DefaultChannelCount;
        if (channels is < 1 or > ushort.MaxValue + 1) throw new UserError($"--channels must lie in 1..65536, got {channels}.");
        int threads = a.Int("threads") ?? Environment.ProcessorCount;
        if (threads < 1) throw new UserError($"--threads must be ≥ 1, got {threads}.");
        long seed = a.Int("seed") ?? 0;
        bool skipBad = a.Flag("skip-bad");

        var files = CollectInputs(a.Positional);
        string? labelPattern = a.Value("label-from"), speakerPattern = a.Value("speaker-from");
        // check the patterns against every name before the long work starts
        if (labelPattern is not null) Assign(files, labelPattern, "label", "--label-from");
        if (speakerPattern is not null) Assign(files, speakerPattern, "speaker", "--speaker-from");

        string? folder = Path.GetDirectoryName(Path.GetFullPath(outPath));
        if (folder is not null) Directory.CreateDirectory(folder);

        var encoder = new CochleaEncoder(new CochleaOptions
        {
            ChannelCount = channels,
            FftLength = a.Flag("exact-fft") ? CochleaFftLength.Exact : CochleaFftLength.PaddedPowerOfTwo,
            Threads = 1, // parallel over recordings instead
        });
        output.WriteLine(Inv($"encoding {files.Count} recording(s) with the Heidelberg cochlea ({channels} channels, seed {seed}, {threads} thread(s))"));

        var trials = new HeidelbergSpikeFileWriter.Trial?[files.Count];
        var durations = new double[files.Count];
        var errors = new string?[files.Count];
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        int done = 0;
        var reportLock = new Lock();
        using var cancel = new CancellationTokenSource();
        try
        {
            Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = cancel.Token }, i =>
            {
                try
                {
                    var clip = WaveFile.Read(files[i]);
                    if (clip.Samples.Length < 2)
                        throw new InvalidDataException($"{Path.GetFileName(files[i])}: the recording holds {clip.Samples.Length} sample(s); need at least 2.");
                    durations[i] = clip.DurationMs;
                    trials[i] = HeidelbergSpikeFileWriter.ToTrial(encoder.Encode(clip, seed, i));
                }
                catch (Exception e) when (e is InvalidDataException or FileNotFoundException or IOException or UnauthorizedAccessException)
                {
                    errors[i] = RunConfig.OneLine(e.Message);
                    if (!skipBad) cancel.Cancel();
                }
                lock (reportLock)
                {
                    done++;
                    if (watch.Elapsed - lastReport >= ProgressInterval && done < files.Count)
                    {
                        lastReport = watch.Elapsed;
                        output.WriteLine(Inv($"  {done}/{files.Count} recordings, {watch.Elapsed.TotalSeconds:F0} s elapsed, about {watch.Elapsed.TotalSeconds * (files.Count - done) / done:F0} s left"));
                    }
                }
            });
        }
        catch (OperationCanceledException) { }

        var firstError = errors.FirstOrDefault(e => e is not null);
        if (!skipBad && firstError is not null)
            throw new UserError($"{firstError} (nothing written; pass --skip-bad to leave bad files out)");
        foreach (var e in errors) if (e is not null) output.WriteLine($"  skipped: {e}");

        var kept = Enumerable.Range(0, files.Count).Where(i => trials[i] is not null).ToArray();
        if (kept.Length == 0) throw new UserError("No recording could be encoded; nothing written.");
        var keptFiles = kept.Select(i => files[i]).ToArray();
        var labels = labelPattern is null ? null : Assign(keptFiles, labelPattern, "label", "--label-from");
        var speakers = speakerPattern is null ? null : Assign(keptFiles, speakerPattern, "speaker", "--speaker-from");
        var stored = new HeidelbergSpikeFileWriter.Trial[kept.Length];
        for (int j = 0; j < kept.Length; j++)
            stored[j] = trials[kept[j]]! with { Label = labels?.Ids[j] ?? 0, Speaker = speakers?.Ids[j] ?? -1 };
        var meta = speakers?.Names is { } speakerNames
            ? new Dictionary<string, IReadOnlyList<string>> { ["speaker"] = speakerNames }
            : null;
        HeidelbergSpikeFileWriter.Write(outPath, stored, labels?.Names, meta, keptFiles.Select(Path.GetFileName).ToArray()!);

        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        Summarise(output, outPath, stored, kept.Select(i => durations[i]).ToArray(), channels, cpuSeconds, watch.Elapsed.TotalSeconds,
            errors.Count(e => e is not null), labels, speakers);
        return 0;
    }

    /// <summary>The WAV files named by <paramref name="inputs"/>: files as given, folders searched recursively for *.wav (sorted).</summary>
    internal static List<string> CollectInputs(IReadOnlyList<string> inputs)
    {
        var files = new List<string>();
        foreach (string input in inputs)
        {
            if (Directory.Exists(input))
            {
                var found = Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
                    .Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase))
                    .OrderBy(f => f, StringComparer.Ordinal).ToList();
                if (found.Count == 0) throw new UserError($"Folder '{input}' holds no .wav files.");
                files.AddRange(found);
            }
            else if (File.Exists(input)) files.Add(input);
            else throw new UserError($"Input '{input}' not found; give WAV files or folders of them.");
        }
        var duplicate = files.GroupBy(Path.GetFullPath).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new UserError($"'{duplicate.First()}' is given twice; name each recording once.");
        return files;
    }

    private static FileNameLabels Assign(IReadOnlyList<string> files, string pattern, string what, string option)
    {
        try { return FileNameLabels.FromFileNames(files, pattern, what); }
        catch (ArgumentException e) { throw new UserError($"{e.Message} (set by {option})"); }
    }

    private static void Summarise(TextWriter output, string path, HeidelbergSpikeFileWriter.Trial[] trials, double[] durationsMs, int channels,
        double cpuSeconds, double wallSeconds, int skipped, FileNameLabels? labels, FileNameLabels? speakers)
    {
        double audioSeconds = durationsMs.Sum() / 1000;
        var counts = trials.Select(t => (double)t.Units.Length).ToArray();
        var perChannel = new long[channels];
        foreach (var t in trials) foreach (ushort u in t.Units) perChannel[u]++;
        var sortedDurations = durationsMs.Order().ToArray();
        double p99 = sortedDurations[Math.Min(sortedDurations.Length - 1, (int)Math.Ceiling(0.99 * sortedDurations.Length) - 1)];
        int classes = labels?.Names?.Length ?? (labels is null ? 1 : labels.Ids.Max() + 1);
        int speakerCount = speakers is null ? 0 : speakers.Ids.Distinct().Count();
        output.WriteLine(Inv($"wrote {path}: {trials.Length} trials, {classes} classes, {speakerCount} speakers{(skipped > 0 ? $", {skipped} bad file(s) skipped" : "")}"));
        output.WriteLine(Inv($"audio {audioSeconds:F1} s (trial length mean {durationsMs.Average():F0} ms, 99th percentile {p99:F0} ms, max {sortedDurations[^1]:F0} ms)"));
        output.WriteLine(Inv($"spikes per trial: mean {counts.Average():F0}, min {counts.Min():F0}, max {counts.Max():F0}; per channel per second of audio: mean {perChannel.Average() / audioSeconds:F1}, min {perChannel.Min() / audioSeconds:F1}, max {perChannel.Max() / audioSeconds:F1}"));
        output.WriteLine(Inv($"time: {wallSeconds:F1} s wall, {cpuSeconds:F1} s CPU = {cpuSeconds / audioSeconds:F3} s CPU per second of audio"));
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
