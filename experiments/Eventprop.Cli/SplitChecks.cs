using System.Globalization;
using Eventprop.Core.Data;

namespace Eventprop.Cli;

/// <summary>
/// Checks on the loaded data sets, before any training: every split is non-empty and agrees with the training split on
/// its input channels and classes (one line naming the files). And the crop of input spikes to the simulated trial
/// [0, T): the engines ignore spikes they cannot place, so the CLI removes them itself and says how many.
/// </summary>
internal static class SplitChecks
{
    /// <summary>One loaded split: a name for messages (the file, or how it was made) and its data.</summary>
    internal sealed record Split(string Name, SpikeDataset Data);

    /// <summary>Checks <paramref name="others"/> against <paramref name="train"/>; one-line <see cref="UserError"/>s naming the files.</summary>
    public static void Check(Split train, params Split?[] others)
    {
        if (train.Data.Count == 0) throw new UserError($"{train.Name} holds no trials; check the file (eventprop data info FILE).");
        if (train.Data.ClassCount < 2)
            throw new UserError($"{train.Name} has {train.Data.ClassCount} class{(train.Data.ClassCount == 1 ? "" : "es")}; a classifier needs at least 2.");
        foreach (var s in others)
        {
            if (s is null) continue;
            if (s.Data.Count == 0) throw new UserError($"{s.Name} holds no trials; check the file (eventprop data info FILE).");
            if (s.Data.ChannelCount != train.Data.ChannelCount)
                throw new UserError($"{s.Name} has {s.Data.ChannelCount} input channels but {train.Name} has {train.Data.ChannelCount}; both must come from the same data set.");
            if (s.Data.ClassCount != train.Data.ClassCount)
                throw new UserError($"{s.Name} has {s.Data.ClassCount} classes but {train.Name} has {train.Data.ClassCount}; both must come from the same data set.");
        }
    }

    /// <summary>
    /// The last spike time an engine of config <paramref name="c"/> places: spikes at or after it are cropped. The exact engine
    /// takes t &lt; T; the time-stepped ones (stepped, GPU, surrogate) round t to the nearest grid point and take those before
    /// step T/dt, i.e. t &lt; T − dt/2.
    /// </summary>
    public static (Func<double, bool> Keeps, string Describe) Window(RunConfig c)
    {
        double T = c.Engine.DurationMs;
        if (c.Method != "surrogate" && c.Engine.Kind == "exact")
            return (t => t < T, Inv($"at or after engine.duration_ms = {T} ms"));
        double dt = c.Engine.Dt, steps = Math.Round(T / dt);
        return (t => Math.Floor(t / dt + 0.5) < steps,
            Inv($"at or after {T - dt / 2} ms (engine.duration_ms = {T} ms on a {dt} ms grid)"));
    }

    /// <summary>
    /// <paramref name="data"/> without the spikes the engine would not place, and how many were removed (the same object when none).
    /// </summary>
    public static (SpikeDataset Data, long Cropped) Crop(SpikeDataset data, Func<double, bool> keeps)
    {
        var (samples, cropped) = Crop(data.Samples, keeps);
        return cropped == 0 ? (data, 0) : (data.WithSamples(samples), cropped);
    }

    /// <summary>The samples without the spikes the engine would not place, and how many were removed.</summary>
    public static (IReadOnlyList<SpikeSample> Samples, long Cropped) Crop(IReadOnlyList<SpikeSample> samples, Func<double, bool> keeps)
    {
        long cropped = 0;
        SpikeSample[]? result = null;
        for (int i = 0; i < samples.Count; i++)
        {
            var s = samples[i];
            var times = s.Times;
            int keep = times.Length;
            while (keep > 0 && !keeps(times[keep - 1])) keep--; // times are sorted
            if (keep == times.Length) continue;
            result ??= samples.ToArray();
            result[i] = new SpikeSample(times[..keep], s.Channels[..keep], s.Label, s.Speaker);
            cropped += times.Length - keep;
        }
        return (result ?? samples, cropped);
    }

    /// <summary>The note printed once per split that lost spikes.</summary>
    public static string Note(string split, long cropped, long total, string describe) =>
        Inv($"note: {split}: cropped {cropped} of {total} input spikes {describe}.");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
