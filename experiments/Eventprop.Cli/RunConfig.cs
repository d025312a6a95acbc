using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Eventprop.Cli;

/// <summary>The training run configuration (<c>train --config FILE.json</c>); keys are snake_case, documented in docs/cli.md.</summary>
public sealed record RunConfig
{
    /// <summary>Run name (the run directory is <c>runs/&lt;name&gt;-&lt;timestamp&gt;</c> unless --out is given).</summary>
    public string Name { get; init; } = "randman_quickstart";

    /// <summary>Free text for the reader (ignored).</summary>
    public string? Comment { get; init; }

    /// <summary>Seed for every random choice (data generation, splits, initial weights, shuffling, augmentation).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The data set.</summary>
    public DatasetConfig Dataset { get; init; } = new();

    /// <summary>The network.</summary>
    public NetworkConfig Network { get; init; } = new();

    /// <summary>Loss name (one of <c>Loss.Names</c>).</summary>
    public string Loss { get; init; } = "sum_exp";

    /// <summary>The simulation engine.</summary>
    public EngineConfig Engine { get; init; } = new();

    /// <summary>Gradient method: <c>eventprop</c> (exact gradients; default) or <c>surrogate</c> (surrogate-gradient BPTT, <see cref="Surrogate"/> section).</summary>
    public string Method { get; init; } = "eventprop";

    /// <summary>Surrogate-gradient BPTT settings (used when <see cref="Method"/> is <c>surrogate</c>).</summary>
    public SurrogateConfig Surrogate { get; init; } = new();

    /// <summary>Training options.</summary>
    public TrainingConfig Training { get; init; } = new();

    /// <summary>Augmentations.</summary>
    public AugmentConfig Augment { get; init; } = new();

