using System.Runtime.ExceptionServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Pipeline;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Simulation.Stepped.Backend;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Eventprop.Gpu;

/// <summary>The Eventprop backward pass of <see cref="IlgpuSteppedBackend"/> (the ILGPU provider of <see cref="GpuSteppedEngine"/>): loss drives, kernels, launch shapes.</summary>
internal sealed partial class IlgpuSteppedBackend
{
    /// <inheritdoc />
    public void Backward(SteppedPlan plan, SteppedForwardPass forward, float[] regJump, ParameterSet gradient)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (forward is not ForwardRun run)
            throw new ArgumentException("The forward pass did not come from this provider.", nameof(forward));
        var w = run.Views;
        var dims = run.Dims;
        int B = dims.Trials, N = Steps, n = plan.NeuronCount, R = plan.ReadoutSize, ro = plan.ReadoutOffset, C = dims.Capacity;
        bool tau = TimeConstantGradients;
        double dt = Dt;
        var stream = _accelerator.DefaultStream;

        // The loss drives as per-step additive terms, impulses per grid point and ∂L/∂t per spike (host, once per batch).
        var driveV = new float[(long)B * N * R];
        var driveI = new float[(long)B * N * R];
        var impulseV = new float[(long)B * (N + 1) * R];
        var impulseI = new float[(long)B * (N + 1) * R];
        var spikeTime = new double[(long)B * C];
        var driveTauMem = new double[B * R];
        var driveTauSyn = new double[B * R];
        double scale = 1.0 / B;
        int readoutSpiking = plan.Network.Readout.IsSpiking ? plan.SpikingIndex[plan.Network.Readout.Index] : -1;
        bool anyStepDrive = false, anyImpulse = false, anySpikeTerm = false;
        if (run.DeviceLoss is { } deviceLoss)
        {
            _lossDrive(new Index2D(R, B), w, deviceLoss, dims);
            anyStepDrive = true;
        }
        else Parallel(B, b =>
        {
            var drive = new ReadoutDrive();
            drive.Prepare(run.Evaluations[b].Drive.Scaled(scale), plan, run.ImpulseSlopes[b]);
            if (drive.HasStepDrive) anyStepDrive = true;
            if (drive.Impulses.Count > 0) anyImpulse = anySpikeTerm = true; // impulses may carry corner terms
            if (drive.HasSpikeTimeTerms) anySpikeTerm = true;
            int stride = N + 1, len = R * stride;
            if (drive.HasStepDrive)
            {
                var lv = new float[R];
                var li = new float[R];
                var vq = new float[R];
                var cq = new float[R];
                var volts = new double[R];
                var dStart = new double[R];
                var dEnd = new double[R];
                var scratch = new double[R];
                var tm = driveTauMem.AsSpan(b * R, R);
                var ts = driveTauSyn.AsSpan(b * R, R);
                for (int q = 0; q < N; q++)
                {
                    Array.Clear(lv);
                    Array.Clear(li);
                    for (int j = 0; j < R; j++)
                    {
                        vq[j] = run.TraceV[b * len + j * stride + q];
                        cq[j] = run.TraceI[b * len + j * stride + q];
                    }
                    if (drive.NeedsVoltages)
                    {
                        for (int j = 0; j < R; j++) volts[j] = run.TraceV[b * len + j * stride + q];
                        drive.EvaluateVoltageDrive(q * dt, volts, dStart, scratch);
                        for (int j = 0; j < R; j++) volts[j] = run.TraceV[b * len + j * stride + q + 1];
                        drive.EvaluateVoltageDrive((q + 1) * dt, volts, dEnd, scratch);
                    }
                    drive.ApplyStep(q * dt, lv, li, tau ? vq : default, tau ? cq : default,
                        drive.NeedsVoltages ? dStart : default, drive.NeedsVoltages ? dEnd : default, tm, ts, tau);
                    for (int j = 0; j < R; j++)
                    {
                        driveV[((long)b * N + q) * R + j] = lv[j];
                        driveI[((long)b * N + q) * R + j] = li[j];
                    }
                }
            }

            double[]? corner = null;
            int lastGrid = -1;
            foreach (var imp in drive.Impulses)
            {
                if (corner is not null && imp.Grid != lastGrid) AssignCorner(b, lastGrid, corner);
                lastGrid = imp.Grid;
                int g = ro + imp.Neuron;
                NeuronStepFunctions.Impulse(imp.DLossdV, plan.RateMem[g], plan.RateSyn[g], imp.Offset, out float dv, out float di);
                long idx = ((long)b * (N + 1) + imp.Grid) * R + imp.Neuron;
                impulseV[idx] += dv;
                impulseI[idx] += di;
                if (imp.CornerSlope != 0)
                {
                    corner ??= new double[R];
                    corner[imp.Neuron] += imp.DLossdV * imp.CornerSlope;
                }
            }

            if (readoutSpiking >= 0 && drive.HasSpikeTimeTerms)
            {
                var seen = new int[R];
                int total = run.SpikeEnd[b * stride + N];
                for (int p = 0; p < total; p++)
                {
                    int j = run.SpikeNeuron[b * C + p] - ro;
                    if (j >= 0 && j < R) spikeTime[(long)b * C + p] += drive.SpikeTimeTerm(j, seen[j]++);
                }
            }
            if (corner is not null) AssignCorner(b, lastGrid, corner);
        });

