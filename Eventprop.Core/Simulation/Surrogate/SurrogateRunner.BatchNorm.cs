using System.Numerics;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>
/// The BPTT engine's batch norm of hidden input currents (seed 004 §2.6): the per-step drive x = Σ_j W_ij S_j of a
/// batch-normalised layer is collected apart from its synaptic current I and enters I as y = γ·(x − μ)/√(σ² + ε) + β.
/// </summary>
/// <remarks>
/// <para><b>Order of work.</b> The runner is step-major per trial (trials in parallel), and batch statistics couple the trials,
/// so a batch with L batch-normalised layers (network order, which <see cref="NetworkBuilder"/> makes feed-forward) takes
/// extra passes over the batch: forward pass l (l = 1…L) runs every trial with the statistics of layers &lt; l fixed and sums
/// layer l's x and x² (layer l's drive depends only on layers before it); then backward pass l (l = L…1, forward and
/// backward of every trial) runs with the adjoint means of the layers after l fixed and sums layer l's dy and dy·x̂
/// (layer l's dy = dL/dI depends only on the layers after it); then the ordinary pass with everything fixed gives the
/// loss and the gradient. Cost: L forward and L forward-backward passes on top of the one pass, and no extra memory.
/// Every sum is in double, per partition in trial order, reduced over the partitions in order: bit-identical for a given
/// thread count.</para>
/// <para>The delivery points are the N per-step current injections (exact scheme: grid points 0…N−1; Zenke–Vogels: the bins
/// k = 0…N−1 into I_{k+1}); statistics are over trials × N × positions.</para>
/// </remarks>
internal sealed partial class SurrogateRunner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// A batch-normalised layer: neurons [Offset, Offset + Size) in <see cref="Channels"/> channels of <see cref="Positions"/>
    /// neurons each (channel-major), its channels at [ChannelOffset, …) and its neurons at [Compact, …) in the batch-norm
    /// arrays, and the indices of its four parameters.
    /// </summary>
    private sealed record BatchNormRange(string Name, int Offset, int Size, int Channels, int ChannelOffset, int Compact, int Scale, int Bias, int RunningMean, int RunningVariance)
    {
        public int Positions => Size / Channels;
    }

    /// <summary>The batch-norm coefficients of the current pass, per channel of every batch-normalised layer (shared by the threads, set between passes).</summary>
    private sealed class BatchNormCoefficients(int channels)
    {
        /// <summary>Forward: y = Multiplier·x + Offset.</summary>
        public T[] Multiplier { get; } = new T[channels];
        public T[] Offset { get; } = new T[channels];
        /// <summary>Backward: dx = A·dy − B − C·x.</summary>
        public T[] A { get; } = new T[channels];
        public T[] B { get; } = new T[channels];
        public T[] C { get; } = new T[channels];
        /// <summary>μ and 1/√(σ² + ε) of the statistics normalised with (for x̂ in the adjoint sums).</summary>
        public double[] Mean { get; } = new double[channels];
        public double[] InverseDeviation { get; } = new double[channels];
        /// <summary>The layer whose Σx, Σx² the forward collects (−1: none).</summary>
        public int Measured { get; set; } = -1;
    }

    /// <summary>One partition's batch-norm sums per channel: Σx, Σx² (forward), Σdy, Σdy·x̂ (backward), in double.</summary>
    private sealed class BatchNormSums(int channels)
    {
        public double[] Drive { get; } = new double[channels];
        public double[] DriveSquared { get; } = new double[channels];
        public double[] Adjoint { get; } = new double[channels];
        public double[] AdjointNormalised { get; } = new double[channels];

        public void Clear()
        {
            Array.Clear(Drive);
            Array.Clear(DriveSquared);
            Array.Clear(Adjoint);
            Array.Clear(AdjointNormalised);
        }
    }

    private readonly List<BatchNormSums> _batchNormSums = [];

    /// <summary>After a gradient run of a network with batch norm: per layer, the batch statistics normalised with (else null).</summary>
    public Dictionary<string, BatchNormStatistics>? BatchStatistics { get; private set; }

    private static BatchNormRange[] BatchNormRanges(Network network, Stepped.SteppedPlan structure, Dictionary<string, int> names)
    {
        var ranges = new List<BatchNormRange>();
        int channels = 0, compact = 0;
        foreach (var p in network.BatchNormalized)
        {
            int scale = names[BatchNorm.ParameterName(p.Name, ParameterKind.BatchNormScale)];
            int c = network.Parameters[scale].Length;
            ranges.Add(new BatchNormRange(p.Name, structure.PopulationOffset[p.Index], p.Size, c, channels, compact, scale,
                names[BatchNorm.ParameterName(p.Name, ParameterKind.BatchNormBias)],
                names[BatchNorm.ParameterName(p.Name, ParameterKind.BatchNormRunningMean)],
                names[BatchNorm.ParameterName(p.Name, ParameterKind.BatchNormRunningVariance)]));
            channels += c;
            compact += p.Size;
        }
        return [.. ranges];
    }

    /// <summary>Evaluation coefficients: the running statistics (a fixed per-channel affine map); no collection.</summary>
    private static void UseRunningStatistics(Plan plan, ParameterSet parameters)
    {
        var k = plan.BatchNormCoefficients;
        k.Measured = -1;
        foreach (var r in plan.BatchNorm)
        {
            var mean = parameters[r.RunningMean].Values;
            var variance = parameters[r.RunningVariance].Values;
            for (int c = 0; c < r.Channels; c++) SetForward(plan, parameters, r, c, mean[c], variance[c]);
        }
    }

    private static void SetForward(Plan plan, ParameterSet parameters, BatchNormRange r, int c, double mean, double variance)
    {
        var k = plan.BatchNormCoefficients;
        int ch = r.ChannelOffset + c;
        var (m, o) = BatchNorm.Affine(parameters[r.Scale].Values[c], parameters[r.Bias].Values[c], mean, variance);
        k.Multiplier[ch] = T.CreateChecked(m);
        k.Offset[ch] = T.CreateChecked(o);
        k.Mean[ch] = mean;
        k.InverseDeviation[ch] = BatchNorm.InverseDeviation(variance);
    }

    /// <summary>
    /// The statistics passes of a gradient run (see the remarks of this file): fixes every layer's batch statistics, then
    /// every layer's backward coefficients; afterwards the ordinary pass runs with them. Sets <see cref="BatchStatistics"/>.
    /// </summary>
    private void PrepareBatchNorm(Plan plan, Network network, IReadOnlyList<SpikeSample> batch, int[] labels, ILoss loss, ReadoutDropout? dropout, int partitions, double scale)
    {
        var parameters = network.Parameters;
        var k = plan.BatchNormCoefficients;
        var ranges = plan.BatchNorm;
        var stats = new BatchNormStatistics[ranges.Length];
        for (int l = 0; l < ranges.Length; l++)
        {
            var r = ranges[l];
            k.Measured = l;
            StatisticsPass(plan, network, batch, labels, loss, dropout, partitions, scale, backward: false);
            var (sum, squares) = (new double[r.Channels], new double[r.Channels]);
            for (int part = 0; part < partitions; part++)
                for (int c = 0; c < r.Channels; c++)
                {
                    sum[c] += _batchNormSums[part].Drive[r.ChannelOffset + c];
                    squares[c] += _batchNormSums[part].DriveSquared[r.ChannelOffset + c];
                }
            stats[l] = BatchNorm.FromSums(sum, squares, Count(r, batch.Count));
            for (int c = 0; c < r.Channels; c++) SetForward(plan, parameters, r, c, stats[l].Mean[c], stats[l].Variance[c]);
        }
        k.Measured = -1;
        for (int l = ranges.Length - 1; l >= 0; l--)
        {
            var r = ranges[l];
            StatisticsPass(plan, network, batch, labels, loss, dropout, partitions, scale, backward: true);
            long n = Count(r, batch.Count);
            bool drop = _engine.Fault == SurrogateFault.BatchNormCovarianceTermDropped;
            for (int c = 0; c < r.Channels; c++)
            {
                double dy = 0, dyx = 0;
                for (int part = 0; part < partitions; part++)
                {
                    dy += _batchNormSums[part].Adjoint[r.ChannelOffset + c];
                    dyx += _batchNormSums[part].AdjointNormalised[r.ChannelOffset + c];
                }
                var (a, b, cc) = BatchNorm.BackwardCoefficients(parameters[r.Scale].Values[c], stats[l].Mean[c], stats[l].Variance[c], dy / n, dyx / n, drop);
                int ch = r.ChannelOffset + c;
                k.A[ch] = T.CreateChecked(a);
                k.B[ch] = T.CreateChecked(b);
                k.C[ch] = T.CreateChecked(cc);
            }
        }
        BatchStatistics = ranges.Select((r, l) => (r.Name, stats[l])).ToDictionary(x => x.Name, x => x.Item2, StringComparer.Ordinal);
    }

    private long Count(BatchNormRange r, int trials) => (long)trials * N * r.Positions;

    /// <summary>One pass over the batch for the statistics: forward only (collecting Σx, Σx² of the measured layer), or forward and backward (Σdy, Σdy·x̂ of every layer).</summary>
    private void StatisticsPass(Plan plan, Network network, IReadOnlyList<SpikeSample> batch, int[] labels, ILoss loss, ReadoutDropout? dropout, int partitions, double scale, bool backward)
    {
        int count = batch.Count;
        Parallel(partitions, part =>
        {
            var ws = Rent(plan);
            ws.BatchNormSums = _batchNormSums[part];
            ws.BatchNormSums.Clear();
            ws.StatisticsPass = true;
            var buffer = _buffers[part];
            if (backward) buffer.Reset(network, plan.Neurons, magnitudes: false);
            try
            {
                int from = part * count / partitions, to = (part + 1) * count / partitions;
                for (int b = from; b < to; b++)
                {
                    ws.Sample = b;
                    FillKeep(plan, ws, dropout, b);
                    Forward(plan, ws, batch[b]);
                    if (!backward) continue;
                    Evaluate(plan, ws, loss, labels[b], b, gradient: true, scale);
                    Backward(plan, ws, buffer);
                }
            }
            finally
            {
                ws.StatisticsPass = false;
                Return(ws);
            }
        });
    }

    /// <summary>Before a delivery point: the batch-normalised layers' currents are set aside and their slices cleared, so the delivery leaves the raw drive x there.</summary>
    private static void BeginDrive(Plan plan, Workspace ws)
    {
        foreach (var r in plan.BatchNorm)
        {
            var slice = ws.I.AsSpan(r.Offset, r.Size);
            slice.CopyTo(ws.SavedCurrent.AsSpan(r.Compact, r.Size));
            slice.Clear();
        }
    }

    /// <summary>After delivery point <paramref name="d"/>: stores x, collects its sums when measured, and sets I = I_saved + γ·x̂ + β.</summary>
    private void EndDrive(Plan plan, Workspace ws, int d)
    {
        var k = plan.BatchNormCoefficients;
        int stride = plan.BatchNormNeurons;
        for (int l = 0; l < plan.BatchNorm.Length; l++)
        {
            var r = plan.BatchNorm[l];
            var cur = ws.I.AsSpan(r.Offset, r.Size);
            var saved = ws.SavedCurrent.AsSpan(r.Compact, r.Size);
            cur.CopyTo(ws.Drives.AsSpan(d * stride + r.Compact, r.Size));
            int positions = r.Positions;
            bool measure = k.Measured == l;
            for (int c = 0; c < r.Channels; c++)
            {
                int ch = r.ChannelOffset + c;
                T m = k.Multiplier[ch], o = k.Offset[ch];
                double sum = 0, squares = 0;
                for (int i = c * positions; i < (c + 1) * positions; i++)
                {
                    T x = cur[i];
                    if (measure)
                    {
                        double xd = double.CreateChecked(x);
                        sum += xd;
                        squares += xd * xd;
                    }
                    cur[i] = saved[i] + (m * x + o);
                }
                if (measure)
                {
                    ws.BatchNormSums!.Drive[ch] += sum;
                    ws.BatchNormSums.DriveSquared[ch] += squares;
                }
            }
        }
    }

    /// <summary>
    /// At delivery point <paramref name="d"/> of the backward pass: the adjoint the presynaptic side receives, dL/dI with
    /// each batch-normalised neuron's entry replaced by dx = A·dy − B − C·x (dy = dL/dI there); adds Σdy and Σdy·x̂ to the
    /// partition's sums. Without batch norm, dL/dI itself.
    /// </summary>
    private T[] PresynapticAdjoint(Plan plan, Workspace ws, int d)
    {
        if (plan.BatchNorm.Length == 0) return ws.GI;
        var k = plan.BatchNormCoefficients;
        var gI = ws.GI;
        var gD = ws.GD;
        gI.CopyTo(gD, 0);
        int stride = plan.BatchNormNeurons;
        var sums = ws.BatchNormSums!;
        foreach (var r in plan.BatchNorm)
        {
            var x = ws.Drives.AsSpan(d * stride + r.Compact, r.Size);
            int positions = r.Positions;
            for (int c = 0; c < r.Channels; c++)
            {
                int ch = r.ChannelOffset + c;
                T a = k.A[ch], b = k.B[ch], cc = k.C[ch];
                double mean = k.Mean[ch], inv = k.InverseDeviation[ch], sum = 0, normalised = 0;
                for (int i = c * positions; i < (c + 1) * positions; i++)
                {
                    int g = r.Offset + i;
                    T dy = gI[g];
                    double dyd = double.CreateChecked(dy);
                    sum += dyd;
                    normalised += dyd * (double.CreateChecked(x[i]) - mean) * inv;
                    gD[g] = a * dy - b - cc * x[i];
                }
                sums.Adjoint[ch] += sum;
                sums.AdjointNormalised[ch] += normalised;
            }
        }
        return gD;
    }

    /// <summary>dL/dγ = Σdy·x̂ and dL/dβ = Σdy of the ordinary pass, summed over the partitions in order.</summary>
    private void BatchNormGradients(Plan plan, ParameterSet result, int partitions)
    {
        foreach (var r in plan.BatchNorm)
        {
            var scale = result[r.Scale].Values;
            var bias = result[r.Bias].Values;
            for (int part = 0; part < partitions; part++)
                for (int c = 0; c < r.Channels; c++)
                {
                    scale[c] += _batchNormSums[part].AdjointNormalised[r.ChannelOffset + c];
                    bias[c] += _batchNormSums[part].Adjoint[r.ChannelOffset + c];
                }
        }
    }
}