    /// <summary>Parameters of the <c>first_spike</c> loss (used only when <see cref="Loss"/> is <c>first_spike</c>).</summary>
    public FirstSpikeConfig FirstSpike { get; init; } = new();

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // plain "in->hidden" and τ in the files we write
    };

    /// <summary>The shortest time constant accepted (ms): shorter ones are typos or unit mistakes (seconds for ms), not models.</summary>
    internal const double MinimumTauMs = 1e-3;

    /// <summary>The built-in quick start (generated randman, small recurrent network, stepped engine, sum_exp).</summary>
    public static RunConfig QuickStart { get; } = new();

    /// <summary>
    /// Loads <paramref name="path"/> (or the quick start when null) and applies <c>key=value</c> overrides, where key is a dotted
    /// path (<c>training.epochs=5</c>) and value is JSON (numbers, true/false, quoted or bare strings).
    /// </summary>
    /// <exception cref="UserError">Missing file, malformed JSON, unknown key or bad value (one line).</exception>
    public static RunConfig Load(string? path, IEnumerable<string> overrides)
    {
        JsonNode root;
        string source = path is null ? "(quick start)" : $"'{path}'";
        if (path is null) root = JsonSerializer.SerializeToNode(QuickStart, Json)!;
        else
        {
            if (!File.Exists(path)) throw new UserError($"Config file '{path}' not found; the shipped configs are in experiments/configs/.");
            try { root = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                ?? throw new UserError($"Config '{path}' is empty."); }
            catch (JsonException e) { throw new UserError($"Config '{path}' is not valid JSON: {OneLine(e.Message)}"); }
        }
        return FromJson(root, source, overrides);
    }

    /// <summary>The config in <paramref name="root"/> (changed in place by the overrides); <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="UserError">Unknown key or bad value (one line).</exception>
    /// <param name="root">The config's JSON.</param>
    /// <param name="source">Where it came from, for messages ("" for none).</param>
    /// <param name="overrides"><c>key=value</c> assignments.</param>
    /// <param name="validate">Whether to check ranges and names too (<see cref="Validate"/>); false checks keys and value types only.</param>
    internal static RunConfig FromJson(JsonNode root, string source, IEnumerable<string> overrides, bool validate = true)
    {
        SurrogateConfig.NormalizeAliases(root, source);
        foreach (string o in overrides) ApplySet(root, SurrogateConfig.AliasedAssignment(o));
        RunConfig config;
        try { config = root.Deserialize<RunConfig>(Json) ?? throw new UserError($"Config {source} is null."); }
        catch (JsonException e) { throw new UserError(source.Length == 0 ? Describe(e) : $"Config {source}: {Describe(e)}"); }
        if (validate) config.Validate();
        return config;
    }

    // key=value: key is a dotted path whose parts may index lists (network.hidden[1].size). A missing section is created;
    // a list entry one past the end is appended (network.hidden[2] on a two-layer list adds a third layer); the
    // single-number network.hidden becomes the one-layer list [{"size": n}] when indexed.
    private static void ApplySet(JsonNode root, string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new UserError($"--set '{assignment}' must look like key=value, e.g. --set training.epochs=5.");
        string key = assignment[..eq].Trim(), text = assignment[(eq + 1)..].Trim();
        var steps = KeySteps(key);
        JsonNode node = root;
        string at = "";
        for (int s = 0; s < steps.Count; s++)
        {
            var (name, index) = steps[s];
            bool last = s == steps.Count - 1, listNext = !last && steps[s + 1].Name is null;
            JsonNode? child;
            if (name is not null)
            {
                if (node is not JsonObject obj) throw new UserError($"--set {key}: '{at}' is not a section.");
                string here = at.Length == 0 ? name : $"{at}.{name}";
                if (last)
                {
                    obj[name] = Value(text);
                    return;
                }
                child = obj[name];
                if (listNext && here == "network.hidden" && child is JsonValue n && n.GetValueKind() == JsonValueKind.Number)
                    obj[name] = child = new JsonArray(new JsonObject { ["size"] = n.DeepClone() });
                if (child is null && !obj.ContainsKey(name)) obj[name] = child = listNext ? new JsonArray() : new JsonObject();
                if (listNext ? child is not JsonArray : child is not JsonObject)
                    throw new UserError($"--set {key}: '{here}' is not a {(listNext ? "list" : "section")}.");
                at = here;
            }
            else
            {
                var list = (JsonArray)node;
                string here = $"{at}[{index}]";
                if (index > list.Count)
                    throw new UserError($"--set {key}: '{at}' has {list.Count} entries ({(list.Count == 0 ? "none to index" : $"indices 0–{list.Count - 1}")}); " +
                        $"add one at a time ({at}[{list.Count}]) or set the whole list, e.g. --set {at}=[{{\"size\":64}}].");
                if (last)
                {
                    if (index == list.Count) list.Add(Value(text));
                    else list[index] = Value(text);
                    return;
                }
                if (index == list.Count) list.Add(listNext ? new JsonArray() : new JsonObject());
                child = list[index];
                if (listNext ? child is not JsonArray : child is not JsonObject)
                    throw new UserError($"--set {key}: '{here}' is not a {(listNext ? "list" : "section")}.");
                at = here;
            }
            node = child!;
        }

        static JsonNode? Value(string text)
        {
            try { return JsonNode.Parse(text); }
            catch (JsonException) { return JsonValue.Create(text); }
        }
    }

    // "network.hidden[1].size" → (network), (hidden), [1], (size).
    private static List<(string? Name, int Index)> KeySteps(string key)
    {
        var steps = new List<(string? Name, int Index)>();
        foreach (string part in key.Split('.'))
        {
            var m = System.Text.RegularExpressions.Regex.Match(part, @"^([^\[\]]+)((?:\[[0-9]+\])*)$");
            if (!m.Success)
                throw new UserError($"--set {key}: '{part}' is not a key; keys are dotted names, list entries name[index], e.g. --set network.hidden[1].size=64.");
            steps.Add((m.Groups[1].Value, 0));
            foreach (System.Text.RegularExpressions.Match i in System.Text.RegularExpressions.Regex.Matches(m.Groups[2].Value, "[0-9]+"))
            {
                if (!int.TryParse(i.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                    throw new UserError($"--set {key}: index {i.Value} is too large.");
                steps.Add((null, index));
            }
        }
        return steps;
    }

    private static string Describe(JsonException e)
    {
        string path = string.IsNullOrEmpty(e.Path) ? "" : e.Path.TrimStart('$', '.');
        if (e.Message.Contains("could not be mapped", StringComparison.Ordinal))
        {
            int a = e.Message.IndexOf('\''), b = a < 0 ? -1 : e.Message.IndexOf('\'', a + 1);
            string name = b > a ? e.Message[(a + 1)..b] : "?";
            if (path == name || path.EndsWith("." + name, StringComparison.Ordinal)) path = path[..Math.Max(0, path.Length - name.Length - 1)];
            string where = path.Length == 0 ? "" : $" in section '{path}'";
            return $"unknown key '{name}'{where}; see docs/cli.md for the keys.";
        }
        string message = OneLine(e.Message);
        int to = message.IndexOf("converted to ", StringComparison.Ordinal);
        if (to >= 0)
        {
            string type = message[(to + 13)..];
            int end = type.IndexOf(". Path", StringComparison.Ordinal);
            type = end >= 0 ? type[..end] : type.TrimEnd('.');
            string form = type switch
            {
                "System.Int32" => "a whole number, e.g. 5",
                "System.Double" => "a number, e.g. 0.5",
                "System.Boolean" => "true or false",
                "System.String" => "a text, e.g. \"name\"",
                "System.Double[]" => "a list of numbers, e.g. [0.2,0.37]",
                _ when type.Contains("Boolean", StringComparison.Ordinal) => "true or false (or null for the default)",
                _ when type.Contains("Int32", StringComparison.Ordinal) => "a whole number or null",
                _ when type.Contains("Double", StringComparison.Ordinal) => "a number or null",
                _ => "a value of the documented form (docs/cli.md)",
            };
            string example = type switch { "System.Double[]" => "[0.2,0.37]", "System.Boolean" or "System.Nullable`1[System.Boolean]" => "true", "System.Int32" => "5", "System.String" => "name", _ => "0.5" };
            return $"{path} must be {form} (on the command line: --set {path}={example}).";
        }
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return $"bad value at '{path}': {(cut > 0 ? message[..cut] : message)}";
    }

    internal static string OneLine(string s)
    {
        int nl = s.IndexOfAny(['\r', '\n']);
        return nl < 0 ? s : s[..nl];
    }

    /// <summary>Checks ranges and names; one-line <see cref="UserError"/>s.</summary>
    public void Validate()
    {
        if (!Losses.Loss.Names.Contains(Loss)) throw new UserError($"Unknown loss '{Loss}'; choose one of: {string.Join(", ", Losses.Loss.Names)}.");
        if (!DatasetConfig.Kinds.Contains(Dataset.Kind)) throw new UserError($"Unknown dataset.kind '{Dataset.Kind}'; choose one of: {string.Join(", ", DatasetConfig.Kinds)}.");
        if (Network is null) throw new UserError("network must be a section such as {\"hidden\": 128}.");
        Network.Validate();
        if (Method is not ("eventprop" or "surrogate")) throw new UserError($"method must be 'eventprop' or 'surrogate', got '{Method}'.");
        if (Method == "surrogate") Surrogate.Validate(Loss, Training);
        Dataset.ValidateEncoding(Method, Engine, Augment, Training);
        if (!(Training.ReadoutDropout >= 0 && Training.ReadoutDropout < 1))
            throw new UserError($"training.readout_dropout must be in [0, 1) (seed 004 uses 0.5), got {Training.ReadoutDropout.ToString(CultureInfo.InvariantCulture)}.");
        if (Training.ReadoutDropout > 0 && Method != "surrogate")
            throw new UserError("training.readout_dropout needs method surrogate; the Eventprop engines do not thin the spikes into the readout yet. Set training.readout_dropout=0 or method=surrogate.");
        if (Network.FirstBatchNormKey() is { } batchNormKey && Method != "surrogate")
            throw new UserError($"{batchNormKey}.batch_norm needs method surrogate; batch norm couples the trials of a batch, which Eventprop's per-trial adjoint does not do. Set method=surrogate or drop {batchNormKey}.batch_norm.");
        if (!(Training.BatchNormMomentum > 0 && Training.BatchNormMomentum <= 1))
            throw new UserError($"training.batch_norm_momentum must be in (0, 1] (PyTorch's default is 0.1), got {Training.BatchNormMomentum.ToString(CultureInfo.InvariantCulture)}.");
        if (Network.NormalizeThresholds && Method != "surrogate")
            throw new UserError("network.normalize_thresholds needs method surrogate (it measures the surrogate engine's per-step input currents); set method=surrogate or network.normalize_thresholds=false.");
        if (Method == "surrogate" && Surrogate.TuneWidth && Network.Hidden.Count < 2)
            throw new UserError($"surrogate.tune_width compares the first and second half of the hidden layers, so it needs at least 2, got {Network.Hidden.Count}; give network.hidden a list of layers or set surrogate.tune_width=false.");
        if (Engine.Kind is not ("stepped" or "exact")) throw new UserError($"engine.kind must be 'stepped' or 'exact', got '{Engine.Kind}'.");
        if (!Gpu.SteppedEngines.DeviceNames.Contains(Engine.Device))
            throw new UserError($"engine.device must be one of {string.Join(", ", Gpu.SteppedEngines.DeviceNames)}, got '{Engine.Device}'.");
        if (Engine.Kind == "exact" && Engine.Device is "cuda" or "ilgpu-cpu")
            throw new UserError($"The exact engine runs on the CPU only; use engine.kind=stepped for --device {Engine.Device}.");
        if (Network.ReadoutModel == "integrator" && Loss == "first_spike")
            throw new UserError("network.readout_model 'integrator' is a non-spiking readout, but loss first_spike reads spike times; use a voltage loss (e.g. last_voltage) or network.readout_model li.");
        if (Network.ReadoutModel == "integrator" && Method == "eventprop" && Engine.Kind == "stepped")
            throw new UserError("network.readout_model 'integrator' needs engine.kind exact (or method surrogate); the time-stepped Eventprop engines do not simulate it yet.");
        if (Network.Hidden.Select((l, i) => (l, i)).FirstOrDefault(x => x.l.Delays is not null || x.l.RecurrentDelays is not null) is { l: not null } delayed
            && (Method != "eventprop" || Engine.Kind == "stepped" && Engine.Device is not ("cpu" or "auto")))
            throw new UserError($"network.hidden[{delayed.i}] has learned delays, which need method eventprop on engine.kind exact, or on engine.kind stepped with engine.device cpu (or auto); the surrogate and GPU engines do not simulate them yet.");
        if (Engine.Threads < 0) throw new UserError($"engine.threads must be ≥ 0 (0 = all cores), got {Engine.Threads}.");
        if (Dataset.Kind == "randman" && Dataset.Classes < 2) throw new UserError($"dataset.classes must be ≥ 2 (a classifier needs two classes), got {Dataset.Classes}.");
        if (Engine.Dt <= 0) throw new UserError($"engine.dt must be > 0 ms, got {Engine.Dt.ToString(CultureInfo.InvariantCulture)}.");
        if (Engine.DurationMs <= 0) throw new UserError("engine.duration_ms must be > 0.");
        if (Engine.EvaluationDurationMs is { } evaluation)
        {
            if (!(evaluation > 0)) throw new UserError($"engine.evaluation_duration_ms must be > 0 ms (or null for engine.duration_ms), got {evaluation.ToString(CultureInfo.InvariantCulture)}.");
            if (evaluation < Engine.DurationMs && !Dataset.IsAnalog)
                throw new UserError(string.Create(CultureInfo.InvariantCulture, $"engine.evaluation_duration_ms {evaluation} is shorter than engine.duration_ms {Engine.DurationMs}, which would cut input spikes; with spike input it must be ≥ engine.duration_ms (shorter evaluation trials need dataset.encoding current)."));
        }
        if (Training.Epochs < 1) throw new UserError($"training.epochs must be ≥ 1, got {Training.Epochs}.");
        if (Training.BatchSize < 1) throw new UserError($"training.batch_size must be ≥ 1, got {Training.BatchSize}.");
        if (Training.LearningRate <= 0) throw new UserError("training.learning_rate must be > 0.");
        Training.ValidateOptimizerAndSchedule();
        if (Dataset.ValidationFraction is < 0 or >= 1) throw new UserError("dataset.validation_fraction must be in [0, 1).");
        if (Dataset.TestFraction is < 0 or >= 1) throw new UserError("dataset.test_fraction must be in [0, 1).");
        if (Augment.Shift < 0) throw new UserError("augment.shift must be ≥ 0 channels.");
        if (!(Augment.BlendProbability is >= 0 and <= 1)) throw new UserError("augment.blend_probability must be in [0, 1] (0 = no blend; the paper uses 0.5).");
        string[] metrics = ["training_accuracy", "training_loss", "validation_accuracy", "validation_loss"];
        if (Training.EarlyStoppingMetric is { } es && !metrics.Contains(es))
            throw new UserError($"training.early_stopping_metric must be one of {string.Join(", ", metrics)} (or null for validation accuracy when there is validation data), got '{es}'.");
        if (Training.ScheduleMetric is { } sm && !metrics.Contains(sm))
            throw new UserError($"training.schedule_metric must be one of {string.Join(", ", metrics)} (or null for validation accuracy when there is validation data), got '{sm}'.");
        if (!(FirstSpike.Tau0 > 0 && FirstSpike.Tau1 > 0 && FirstSpike.Alpha >= 0))
            throw new UserError("first_spike.tau0 and .tau1 must be > 0 ms and first_spike.alpha ≥ 0.");
        if (Dataset.HoldOutSpeaker < 0) throw new UserError($"dataset.hold_out_speaker must be a speaker id ≥ 0, got {Dataset.HoldOutSpeaker}.");
    }
}

/// <summary>Surrogate-gradient BPTT section (<c>method: surrogate</c>); see docs/surrogate.md.</summary>
public sealed record SurrogateConfig
{
    /// <summary>Surrogate shape: superspike (fast sigmoid), sigmoid, esser, asymptotic_superspike, exponential, rectangular.</summary>
    public string Shape { get; init; } = "superspike";

    /// <summary>
    /// Scale of the surrogate: its steepness (β of seeds 000/001, γ of seed 004's eq. 9; the width is ~1/scale). The config
    /// also accepts it as <c>surrogate.width</c> or <c>surrogate.gamma</c> (aliases, written back as <c>scale</c>).
    /// </summary>
    public double Scale { get; init; } = 10;

    /// <summary>Height factor of the surrogate (seed 004's β in eq. 9).</summary>
    public double Height { get; init; } = 1;

    /// <summary>Keys of the surrogate section that mean <see cref="Scale"/> (seed 004's name for it is γ, "the width").</summary>
    internal static readonly string[] ScaleAliases = ["width", "gamma"];

    /// <summary>Rewrites the aliases <c>surrogate.width</c> / <c>surrogate.gamma</c> of a config file to <c>surrogate.scale</c>.</summary>
    /// <exception cref="UserError">Two of scale, width, gamma with different values.</exception>
    internal static void NormalizeAliases(JsonNode root, string source)
    {
        if (root is not JsonObject o || o["surrogate"] is not JsonObject section) return;
        foreach (string alias in ScaleAliases)
        {
            if (!section.ContainsKey(alias)) continue;
            var value = section[alias];
            section.Remove(alias);
            if (section.ContainsKey("scale") && !JsonNode.DeepEquals(section["scale"], value))
                throw new UserError($"Config {source}: surrogate.{alias} is another name for surrogate.scale (seed 004's γ), and the two differ ({section["scale"]?.ToJsonString()} and {value?.ToJsonString()}); keep one of them.");
            section["scale"] = value;
        }
    }

    /// <summary><c>surrogate.width=V</c> or <c>surrogate.gamma=V</c> as <c>surrogate.scale=V</c>; other assignments unchanged.</summary>
    internal static string AliasedAssignment(string assignment)
    {
        foreach (string alias in ScaleAliases)
        {
            string prefix = $"surrogate.{alias}";
            if (assignment.StartsWith(prefix, StringComparison.Ordinal) && assignment.AsSpan(prefix.Length).TrimStart().StartsWith("="))
                return "surrogate.scale" + assignment[prefix.Length..].TrimStart();
        }
        return assignment;
    }

    /// <summary>
    /// Whether <c>train</c> first chooses the scale γ by bisection (seed 004 §2.5, <c>eventprop tune-surrogate</c> with its
    /// defaults on the run's training set) and trains with it; the run directory gets surrogate_width.json and the iteration
    /// table, and config.json records the tuned scale (a resume keeps it).
    /// </summary>
    public bool TuneWidth { get; init; }

    /// <summary><c>exact_propagator</c> (the stepped engine's scheme) or <c>zenke_vogels</c> (eq. 4.1).</summary>
    public string Discretisation { get; init; } = "exact_propagator";

    /// <summary><c>detached</c> or <c>differentiable</c>.</summary>
    public string Reset { get; init; } = "detached";

    /// <summary>Whether the gradient flows through the recurrent connections.</summary>
    public bool RecurrentGradient { get; init; } = true;

    /// <summary>Seed 001 lower bound λ_lower (0 = off).</summary>
    public double LowerStrength { get; init; }

    /// <summary>Seed 001 lower bound ν_lower (spikes per neuron and trial).</summary>
    public double LowerTarget { get; init; }

    /// <summary>Seed 001 upper bound λ_upper (0 = off).</summary>
    public double UpperStrength { get; init; }

    /// <summary>Seed 001 upper bound ν_upper (mean spikes per neuron and trial).</summary>
    public double UpperTarget { get; init; }

    /// <summary>Seed 001 upper bound exponent L (1 or 2).</summary>
    public int UpperExponent { get; init; } = 2;

    /// <summary>Checks names and ranges (one-line errors).</summary>
    internal void Validate(string loss, TrainingConfig training)
    {
        if (!Core.Simulation.Surrogate.Surrogate.Names.Contains(Shape) && Shape != "fast_sigmoid")
            throw new UserError($"Unknown surrogate.shape '{Shape}'; choose one of: {string.Join(", ", Core.Simulation.Surrogate.Surrogate.Names)}.");
        if (!double.IsFinite(Scale) || Scale < 0 || (Shape == "rectangular" && Scale == 0)) throw new UserError("surrogate.scale (alias width, gamma: seed 004's γ) must be finite and ≥ 0 (> 0 for rectangular).");
        if (!double.IsFinite(Height)) throw new UserError("surrogate.height must be finite.");
        if (Discretisation is not ("exact_propagator" or "zenke_vogels")) throw new UserError($"surrogate.discretisation must be 'exact_propagator' or 'zenke_vogels', got '{Discretisation}'.");
        if (Reset is not ("detached" or "differentiable")) throw new UserError($"surrogate.reset must be 'detached' or 'differentiable', got '{Reset}'.");
        if (LowerStrength < 0 || LowerTarget < 0 || UpperStrength < 0 || UpperTarget < 0) throw new UserError("surrogate.lower_*/upper_* must be ≥ 0.");
        if (UpperExponent is not (1 or 2)) throw new UserError($"surrogate.upper_exponent must be 1 or 2, got {UpperExponent}.");
        if (loss == "first_spike") throw new UserError("method surrogate needs a voltage loss (sum, sum_exp, max, entropy, last_voltage); first_spike reads a spiking readout.");
        if (training.RegularizationStrength > 0)
            throw new UserError("training.regularization_strength is Eventprop's heuristic; with method surrogate use surrogate.lower_strength / surrogate.upper_strength (seed 001's bounds).");
    }

    /// <summary>The engine options this section describes.</summary>
    public Core.Simulation.Surrogate.SurrogateOptions ToOptions(int? threads) => new()
    {
        Surrogate = Core.Simulation.Surrogate.Surrogate.FromName(Shape, Scale, Height),
        Discretisation = Discretisation == "zenke_vogels" ? Core.Simulation.Surrogate.Discretisation.ZenkeVogels : Core.Simulation.Surrogate.Discretisation.ExactPropagator,
        Reset = Reset == "differentiable" ? Core.Simulation.Surrogate.ResetGradient.Differentiable : Core.Simulation.Surrogate.ResetGradient.Detached,
        RecurrentGradient = RecurrentGradient,
        Regularization = LowerStrength > 0 || UpperStrength > 0 ? new Core.Simulation.Surrogate.SpikeCountRegularization(LowerStrength, LowerTarget, UpperStrength, UpperTarget, UpperExponent) : null,
        Threads = threads,
    };

    /// <summary>A short description for the run's first line.</summary>
    public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"surrogate BPTT ({Shape} β {Scale}{(Height != 1 ? $" height {Height}" : "")}, {Discretisation}, reset {Reset}, recurrent gradient {(RecurrentGradient ? "on" : "off")})");
}

