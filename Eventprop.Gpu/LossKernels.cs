using ILGPU;
using ILGPU.Algorithms;

namespace Eventprop.Gpu;

/// <summary>Device arrays of the on-device <c>sum</c> / <c>sum_exp</c> loss (kernel argument).</summary>
internal struct LossViews
{
    /// <summary>Per readout neuron, <see cref="LossKernels.ConstantCount"/> doubles (see <see cref="LossKernels"/>).</summary>
    public ArrayView<double> Constants;
    public ArrayView<int> Labels;          // [B]
    public ArrayView<double> Outputs;      // [B × R]: z
    public ArrayView<double> Coefficients; // [B × R]: (softmax(z) − δ)/T
    public ArrayView<double> Values;       // [B]: the loss of each trial
    public ArrayView<double> DriveTauMem, DriveTauSyn; // [B × R]: the drive's τ-gradient corrections
    public double Rate;                    // ρ of the weighting e^{−ρt}: 0 (sum) or 1/T (sum_exp)
    public double Duration;
    public double Scale;                   // 1/B: the gradient is of the batch mean
}

/// <summary>
/// <c>sum</c> and <c>sum_exp</c> on the device (the host path, <c>Softmax.WeightedVoltageCrossEntropy</c> with
/// <c>SteppedReadoutTrace.IntegrateVoltage</c> and <c>ReadoutDrive.ApplyStep</c>, operation by operation): z_k from the
/// readout trace, the cross-entropy, and the per-step drive of the backward pass, so only the losses and predictions
/// come back to the host.
/// </summary>
internal static class LossKernels
{
    // Constant layout per readout neuron.
    public const int FromV = 0, FromI = 1, StepDecay = 2, InvMem = 3, InvSyn = 4, PsiSyn = 5, PsiMem = 6, MemPsi3 = 7,
        Em = 8, Es = 9, AdjointVtoI = 10, Psi = 11, DtEm = 12, StepMemPsi3 = 13, DtEs = 14, SynPsi3 = 15;
    public const int ConstantCount = 16;

    /// <summary>z of trial Y, readout neuron X: (1/T)∫e^{−ρt}V dt in closed form over each step (re-anchored every 256 steps).</summary>
    public static void Integrate(Index2D index, KernelViews w, LossViews l, KernelDims d)
    {
        int j = index.X, b = index.Y;
        if (j >= d.Readout) return;
        long c = (long)j * ConstantCount;
        double fromV = l.Constants[c + FromV], fromI = l.Constants[c + FromI], stepDecay = l.Constants[c + StepDecay];
        long baseIndex = ((long)b * d.Readout + j) * (d.Steps + 1);
        double sum = 0, weight = 1;
        for (int n = 0; n < d.Steps; n++)
        {
            if (n % 256 == 0 && l.Rate != 0) weight = XMath.Exp(-l.Rate * d.Dt * n);
            sum += weight * (w.TraceV[baseIndex + n] * fromV + w.TraceI[baseIndex + n] * fromI);
            weight *= stepDecay;
        }
        l.Outputs[b * d.Readout + j] = sum / l.Duration;
    }

    /// <summary>Trial X: −log softmax(z)_label and the drive coefficients (softmax(z) − δ)/T.</summary>
    public static void CrossEntropy(Index1D index, KernelViews w, LossViews l, KernelDims d)
    {
        int b = index.X, R = d.Readout;
        if (b >= d.Trials) return;
        int label = l.Labels[b];
        double max = double.NegativeInfinity;
        for (int k = 0; k < R; k++) max = XMath.Max(max, l.Outputs[b * R + k]);
        double sum = 0;
        for (int k = 0; k < R; k++)
        {
            double e = XMath.Exp(l.Outputs[b * R + k] - max);
            l.Coefficients[b * R + k] = e;
            sum += e;
        }
        for (int k = 0; k < R; k++)
            l.Coefficients[b * R + k] = (l.Coefficients[b * R + k] / sum - (k == label ? 1 : 0)) / l.Duration;
        l.Values[b] = XMath.Log(sum) + max - l.Outputs[b * R + label];
    }

    /// <summary>
    /// Trial Y, readout neuron X: the drive C·e^{−ρt} (C the coefficient scaled to the batch mean) as the additive terms of
    /// every step of the backward pass, and (with τ gradients) its closed-form τ corrections.
    /// </summary>
    public static void Drive(Index2D index, KernelViews w, LossViews l, KernelDims d)
    {
        int j = index.X, b = index.Y, R = d.Readout, N = d.Steps;
        if (j >= R) return;
        long c = (long)j * ConstantCount;
        double coefficient = l.Coefficients[b * R + j] * l.Scale;
        double invMem = l.Constants[c + InvMem], invSyn = l.Constants[c + InvSyn], stepDecay = l.Constants[c + StepDecay];
        double psiSyn = l.Constants[c + PsiSyn], psiMem = l.Constants[c + PsiMem], memPsi3 = l.Constants[c + MemPsi3];
        double em = l.Constants[c + Em], es = l.Constants[c + Es], adjointVtoI = l.Constants[c + AdjointVtoI], psi = l.Constants[c + Psi];
        double dtEm = l.Constants[c + DtEm], stepMemPsi3 = l.Constants[c + StepMemPsi3], dtEs = l.Constants[c + DtEs], synPsi3 = l.Constants[c + SynPsi3];
        long traceBase = ((long)b * R + j) * (N + 1);
        double tauMem = 0, tauSyn = 0;
        for (int q = 0; q < N; q++)
        {
            long o = ((long)b * N + q) * R + j;
            if (coefficient == 0)
            {
                w.DriveV[o] = 0;
                w.DriveI[o] = 0;
                continue;
            }
            double factor = l.Rate == 0 ? 1 : XMath.Exp(-l.Rate * (q * d.Dt));
            double P = 0 + -coefficient * factor * invMem, Q = 0 + P * invSyn;
            double endP = P * stepDecay, endQ = Q * stepDecay;
            w.DriveV[o] = (float)(P - endP * em);
            w.DriveI[o] = (float)(Q - (endQ * es + endP * adjointVtoI));
            if (d.Tau != 0)
            {
                double pa = P * psiSyn, pbV = P * psiMem, pbI = P * memPsi3, pc = Q * psiSyn;
                double vv = w.TraceV[traceBase + q], ii = w.TraceI[traceBase + q];
                double a = -endP * ii * psi + ii * pa;
                double bb = -endP * (vv * dtEm + ii * stepMemPsi3) + vv * pbV + ii * pbI;
                double cc = -ii * (endQ * dtEs + endP * synPsi3) + ii * pc;
                tauMem += a - bb;
                tauSyn += cc;
            }
        }
        l.DriveTauMem[b * R + j] = tauMem;
        l.DriveTauSyn[b * R + j] = tauSyn;
    }
}
