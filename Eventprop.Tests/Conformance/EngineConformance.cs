using System.Collections.Concurrent;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Losses;
using Eventprop.Tests.Gradients;
using Eventprop.Tests.Stepped;
using Xunit;

namespace Eventprop.Tests.Conformance;

/// <summary>
/// What every engine must do, written once and run against each engine by a subclass (the pattern of ILGPU's own tests: one
/// abstract class, one subclass per accelerator). A new engine gets a subclass that says how to create it; a feature that
/// does not apply to it is marked on the subclass with <see cref="NotApplicableAttribute"/>, so this folder is the single
/// place that shows what each engine supports.
/// </summary>
/// <remarks>
/// <para>Cases: one well-conditioned network per neuron model (<see cref="Models"/>), found by
/// <see cref="SteppedTestCases"/> (every exact spike crosses the threshold with τm·V̇ ≥ 0.05 and none lies in the last
/// 0.5 ms, so moving spikes by less than a step cannot add or remove one; the exact hidden-weight gradient is non-zero),
/// 4 inputs, 6 recurrent hidden neurons, 3 leaky-integrator readouts, T = 40 ms, loss <c>sum</c>.</para>
/// <para>Tolerances are those of the existing stepped-vs-exact tests at dt = 0.01 ms: hidden spike counts equal (what the
/// well-conditioning guarantees), loss equal to 3 decimals (<c>SteppedEngineTests</c>), gradient within 2 % relative error
/// ‖g − g_exact‖/‖g_exact‖ for the whole vector and per parameter kind (<c>SteppedConvergenceTests</c>,
/// <c>SteppedNeuronModelTests</c>).</para>
/// </remarks>
public abstract class EngineConformance
{
    /// <summary>Trial length of every case (ms).</summary>
    protected const double Duration = 40;

    /// <summary>The time step of the time-stepped engines in the agreement tests (ms).</summary>
    protected const double AgreementDt = 0.01;

    private static readonly Dictionary<string, (Network Network, SpikeSample Sample)> CaseCache = [];

    /// <summary>The neuron models every feature runs over: LIF with reset to 0, integrate-and-fire, subtractive reset.</summary>
    public static TheoryData<string> Models => ["lif", "if", "subtractive"];

    private static readonly ConcurrentDictionary<(Type, string), Lazy<GradientResult>> AgreementCache = [];

    /// <summary>The engine under test for trials of <see cref="Duration"/> ms (time-stepped engines at <see cref="AgreementDt"/>).</summary>
    protected abstract IGradientEngine Engine { get; }

    /// <summary>
    /// An engine of the same kind for <see cref="Duration"/> ms at any step, for the tests that do not compare with the exact
    /// engine (bad input, determinism, layout); <see cref="Engine"/> unless a subclass needs a cheaper one.
    /// </summary>
    protected virtual IGradientEngine QuickEngine => Engine;

    /// <summary>
    /// <see cref="Engine"/>'s gradient result of a case with loss <c>sum</c>, computed once per engine class and model and
    /// shared by the spike-count, loss and gradient agreement tests (one call each: the ILGPU CPU accelerator takes seconds
    /// per trial at dt = 0.01 ms).
    /// </summary>
    private GradientResult Agreement(string model) => AgreementCache.GetOrAdd((GetType(), model), _ => new Lazy<GradientResult>(() =>
    {
        var (net, sample) = Case(model);
        return Engine.Gradient(net, [sample], Loss.Sum());
    })).Value;

    /// <summary>The well-conditioned case of a neuron model (searched once per test run).</summary>
    protected static (Network Network, SpikeSample Sample) Case(string model)
    {
        lock (CaseCache)
        {
            if (!CaseCache.TryGetValue(model, out var c))
            {
                var found = model switch
                {
                    "lif" => SteppedTestCases.Cases(CaseKind.Recurrent, 1),
                    "if" => SteppedTestCases.ModelCases(CaseKind.IntegrateAndFire, 1),
                    "subtractive" => SteppedTestCases.ModelCases(CaseKind.SubtractiveReset, 1),
                    _ => throw new ArgumentException($"unknown model family '{model}'", nameof(model)),
                };
                CaseCache[model] = c = (found[0].Network, found[0].Sample);
            }
            return c;
        }
    }

    /// <summary>The exact engine's gradient of a case: the reference of the agreement tests.</summary>
    private static GradientResult Exact(string model)
    {
        var (net, sample) = Case(model);
        return new ExactEngine(Duration).Gradient(net, [sample], Loss.Sum());
    }

    /// <summary>A label out of range and an input channel ≥ the input size are one-line errors naming them.</summary>
    [ConformanceFact]
    public void Bad_labels_and_channels_are_one_line_errors()
    {
        var (net, sample) = Case("lif");
        var engine = QuickEngine;
        var badLabel = new SpikeSample(sample.Times.ToArray(), sample.Channels.ToArray(), label: net.Readout.Size + 4);
        var badChannel = new SpikeSample([1.0, 2.0], [0, net.Input.Size], label: 0);
        OneLine(() => engine.Gradient(net, [sample, badLabel], Loss.Sum()), $"label {net.Readout.Size + 4}");
        OneLine(() => engine.Evaluate(net, [badLabel], Loss.Sum()), $"label {net.Readout.Size + 4}");
        OneLine(() => engine.Gradient(net, [badChannel], Loss.Sum()), $"channel {net.Input.Size}");
        OneLine(() => engine.Evaluate(net, [sample, badChannel], Loss.Sum()), $"channel {net.Input.Size}");
        // Negative times never reach an engine: the sample itself rejects them.
        Assert.Contains("negative time", Assert.Throws<ArgumentException>(() => new SpikeSample([1.0, -0.5], [0, 1])).Message);
    }