/// <summary>Engine section.</summary>
public sealed record EngineConfig
{
    /// <summary><c>stepped</c> (batched, time-stepped, CPU) or <c>exact</c> (event-driven).</summary>
    public string Kind { get; init; } = "stepped";

    /// <summary>Time step of the stepped engine (ms).</summary>
    public double Dt { get; init; } = 1.0;

    /// <summary>Trial duration simulated (ms).</summary>
    public double DurationMs { get; init; } = 50;

    /// <summary>
    /// Trial duration of evaluation — validation, test and <c>evaluate</c> (ms); null: <see cref="DurationMs"/>. Seed 004
    /// trains its analog-input networks at 10 steps and evaluates them at 20. With input spikes it must be ≥
    /// <see cref="DurationMs"/> (a shorter trial would cut spikes the data were checked against).
    /// </summary>
    public double? EvaluationDurationMs { get; init; }

    /// <summary>The evaluation trial duration (ms): <see cref="EvaluationDurationMs"/>, else <see cref="DurationMs"/>.</summary>
    [JsonIgnore]
    public double EvaluationDuration => EvaluationDurationMs ?? DurationMs;

    /// <summary>Worker threads (0 = all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Where the stepped engine runs: <c>auto</c> (CUDA if present, else CPU), <c>cpu</c>, <c>cuda</c> or <c>ilgpu-cpu</c> (docs/gpu.md).</summary>
    public string Device { get; init; } = "auto";
}

