namespace Eventprop.Core.Data;

/// <summary>
/// A smooth random manifold (Zenke &amp; Vogels 2021, §4.1.1; github.com/fzenke/randman): a random smooth map from the
/// D-dimensional unit cube to an M-dimensional embedding space, built from a truncated Fourier series with a
/// power-law spectrum.
/// </summary>
/// <remarks>
/// Embedding coordinate i is f_i(x) = Π_{d&lt;D} Σ_{k=0}^{K−1} a_{idk} s_k sin(2π(k x_d b_{idk} + c_{idk})), with
/// a, b, c ~ U(0, 1), spectrum s_k = 1/((k+1)^α + 1) (the original's default backend; the paper writes 1/k^α) and
/// K = min(⌈precision^(−1/α)⌉, maxFrequencyCutoff). Without bias the constant k = 0 term is switched off (a_{id0} = 0),
/// as in the original. Larger α gives smoother manifolds. All parameters come from the <see cref="Random"/> passed in.
/// </remarks>
public sealed class SmoothRandomManifold
{
    private readonly double[] _amplitude; // a·s, indexed [(i·D + d)·K + k]
    private readonly double[] _frequency; // 2π k b
    private readonly double[] _phase;     // 2π c

    /// <summary>Draws a manifold's parameters from <paramref name="random"/>.</summary>
    /// <param name="embeddingDimension">M, the number of embedding coordinates (units); ≥ 1.</param>
    /// <param name="manifoldDimension">D, the intrinsic dimension; ≥ 1.</param>
    /// <param name="alpha">Smoothness α &gt; 0 (power-law fall-off of the spectrum).</param>
    /// <param name="random">Source of all parameters.</param>
    /// <param name="precision">Sets the frequency cut-off K = ⌈precision^(−1/α)⌉ (default 1e−3, as the original).</param>
    /// <param name="maxFrequencyCutoff">Upper bound of K (default 1000, as the original).</param>
    /// <param name="useBias">Keep the constant (k = 0) term, placing manifolds at random offsets (default false, as the original).</param>
    public SmoothRandomManifold(int embeddingDimension, int manifoldDimension, double alpha, Random random,
        double precision = 1e-3, int maxFrequencyCutoff = 1000, bool useBias = false)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(embeddingDimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(manifoldDimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrequencyCutoff, 1);
        if (!(alpha > 0) || !double.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "Smoothness α must be positive and finite.");
        if (!(precision > 0 && precision < 1)) throw new ArgumentOutOfRangeException(nameof(precision), precision, "Precision must lie in (0, 1).");

        EmbeddingDimension = embeddingDimension;
        ManifoldDimension = manifoldDimension;
        Alpha = alpha;
        FrequencyCutoff = (int)Math.Min(Math.Ceiling(Math.Pow(precision, -1.0 / alpha)), maxFrequencyCutoff);
        int k = FrequencyCutoff;
        int n = embeddingDimension * manifoldDimension * k;
        _amplitude = new double[n];
        _frequency = new double[n];
        _phase = new double[n];
        // Draw order mirrors the original's parameter tensor [embedding, manifold, (a, b, c), frequency].
        for (int i = 0; i < embeddingDimension; i++)
            for (int d = 0; d < manifoldDimension; d++)
            {
                int offset = (i * manifoldDimension + d) * k;
                for (int f = 0; f < k; f++) _amplitude[offset + f] = random.NextDouble();
                for (int f = 0; f < k; f++) _frequency[offset + f] = random.NextDouble();
                for (int f = 0; f < k; f++) _phase[offset + f] = random.NextDouble();
                if (!useBias) _amplitude[offset] = 0;
                for (int f = 0; f < k; f++)
                {
                    _amplitude[offset + f] *= 1.0 / (Math.Pow(f + 1, alpha) + 1.0);
                    _frequency[offset + f] *= 2 * Math.PI * f;
                    _phase[offset + f] *= 2 * Math.PI;
                }
            }
    }

    /// <summary>M, the number of embedding coordinates.</summary>
    public int EmbeddingDimension { get; }

    /// <summary>D, the intrinsic dimension.</summary>
    public int ManifoldDimension { get; }

    /// <summary>Smoothness α.</summary>
    public double Alpha { get; }

    /// <summary>K, the number of Fourier terms per coordinate and intrinsic dimension.</summary>
    public int FrequencyCutoff { get; }

    /// <summary>Maps intrinsic coordinates <paramref name="x"/> (length D, each in [0, 1)) to the embedding space.</summary>
    /// <param name="x">Intrinsic coordinates, length <see cref="ManifoldDimension"/>.</param>
    /// <param name="embedding">Receives the <see cref="EmbeddingDimension"/> embedding coordinates.</param>
    public void Evaluate(ReadOnlySpan<double> x, Span<double> embedding)
    {
        if (x.Length != ManifoldDimension) throw new ArgumentException($"Expected {ManifoldDimension} intrinsic coordinates, got {x.Length}.", nameof(x));
        if (embedding.Length != EmbeddingDimension) throw new ArgumentException($"Expected room for {EmbeddingDimension} coordinates, got {embedding.Length}.", nameof(embedding));
        int k = FrequencyCutoff;
        for (int i = 0; i < EmbeddingDimension; i++)
        {
            double product = 1.0;
            for (int d = 0; d < ManifoldDimension; d++)
            {
                int offset = (i * ManifoldDimension + d) * k;
                double xd = x[d];
                double sum = 0;
                for (int f = 0; f < k; f++)
                    sum += _amplitude[offset + f] * Math.Sin(_frequency[offset + f] * xd + _phase[offset + f]);
                product *= sum;
            }
            embedding[i] = product;
        }
    }
}

