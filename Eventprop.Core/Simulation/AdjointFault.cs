namespace Eventprop.Core.Simulation;

/// <summary>Deliberate errors in the adjoint, used only by tests that prove the gradient check can fail.</summary>
internal enum AdjointFault
{
    None,
    /// <summary>Drop the recurrent part of Σ_post W (λV,post − λI,post) from the jump at a spike.</summary>
    DropRecurrentTransportTerm,
    /// <summary>Flip the sign of the ϑ·λV (reset) term in the jump at a spike.</summary>
    FlipResetTerm,
    /// <summary>Use wave 1's reset term 1·λV (leaky, ϑ = 1, V_r = 0) whatever the population's model and constants.</summary>
    WaveOneResetTerm,
    /// <summary>Let integrate-and-fire adjoints decay as if the membrane leaked (λV ∝ e^{−Δ/τm}).</summary>
    LeakyAdjoint,
    /// <summary>Give a non-leaky (integrator) readout the leaky readout's particular solution of an exponential loss drive.</summary>
    LeakyReadoutDrive,
    /// <summary>Read a sparse row's postsynaptic adjoints by storage position instead of by target in the transport term.</summary>
    SparseTransportMisindexed,
    /// <summary>Pair each convolution synapse with the kernel tap mirrored in both directions in the transport term.</summary>
    ConvTransportMirrored,
    /// <summary>Leave the weight out of a learned delay's gradient: ∂L/∂d = (λV − λI) instead of W(λV − λI).</summary>
    DelayGradientWithoutWeight,
    /// <summary>Read a delayed connection's transport term at the emission instead of the arrival.</summary>
    DelayedTransportAtEmission,
}