    /// <summary>An input spike at or after T is a one-line error naming its time (t &lt; 0 cannot be built: SpikeSample rejects it).</summary>
    [ConformanceFact]
    public void Input_spikes_at_or_after_T_are_one_line_errors()
    {
        var (net, sample) = Case("lif");
        var engine = QuickEngine;
        foreach (double t in new[] { Duration, Duration + 5 })
        {
            var late = new SpikeSample(sample.Times.ToArray().Append(t).ToArray(), sample.Channels.ToArray().Append(0).ToArray(), sample.Label);
            OneLine(() => engine.Gradient(net, [late], Loss.Sum()), t.ToString(System.Globalization.CultureInfo.InvariantCulture));
            OneLine(() => engine.Evaluate(net, [late], Loss.Sum()), t.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Hidden spike counts equal the exact engine's.</summary>
    [ConformanceTheory]
    [MemberData(nameof(Models))]
    public void Spike_counts_agree_with_the_exact_engine(string model)
    {
        var exact = Exact(model);
        var result = Agreement(model);
        Assert.True(exact.HiddenSpikeCounts.Values.Sum(c => c.Sum()) > 0, "no hidden spikes: the case compares nothing");
        Assert.Equal(exact.HiddenSpikeCounts.Keys.Order(), result.HiddenSpikeCounts.Keys.Order());
        foreach (var (population, counts) in exact.HiddenSpikeCounts)
            Assert.Equal(counts, result.HiddenSpikeCounts[population]);
    }

    /// <summary>The loss equals the exact engine's to 3 decimals.</summary>
    [ConformanceTheory]
    [MemberData(nameof(Models))]
    public void Loss_agrees_with_the_exact_engine(string model)
    {
        Assert.Equal(Exact(model).Loss, Agreement(model).Loss, 3);
    }

    /// <summary>
    /// The same call twice gives bit-identical loss, predictions, counts and gradient (a batch of two trials), and
    /// <c>Evaluate</c> gives the same loss, predictions and counts as <c>Gradient</c>.
    /// </summary>
    [ConformanceTheory]
    [MemberData(nameof(Models))]
    public void Same_call_twice_is_bit_identical(string model)
    {
        var (net, sample) = Case(model);
        var other = new SpikeSample(sample.Times.ToArray().Select(t => 0.9 * t).ToArray(), sample.Channels.ToArray(), (sample.Label + 1) % net.Readout.Size);
        SpikeSample[] batch = [sample, other];
        var engine = QuickEngine;
        var a = engine.Gradient(net, batch, Loss.Sum());
        var b = engine.Gradient(net, batch, Loss.Sum());
        Assert.Equal(a.Loss, b.Loss);
        Assert.Equal(a.Predictions, b.Predictions);
        foreach (var (population, counts) in a.HiddenSpikeCounts) Assert.Equal(counts, b.HiddenSpikeCounts[population]);
        for (int p = 0; p < a.Gradient.Count; p++) Assert.Equal(a.Gradient[p].Values, b.Gradient[p].Values);
        Assert.True(a.Gradient.Sum(p => p.Values.Sum(Math.Abs)) > 0, "zero gradient: the comparison is empty");
        var eval = engine.Evaluate(net, batch, Loss.Sum());
        Assert.Equal(a.Loss, eval.Loss);
        Assert.Equal(a.Predictions, eval.Predictions);
        foreach (var (population, counts) in a.HiddenSpikeCounts) Assert.Equal(counts, eval.HiddenSpikeCounts[population]);
    }

    /// <summary>The gradient is within 2 % of the exact engine's, as a whole and per parameter kind.</summary>
    [ConformanceTheory]
    [MemberData(nameof(Models))]
    public void Gradient_agrees_with_the_exact_engine(string model)
    {
        var exact = Exact(model).Gradient;
        var g = Agreement(model).Gradient;
        double whole = SteppedTestCases.RelativeError(g, exact);
        Assert.True(whole <= 0.02, $"{model}: relative error {whole:E2} exceeds 2 %");
        foreach (var kind in new[] { ParameterKind.Weight, ParameterKind.TauMem, ParameterKind.TauSyn })
        {
            double e = SteppedTestCases.RelativeError(g, exact, p => p.Kind == kind);
            Assert.True(e <= 0.02, $"{model}: {kind.Name} relative error {e:E2} exceeds 2 %");
        }
    }

    /// <summary>The gradient has the network's parameters: same names, kinds and shapes, in the same order.</summary>
    [ConformanceTheory]
    [MemberData(nameof(Models))]
    public void Gradient_has_the_networks_parameter_layout(string model)
    {
        var (net, sample) = Case(model);
        var g = QuickEngine.Gradient(net, [sample], Loss.Sum()).Gradient;
        Assert.Equal(net.Parameters.Select(p => (p.Name, p.Kind.Name, p.Rows, p.Columns)), g.Select(p => (p.Name, p.Kind.Name, p.Rows, p.Columns)));
        Assert.All(g, p => Assert.Equal(p.Rows * p.Columns, p.Length));
    }

    private static void OneLine(Action act, string expected)
    {
        var e = Assert.ThrowsAny<ArgumentException>(act);
        string message = e.Message.Split(" (Parameter")[0];
        Assert.Contains(expected, message);
        Assert.DoesNotContain('\n', message);
    }
}
