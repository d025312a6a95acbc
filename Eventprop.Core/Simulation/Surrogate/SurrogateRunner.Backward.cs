using System.Numerics;
using System.Runtime.ExceptionServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Stepped;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>The BPTT engine's backward pass of one trial: backpropagation through time with the surrogate derivative.</summary>
internal sealed partial class SurrogateRunner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>h[i] = h(u[i] − ϑ) for a population (<see cref="Surrogate.Derivative"/>, one definition for every use).</summary>
    private void FillSurrogate(ReadOnlySpan<T> u, Span<T> h, double threshold)
    {
        var surrogate = _o.Surrogate;
        for (int i = 0; i < u.Length; i++)
            h[i] = T.CreateChecked(surrogate.Derivative(double.CreateChecked(u[i]) - threshold));
    }

    /// <summary>
    /// BPTT over iterations j = N−1 … 0 (step j takes the state at grid point j to j+1). On entry to iteration j,
    /// GV, GI hold dL/dV_{j+1}, dL/dI_{j+1}.
    /// </summary>
    private void Backward(Plan plan, Workspace ws, Buffer buffer)
    {
        int n = plan.Neurons, ro = plan.Structure.ReadoutOffset, rs = plan.Structure.ReadoutSize, rows = N + 1;
        var gV = ws.GV;
        var gI = ws.GI;
        var gt = ws.Gt;
        var extra = ws.Extra;
        var vt = ws.Vt;
        Array.Clear(gV);
        Array.Clear(gI);
        Array.Clear(ws.GEm);
        Array.Clear(ws.GA);
        Array.Clear(ws.GEs);
        Array.Clear(extra);
        Array.Clear(ws.DriveAdjoint);
        AddLossTerms(ws, N, ro, rs, rows);
        bool tau = _engine.TimeConstantGradients;
        T one = T.One;
        var fault = _engine.Fault;
        var em = plan.Em;
        var a = plan.A;
        var es = plan.Es;
        var abs = buffer.AbsAdjoint; // null unless magnitudes were asked for: the hot path pays one test per step
        var trace = _engine.AdjointTrace;
        for (int j = N - 1; j >= 0; j--)
        {
            // gV = dL/dV at grid point j + 1 (after that step's reset).
            bool early = fault == SurrogateFault.MagnitudesOneStepEarly;
            if (abs is not null && !early)
                for (int g = 0; g < n; g++) abs[g] += Math.Abs(double.CreateChecked(gV[g]));
            if (trace is not null && !ws.StatisticsPass)
            {
                var copy = new double[n];
                for (int g = 0; g < n; g++) copy[g] = double.CreateChecked(gV[g]);
                trace(ws.Sample, j + 1, copy);
            }
            var rowV = ws.Vs.AsSpan(j * n, n);
            var rowI = ws.Is.AsSpan(j * n, n);
            GenericVector.StepVoltage<T>(vt, rowV, rowI, em, a);
            bool active = !_exact || j + 1 < N;
            ws.Stamp++;
            gV.CopyTo(gt, 0);
            if (active)
            {
                ReadOnlySpan<T> u = _exact ? vt : rowV;
                // What the presynaptic side of the delivery into I_{j+1} receives (dL/dI, through the batch norm where there is one).
                var gD = PresynapticAdjoint(plan, ws, _exact ? j + 1 : j);
                // Weight gradients of the spikes and inputs read at this iteration: dW[i,:] += S_i · dL/dI_{j+1}.
                if (!_smooth)
                {
                    for (int p = ws.SpikeStart[j]; p < ws.SpikeStart[j + 1]; p++)
                    {
                        int g = ws.Spikes[p], i = plan.LocalIndex[g];
                        foreach (var o in plan.ByPopulation[plan.PopulationOf[g]])
                            o.AccumulateWeightGradient(buffer.Weights[o.Parameter]!, i, gD, KeepOf(ws, o, g));
                    }
                }
                int inputBin = _exact ? j + 1 : j;
                if (inputBin < N) InputGradients(gD, plan, ws, buffer, inputBin);
                var hs = ws.H;
                foreach (var range in plan.Spiking)
                {
                    var (offset, size, d, threshold, reset, _) = range;
                    var outs = plan.ByPopulation[d];
                    bool subtractive = range.Subtractive && fault != SurrogateFault.ResetModeIgnored;
                    T drop = range.Drop;
                    double surrogateThreshold = fault == SurrogateFault.ThresholdIgnored ? Network.Threshold : range.ThresholdValue;
                    FillSurrogate(u.Slice(offset, size), hs.AsSpan(offset, size), surrogateThreshold);
                    for (int g = offset; g < offset + size; g++)
                    {
                        T x = u[g] - threshold;
                        T h = hs[g];
                        T s = _smooth ? T.CreateChecked(Surrogate.Logistic(_beta * double.CreateChecked(x))) : u[g] >= threshold ? one : T.Zero;
                        int i = g - offset;
                        if (_smooth && s != T.Zero)
                            foreach (var o in outs)
                                o.AccumulateWeightGradient(buffer.Weights[o.Parameter]!, i, gD, s * KeepOf(ws, o, g));
                        // V after the reset: V(1 − s) + s·V_r (to a value) or V − s(ϑ − V_r) (subtractive).
                        T keep = subtractive ? gV[g] : gV[g] * (one - s);
                        if (h == T.Zero && !_diffReset && ws.RegGrad[g] == T.Zero)
                        {
                            gt[g] = keep;
                            continue;
                        }
                        T gs = ws.RegGrad[g];
                        foreach (var o in outs)
                            if (_o.RecurrentGradient || !o.Recurrent)
                                gs += fault == SurrogateFault.DropoutIgnoredInTransport ? Transport(ws, o, i, gD) : KeepOf(ws, o, g) * Transport(ws, o, i, gD);
                        if (_diffReset) gs += subtractive ? -gV[g] * drop : gV[g] * (reset - vt[g]);
                        if (_exact) gt[g] = keep + gs * h;
                        else
                        {
                            gt[g] = keep;
                            extra[g] = gs * h;
                        }
                    }
                }
            }
            GenericVector.StepBack<T>(gV, gI, gt, rowV, rowI, em, a, es, ws.GEm, ws.GA, ws.GEs, tau);
            if (!_exact && active)
            {
                GenericVector.Add<T>(gV, extra);
                Array.Clear(extra);
            }
            AddLossTerms(ws, j, ro, rs, rows);
            if (abs is not null && early)
                for (int g = 0; g < n; g++) abs[g] += Math.Abs(double.CreateChecked(gV[g]));
        }
        if (_exact) InputGradients(PresynapticAdjoint(plan, ws, 0), plan, ws, buffer, 0);
        if (ws.Analog) AnalogInputGradients(plan, ws, buffer);
        if (tau)
        {
            for (int g = 0; g < n; g++)
            {
                double gEm = double.CreateChecked(ws.GEm[g]), gA = double.CreateChecked(ws.GA[g]), gEs = double.CreateChecked(ws.GEs[g]);
                buffer.TauMem[g] += gEm * plan.DEmDTauMem[g] + gA * plan.DADTauMem[g];
                buffer.TauSyn[g] += gA * plan.DADTauSyn[g] + gEs * plan.DEsDTauSyn[g];
            }
            for (int j = 0; j < rs; j++)
            {
                buffer.TauMem[ro + j] += ws.DTauMem[j];
                buffer.TauSyn[ro + j] += ws.DTauSyn[j];
            }
        }
    }

    /// <summary>
    /// <see cref="SurrogateSynapses{T}.Transport"/> of presynaptic neuron <paramref name="i"/> (bit-identical): from the connection's
    /// batched transport of this iteration, computed on first use, where it has one; else row by row.
    /// </summary>
    private T Transport(Workspace ws, SurrogateSynapses<T> o, int i, T[] gD)
    {
        var fault = _engine.Fault;
        if (!o.BatchedTransport || fault == SurrogateFault.SparseTransportMisindexed) return o.Transport(i, gD, fault);
        int slot = o.Parameter;
        var cells = ws.Cells[slot];
        if (ws.CellsStamp[slot] != ws.Stamp || cells is null)
        {
            if (cells is null || cells.Length != o.CellCount) cells = ws.Cells[slot] = new T[o.CellCount];
            o.TransportCells(gD, cells);
            ws.CellsStamp[slot] = ws.Stamp;
        }
        return o.FromCells(i, cells);
    }

    /// <summary>The input weights' gradient of input bin <paramref name="bin"/> from <paramref name="adjoint"/>, the presynaptic adjoint of that delivery.</summary>
    private void InputGradients(T[] adjoint, Plan plan, Workspace ws, Buffer buffer, int bin)
    {
        var gI = adjoint.AsSpan();
        if (ws.Analog)
        {
            GenericVector.Add<T>(ws.DriveAdjoint, gI); // every bin carries the same x: dW_in[j, :] = x_j · Σ_bins dL/dI
            return;
        }
        for (int p = ws.InputStart[bin]; p < ws.InputStart[bin + 1]; p++)
        {
            int c = ws.InputChannels[p];
            foreach (var o in plan.Input)
                o.AccumulateWeightGradient(buffer.Weights[o.Parameter]!, c, gI, T.One);
        }
    }

    /// <summary>An analog trial's input weight gradient: dW[j, post] += x_j · Σ_bins dL/dI[post], through the connections' own
    /// <see cref="SurrogateSynapses{T}.AccumulateWeightGradient"/> (the same as a spike of size x_j in every bin).</summary>
    private void AnalogInputGradients(Plan plan, Workspace ws, Buffer buffer)
    {
        bool ignoreValue = _engine.Fault == SurrogateFault.AnalogValueIgnoredInGradient;
        for (int p = 0; p < ws.AnalogChannels.Count; p++)
        {
            int c = ws.AnalogChannels[p];
            T x = ignoreValue ? T.One : ws.AnalogValues[p];
            foreach (var o in plan.Input)
                o.AccumulateWeightGradient(buffer.Weights[o.Parameter]!, c, ws.DriveAdjoint, x);
        }
    }

    private static void AddLossTerms(Workspace ws, int k, int ro, int rs, int rows)
    {
        for (int j = 0; j < rs; j++)
        {
            double dv = ws.DV[j * rows + k], di = ws.DI[j * rows + k];
            if (dv != 0) ws.GV[ro + j] += T.CreateChecked(dv);
            if (di != 0) ws.GI[ro + j] += T.CreateChecked(di);
        }
    }
}
