using System.Collections.Concurrent;
using Eventprop.Core.Simulation;

namespace Eventprop.Tests.Gradients;

/// <summary>Counts what a finite-difference property saw: passes, failures and discards by reason.</summary>
public sealed class PropertyStatistics
{
    private readonly ConcurrentDictionary<GradientCheckOutcome, int> _outcomes = new();
    private long _spikes;
    private long _neurons;
    private long _comparisons;

    public void Add(GradientCheckReport report, int hiddenNeurons)
    {
        _outcomes.AddOrUpdate(report.Outcome, 1, (_, n) => n + 1);
        Interlocked.Add(ref _spikes, report.TotalSpikes);
        Interlocked.Add(ref _neurons, hiddenNeurons);
        Interlocked.Add(ref _comparisons, report.Comparisons.Count);
    }

    public int Count(GradientCheckOutcome outcome) => _outcomes.GetValueOrDefault(outcome);

    public int Total => _outcomes.Values.Sum();

    public int Evaluated => Count(GradientCheckOutcome.Passed) + Count(GradientCheckOutcome.Failed);

    public int Discarded => Count(GradientCheckOutcome.DiscardedGrazingSpike) + Count(GradientCheckOutcome.DiscardedSpikeCountChanged);

    public string Summary(string name) =>
        $"{name}: {Total} cases run, {Count(GradientCheckOutcome.Passed)} passed, {Count(GradientCheckOutcome.Failed)} failed, " +
        $"{Discarded} discarded ({Count(GradientCheckOutcome.DiscardedSpikeCountChanged)} spike count changed within ±h, " +
        $"{Count(GradientCheckOutcome.DiscardedGrazingSpike)} grazing spike); {_comparisons} gradients compared; " +
        $"{(_neurons == 0 ? 0 : (double)_spikes / _neurons):0.0} spikes per hidden neuron";
}
