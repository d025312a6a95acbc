using System.Globalization;

namespace Eventprop.Cli;

/// <summary>
/// A small parser for <c>--name value</c>, <c>--name=value</c>, repeated options and flags. Each command declares the
/// options it knows; anything else is a one-line <see cref="UserError"/>.
/// </summary>
public sealed class Arguments
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    /// <summary>Positional arguments, in order.</summary>
    public IReadOnlyList<string> Positional { get; }

    private Arguments(List<string> positional) => Positional = positional;

    /// <summary>Parses <paramref name="args"/> for command <paramref name="command"/>.</summary>
    /// <param name="args">The arguments after the command name.</param>
    /// <param name="command">The command name, for messages.</param>
    /// <param name="valueOptions">Options that take a value (without the leading dashes).</param>
    /// <param name="flagOptions">Options that take no value.</param>
    public static Arguments Parse(IReadOnlyList<string> args, string command, IEnumerable<string> valueOptions, IEnumerable<string> flagOptions)
    {
        var values = new HashSet<string>(valueOptions, StringComparer.Ordinal);
        var flags = new HashSet<string>(flagOptions, StringComparer.Ordinal);
        var positional = new List<string>();
        var result = new Arguments(positional);
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a == "--")
            {
                positional.Add(a);
                continue;
            }
            string name = a[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (flags.Contains(name))
            {
                if (inline is not null) throw new UserError($"--{name} takes no value; write just --{name}.");
                result._flags.Add(name);
            }
            else if (values.Contains(name))
            {
                string? value = inline;
                if (value is null)
                {
                    if (i + 1 >= args.Count) throw new UserError($"--{name} needs a value; see 'eventprop {command} --help'.");
                    value = args[++i];
                }
                if (!result._values.TryGetValue(name, out var list)) result._values[name] = list = [];
                list.Add(value);
            }
            else
            {
                var known = values.Concat(flags).OrderBy(s => s, StringComparer.Ordinal).Select(s => "--" + s);
                throw new UserError($"Unknown option '{a}' for '{command}'; known: {string.Join(", ", known)}.");
            }
        }
        return result;
    }

    /// <summary>Whether flag <paramref name="name"/> was given.</summary>
    public bool Flag(string name) => _flags.Contains(name);

    /// <summary>The (last) value of option <paramref name="name"/>, or null.</summary>
    public string? Value(string name) => _values.TryGetValue(name, out var l) ? l[^1] : null;

    /// <summary>All values of a repeated option.</summary>
    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out var l) ? l : [];

    /// <summary>Option <paramref name="name"/> as an integer, or null; a one-line error when it is not one.</summary>
    public int? Int(string name)
    {
        string? v = Value(name);
        if (v is null) return null;
        return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int r)
            ? r : throw new UserError($"--{name} must be an integer, got '{v}'.");
    }

    /// <summary>Option <paramref name="name"/> as a number, or null; a one-line error when it is not one.</summary>
    public double? Double(string name)
    {
        string? v = Value(name);
        if (v is null) return null;
        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double r) && double.IsFinite(r)
            ? r : throw new UserError($"--{name} must be a number, got '{v}'.");
    }

    /// <summary>Fails with one line when positional arguments were given but the command takes none beyond <paramref name="allowed"/>.</summary>
    public void RequireAtMostPositional(int allowed, string command)
    {
        if (Positional.Count > allowed)
            throw new UserError($"Unexpected argument '{Positional[allowed]}' for '{command}'; options start with --.");
    }
}
