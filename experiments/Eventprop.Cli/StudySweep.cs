using System.Globalization;
using System.Text.Json.Nodes;

namespace Eventprop.Cli;

/// <summary>
/// The sweep of a study: one key over numeric values (<c>{"key": "surrogate.scale", "values": [1, 10, 100]}</c>), or named
/// settings, one per value (<c>{"label": "layers", "values": [3, 4], "sets": [{"network.hidden": …}, {…}]}</c>: the value is
/// the plot's x coordinate, the set is what the run changes), crossed with every series. With <c>evaluation_only</c> the
/// key must only change evaluation (<see cref="EvaluationOnlyKeys"/>): each series and seed is trained once and its final
/// model evaluated at every value (seed 004 Fig. 6: accuracy against the inference time steps).
/// </summary>
public sealed record StudySweep
{
    /// <summary>The keys an <see cref="EvaluationOnly"/> sweep may vary: they change evaluation, never training.</summary>
    public static IReadOnlyList<string> EvaluationOnlyKeys { get; } = ["engine.evaluation_duration_ms"];

    /// <summary>Dotted key, e.g. <c>surrogate.scale</c>; may be left out when <see cref="Sets"/> is given (else also set to the value).</summary>
    public string Key { get; init; } = "";

    /// <summary>Axis label of the plot (default: the key).</summary>
    public string? Label { get; init; }

    /// <summary>The values.</summary>
    public double[] Values { get; init; } = [];

    /// <summary>Optional: the keys each value sets (one dictionary per value, in the order of <see cref="Values"/>), dotted as in <c>--set</c>.</summary>
    public Dictionary<string, JsonNode?>[]? Sets { get; init; }

    /// <summary>Train each series and seed once and evaluate its final model at every value of <see cref="Key"/>, one of <see cref="EvaluationOnlyKeys"/>.</summary>
    public bool EvaluationOnly { get; init; }

    /// <summary>How messages, the table and the run directories name the sweep: the key, else the label, else "sweep".</summary>
    internal string Name => Key.Length > 0 ? Key : Label ?? "sweep";

    /// <summary>Checks the sweep's shape (one-line <see cref="UserError"/>s naming the study file and the keys as written).</summary>
    internal void Check(string path)
    {
        if (Values.Length == 0) throw new UserError($"Study '{path}': the sweep of {Name} has no values.");
        if (Key.Length == 0 && Sets is null)
            throw new UserError($"Study '{path}': the sweep needs a key (e.g. \"key\": \"surrogate.scale\") or one set of keys per value (sweep.sets).");
        if (Sets is { } sets && sets.Length != Values.Length)
            throw new UserError($"Study '{path}': sweep.sets has {sets.Length} entries but sweep.values has {Values.Length}; give one set of keys per value.");
        if (Values.Distinct().Count() != Values.Length)
            throw new UserError($"Study '{path}': sweep.values lists a value twice ({string.Join(", ", Values.Select(Inv))}).");
        if (!EvaluationOnly) return;
        if (Sets is not null)
            throw new UserError($"Study '{path}': sweep.evaluation_only evaluates one trained model at every value, so it takes sweep.key alone, not sweep.sets.");
        if (!EvaluationOnlyKeys.Contains(Key))
            throw new UserError($"Study '{path}': sweep.evaluation_only trains once per series and seed, so sweep.key must change only evaluation ({string.Join(", ", EvaluationOnlyKeys)}); '{(Key.Length == 0 ? "(none)" : Key)}' is not such a key.");
    }

    /// <summary>The sweep restricted to <paramref name="values"/> (<c>--values</c>); with <see cref="Sets"/> each must be one of the study's values.</summary>
    internal StudySweep Pick(double[] values)
    {
        if (Sets is null) return this with { Values = values };
        var index = values.Select(v => Array.IndexOf(Values, v)).ToArray();
        if (index.FirstOrDefault(i => i < 0, 0) < 0)
            throw new UserError($"--values picks among the study's sweep values ({string.Join(", ", Values.Select(Inv))}) when the sweep sets keys per value; {Inv(values[Array.IndexOf(index, -1)])} is not one.");
        return this with { Values = values, Sets = index.Select(i => Sets[i]).ToArray() };
    }

    /// <summary>The <c>--set</c> assignments at <paramref name="value"/> (one of <see cref="Values"/>): the value's set, then the key.</summary>
    internal IEnumerable<string> SetsAt(double value)
    {
        if (Sets is { } sets)
            foreach (var (key, v) in sets[Array.IndexOf(Values, value)]) yield return $"{key}={(v is null ? "null" : v.ToJsonString())}";
        if (Key.Length > 0) yield return $"{Key}={value.ToString("R", CultureInfo.InvariantCulture)}";
    }

    private static string Inv(double x) => x.ToString(CultureInfo.InvariantCulture);
}
