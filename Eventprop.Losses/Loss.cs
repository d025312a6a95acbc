using Eventprop.Core.Losses;

namespace Eventprop.Losses;

/// <summary>Factory of the built-in losses, by type or by config name.</summary>
public static class Loss
{
    /// <summary>The <c>sum</c> loss: cross-entropy of (1/T)∫V dt.</summary>
    public static ILoss Sum() => new SumLoss();

    /// <summary>The config names of the built-in losses.</summary>
    public static IReadOnlyList<string> Names { get; } = ["sum"];

    /// <summary>The loss with config name <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static ILoss FromName(string name) => name switch
    {
        "sum" => Sum(),
        _ => throw new ArgumentException($"Unknown loss '{name}'; choose one of: {string.Join(", ", Names)}."),
    };
}
