namespace Eventprop.Cli;

/// <summary>Data set section.</summary>
public sealed record DatasetConfig
{
    /// <summary>
    /// <c>randman</c> (generated), <c>shd</c>, <c>ssc</c>, <c>fsdd</c> (the spiking Free Spoken Digit Dataset:
    /// fsdd_train.h5 and fsdd_test.h5 in the SHD layout, made by <c>eventprop data encode-audio</c>; see docs/speech.md)
    /// <c>mnist</c> (the MNIST IDX files under <c>--data DIR</c>, encoded as <see cref="Encoding"/> says) or
    /// <c>latency_mnist</c> (the same files, latency-coded; the name older configs use).
    /// </summary>
    public string Kind { get; init; } = "randman";

    /// <summary>
    /// How MNIST images become input (dataset.kind mnist): <c>latency</c> (one spike per bright pixel, the latency-MNIST
    /// code of seed 003) or <c>current</c> (seed 004 §2.1: pixel j is the constant input current x_j = g/255 for the whole
    /// trial; method surrogate only, since the Eventprop engines take input spikes).
    /// </summary>
    public string Encoding { get; init; } = "latency";

    /// <summary>Directory of the data files (overridden by <c>--data</c>).</summary>
    public string? Path { get; init; }

    /// <summary>Randman: classes.</summary>
    public int Classes { get; init; } = 10;

    /// <summary>Randman: input channels.</summary>
    public int Units { get; init; } = 30;

    /// <summary>Randman: trials per class.</summary>
    public int SamplesPerClass { get; init; } = 300;

    /// <summary>Randman: manifold dimension.</summary>
    public int ManifoldDimension { get; init; } = 1;

    /// <summary>Randman: smoothness α.</summary>
    public double Alpha { get; init; } = 1.0;

    /// <summary>Randman: trial duration (ms).</summary>
    public double DurationMs { get; init; } = 50;

    /// <summary>Fraction of the training data held out for validation (stratified, seeded).</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Randman and latency MNIST without a test file: fraction held out as the test set.</summary>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>Use at most this many training trials (0 = all); for quick trials on big data sets.</summary>
    public int MaxTrain { get; init; }

    /// <summary>
    /// One leave-one-speaker-out fold (set by <c>train --cv speaker</c> for each fold): this speaker's training trials are
    /// the validation set, the other speakers' the training set; no test set is evaluated. Null: an ordinary run.
    /// </summary>
    public int? HoldOutSpeaker { get; init; }

    /// <summary>The values <c>dataset.kind</c> may take.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["randman", "shd", "ssc", "fsdd", "mnist", "latency_mnist"];

    /// <summary>The values <c>dataset.encoding</c> may take.</summary>
    public static IReadOnlyList<string> Encodings { get; } = ["latency", "current"];

    /// <summary>Whether the data are the MNIST IDX files (dataset.kind mnist or latency_mnist).</summary>
    public bool IsMnist => Kind is "mnist" or "latency_mnist";

    /// <summary>Whether the input is analog (a constant current per channel) rather than spikes.</summary>
    public bool IsAnalog => Encoding == "current";

    /// <summary>
    /// Checks <c>dataset.encoding</c> against the data set, the method and the keys that act on input spikes; one-line
    /// <see cref="UserError"/>s naming the keys as written.
    /// </summary>
    /// <param name="method">The config's <c>method</c>.</param>
    /// <param name="engine">The engine section (analog input with Eventprop needs the CPU time-stepped engine).</param>
    /// <param name="augment">The augmentation section (its keys act on input spikes).</param>
    /// <param name="training">The training section (training.input_dropout acts on input spikes).</param>
    public void ValidateEncoding(string method, EngineConfig engine, AugmentConfig augment, TrainingConfig training)
    {
        if (!Encodings.Contains(Encoding))
            throw new UserError($"dataset.encoding must be one of {string.Join(", ", Encodings)}, got '{Encoding}'.");
        if (!IsAnalog) return;
        if (Kind == "latency_mnist")
            throw new UserError("dataset.kind latency_mnist is latency-coded; for the analog image (dataset.encoding current) use dataset.kind mnist.");
        if (Kind != "mnist")
            throw new UserError($"dataset.encoding current encodes images (dataset.kind mnist), but dataset.kind {Kind} is already spikes; remove dataset.encoding or set it to latency.");
        if (method != "surrogate" && engine.Kind != "stepped")
            throw new UserError($"dataset.encoding current (a constant input current per pixel) needs engine.kind stepped with method eventprop (or method surrogate); the exact engine takes input spikes only. Set engine.kind=stepped or dataset.encoding=latency.");
        if (method != "surrogate" && engine.Device is not ("cpu" or "auto"))
            throw new UserError($"dataset.encoding current with method eventprop runs on engine.device cpu only; the ILGPU engine ({engine.Device}) takes input spikes only. Set engine.device=cpu, method=surrogate or dataset.encoding=latency.");
        string? spikeKey = augment.DelayLineCopies > 0 ? "augment.delay_line_copies"
            : augment.Shift > 0 ? "augment.shift"
            : augment.BlendProbability > 0 ? "augment.blend_probability"
            : training.InputDropout > 0 ? "training.input_dropout" : null;
        if (spikeKey is not null)
            throw new UserError($"{spikeKey} acts on input spikes, but dataset.encoding current has none; set it to 0 or use dataset.encoding latency.");
    }
}
