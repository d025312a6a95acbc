using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Eventprop.Cli;

/// <summary>
/// One training run of a study: a series at one sweep value with one seed, its run directory name (unique in the study)
/// and the <c>--set</c> assignments that make it from the study's base config.
/// </summary>
/// <param name="Index">Position in the study (0-based; the Slurm array index).</param>
/// <param name="Series">The series label.</param>
/// <param name="Value">The sweep value, if the study sweeps.</param>
/// <param name="Seed">The seed.</param>
/// <param name="RunName">The run directory's name inside the study folder.</param>
/// <param name="Sets">The <c>--set KEY=VALUE</c> assignments (common ones first, the seed last).</param>
public sealed record StudyTask(int Index, string Series, double? Value, int Seed, string RunName, IReadOnlyList<string> Sets)
{
    /// <summary>
    /// Every task of <paramref name="study"/> in the order a local study runs them (series × sweep value × seed; an
    /// evaluation-only sweep has one training task per series and seed, evaluated at every value after training).
    /// </summary>
    public static List<StudyTask> All(StudyConfig study, IReadOnlyList<string> common)
    {
        double?[] values = study.Sweep is { EvaluationOnly: false } sw ? sw.Values.Select(v => (double?)v).ToArray() : [null];
        var tasks = new List<StudyTask>();
        foreach (var series in study.Series)
            foreach (var value in values)
                foreach (int seed in study.Seeds)
                {
                    var sets = new List<string>(common);
                    sets.AddRange(SeriesSets(series, study.Sweep, value));
                    sets.Add($"seed={seed}");
                    string runName = Slug($"{series.Label}{(value is double x ? $"-{x.ToString(CultureInfo.InvariantCulture)}" : "")}-seed{seed}");
                    tasks.Add(new StudyTask(tasks.Count, series.Label, value, seed, runName, sets));
                }
        var clash = tasks.GroupBy(t => t.RunName).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
            throw new UserError($"Two runs of the study would share the run directory '{clash.Key}' (series labels that differ only in punctuation or case, or a repeated seed or value); rename a series.");
        return tasks;
    }

    /// <summary>The <c>--set</c> assignments of one series at one sweep value.</summary>
    internal static IEnumerable<string> SeriesSets(StudySeries series, StudySweep? sweep, double? value)
    {
        foreach (var (key, v) in series.Set) yield return $"{key}={(v is null ? "null" : v.ToJsonString())}";
        if (value is double x) foreach (string s in sweep!.SetsAt(x)) yield return s;
    }

    private static string Slug(string s)
    {
        var b = new StringBuilder();
        foreach (char c in s) b.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? char.ToLowerInvariant(c) : '_');
        return b.ToString();
    }
}
