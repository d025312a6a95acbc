namespace Eventprop.Core.Nir;

/// <summary>
/// The conventions shared by <see cref="NirExport"/> and <see cref="NirImport"/> (derived in docs/nir.md): NIR files hold
/// time constants in seconds, ours are ms; the metadata keys under which the exporter keeps the exact ms values and the
/// reset mode (NIR readers ignore metadata; ours uses it only where it agrees with the NIR parameters).
/// </summary>
internal static class NirConventions
{
    /// <summary>ms per second: τ[s] = τ[ms] / 1000.</summary>
    public const double MsPerSecond = 1000.0;

    /// <summary>Metadata key of a node's exact membrane time constants in ms.</summary>
    public const string TauMemMs = "eventprop_tau_mem_ms";

    /// <summary>Metadata key of a node's exact synaptic time constants in ms.</summary>
    public const string TauSynMs = "eventprop_tau_syn_ms";

    /// <summary>Metadata key of a population's reset mode (<c>subtract</c>; absent means reset to the value).</summary>
    public const string ResetMode = "eventprop_reset_mode";

    /// <summary>τ in seconds from τ in ms.</summary>
    public static double[] ToSeconds(double[] ms) => ms.Select(t => t / MsPerSecond).ToArray();

    /// <summary>
    /// τ in ms from τ in seconds; where <paramref name="exactMs"/> (the exporter's metadata) has one value per neuron that
    /// converts to exactly the stored seconds, those values (the division by 1000 is not invertible in binary floating
    /// point for about 1 % of values, so this keeps a round trip exact).
    /// </summary>
    public static double[] ToMs(double[] seconds, NirValue? exactMs)
    {
        var ms = seconds.Select(t => t * MsPerSecond).ToArray();
        if (exactMs?.Numbers is { } exact && exact.Length == seconds.Length && exact.Zip(seconds).All(p => p.First / MsPerSecond == p.Second))
            return (double[])exact.Clone();
        return ms;
    }
}
