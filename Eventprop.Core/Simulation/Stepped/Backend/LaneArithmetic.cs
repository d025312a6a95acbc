using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Eventprop.Core.Simulation.Stepped.Backend;

/// <summary>
/// The arithmetic of one lane type (backend API): a scalar <see cref="float"/> in the ILGPU kernels and the CPU engine's
/// scalar tails, a SIMD vector of floats in the CPU engine's main loops. The per-neuron formulas of
/// <see cref="NeuronStepFunctions"/> are written once over a lane and instantiated for each.
/// </summary>
/// <typeparam name="T">The lane value: <see cref="float"/> or a vector of floats.</typeparam>
/// <remarks>Implementations are empty structs, used as <c>default(TOps)</c>; ILGPU compiles generic methods over struct
/// type arguments, so the kernels call the very same formula as the CPU.</remarks>
public interface ILaneArithmetic<T> where T : struct
{
    /// <summary>a + b.</summary>
    T Add(T a, T b);

    /// <summary>a − b.</summary>
    T Subtract(T a, T b);

    /// <summary>a · b.</summary>
    T Multiply(T a, T b);
}

/// <summary>One float per lane: what the ILGPU kernels and the CPU engine's scalar tails use (backend API).</summary>
public readonly struct FloatLane : ILaneArithmetic<float>
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Add(float a, float b) => a + b;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Subtract(float a, float b) => a - b;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Multiply(float a, float b) => a * b;
}

/// <summary>Eight floats per lane (AVX): the CPU engine's main loops. Not for kernels.</summary>
internal readonly struct Vector256Lane : ILaneArithmetic<Vector256<float>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
}
