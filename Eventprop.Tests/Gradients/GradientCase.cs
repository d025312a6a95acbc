using System.Globalization;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;
using FsCheck;
using FsCheck.Fluent;

namespace Eventprop.Tests.Gradients;

/// <summary>Which family of random networks a case belongs to.</summary>
public enum CaseKind
{
    /// <summary>1–2 hidden layers, no recurrence, independent random τ's.</summary>
    FeedForward,
    /// <summary>1–2 hidden layers, each recurrent with probability 2/3.</summary>
    Recurrent,
    /// <summary>τ_mem = τ_syn exactly, or within a relative 1e-9…1e-3.</summary>
    EqualTau,
    /// <summary>One recurrent layer where only neuron 0 gets strong input and drives the others through recurrent weights.</summary>
    RecurrentDriven,
    /// <summary>1–2 hidden layers, each recurrent with probability 2/3, one (τ_mem, τ_syn) pair per population (as in the
    /// papers' networks; the engine's shared-time-constant path).</summary>
    SharedTau,
    /// <summary>1–2 hidden layers, each integrate-and-fire (τm V̇ = I) with probability 2/3, else LIF; recurrent with probability 2/3.</summary>
    IntegrateAndFire,
    /// <summary>1–2 hidden layers of LIF or IF neurons with subtractive reset (V ← V − ϑ); recurrent with probability 2/3.</summary>
    SubtractiveReset,
    /// <summary>1–2 hidden layers, each with its own threshold ϑ ∈ [0.5, 2], reset V_r ∈ [−0.5ϑ, 0.4ϑ], reset mode and model (LIF or IF).</summary>
    ThresholdsAndResets,
    /// <summary>3–4 hidden layers of 1–6 neurons, models, thresholds and resets mixed as in <see cref="ThresholdsAndResets"/>; recurrent with probability 1/3.</summary>
    Deep,
    /// <summary>1–2 hidden layers (recurrent with probability 2/3) where every connection has a fixed random sparse mask
    /// (connection probability 0.4–0.9, drawn per connection; weights scaled by 1/p).</summary>
    Sparse,
}

/// <summary>A replayable random case of a gradient check: a network, one sample, and the trial length.</summary>
public interface IGradientCase
{
    /// <summary>Trial length T (ms).</summary>
    double Duration { get; }

    /// <summary>Builds the network and the sample.</summary>
    (Network Network, SpikeSample Sample) Build();
}

