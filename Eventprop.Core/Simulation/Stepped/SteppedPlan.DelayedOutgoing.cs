using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Stepped;

public sealed partial class SteppedPlan
{
    public sealed partial class Outgoing
    {
        /// <summary>Index of the connection's learned-delay parameter (<c>pre-&gt;post.delay</c> or <c>.axonal_delay</c>), or −1.</summary>
        public int DelayParameterIndex { get; } = delayParameterIndex;

        /// <summary>Whether the connection's spikes arrive after learned delays (then they go through a ring buffer of
        /// <see cref="RingSlots"/> grid points instead of straight into the current).</summary>
        public bool IsDelayed => DelayParameterIndex >= 0;

        /// <summary>Whether there is one delay per presynaptic neuron (axonal) rather than one per stored synapse.</summary>
        public bool AxonalDelays { get; } = axonalDelays;

        /// <summary>Per stored synapse (or per row when axonal): the delay on the grid, D = round(d/dt) steps (refreshed by
        /// <see cref="SteppedPlan.Refresh"/>).</summary>
        public int[] DelaySteps { get; } = delayParameterIndex < 0 ? [] : new int[axonalDelays ? rows : weightCount];

        /// <summary>The largest of <see cref="DelaySteps"/> (0 without delays).</summary>
        public int MaxDelaySteps { get; private set; }

        /// <summary>Grid points a ring buffer of this connection holds: <see cref="MaxDelaySteps"/> + 1.</summary>
        public int RingSlots => MaxDelaySteps + 1;

        /// <summary>Position of this connection among <see cref="SteppedPlan.Delayed"/> (the index of its ring buffers).</summary>
        public int DelayedIndex { get; internal set; } = -1;

        /// <summary>Fault injection for tests: the delay gradient leaves out the weight (dL/dd = (λV − λI) instead of W·(λV − λI)).</summary>
        internal bool DelayGradientUnweighted { get; set; }

        /// <summary>Fault injection for tests: the backward pass reads the adjoints at the spike's emission instead of its arrival.</summary>
        internal bool DelayedAdjointAtEmission { get; set; }

        /// <summary>Rounds the delays (ms) to the grid, D = ⌊d/dt + ½⌋: the rule of the forward pass, the replay and the backward pass.</summary>
        internal void RefreshDelays(double[] delays, double dt)
        {
            int max = 0;
            for (int e = 0; e < DelaySteps.Length; e++)
            {
                int d = TimeGrid.NearestStep(delays[e], dt, int.MaxValue / 2);
                DelaySteps[e] = d;
                if (d > max) max = d;
            }
            MaxDelaySteps = max;
            if (!AxonalDelays)
            {
                if (_delayOffsets.Length != DelaySteps.Length) _delayOffsets = new int[DelaySteps.Length];
                for (int e = 0; e < DelaySteps.Length; e++) _delayOffsets[e] = checked(DelaySteps[e] * PostSize);
            }
        }

        /// <summary>
        /// Schedules row <paramref name="row"/>'s spike of grid point <paramref name="step"/>: ring[(step + D) mod S][post] += W
        /// for every synapse whose arrival step + D lies in [<paramref name="firstArrival"/>, <paramref name="steps"/>) (later
        /// arrivals fall after the trial and have no effect; the replay rebuilds a ring from the arrivals after its start).
        /// </summary>
        internal void Schedule(Span<float> ring, int row, int step, int firstArrival, int steps)
        {
            int slots = RingSlots, columns = PostSize;
            if (AxonalDelays)
            {
                int arrival = step + DelaySteps[row];
                if (arrival < firstArrival || arrival >= steps) return;
                var weights = _dense ? Weights.AsSpan(row * columns, columns) : Weights.AsSpan(_rowStarts![row], _rowStarts[row + 1] - _rowStarts[row]);
                var slot = ring.Slice(arrival % slots * columns, columns);
                if (_dense) VectorMath.Add(slot, weights);
                else
                {
                    var to = _targets!.AsSpan(_rowStarts![row], weights.Length);
                    for (int k = 0; k < to.Length; k++) slot[to[k]] += weights[k];
                }
                return;
            }
            // Positions in the ring without a division per synapse: the row's slot offset once, then wrap by one subtraction.
            int start = _dense ? row * columns : _rowStarts![row], length = _dense ? columns : _rowStarts![row + 1] - start;
            int ringLength = slots * columns, origin = step % slots * columns, earliest = firstArrival - step, limit = steps - step;
            var delays = DelaySteps.AsSpan(start, length);
            var offsets = _delayOffsets.AsSpan(start, length);
            var stored = Weights.AsSpan(start, length);
            if (_dense && earliest <= 0)
            {
                for (int k = 0; k < delays.Length; k++)
                {
                    if (delays[k] >= limit) continue;
                    int at = origin + offsets[k] + k;
                    if (at >= ringLength) at -= ringLength;
                    ring[at] += stored[k];
                }
                return;
            }
            for (int k = 0; k < delays.Length; k++)
            {
                int d = delays[k];
                if (d < earliest || d >= limit) continue;
                int at = origin + offsets[k] + (_dense ? k : _targets![start + k]);
                if (at >= ringLength) at -= ringLength;
                ring[at] += stored[k];
            }
        }