/// <summary>Training section (maps onto <c>TrainingOptions</c>; see docs/training.md). The optimiser and schedule keys are in TrainingConfig.Schedule.cs.</summary>
public sealed partial record TrainingConfig
{
    /// <summary>Epochs.</summary>
    public int Epochs { get; init; } = 30;

    /// <summary>Minibatch size.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam learning rate η.</summary>
    public double LearningRate { get; init; } = 1e-2;

    /// <summary>Learning-rate ease-in (null: on, unless <see cref="Schedule"/> is <c>one_cycle</c>).</summary>
    public bool? EaseIn { get; init; }

    /// <summary>Two-EMA halving schedule (null: on, unless <see cref="Schedule"/> is <c>one_cycle</c>).</summary>
    public bool? HalvingSchedule { get; init; }

    /// <summary>Minimum epochs between halvings.</summary>
    public int HalvingMinimumEpochs { get; init; } = 50;

    /// <summary>Learn hidden/readout τm.</summary>
    public bool LearnTauMem { get; init; }

    /// <summary>Learn hidden/readout τs.</summary>
    public bool LearnTauSyn { get; init; }

    /// <summary>Gamma-distributed heterogeneous τ initialisation.</summary>
    public bool HeterogeneousTau { get; init; }

    /// <summary>Input spike dropout probability.</summary>
    public double InputDropout { get; init; }

