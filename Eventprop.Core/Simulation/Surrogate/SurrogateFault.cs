namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>Deliberate errors in the surrogate engine's backward pass that the finite-difference properties must catch.</summary>
internal enum SurrogateFault
{
    /// <summary>The correct backward pass.</summary>
    None,

    /// <summary>The backward pass treats a subtractive reset as a reset to the value (gradient through V(1 − S) + S·V_r).</summary>
    ResetModeIgnored,

    /// <summary>The surrogate derivative is taken at U − 1 instead of U − ϑ of the population.</summary>
    ThresholdIgnored,

    /// <summary>A sparse row's transport reads the adjoint at the synapse's storage index instead of its target neuron; a
    /// convolution's pairs each synapse with the kernel tap mirrored in both directions.</summary>
    SparseTransportMisindexed,

    /// <summary>The gradient-magnitude sums read dL/dV one grid point early (k = 0 … N−1 instead of 1 … N).</summary>
    MagnitudesOneStepEarly,

    /// <summary>The transport of a dropped-out neuron's adjoint ignores its <see cref="ReadoutDropout"/> keep factor.</summary>
    DropoutIgnoredInTransport,

    /// <summary>An analog input's weight gradient takes every channel's value as 1 (Σ_t δ_i(t) instead of Σ_t δ_i(t)·x_j).</summary>
    AnalogValueIgnoredInGradient,

    /// <summary>The forward pass injects an analog input only in the first input bin instead of every step.</summary>
    AnalogDriveOnlyAtFirstStep,

    /// <summary>The batch-norm backward leaves out the −x̂·mean(dy·x̂) term (dx = γ/σ·(dy − mean(dy)) instead of the full coupling).</summary>
    BatchNormCovarianceTermDropped,
}
