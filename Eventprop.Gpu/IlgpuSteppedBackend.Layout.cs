using System.Runtime.ExceptionServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Simulation.Stepped.Backend;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Eventprop.Gpu;

/// <summary>The device layout of the connections (flat per-connection weights) and the gradient collected from it.</summary>
internal sealed partial class IlgpuSteppedBackend
{
    /// <summary>The connections in the order of the device's flat weight array: the input's outgoing ones, then each dynamic population's.</summary>
    private static IEnumerable<SteppedPlan.Outgoing> ConnectionOrder(Network network, SteppedPlan plan)
    {
        foreach (var pop in network.Populations)
        {
            if (pop != network.Input && plan.PopulationOffset[pop.Index] < 0) continue;
            foreach (var o in plan.Outgoings[pop.Index]) yield return o;
        }
    }

    /// <summary>
    /// The device records of the connections and their stored weights, one connection after the other (dense W[pre, post]
    /// row-major, a sparse mask's nonzeros row by row, with the masks' row starts and targets in two shared arrays, or a
    /// convolution's kernels (out, in, kh, kw) with its geometry in the record): device memory for weights and per-trial
    /// gradients follows the stored weights, not (inputs + n) × n.
    /// </summary>
    private static DeviceConnections CompileConnections(Network network, SteppedPlan plan)
    {
        var records = new List<ConnectionRecord>();
        var rowStarts = new List<int>();
        var targets = new List<int>();
        long total = 0;
        int kernelWeights = 0;
        foreach (var pop in network.Populations)
        {
            if (pop != network.Input && plan.PopulationOffset[pop.Index] < 0) continue;
            foreach (var o in plan.Outgoings[pop.Index])
            {
                var record = new ConnectionRecord
                {
                    FromInput = pop == network.Input ? 1 : 0,
                    PreOffset = pop == network.Input ? 0 : plan.PopulationOffset[pop.Index],
                    PreSize = o.Rows, PostOffset = o.PostOffset, PostSize = o.PostSize, WeightOffset = total,
                    RowStartOffset = -1, Scale = 1f,
                };
                if (o.Synapses.Convolution is { } geometry)
                {
                    record.IsConvolution = 1;
                    record.Convolution = geometry;
                    record.Scale = (float)geometry.Scale;
                    record.ConvolutionWeightStart = kernelWeights;
                    kernelWeights = checked(kernelWeights + geometry.WeightCount);
                }
                if (o.Synapses.RowStarts is { } starts && o.Synapses.Targets is { } to)
                {
                    record.RowStartOffset = rowStarts.Count;
                    record.TargetOffset = targets.Count;
                    rowStarts.AddRange(starts);
                    targets.AddRange(to);
                }
                records.Add(record);
                total += o.Weights.Length;
            }
        }
        var weights = new float[total];
        long at = 0;
        foreach (var o in ConnectionOrder(network, plan))
        {
            o.Weights.CopyTo(weights, at);
            at += o.Weights.Length;
        }
        return new DeviceConnections(records.ToArray(), weights, rowStarts.ToArray(), targets.ToArray(), kernelWeights);
    }

    /// <summary>The compiled connections (see <see cref="CompileConnections"/>); <paramref name="ConvolutionWeights"/>: the
    /// convolutions' kernel weights, one thread each in the shared-kernel weight-gradient phase.</summary>
    private sealed record DeviceConnections(ConnectionRecord[] Records, float[] Weights, int[] SparseRowStarts, int[] SparseTargets, int ConvolutionWeights);

    /// <summary>The gradient in the network's parameter layout: weights from the device's flat array, τ's reduced in trial order.</summary>
    private void Collect(SteppedPlan plan, KernelDims dims, float[] dense, double[] tauMem, double[] tauSyn,
        double[] driveTauMem, double[] driveTauSyn, ParameterSet gradient)
    {
        int B = dims.Trials, n = dims.Neurons, R = dims.Readout;
        bool tau = TimeConstantGradients;
        long offset = 0;
        foreach (var o in ConnectionOrder(plan.Network, plan))
        {
            Array.Copy(dense, offset, gradient[o.ParameterIndex].Values, 0, o.Weights.Length);
            offset += o.Weights.Length;
        }
        if (tau)
        {
            foreach (var pop in plan.Populations)
            {
                var tm = gradient[pop.TauMemParameter].Values;
                var ts = gradient[pop.TauSynParameter].Values;
                for (int b = 0; b < B; b++)
                    for (int i = 0; i < pop.Size; i++)
                    {
                        int g = pop.Offset + i;
                        double sm = tauMem[b * n + g], ss = tauSyn[b * n + g];
                        if (pop.IsReadout)
                        {
                            sm += driveTauMem[b * R + i];
                            ss += driveTauSyn[b * R + i];
                        }
                        plan.AddTimeConstantGradient(g, sm, ss, ref tm[i], ref ts[i]);
                    }
            }
        }
    }
}
