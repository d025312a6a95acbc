using System.Runtime.CompilerServices;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;

namespace Eventprop.Core.Simulation.Stepped;

public sealed partial class SteppedPlan
{
    /// <summary>
    /// An outgoing connection as the time-stepped CPU engine sees it: float weights stored as its connectivity stores them
    /// (W[pre, post] row-major when dense, a sparse mask's nonzeros row by row), the slice of its targets, its parameter
    /// index, and the three operations every engine needs of a connectivity — deliver a presynaptic row into the
    /// postsynaptic current, accumulate a row's weight gradient, transport the adjoint back. Dense rows take the vectorised
    /// loops; sparse rows loop over their stored synapses; a convolution's rows visit their kernel footprint
    /// (<see cref="Conv2dGeometry.Footprint"/>), its shared kernel weights scaled by the pooling factor.
    /// </summary>
    public sealed partial class Outgoing(int parameterIndex, int postPopulation, int postOffset, int postSize, int rows, SynapseRows synapses, int weightCount,
        int delayParameterIndex = -1, bool axonalDelays = false)
    {
        /// <summary>Index of the connection's weight parameter in the network's <see cref="ParameterSet"/>.</summary>
        public int ParameterIndex { get; } = parameterIndex;
        /// <summary>Index of the target in <see cref="Populations"/>.</summary>
        public int PostPopulation { get; } = postPopulation;
        /// <summary>First neuron of the target population in the plan's neuron index space.</summary>
        public int PostOffset { get; } = postOffset;
        /// <summary>Neurons of the target population.</summary>
        public int PostSize { get; } = postSize;
        /// <summary>Neurons of the source population (rows of the connection).</summary>
        public int Rows { get; } = rows;
        /// <summary>The connectivity's row layout (which stored weight reaches which target).</summary>
        public SynapseRows Synapses { get; } = synapses;

        // The layout's arrays, read directly on the hot paths (null when dense); a convolution's geometry.
        private readonly int[]? _rowStarts = synapses.RowStarts;
        private readonly int[]? _targets = synapses.Targets;
        private readonly bool _dense = synapses.Targets is null && synapses.Convolution is null;
        private readonly bool _isConv = synapses.Convolution is not null;
        private readonly Conv2dGeometry _conv = synapses.Convolution ?? default;
        private readonly float _scale = (float)synapses.Scale;
        /// <summary>The connection's stored weights as float32 (refreshed by <see cref="Refresh"/>), laid out as <see cref="Synapses"/> says.</summary>
        public float[] Weights { get; } = new float[weightCount];

        /// <summary>current[post] += W[row, post] over the stored synapses of <paramref name="row"/> (<paramref name="current"/>: the plan's index space).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Deliver(Span<float> current, int row)
        {
            // The dense row is the hot path of every SHD-sized network: kept small enough to inline at the call sites,
            // the sparse and convolution layouts behind one call.
            if (_dense) VectorMath.Add(current.Slice(PostOffset, PostSize), Weights.AsSpan(row * PostSize, PostSize));
            else DeliverStructured(current, row, 1f);
        }

        /// <summary>The sparse and convolution layouts of <see cref="Deliver"/> and <see cref="DeliverScaled"/> (a scale of 1 is
        /// exact: it changes no bit).</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private void DeliverStructured(Span<float> current, int row, float scale)
        {
            var post = current.Slice(PostOffset, PostSize);
            if (_isConv)
            {
                if (!_conv.Footprint(row, out var fp)) return;
                float s = _scale * scale;
                for (int oc = 0; oc < _conv.OutChannels; oc++)
                    for (int a = 0; a < fp.Rows; a++)
                    {
                        int first = fp.Post(oc, a), weight = fp.Weight(oc, a);
                        for (int j = first; j < first + fp.Columns; j++, weight -= fp.Stride) post[j] += s * Weights[weight];
                    }
                return;
            }
            int start = _rowStarts![row];
            var w = Weights.AsSpan(start, _rowStarts[row + 1] - start);
            var to = _targets!.AsSpan(start, w.Length);
            for (int k = 0; k < to.Length; k++) post[to[k]] += scale * w[k];
        }

        /// <summary>current[post] += scale·W[row, post] over the stored synapses of <paramref name="row"/> (an analog input
        /// channel's charge per step, <see cref="AnalogInput"/>; <paramref name="current"/>: the plan's index space).</summary>
        public void DeliverScaled(Span<float> current, int row, float scale)
        {
            if (_dense) VectorMath.AddScaled(current.Slice(PostOffset, PostSize), Weights.AsSpan(row * PostSize, PostSize), scale);
            else DeliverStructured(current, row, scale);
        }

        /// <summary>gradient[row, post] −= scale·weighted[post] over the stored synapses (an analog input channel's weight
        /// gradient, <see cref="AnalogInput"/>; <paramref name="weighted"/>: the target slice).</summary>
        public void SubtractScaledWeightGradient(float[] gradient, int row, ReadOnlySpan<float> weighted, float scale)
        {
            if (_dense) VectorMath.AddScaled(gradient.AsSpan(row * PostSize, PostSize), weighted, -scale);
            else SubtractStructuredWeightGradient(gradient, row, weighted, scale);
        }

        /// <summary>gradient[row, post] −= weighted[post] over the stored synapses (<paramref name="weighted"/>: the target slice, τs·λI).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void SubtractWeightGradient(float[] gradient, int row, ReadOnlySpan<float> weighted)
        {
            if (_dense) VectorMath.Subtract(gradient.AsSpan(row * PostSize, PostSize), weighted);
            else SubtractStructuredWeightGradient(gradient, row, weighted, 1f);
        }

        /// <summary>The sparse and convolution layouts of <see cref="SubtractWeightGradient"/> and
        /// <see cref="SubtractScaledWeightGradient"/> (a scale of 1 is exact: it changes no bit).</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private void SubtractStructuredWeightGradient(float[] gradient, int row, ReadOnlySpan<float> weighted, float scale)
        {
            if (_isConv)
            {
                if (!_conv.Footprint(row, out var fp)) return;
                float s = _scale * scale;
                for (int oc = 0; oc < _conv.OutChannels; oc++)
                    for (int a = 0; a < fp.Rows; a++)
                    {
                        int first = fp.Post(oc, a), weight = fp.Weight(oc, a);
                        for (int j = first; j < first + fp.Columns; j++, weight -= fp.Stride) gradient[weight] -= s * weighted[j];
                    }
                return;
            }
            int start = _rowStarts![row];
            var g = gradient.AsSpan(start, _rowStarts[row + 1] - start);
            var to = _targets!.AsSpan(start, g.Length);
            for (int k = 0; k < to.Length; k++) g[k] -= scale * weighted[to[k]];
        }

        /// <summary>Σ_post W[row, post]·adjoint[post] over the stored synapses (<paramref name="adjoint"/>: the target slice, λV − λI).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Transport(int row, ReadOnlySpan<float> adjoint) =>
            _dense ? VectorMath.Dot(Weights.AsSpan(row * PostSize, PostSize), adjoint) : TransportStructured(row, adjoint);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private float TransportStructured(int row, ReadOnlySpan<float> adjoint)
        {
            if (_isConv)
            {
                if (!_conv.Footprint(row, out var fp)) return 0;
                float total = 0;
                for (int oc = 0; oc < _conv.OutChannels; oc++)
                    for (int a = 0; a < fp.Rows; a++)
                    {
                        int first = fp.Post(oc, a), weight = fp.Weight(oc, a);
                        for (int j = first; j < first + fp.Columns; j++, weight -= fp.Stride)
                            total += Weights[TransportMisindexed ? _conv.Mirrored(weight) : weight] * adjoint[j];
                    }
                return _scale * total;
            }
            var targets = _targets!;
            int start = _rowStarts![row];
            var w = Weights.AsSpan(start, _rowStarts[row + 1] - start);
            var to = targets.AsSpan(start, w.Length);
            float sum = 0;
            if (TransportMisindexed)
            {
                for (int k = 0; k < to.Length; k++) sum += w[k] * adjoint[k];
                return sum;
            }
            for (int k = 0; k < to.Length; k++) sum += w[k] * adjoint[to[k]];
            return sum;
        }

        /// <summary>W[row, column], or +∞ when the synapse does not exist (for the corner search, which looks for the most negative weight).</summary>
        public float WeightOrInfinity(int row, int column)
        {
            int e = Synapses.IndexOf(row, column);
            return e >= 0 ? _scale * Weights[e] : float.PositiveInfinity;
        }

        /// <summary>Fault injection for tests: a sparse row's transport reads the adjoint at the synapse's position in the row
        /// instead of at its target; a convolution's pairs each synapse with the kernel tap mirrored in both directions (proves
        /// the checks against the dense twin bite).</summary>
        internal bool TransportMisindexed { get; set; }
    }
}
