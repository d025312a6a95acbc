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

/// <summary>The built-in <c>sum</c> and <c>sum_exp</c> losses evaluated on the device.</summary>
internal sealed partial class IlgpuSteppedBackend
{
    /// <summary>The weighting rate of a loss the device evaluates: 0 for <c>sum</c>, 1/T for <c>sum_exp</c>.</summary>
    private bool DeviceLossRate(ILoss loss, out double rate)
    {
        rate = loss switch
        {
            Losses.SumLoss => 0,
            Losses.SumExpLoss => 1.0 / (Dt * Steps),
            _ => double.NaN,
        };
        return !double.IsNaN(rate);
    }

    /// <summary>Uploads the readout constants and labels and runs the loss kernels (z and the cross-entropy).</summary>
    private LossViews LossOnDevice(SteppedPlan plan, KernelDims dims, KernelViews w, int[] labels, double rate)
    {
        int R = plan.ReadoutSize, B = dims.Trials;
        double dt = Dt;
        var constants = new double[R * LossKernels.ConstantCount];
        for (int j = 0; j < R; j++)
        {
            int g = plan.ReadoutOffset + j;
            double m = plan.RateMem[g], s = plan.RateSyn[g], tm = plan.TauMem[g], ts = plan.TauSyn[g];
            double em = Math.Exp(-m * dt), es = Math.Exp(-s * dt), psi = ExpKernels.Psi2(dt, m, s, em, es);
            var c = constants.AsSpan(j * LossKernels.ConstantCount, LossKernels.ConstantCount);
            c[LossKernels.FromV] = ExpKernels.Psi2(dt, rate + m, 0);
            c[LossKernels.FromI] = m * ExpKernels.Psi3(dt, rate + m, rate + s, 0);
            c[LossKernels.StepDecay] = Math.Exp(-rate * dt);
            c[LossKernels.InvMem] = 1.0 / (1.0 + rate * tm);
            c[LossKernels.InvSyn] = 1.0 / (1.0 + rate * ts);
            c[LossKernels.PsiSyn] = ExpKernels.Psi2(dt, rate + s, 0);
            c[LossKernels.PsiMem] = ExpKernels.Psi2(dt, rate + m, 0);
            c[LossKernels.MemPsi3] = m * ExpKernels.Psi3(dt, rate + m, rate + s, 0);
            c[LossKernels.Em] = em;
            c[LossKernels.Es] = es;
            c[LossKernels.AdjointVtoI] = s * psi;
            c[LossKernels.Psi] = psi;
            c[LossKernels.DtEm] = dt * em;
            c[LossKernels.StepMemPsi3] = m * ExpKernels.Psi3(dt, m, m, s);
            c[LossKernels.DtEs] = dt * es;
            c[LossKernels.SynPsi3] = s * ExpKernels.Psi3(dt, m, s, s);
        }
        var l = new LossViews
        {
            Constants = Upload("LossConstants", constants),
            Labels = Upload("LossLabels", labels),
            Outputs = Buffer<double>("LossOutputs", (long)B * R),
            Coefficients = Buffer<double>("LossCoefficients", (long)B * R),
            Values = Buffer<double>("LossValues", B),
            DriveTauMem = Buffer<double>("LossDriveTauMem", (long)B * R),
            DriveTauSyn = Buffer<double>("LossDriveTauSyn", (long)B * R),
            Rate = rate,
            Duration = dt * Steps,
            Scale = 1.0 / B,
        };
        _lossIntegrate(new Index2D(R, B), w, l, dims);
        _lossCrossEntropy(B, w, l, dims);
        _accelerator.DefaultStream.Synchronize();
        return l;
    }

    private void UploadOrClear<T>(ArrayView<T> view, T[] data, bool any) where T : unmanaged
    {
        if (data.Length == 0) return;
        var target = view.SubView(0, data.Length);
        if (any) target.CopyFromCPU(data);
        else target.MemSetToZero(_accelerator.DefaultStream);
    }
}
