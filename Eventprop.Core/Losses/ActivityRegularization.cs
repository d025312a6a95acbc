namespace Eventprop.Core.Losses;

/// <summary>
/// The hidden-activity regulariser of loss-shaped Eventprop (seed 003 §4.2): a heuristic that pulls each hidden
/// neuron's spike count towards <see cref="TargetSpikes"/> per trial. It is not the gradient of a loss.
/// </summary>
/// <remarks>
/// At every spike of hidden neuron l in the backward pass, λ_V,l ← λ_V,l − τ_m,readout · k_reg · (n̄_l − ν)/N_batch,
/// where n̄_l is l's spike count averaged over the minibatch and τ_m,readout the mean membrane time constant of the
/// readout. The factor τ_m,readout converts the reference implementation's adjoint units to ours, so the paper's
/// k_reg values (e.g. 5e−10 for SHD) mean what they meant there.
/// </remarks>
/// <param name="Strength">k_reg (≥ 0).</param>
/// <param name="TargetSpikes">ν, the target number of spikes per hidden neuron per trial (≥ 0; SHD: 14).</param>
public sealed record ActivityRegularization(double Strength, double TargetSpikes)
{
    /// <summary>Throws unless both values are finite and ≥ 0.</summary>
    public void Validate()
    {
        if (!double.IsFinite(Strength) || Strength < 0)
            throw new ArgumentOutOfRangeException(nameof(Strength), Strength, "The regularisation strength k_reg must be finite and ≥ 0.");
        if (!double.IsFinite(TargetSpikes) || TargetSpikes < 0)
            throw new ArgumentOutOfRangeException(nameof(TargetSpikes), TargetSpikes, "The target spike count ν must be finite and ≥ 0.");
    }
}