/// <summary>Parameters of a randman spike-timing classification dataset (defaults: the paper's 10-way problem).</summary>
public sealed record RandmanOptions
{
    /// <summary>Number of classes, one random manifold each (default 10).</summary>
    public int ClassCount { get; init; } = 10;

    /// <summary>M, the number of input units = embedding dimension (default 20).</summary>
    public int UnitCount { get; init; } = 20;

    /// <summary>D, the intrinsic manifold dimension (default 1).</summary>
    public int ManifoldDimension { get; init; } = 1;

    /// <summary>Smoothness α (default 1).</summary>
    public double Alpha { get; init; } = 1.0;

    /// <summary>τ_randman, the trial duration in ms; spike times are scaled to [0, DurationMs × StepFraction) (default 50).</summary>
    public double DurationMs { get; init; } = 50.0;

    /// <summary>Fraction of the trial, from its start, that holds spikes (the original's step_frac; default 1).</summary>
    public double StepFraction { get; init; } = 1.0;

    /// <summary>Spikes per unit per sample; each comes from its own manifold of the class (default 1).</summary>
    public int SpikesPerUnit { get; init; } = 1;

    /// <summary>Samples drawn from each class's manifold (default 1000; the paper uses 800/100/100 for train/validation/test).</summary>
    public int SamplesPerClass { get; init; } = 1000;

    /// <summary>Seed of everything random: manifolds, sample coordinates and the shuffle (default 1).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Shuffle the classes together (default true); false keeps class-major order.</summary>
    public bool Shuffle { get; init; } = true;
}

/// <summary>
/// Generates the randman benchmark (Zenke &amp; Vogels 2021, §4.1.1): each class is a smooth random manifold of
/// spike timings; every unit fires exactly <see cref="RandmanOptions.SpikesPerUnit"/> times per sample, so classes
/// differ only in timing. Deterministic from <see cref="RandmanOptions.Seed"/>.
/// </summary>
/// <remarks>
/// Procedure (as the original's <c>make_spiking_dataset</c>): draw one manifold seed per (class, spike) from the
/// master generator; for each class draw SamplesPerClass points uniformly in [0, 1)^D, map them through each of
/// the class's manifolds, standardise every unit over the class's samples to [0, 1) by (y − min)/(max − min + 1e−7),
/// and scale to ms by DurationMs × StepFraction; finally shuffle. A class's manifolds depend only on the seed and
/// the class index, not on the number of samples.
/// </remarks>
public static class Randman
{
    private const double StandardizeEpsilon = 1e-7;

    /// <summary>Generates the dataset; channels = units, labels = class index, class names "0", "1", ….</summary>
    /// <param name="options">Parameters; null means the defaults (10 classes, D = α = 1, M = 20, 50 ms, 1000 samples per class).</param>
    public static SpikeDataset Generate(RandmanOptions? options = null)
    {
        options ??= new RandmanOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ClassCount, 1, nameof(options.ClassCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.UnitCount, 1, nameof(options.UnitCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SpikesPerUnit, 1, nameof(options.SpikesPerUnit));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SamplesPerClass, 1, nameof(options.SamplesPerClass));
        if (!(options.DurationMs > 0) || !double.IsFinite(options.DurationMs))
            throw new ArgumentOutOfRangeException(nameof(options), options.DurationMs, "DurationMs must be positive and finite.");
        if (!(options.StepFraction > 0 && options.StepFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(options), options.StepFraction, "StepFraction must lie in (0, 1].");

        var master = new Random(options.Seed);
        int classes = options.ClassCount, spikes = options.SpikesPerUnit, units = options.UnitCount;
        int perClass = options.SamplesPerClass, dims = options.ManifoldDimension;
        var manifoldSeeds = new int[classes, spikes];
        for (int c = 0; c < classes; c++)
            for (int s = 0; s < spikes; s++)
                manifoldSeeds[c, s] = master.Next();

        double scale = options.DurationMs * options.StepFraction;
        var samples = new SpikeSample[classes * perClass];
        for (int c = 0; c < classes; c++)
        {
            var x = new double[perClass * dims];
            for (int i = 0; i < x.Length; i++) x[i] = master.NextDouble();

            // times[sample][s·units + u]: spike s of unit u
            var times = new double[perClass * spikes * units];
            for (int s = 0; s < spikes; s++)
            {
                var manifold = new SmoothRandomManifold(units, dims, options.Alpha, new Random(manifoldSeeds[c, s]));
                var y = new double[perClass * units];
                Parallel.For(0, perClass, i => manifold.Evaluate(x.AsSpan(i * dims, dims), y.AsSpan(i * units, units)));
                for (int u = 0; u < units; u++)
                {
                    double min = double.PositiveInfinity, max = double.NegativeInfinity;
                    for (int i = 0; i < perClass; i++)
                    {
                        double v = y[i * units + u];
                        if (v < min) min = v;
                        if (v > max) max = v;
                    }
                    for (int i = 0; i < perClass; i++)
                        times[(i * spikes + s) * units + u] = (y[i * units + u] - min) / (max - min + StandardizeEpsilon) * scale;
                }
            }

            var channels = new int[spikes * units];
            for (int s = 0; s < spikes; s++)
                for (int u = 0; u < units; u++) channels[s * units + u] = u;
            for (int i = 0; i < perClass; i++)
                samples[c * perClass + i] = new SpikeSample(times.AsSpan(i * spikes * units, spikes * units), channels, label: c);
        }

        if (options.Shuffle) master.Shuffle(samples);
        string name = $"randman (seed {options.Seed}, {classes} classes, {units} units, D={dims}, α={options.Alpha}, {options.DurationMs} ms)";
        return new SpikeDataset(samples, units, SpikeDataset.NumberedClassNames(classes), name);
    }
}