        void AssignCorner(int b, int k, double[] corner)
        {
            // As CpuSteppedBackend.FindCornerSpikes: the spike of grid point k with the most negative weight onto each readout
            // neuron (populations in order, spikes latest-listed first, strict <) carries the corner term.
            if (k >= 1 && k <= N && corner.Any(c => c != 0))
            {
                int stride = N + 1;
                int from = run.SpikeEnd[b * stride + k - 1], to = run.SpikeEnd[b * stride + k];
                var best = new long[R];
                var bestWeight = new float[R];
                Array.Fill(best, -1);
                Array.Fill(bestWeight, float.PositiveInfinity);
                foreach (var pop in plan.Spiking)
                    foreach (var o in plan.Outgoings[pop.Population.Index])
                    {
                        if (o.PostOffset != ro) continue;
                        for (int p = to - 1; p >= from; p--)
                        {
                            int i = run.SpikeNeuron[b * C + p] - pop.Offset;
                            if (i < 0 || i >= pop.Size) continue;
                            CornerSpikes.Consider(o, i, p, corner, bestWeight, best);
                        }
                    }
                for (int j = 0; j < R; j++)
                    if (best[j] >= 0) spikeTime[(long)b * C + best[j]] += corner[j];
            }
            Array.Clear(corner);
        }

        w.RegularizationJump.SubView(0, n).CopyFromCPU(regJump);
        // Drives a loss does not have (no per-step drive: max, first_spike; no impulses: sum, sum_exp) are zeroed on the
        // device instead of uploaded.
        if (run.DeviceLoss is null)
        {
            UploadOrClear(w.DriveV, driveV, anyStepDrive);
            UploadOrClear(w.DriveI, driveI, anyStepDrive);
        }
        UploadOrClear(w.ImpulseV, impulseV, anyImpulse);
        UploadOrClear(w.ImpulseI, impulseI, anyImpulse);
        UploadOrClear(w.SpikeTimeTerm, spikeTime, anySpikeTerm);
        w.LambdaV.MemSetToZero(stream);
        w.LambdaI.MemSetToZero(stream);
        w.Jump.MemSetToZero(stream);
        w.TauMemSum.MemSetToZero(stream);
        w.TauSynSum.MemSetToZero(stream);
        w.TrialGradient.MemSetToZero(stream);

        // Largest number of spikes on each grid point over the batch: the width of the jump kernel's launch.
        var widest = new int[N + 1];
        if (!PersistentKernels)
            for (int b = 0; b < B; b++)
                for (int k = 1; k <= N; k++)
                    widest[k] = Math.Max(widest[k], run.SpikeEnd[b * (N + 1) + k] - run.SpikeEnd[b * (N + 1) + k - 1]);

        var grid = new Index2D(n, B);
        // The convolutions' kernel gradients: one thread per shared kernel weight and trial, after each grid point's impulses.
        Index2D? convolutionGrid = dims.ConvolutionWeights > 0 ? new Index2D(dims.ConvolutionWeights, B) : null;
        int K = dims.Interval;
        if (PersistentKernels) _backwardTrials(new KernelConfig(B, GroupSize(n)), w, dims);
        else BackwardPerStep();
        _reduce(checked((int)dims.WeightCount), w, dims);
        stream.Synchronize();
        var dense = Download(w.Gradient, dims.WeightCount);
        var tauMem = tau ? Download(w.TauMemSum, (long)B * n) : [];
        var tauSyn = tau ? Download(w.TauSynSum, (long)B * n) : [];
        if (run.DeviceLoss is { } l && tau)
        {
            driveTauMem = Download(l.DriveTauMem, (long)B * R);
            driveTauSyn = Download(l.DriveTauSyn, (long)B * R);
        }
        Collect(plan, dims, dense, tauMem, tauSyn, driveTauMem, driveTauSyn, gradient);

        void BackwardPerStep()
        {
            for (int seg = dims.Snapshots - 1; seg >= 0; seg--)
            {
                int a = seg * K, end = Math.Min(a + K, N);
                if (tau)
                {
                    // Recompute the segment's states from its snapshot and the recorded spikes (the forward pass's arithmetic).
                    _restore(grid, w, dims, a, a);
                    for (int kk = a + 1; kk <= end; kk++)
                    {
                        _stepAndDetect(grid, w, dims, kk, a);
                        if (widest[kk] > 0) _resetSpikes(new Index2D(widest[kk], B), w, dims, kk, a);
                        _deliver(grid, w, dims, kk, a);
                    }
                }
                for (int k = end; k > a; k--)
                {
                    _events(grid, w, dims, k, a);
                    if (convolutionGrid is { } cg) _convolutionGradient(cg, w, dims, k, a);
                    if (widest[k] > 0) _transport(new Index2D(widest[k], B), w, dims, k, a);
                    _stepBack(grid, w, dims, k, a);
                }
            }
            _events(grid, w, dims, 0, 0);
            if (convolutionGrid is { } first) _convolutionGradient(first, w, dims, 0, 0);
            _stepBack(grid, w, dims, 0, 0);
        }
    }

    /// <summary>Threads per group of the persistent kernels: enough for the neurons, within the device's and the kernels' limits.</summary>
    internal int GroupSize(int neurons)
    {
        int warp = Math.Max(1, _accelerator.WarpSize);
        int wanted = (neurons + warp - 1) / warp * warp;
        return Math.Max(1, Math.Min(Math.Min(wanted, SteppedKernels.MaxGroupSize), _accelerator.MaxNumThreadsPerGroup));
    }
}