        // Per stored synapse: D·PostSize, the synapse's slot offset in a ring (synaptic delays only).
        private int[] _delayOffsets = [];

        /// <summary>Adds the arrivals of grid point <paramref name="step"/> to the postsynaptic current and empties their slot
        /// (<paramref name="current"/>: the plan's index space).</summary>
        internal void Drain(Span<float> current, Span<float> ring, int step)
        {
            var slot = ring.Slice(step % RingSlots * PostSize, PostSize);
            VectorMath.Add(current.Slice(PostOffset, PostSize), slot);
            slot.Clear();
        }

        /// <summary>Stores the target population's adjoints of grid point <paramref name="step"/> (λV − λI and τs·λI, before
        /// the grid point's jumps) in the backward pass's rings, where the spikes that arrive then read them at their emission.</summary>
        internal void RecordAdjoints(Span<float> differenceRing, Span<float> weightedRing, int step, ReadOnlySpan<float> difference, ReadOnlySpan<float> weighted)
        {
            int at = step % RingSlots * PostSize;
            difference.CopyTo(differenceRing.Slice(at, PostSize));
            weighted.CopyTo(weightedRing.Slice(at, PostSize));
        }

        /// <summary>
        /// The backward pass of row <paramref name="row"/>'s spike of grid point <paramref name="step"/>, at its emission: for
        /// every synapse that arrived before T, at a = step + D, dL/dW −= τs·λI(t_a), dL/dd += W·(λV − λI)(t_a) (per synapse,
        /// or summed over the row when axonal) and the same W·(λV − λI)(t_a) summed into the returned transport term of the
        /// presynaptic jump (docs/delays-and-adaptation.md §2). The rounding D = round(d/dt) is passed straight through: the
        /// gradient of the continuous d is the one of its grid arrival.
        /// </summary>
        internal float Backward(int row, int step, int steps, ReadOnlySpan<float> differenceRing, ReadOnlySpan<float> weightedRing,
            float[] weightGradient, float[] delayGradient)
        {
            int slots = RingSlots, columns = PostSize;
            if (AxonalDelays)
            {
                int arrival = step + DelaySteps[row];
                if (arrival >= steps) return 0;
                int at = (DelayedAdjointAtEmission ? step : arrival) % slots * columns;
                var difference = differenceRing.Slice(at, columns);
                var weighted = weightedRing.Slice(at, columns);
                float share;
                if (_dense)
                {
                    var w = Weights.AsSpan(row * columns, columns);
                    VectorMath.Subtract(weightGradient.AsSpan(row * columns, columns), weighted);
                    share = VectorMath.Dot(w, difference);
                    delayGradient[row] += DelayGradientUnweighted ? Sum(difference) : share;
                    return share;
                }
                int start = _rowStarts![row], length = _rowStarts[row + 1] - start;
                share = 0;
                float unweighted = 0;
                for (int k = 0; k < length; k++)
                {
                    int e = start + k, j = _targets![e];
                    weightGradient[e] -= weighted[j];
                    share += Weights[e] * difference[j];
                    unweighted += difference[j];
                }
                delayGradient[row] += DelayGradientUnweighted ? unweighted : share;
                return share;
            }
            int first = _dense ? row * columns : _rowStarts![row], count = _dense ? columns : _rowStarts![row + 1] - first;
            int ringLength = slots * columns, origin = step % slots * columns, limit = steps - step;
            var delays = DelaySteps.AsSpan(first, count);
            var offsets = _delayOffsets.AsSpan(first, count);
            var rowWeights = Weights.AsSpan(first, count);
            var gw = weightGradient.AsSpan(first, count);
            var gd = delayGradient.AsSpan(first, count);
            float transport = 0;
            for (int k = 0; k < delays.Length; k++)
            {
                if (delays[k] >= limit) continue;
                int at = origin + (DelayedAdjointAtEmission ? 0 : offsets[k]) + (_dense ? k : _targets![first + k]);
                if (at >= ringLength) at -= ringLength;
                float difference = differenceRing[at];
                gw[k] -= weightedRing[at];
                float part = rowWeights[k] * difference;
                gd[k] += DelayGradientUnweighted ? difference : part;
                transport += part;
            }
            return transport;
        }

        private static float Sum(ReadOnlySpan<float> values)
        {
            float total = 0;
            foreach (float x in values) total += x;
            return total;
        }
    }
}
