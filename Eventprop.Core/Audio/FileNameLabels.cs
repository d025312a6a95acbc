using System.Globalization;
using System.Text.RegularExpressions;

namespace Eventprop.Core.Audio;

/// <summary>Integer ids (labels or speakers) taken from file names by a regular expression's first capture group.</summary>
/// <param name="Ids">One id per file, in the order of the files.</param>
/// <param name="Names">The captured names by id when the captures were not all integers (sorted, ordinal); null when the integers are the ids.</param>
public sealed record FileNameLabels(int[] Ids, string[]? Names)
{
    /// <summary>
    /// Applies <paramref name="pattern"/> to each file name (without folder, with extension). When every first capture
    /// is a non-negative integer those are the ids; otherwise the sorted distinct captures become ids 0…K−1 and are
    /// returned as <see cref="Names"/>.
    /// </summary>
    /// <param name="fileNames">Paths or names of the files.</param>
    /// <param name="pattern">A .NET regular expression with at least one capture group.</param>
    /// <param name="what">What the ids are ("label", "speaker"), and the option that set them, for messages.</param>
    /// <exception cref="ArgumentException">The pattern is not a valid expression, has no group, or a file name does not match it.</exception>
    public static FileNameLabels FromFileNames(IReadOnlyList<string> fileNames, string pattern, string what)
    {
        ArgumentNullException.ThrowIfNull(fileNames);
        ArgumentNullException.ThrowIfNull(pattern);
        Regex regex;
        try { regex = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)); }
        catch (ArgumentException e) { throw new ArgumentException($"The {what} pattern '{pattern}' is not a valid regular expression ({e.Message.Split('\n')[0].Trim()}).", e); }
        if (regex.GetGroupNumbers().Length < 2)
            throw new ArgumentException($"The {what} pattern '{pattern}' has no capture group; put the {what} part in parentheses, e.g. '^(\\d+)_'.");
        var captures = new string[fileNames.Count];
        for (int i = 0; i < captures.Length; i++)
        {
            string name = Path.GetFileName(fileNames[i]);
            var match = regex.Match(name);
            if (!match.Success || !match.Groups[1].Success)
                throw new ArgumentException($"{name}: the file name does not match the {what} pattern '{pattern}'.");
            captures[i] = match.Groups[1].Value;
        }
        var integers = new int[captures.Length];
        bool allIntegers = true;
        for (int i = 0; i < captures.Length && allIntegers; i++)
            allIntegers = int.TryParse(captures[i], NumberStyles.None, CultureInfo.InvariantCulture, out integers[i]) && integers[i] <= ushort.MaxValue;
        if (allIntegers) return new FileNameLabels(integers, null);
        var names = captures.Distinct(StringComparer.Ordinal).OrderBy(s => s, StringComparer.Ordinal).ToArray();
        if (names.Length > ushort.MaxValue + 1)
            throw new ArgumentException($"The {what} pattern '{pattern}' gives {names.Length} distinct names; the SHD layout holds at most 65536.");
        var index = names.Select((n, k) => (n, k)).ToDictionary(p => p.n, p => p.k, StringComparer.Ordinal);
        return new FileNameLabels(captures.Select(c => index[c]).ToArray(), names);
    }
}