    /// <summary>Dropout before the last layer (seed 004): per training trial, each neuron projecting into the readout is dropped with this probability (surrogate engine).</summary>
    public double ReadoutDropout { get; init; }

    /// <summary>Momentum of the batch-norm running statistics (layers with <c>batch_norm</c>), in (0, 1]; PyTorch's default 0.1.</summary>
    public double BatchNormMomentum { get; init; } = Core.Simulation.Surrogate.BatchNorm.DefaultMomentum;

    /// <summary>Activity regularisation strength (0 = off).</summary>
    public double RegularizationStrength { get; init; }

    /// <summary>Target spikes per hidden neuron and trial for the regulariser.</summary>
    public double RegularizationTarget { get; init; } = 14;

    /// <summary>Early-stopping patience in epochs (0 = off); the final model is the best epoch's (see <see cref="EarlyStoppingMetric"/>).</summary>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>
    /// What early stopping watches: <c>training_accuracy</c>, <c>training_loss</c>, <c>validation_accuracy</c> or
    /// <c>validation_loss</c>; null: validation accuracy when there is validation data, else training accuracy. The paper's
    /// SHD train/test runs pick the epoch with the best training accuracy (patience = epochs); SSC and cross-validation watch
    /// the validation set.
    /// </summary>
    public string? EarlyStoppingMetric { get; init; }

