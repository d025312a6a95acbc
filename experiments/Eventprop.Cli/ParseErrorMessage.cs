using System.CommandLine;
using System.CommandLine.Parsing;

namespace Eventprop.Cli;

/// <summary>
/// The one line a command-line mistake prints (System.CommandLine's own report is several lines plus the help): what is
/// wrong, named as typed, and the fix, with a suggestion for a mistyped command or option.
/// </summary>
internal static class ParseErrorMessage
{
    /// <summary>The message (without the <c>error: </c> prefix) for a parse result that has errors.</summary>
    /// <param name="result">The parse result.</param>
    /// <param name="args">The arguments as typed (to tell <c>--flag=value</c> apart from a stray argument).</param>
    internal static string For(ParseResult result, IReadOnlyList<string> args)
    {
        var command = result.CommandResult.Command;
        string path = CommandPath(result.CommandResult);
        string help = path.Length == 0 ? "eventprop --help" : $"eventprop {path} --help";
        if (result.UnmatchedTokens.Count > 0)
        {
            string token = result.UnmatchedTokens[0];
            if (token.Length > 1 && token[0] == '-' && !double.TryParse(token, System.Globalization.CultureInfo.InvariantCulture, out _))
            {
                var names = command.Options.Where(o => !o.Hidden).Select(o => o.Name).Order(StringComparer.Ordinal).ToList();
                string typed = token.Split('=', 2)[0];
                return Nearest(typed, names) is string near
                    ? $"Unknown option '{token}' for '{Name(path)}'; did you mean '{near}'? ('{help}' lists the options)"
                    : $"Unknown option '{token}' for '{Name(path)}'; known: {string.Join(", ", names)}.";
            }
            var flagWithValue = command.Options.OfType<Option<bool>>()
                .FirstOrDefault(f => args.Any(a => a.StartsWith(f.Name + "=", StringComparison.Ordinal)));
            if (flagWithValue is not null) return $"{flagWithValue.Name} takes no value; write just {flagWithValue.Name}.";
            if (command.Subcommands.Count > 0) return UnknownCommand(token, command, path);
            return $"Unexpected argument '{token}' for '{Name(path)}'; options start with -- ('{help}' lists them).";
        }
        if (command.Subcommands.Count > 0 && command.Action is null)
            return $"'{Name(path)}' needs a subcommand: {string.Join(", ", command.Subcommands.Select(c => c.Name))} ('{help}').";
        var error = result.Errors[0];
        if (error.SymbolResult is OptionResult o)
        {
            string name = o.Option.Name;
            if (o.Option is Option<bool>) return $"{name} takes no value; write just {name}.";
            if (o.Option is Option<string[]> && o.Tokens.Count == 0) return $"{name} needs a value, e.g. {name} {o.Option.HelpName}; see '{help}'.";
        }
        return $"{RunConfig.OneLine(error.Message)} (see '{help}').";
    }

    private static string UnknownCommand(string token, Command command, string path)
    {
        var names = command.Subcommands.Select(c => c.Name).ToList();
        string what = path.Length == 0 ? "command" : "subcommand";
        string shown = path.Length == 0 ? token : $"{path} {token}";
        string list = path.Length == 0 ? $"commands: {string.Join(", ", names)}" : $"use {string.Join(", ", names.Select(n => $"'{path} {n}'"))}";
        return Nearest(token, names) is string near
            ? $"Unknown {what} '{shown}'; did you mean '{(path.Length == 0 ? near : $"{path} {near}")}'? ({list}; eventprop --help)."
            : $"Unknown {what} '{shown}'; {list} (eventprop --help).";
    }

    /// <summary>The command's path below the root (<c>data info</c>), or "" for the root.</summary>
    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is CommandResult c && c.Parent is not null; r = c.Parent) names.Add(c.Command.Name);
        names.Reverse();
        return string.Join(' ', names);
    }

    private static string Name(string path) => path.Length == 0 ? "eventprop" : path;

    /// <summary>The candidate closest to <paramref name="typed"/> (edit distance ≤ 2, or a prefix of it), or null.</summary>
    internal static string? Nearest(string typed, IEnumerable<string> candidates)
    {
        string bare = typed.TrimStart('-');
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string c in candidates)
        {
            string b = c.TrimStart('-');
            int d = b.StartsWith(bare, StringComparison.Ordinal) && bare.Length >= 2 ? 1 : Distance(bare, b);
            if (d < bestDistance && d <= Math.Min(2, Math.Max(1, b.Length / 3))) { best = c; bestDistance = d; }
        }
        return best;
    }

    /// <summary>Levenshtein distance (insertions, deletions, substitutions and swaps of neighbours).</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