/// <summary>
/// A replayable description of one random gradient-check case: the network and the input are drawn from
/// <see cref="Seed"/> given the sizes. <see cref="ToString"/> prints a C# expression that rebuilds it.
/// </summary>
public sealed record GradientCase(CaseKind Kind, int Seed, int Inputs, int[] Hidden, bool[] Recurrent, int Readout, int InputSpikes, double Duration, bool SpikingReadout = false, double InputSpan = 0.8)
    : IGradientCase
{
    /// <summary>For a <see cref="CaseKind.Sparse"/> case: build its dense twin instead — the same draws, every connection dense
    /// with weight 0 wherever the mask has no synapse (an oracle for the sparse code paths that does not use them).</summary>
    public bool DenseTwin { get; init; }

    /// <summary>A non-leaky <see cref="NonLeakyIntegrator"/> readout (τm V̇ = I) instead of the leaky integrator (non-spiking cases only).</summary>
    public bool IntegratorReadout { get; init; }

    /// <summary>Learned delays of this kind on every connection into a hidden layer, drawn uniformly from [0.5, 0.3·T] ms
    /// (from the builder's seed; the other draws are unchanged), or none.</summary>
    public DelayKind? Delays { get; init; }

    /// <summary>Builds the network and the sample.</summary>
    public (Network Network, SpikeSample Sample) Build()
    {
        var rng = new Random(Seed);
        double D = Duration;
        var builder = Network.Create(Seed).Input("in", Inputs);
        var maskRng = new Random(unchecked(Seed * 37 + 5));
        var intoHidden = new List<(string Pre, string Post)>();
        void Connect(string pre, string post, double[,] w)
        {
            if (post != "out") intoHidden.Add((pre, post));
            if (Kind != CaseKind.Sparse)
            {
                builder.Connect(pre, post, Init.Values(w));
                return;
            }
            double p = 0.4 + 0.5 * maskRng.NextDouble();
            var mask = SparseConnectivity.Random(w.GetLength(0), w.GetLength(1), p, maskRng);
            var scaled = new double[w.GetLength(0), w.GetLength(1)];
            for (int i = 0; i < w.GetLength(0); i++)
                for (int j = 0; j < w.GetLength(1); j++) scaled[i, j] = DenseTwin && !mask.Contains(i, j) ? 0 : w[i, j] / p;
            if (DenseTwin) builder.Connect(pre, post, Init.Values(scaled));
            else builder.Connect(pre, post, Init.Values(scaled), mask);
        }
        var taus = new List<(double[] Tm, double[] Ts)>();
        var models = LayerModels();
        for (int l = 0; l < Hidden.Length; l++)
        {
            var (tm, ts) = DrawTaus(rng, Hidden[l]);
            taus.Add((tm, ts));
            builder.Hidden($"h{l}", models[l], tm, ts);
        }
        var (rtm, rts) = DrawTaus(rng, Readout);
        if (IntegratorReadout) builder.Readout("out", NonLeakyIntegrator.Instance, rtm, rts);
        else builder.Readout("out", rtm, rts, spiking: SpikingReadout);

        double inputRate = InputSpikes / (InputSpan * D); // spikes per ms over all channels
        // Input weights sized so that the mean drive is a few times threshold.
        double target = (1.5 + 2.5 * rng.NextDouble()) * Math.Max(1, models[0].Threshold - models[0].Reset);
        double meanTs = taus[0].Ts.Average();
        double wIn = target / (meanTs * inputRate);
        if (Kind == CaseKind.RecurrentDriven)
        {
            var w = new double[Inputs, Hidden[0]];
            for (int i = 0; i < Inputs; i++)
                for (int j = 0; j < Hidden[0]; j++)
                    w[i, j] = j == 0 ? wIn * (1.5 + rng.NextDouble()) : 0.1 * wIn * (rng.NextDouble() - 0.3);
            builder.Connect("in", "h0", Init.Values(w));
            intoHidden.Add(("in", "h0"));
            // Neuron 0 drives the others through strong recurrent weights; the remaining recurrence is weak
            // and random, so the others' spikes are caused by recurrent input without runaway activity.
            var rec = new double[Hidden[0], Hidden[0]];
            for (int i = 0; i < Hidden[0]; i++)
                for (int j = 0; j < Hidden[0]; j++)
                    rec[i, j] = i == j ? 0 : i == 0 ? 1.0 + 0.8 * rng.NextDouble() : 0.15 * Init.StandardNormal(rng);
            builder.Connect("h0", "h0", Init.Values(rec));
            intoHidden.Add(("h0", "h0"));
        }
        else
        {
            Connect("in", "h0", Matrix(rng, Inputs, Hidden[0], wIn, 0.6 * wIn));
            for (int l = 0; l < Hidden.Length; l++)
            {
                if (l > 0)
                {
                    double w = (2.0 + 2.0 * rng.NextDouble()) / Hidden[l - 1] * Math.Max(1, models[l].Threshold - models[l].Reset);
                    Connect($"h{l - 1}", $"h{l}", Matrix(rng, Hidden[l - 1], Hidden[l], w, 0.8 * w));
                }
                if (Recurrent[l])
                {
                    // Spread 0.8/√n, with self-connections kept small so that no neuron re-excites itself without end.
                    var rec = Matrix(rng, Hidden[l], Hidden[l], 0.0, 0.8 / Math.Sqrt(Hidden[l]));
                    for (int j = 0; j < Hidden[l]; j++) rec[j, j] *= 0.25;
                    Connect($"h{l}", $"h{l}", rec);
                }
            }
        }
        // A spiking readout needs net excitation to fire; a leaky integrator is rescaled below.
        Connect($"h{Hidden.Length - 1}", "out", SpikingReadout
            ? Matrix(rng, Hidden[^1], Readout, 3.0 / Hidden[^1], 1.5 / Hidden[^1])
            : Matrix(rng, Hidden[^1], Readout, 0.0, 1.0));
        if (Delays is { } delayKind)
            foreach (var (pre, post) in intoHidden) builder.LearnedDelays(pre, post, Init.Uniform(0.5, 0.3 * D), delayKind);
        var network = builder.Build();
        double zTarget = 0.5 + 2.5 * rng.NextDouble();

        var times = new double[InputSpikes];
        var channels = new int[InputSpikes];
        for (int s = 0; s < InputSpikes; s++)
        {
            times[s] = InputSpan * D * rng.NextDouble();
            channels[s] = rng.Next(Inputs);
        }
        // Inputs drawn past T (InputSpan > 1) are cropped, as the data loaders do: the engines take spikes in [0, T) only.
        // The draws are unchanged, so every case is the trial the engines simulated when they ignored such spikes.
        var kept = Enumerable.Range(0, InputSpikes).Where(s => times[s] < D).ToArray();
        var sample = new SpikeSample(kept.Select(s => times[s]).ToArray(), kept.Select(s => channels[s]).ToArray(), label: rng.Next(Readout));
        if (!SpikingReadout) ScaleReadout(network, sample, Duration, zTarget);
        return (network, sample);
    }

    /// <summary>
    /// Rescales the readout weights so that the largest |z_k| = |(1/T)∫V_k dt| equals <paramref name="zTarget"/>.
    /// </summary>
    /// <remarks>
    /// The readout is a linear integrator, so this leaves every hidden spike unchanged and scales z exactly.
    /// It keeps the finite-difference reference meaningful: its rounding floor is about ε·max|z|/h
    /// (≈ 1e-10 · max|z| at h = 1e-6), which must stay well below the 1e-9 absolute tolerance.
    /// </remarks>
    internal static void ScaleReadout(Network network, SpikeSample sample, double duration, double zTarget)
    {
        var trial = new Core.Simulation.ExactEngine(duration).Simulate(network, sample);
        double zMax = 0;
        for (int k = 0; k < network.Readout.Size; k++)
            zMax = Math.Max(zMax, Math.Abs(trial.Readout.IntegrateVoltage(k) / duration));
        if (zMax == 0) return;
        var w = network.Connections.Single(c => c.Post == network.Readout).Name;
        var values = network.Parameters[w].Values;
        for (int i = 0; i < values.Length; i++) values[i] *= zTarget / zMax;
    }

    /// <summary>
    /// The neuron model of each hidden layer. Drawn from a stream of its own (derived from <see cref="Seed"/>), so the
    /// wave-1 families keep exactly the networks they had; those are all standard LIF.
    /// </summary>
    private NeuronModel[] LayerModels()
    {
        var models = new NeuronModel[Hidden.Length];
        var rng = new Random(unchecked(Seed * 31 + 17));
        for (int l = 0; l < models.Length; l++)
        {
            bool integrate = rng.Next(3) > 0;
            models[l] = Kind switch
            {
                CaseKind.IntegrateAndFire => integrate ? new IntegrateAndFire() : Lif.Standard,
                CaseKind.SubtractiveReset => integrate ? new IntegrateAndFire(resetMode: ResetMode.Subtract) : new Lif(resetMode: ResetMode.Subtract),
                CaseKind.ThresholdsAndResets or CaseKind.Deep => DrawConstants(rng, integrate),
                _ => Lif.Standard,
            };
        }
        return models;

        static NeuronModel DrawConstants(Random rng, bool integrate)
        {
            double theta = 0.5 + 1.5 * rng.NextDouble();
            double reset = theta * (-0.5 + 0.9 * rng.NextDouble());
            var mode = rng.Next(2) == 0 ? ResetMode.ToValue : ResetMode.Subtract;
            return integrate ? new IntegrateAndFire(theta, reset, mode) : new Lif(theta, reset, mode);
        }
    }

    private (double[] Tm, double[] Ts) DrawTaus(Random rng, int n)
    {
        var tm = new double[n];
        var ts = new double[n];
        if (Kind == CaseKind.SharedTau)
        {
            Array.Fill(tm, 5 + 25 * rng.NextDouble());
            Array.Fill(ts, 2 + 18 * rng.NextDouble());
            return (tm, ts);
        }
        for (int i = 0; i < n; i++)
        {
            tm[i] = 5 + 25 * rng.NextDouble();
            if (Kind == CaseKind.EqualTau)
            {
                double u = rng.NextDouble();
                ts[i] = u < 0.5
                    ? tm[i]
                    : tm[i] * (1 + (rng.Next(2) == 0 ? -1 : 1) * Math.Pow(10, -3 - 6 * rng.NextDouble()));
            }
            else
            {
                ts[i] = 2 + 18 * rng.NextDouble();
            }
        }
        return (tm, ts);
    }

    /// <summary>A rows × cols matrix of independent N(mean, std²) draws from <paramref name="rng"/>.</summary>
    internal static double[,] Matrix(Random rng, int rows, int cols, double mean, double std)
    {
        var m = new double[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) m[i, j] = mean + std * Init.StandardNormal(rng);
        return m;
    }

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"new GradientCase(CaseKind.{Kind}, Seed: {Seed}, Inputs: {Inputs}, Hidden: [{string.Join(", ", Hidden)}], Recurrent: [{string.Join(", ", Recurrent.Select(r => r ? "true" : "false"))}], Readout: {Readout}, InputSpikes: {InputSpikes}, Duration: {Duration}, SpikingReadout: {(SpikingReadout ? "true" : "false")}, InputSpan: {InputSpan}){(IntegratorReadout ? " { IntegratorReadout = true }" : "")}{(Delays is { } d ? $" {{ Delays = DelayKind.{d} }}" : "")}");

    /// <summary>FsCheck generator and shrinker for one case family.</summary>
    public static Arbitrary<GradientCase> Arbitrary(CaseKind kind)
    {
        var gen =
            from seed in Gen.Choose(0, int.MaxValue - 1)
            from inputs in Gen.Choose(2, 6)
            from layers in kind == CaseKind.RecurrentDriven ? Gen.Constant(1) : Gen.Choose(1, 2)
            from h0 in Gen.Choose(kind == CaseKind.RecurrentDriven ? 3 : 1, 8)
            from h1 in Gen.Choose(1, 8)
            from r0 in Gen.Choose(0, 2)
            from r1 in Gen.Choose(0, 2)
            from readout in Gen.Choose(2, 4)
            from spikes in Gen.Choose(5, 60)
            from duration in Gen.Choose(20, 60)
            select new GradientCase(kind, seed, inputs,
                layers == 1 ? [h0] : [h0, h1],
                kind switch
                {
                    CaseKind.FeedForward => layers == 1 ? [false] : [false, false],
                    CaseKind.RecurrentDriven => [true],
                    CaseKind.EqualTau => layers == 1 ? [r0 == 0] : [r0 == 0, r1 == 0],
                    _ => layers == 1 ? [r0 > 0] : [r0 > 0, r1 > 0],
                },
                readout, spikes, duration);
        if (kind == CaseKind.Deep) gen = DeepGenerator();
        return Arb.From(gen, Shrink);
    }

    private static Gen<GradientCase> DeepGenerator() =>
        from seed in Gen.Choose(0, int.MaxValue - 1)
        from inputs in Gen.Choose(2, 6)
        from layers in Gen.Choose(3, 4)
        from sizes in Gen.ArrayOf(Gen.Choose(1, 6), 4)
        from recurrent in Gen.ArrayOf(Gen.Choose(0, 2), 4)
        from readout in Gen.Choose(2, 4)
        from spikes in Gen.Choose(5, 60)
        from duration in Gen.Choose(20, 60)
        select new GradientCase(CaseKind.Deep, seed, inputs, sizes[..layers], recurrent[..layers].Select(r => r == 0).ToArray(), readout, spikes, duration);

    /// <summary>Cases of every family, mixed; optionally with a spiking readout, and inputs spread over one of <paramref name="inputSpans"/>·T (default 0.8).</summary>
    public static Arbitrary<GradientCase> AnyKind(bool spikingReadout = false, params double[] inputSpans)
    {
        if (inputSpans.Length == 0) inputSpans = [0.8];
        var gen =
            from kind in Gen.Elements(CaseKind.FeedForward, CaseKind.Recurrent, CaseKind.EqualTau, CaseKind.RecurrentDriven, CaseKind.SharedTau)
            from span in Gen.Elements(inputSpans)
            from c in Arbitrary(kind).Generator
            select c with { SpikingReadout = spikingReadout, InputSpan = span };
        return Arb.From(gen, Shrink);
    }

    /// <summary>
    /// <paramref name="count"/> cases of one family drawn deterministically from <paramref name="seed"/> (same ranges as
    /// <see cref="Arbitrary"/>), for tests that need a fixed sample rather than a property.
    /// </summary>
    public static GradientCase[] Sample(CaseKind kind, int count, int seed)
    {
        var rng = new Random(seed);
        var cases = new GradientCase[count];
        for (int i = 0; i < count; i++)
        {
            int layers = kind == CaseKind.RecurrentDriven ? 1 : rng.Next(1, 3);
            int h0 = rng.Next(kind == CaseKind.RecurrentDriven ? 3 : 1, 9), h1 = rng.Next(1, 9);
            bool r0 = kind switch { CaseKind.FeedForward => false, CaseKind.RecurrentDriven => true, _ => rng.Next(3) > 0 };
            bool r1 = kind != CaseKind.FeedForward && kind != CaseKind.RecurrentDriven && rng.Next(3) > 0;
            cases[i] = new GradientCase(kind, rng.Next(int.MaxValue), rng.Next(2, 7),
                layers == 1 ? [h0] : [h0, h1], layers == 1 ? [r0] : [r0, r1],
                rng.Next(2, 5), rng.Next(5, 61), rng.Next(20, 61));
        }
        return cases;
    }

    /// <summary>Smaller cases: fewer layers, neurons, inputs, readouts, input spikes, no recurrence.</summary>
    public static IEnumerable<GradientCase> Shrink(GradientCase c)
    {
        if (c.Hidden.Length > 1)
        {
            yield return c with { Hidden = [c.Hidden[0]], Recurrent = [c.Recurrent[0]] };
            yield return c with { Hidden = [c.Hidden[1]], Recurrent = [c.Recurrent[1]] };
        }
        int minHidden = c.Kind == CaseKind.RecurrentDriven ? 3 : 1;
        for (int l = 0; l < c.Hidden.Length; l++)
            if (c.Hidden[l] > minHidden)
            {
                var h = (int[])c.Hidden.Clone();
                h[l] = Math.Max(minHidden, h[l] / 2);
                yield return c with { Hidden = h };
                h = (int[])c.Hidden.Clone();
                h[l]--;
                yield return c with { Hidden = h };
            }
        if (c.Kind != CaseKind.RecurrentDriven)
            for (int l = 0; l < c.Recurrent.Length; l++)
                if (c.Recurrent[l])
                {
                    var r = (bool[])c.Recurrent.Clone();
                    r[l] = false;
                    yield return c with { Recurrent = r };
                }
        if (c.InputSpikes > 1) yield return c with { InputSpikes = c.InputSpikes / 2 };
        if (c.InputSpikes > 1) yield return c with { InputSpikes = c.InputSpikes - 1 };
        if (c.Inputs > 1) yield return c with { Inputs = c.Inputs - 1 };
        if (c.Readout > 2) yield return c with { Readout = c.Readout - 1 };
    }
}
