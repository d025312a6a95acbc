using Eventprop.Core.Losses;

namespace Eventprop.Losses;

/// <summary>Factory of the built-in losses, by type or by config name.</summary>
public static class Loss
{
    /// <summary>The <c>sum</c> loss: cross-entropy of (1/T)∫V dt.</summary>
    public static ILoss Sum() => new SumLoss();

    /// <summary>The <c>sum_exp</c> loss: cross-entropy of (1/T)∫e^{−t/T}V dt.</summary>
    public static ILoss SumExp() => new SumExpLoss();

    /// <summary>The <c>max</c> loss: cross-entropy of max_t V(t).</summary>
    public static ILoss Max() => new MaxLoss();

    /// <summary>The <c>entropy</c> loss: −(1/T)∫ log softmax(V(t))_y dt.</summary>
    public static ILoss Entropy() => new EntropyLoss();

    /// <summary>The <c>last_voltage</c> loss: cross-entropy of V(T) (seed 004's integrator readout).</summary>
    public static ILoss LastVoltage() => new LastVoltageLoss();

    /// <summary>The <c>first_spike</c> loss on a spiking readout (defaults: τ0 = 1, τ1 = 3 ms, α = 3.6e−4, the latency-MNIST values).</summary>
    public static ILoss FirstSpike(double tau0 = 1, double tau1 = 3, double alpha = 3.6e-4, FirstSpikeTimingTerm timing = FirstSpikeTimingTerm.Exponential) =>
        new FirstSpikeLoss(tau0, tau1, alpha, timing);

    /// <summary>The config names of the built-in losses.</summary>
    public static IReadOnlyList<string> Names { get; } = ["sum", "sum_exp", "max", "entropy", "last_voltage", "first_spike"];

    /// <summary>The loss with config name <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static ILoss FromName(string name) => name switch
    {
        "sum" => Sum(),
        "sum_exp" => SumExp(),
        "max" => Max(),
        "entropy" => Entropy(),
        "last_voltage" => LastVoltage(),
        "first_spike" => FirstSpike(),
        _ => throw new ArgumentException($"Unknown loss '{name}'; choose one of: {string.Join(", ", Names)}."),
    };
}
