using System.Text.Json;
using System.Text.Json.Nodes;

namespace Eventprop.Cli;

/// <summary>
/// What <c>train --resume</c> may change. The run directory keeps the config its checkpoint was made with
/// (<see cref="CheckpointConfigFileName"/>, written when the run starts); a resume compares the requested config (the run's
/// <c>config.json</c> with <c>--set</c>, <c>--epochs</c>, <c>--device</c>, <c>--data</c>, <c>--method</c>) with it key by key.
/// <list type="bullet">
/// <item><c>training.epochs</c> (the new total), <c>name</c>, <c>comment</c> and <c>dataset.path</c> (where the same files
/// are now) may change freely;</item>
/// <item><c>engine.device</c> and <c>engine.threads</c> may change with a warning that is printed and recorded in
/// summary.json (<c>resumes</c>): they change floating-point rounding, so later epochs are not bit-identical to an
/// uninterrupted run;</item>
/// <item>anything else is refused with one line naming the key.</item>
/// </list>
/// </summary>
public static class ResumeCheck
{
    /// <summary>The copy of the config the checkpoint was made with (do not edit; <c>config.json</c> is the readable copy).</summary>
    public const string CheckpointConfigFileName = "checkpoint_config.json";

    /// <summary>Keys a resume may change without a word.</summary>
    public static readonly IReadOnlyList<string> FreeKeys = ["training.epochs", "name", "comment", "dataset.path"];

    /// <summary>Keys a resume may change with a recorded warning (floating-point results differ).</summary>
    public static readonly IReadOnlyList<string> WarnKeys = ["engine.device", "engine.threads"];

    /// <summary>One allowed change that alters floating-point results.</summary>
    public sealed record Change(string Key, string Before, string After);

    /// <summary>
    /// Compares <paramref name="requested"/> with <paramref name="original"/>; returns the <see cref="WarnKeys"/> changes, or
    /// throws a one-line <see cref="UserError"/> for any other change.
    /// </summary>
    /// <param name="original">The config the checkpoint was made with.</param>
    /// <param name="onDisk">The run's config.json as it is now (to tell a hand edit from a --set).</param>
    /// <param name="requested">config.json with this command's overrides.</param>
    /// <param name="runDir">The run directory, for messages.</param>
    public static IReadOnlyList<Change> Compare(RunConfig original, RunConfig onDisk, RunConfig requested, string runDir)
    {
        var before = Flatten(original);
        var edited = Flatten(onDisk);
        var after = Flatten(requested);
        var changes = new List<Change>();
        foreach (string key in before.Keys.Union(after.Keys).Order(StringComparer.Ordinal))
        {
            string a = before.GetValueOrDefault(key, "null"), b = after.GetValueOrDefault(key, "null");
            if (a == b || FreeKeys.Contains(key)) continue;
            if (WarnKeys.Contains(key)) { changes.Add(new Change(key, a, b)); continue; }
            string where = edited.GetValueOrDefault(key, "null") != a ? $"{Path.Combine(runDir, "config.json")} was edited" : "this command sets it";
            throw new UserError($"--resume keeps the run's config, but {key} was {a} when the checkpoint was made and is now {b} ({where}); " +
                $"only {string.Join(", ", FreeKeys.Take(1).Concat(WarnKeys))} may change. Undo the change, or start a new run with another --out.");
        }
        return changes;
    }

    /// <summary>
    /// The <c>resumes</c> list of summary.json: the earlier resumes with changes (from the summary in <paramref name="runDir"/>)
    /// and this one, when it changed a <see cref="WarnKeys"/> key.
    /// </summary>
    internal static JsonArray History(string runDir, bool resumed, int afterEpoch, IReadOnlyList<Change> changes)
    {
        var list = new JsonArray();
        string path = Path.Combine(runDir, "summary.json");
        if (resumed && File.Exists(path))
        {
            try
            {
                if (JsonNode.Parse(File.ReadAllText(path))?["resumes"] is JsonArray earlier)
                    foreach (var e in earlier) list.Add(e?.DeepClone());
            }
            catch (JsonException) { } // an unreadable earlier summary is replaced; its resume notes are lost with it
        }
        if (resumed && changes.Count > 0)
        {
            var changed = new JsonObject();
            foreach (var c in changes) changed[c.Key] = new JsonObject { ["before"] = JsonNode.Parse(c.Before), ["after"] = JsonNode.Parse(c.After) };
            list.Add(new JsonObject { ["after_epoch"] = afterEpoch, ["changed"] = changed });
        }
        return list;
    }

    /// <summary>The config as dotted keys and JSON values (arrays of numbers as one value; lists of objects, such as
    /// <c>network.hidden</c>'s layers, entry by entry: <c>network.hidden[1].size</c>).</summary>
    internal static Dictionary<string, string> Flatten(RunConfig config)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        Walk(JsonSerializer.SerializeToNode(config, RunConfig.Json), "", result);
        return result;

        static void Walk(JsonNode? node, string prefix, Dictionary<string, string> into)
        {
            if (node is JsonObject o)
                foreach (var (k, v) in o) Walk(v, prefix.Length == 0 ? k : $"{prefix}.{k}", into);
            else if (node is JsonArray { Count: > 0 } a && a.All(x => x is JsonObject))
                for (int i = 0; i < a.Count; i++) Walk(a[i], $"{prefix}[{i}]", into);
            else into[prefix] = node?.ToJsonString() ?? "null";
        }
    }
}