    /// <summary>What the halving schedule watches (same names); null: validation accuracy when there is validation data, else training accuracy (the paper's rule, §4.7).</summary>
    public string? ScheduleMetric { get; init; }
}

/// <summary>Augmentation section (training data only).</summary>
public sealed record AugmentConfig
{
    /// <summary>Delay line: this many delayed copies of the input (0 = off); applied to train, validation and test alike.</summary>
    public int DelayLineCopies { get; init; }

    /// <summary>Delay between copies (ms).</summary>
    public double DelayLineMs { get; init; } = 30;

    /// <summary>Random channel shift of up to ± this many channels per training trial and epoch (0 = off).</summary>
    public int Shift { get; init; }

    /// <summary>
    /// Blend (0 = off; the paper uses 0.5): every epoch, as many blends as there are training trials are added, each mixing a
    /// trial with a random other trial of its class after aligning their centres of mass, every spike kept with this probability.
    /// </summary>
    public double BlendProbability { get; init; }
}

/// <summary>Parameters of the <c>first_spike</c> loss (defaults: the latency-MNIST values; the SHD loss comparison uses τ1 = 100 ms, α = 5e-5).</summary>
public sealed record FirstSpikeConfig
{
    /// <summary>Softmax time scale τ0 (ms) of −t/τ0.</summary>
    public double Tau0 { get; init; } = 1;

    /// <summary>Time scale τ1 (ms) of the timing term α(e^{t_y/τ1} − 1).</summary>
    public double Tau1 { get; init; } = 3;

    /// <summary>Weight α of the timing term.</summary>
    public double Alpha { get; init; } = 3.6e-4;
}
