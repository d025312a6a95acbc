using Eventprop.Core.Losses;

namespace Eventprop.Core.Simulation.Stepped;

/// <summary>The recorded forward pass of one trial of the <see cref="SteppedEngine"/>: spikes and the readout trajectory.</summary>
public sealed class SteppedSimulation
{
    private readonly Dictionary<string, double[][]> _spikeTimes = [];

    internal SteppedSimulation(SteppedPlan plan, SteppedTrial trial, SteppedWorkspace ws)
    {
        Dt = plan.Dt;
        Duration = plan.Dt * plan.Steps;
        for (int s = 0; s < plan.Spiking.Length; s++)
        {
            var pop = plan.Spiking[s];
            var list = trial.Spikes[s];
            var counts = trial.SpikeCounts[s];
            var times = new double[pop.Size][];
            for (int i = 0; i < pop.Size; i++) times[i] = new double[counts[i]];
            var fill = new int[pop.Size];
            for (int k = 0; k < list.Count; k++)
            {
                int i = list.Neurons[k];
                times[i][fill[i]++] = list.Steps[k] * plan.Dt;
            }
            _spikeTimes[pop.Population.Name] = times;
            TotalSpikes += list.Count;
        }
        InputSpikeCount = trial.InputCount;
        Readout = new SteppedReadoutTrace((float[])ws.TraceV.Clone(), (float[])ws.TraceI.Clone(),
            plan.ReadoutRates(true), plan.ReadoutRates(false), plan.Dt, plan.Steps,
            CpuSteppedBackend.ReadoutSpikeTimes(plan, trial));
    }

    /// <summary>Time step (ms).</summary>
    public double Dt { get; }

    /// <summary>Trial duration T (ms).</summary>
    public double Duration { get; }

    /// <summary>The readout trajectory (an owned copy, valid as long as this object).</summary>
    public ReadoutTrace Readout { get; }

    /// <summary>Number of input spikes that landed on a grid point before T and were delivered.</summary>
    public int InputSpikeCount { get; }

    /// <summary>Total spikes of all spiking non-input populations.</summary>
    public int TotalSpikes { get; }

    /// <summary>Spike times (ms, on the grid) of neuron <paramref name="neuron"/> of a spiking population.</summary>
    public ReadOnlySpan<double> SpikeTimes(string population, int neuron) => Times(population)[neuron];

    /// <summary>Spike count of every neuron of a spiking population.</summary>
    public int[] SpikeCounts(string population) => Times(population).Select(t => t.Length).ToArray();

    private double[][] Times(string population) =>
        _spikeTimes.TryGetValue(population, out var t)
            ? t
            : throw new ArgumentException($"'{population}' is not a spiking non-input population; spiking populations: {string.Join(", ", _spikeTimes.Keys)}.");
}
