using System.Numerics;
using System.Runtime.ExceptionServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Stepped;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>The BPTT engine's forward pass of one trial: input binning, steps, threshold, reset, delivery; loss and regulariser.</summary>
internal sealed partial class SurrogateRunner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private int StepOf(double time) => TimeGrid.NearestStep(time, Dt, N);

    /// <summary>Input spikes grouped by the backward iteration that reads their gradient (see <see cref="Backward"/>).</summary>
    private void BinInputs(Plan plan, Workspace ws, SpikeSample sample)
    {
        // Exact: a spike on grid point b enters I_b; index b (b = 0…N−1). Zenke–Vogels: bin b enters I_{b+1}; index b (b = 0…N−1).
        var start = ws.InputStart;
        Array.Clear(start);
        ws.Analog = sample.IsAnalog;
        if (ws.Analog)
        {
            BindAnalog(plan, ws, sample);
            return;
        }
        var times = sample.Times;
        int len = times.Length;
        ws.InputChannels.Clear();
        // Samples are time-sorted; count per bin, then fill.
        for (int p = 0; p < len; p++)
        {
            int b = StepOf(times[p]);
            if (b < N) start[b + 1]++;
        }
        for (int b = 0; b < N; b++) start[b + 1] += start[b];
        var fill = new int[N];
        var ch = new int[start[N]];
        for (int p = 0; p < len; p++)
        {
            int b = StepOf(times[p]);
            if (b < N) ch[start[b] + fill[b]++] = sample.Channels[p];
        }
        ws.InputChannels.AddRange(ch);
    }

    /// <summary>
    /// An analog trial (seed 004's constant input current): channel j carries x_j at every input bin, as a spike of size x_j
    /// would. Its drive J = Σ_j x_j W_j into I does not change during the trial, so it is delivered once here, through the
    /// connections' own <see cref="SurrogateSynapses{T}.Deliver"/> (dense, sparse or conv), and added at every bin.
    /// </summary>
    private static void BindAnalog(Plan plan, Workspace ws, SpikeSample sample)
    {
        ws.AnalogChannels.Clear();
        ws.AnalogValues.Clear();
        Array.Clear(ws.Drive);
        var x = sample.Currents;
        var drive = ws.Drive.AsSpan();
        for (int c = 0; c < x.Length; c++)
        {
            if (x[c] == 0) continue;
            T value = T.CreateChecked(x[c]);
            ws.AnalogChannels.Add(c);
            ws.AnalogValues.Add(value);
            foreach (var o in plan.Input) o.Deliver(drive, c, value);
        }
    }

    private void DeliverInputs(Plan plan, Workspace ws, int bin)
    {
        var cur = ws.I.AsSpan();
        if (ws.Analog)
        {
            if (bin == 0 || _engine.Fault != SurrogateFault.AnalogDriveOnlyAtFirstStep) GenericVector.Add<T>(cur, ws.Drive);
            return;
        }
        for (int p = ws.InputStart[bin]; p < ws.InputStart[bin + 1]; p++)
        {
            int c = ws.InputChannels[p];
            foreach (var o in plan.Input)
                o.Deliver(cur, c, T.One);
        }
    }

    /// <summary>Thresholds <paramref name="u"/> (the voltage the scheme tests), records the spikes under <paramref name="index"/>,
    /// resets <see cref="Workspace.V"/>, then delivers the spikes into <see cref="Workspace.I"/>.</summary>
    private void SpikeResetDeliver(Plan plan, Workspace ws, ReadOnlySpan<T> u, int index)
    {
        var v = ws.V;
        var cur = ws.I.AsSpan();
        ws.SpikeStart[index] = ws.Spikes.Count;
        T one = T.One;
        if (!_smooth)
        {
            int first = ws.Spikes.Count;
            foreach (var range in plan.Spiking)
            {
                T theta = range.Threshold, reset = range.Reset, drop = range.Drop;
                for (int g = range.Offset; g < range.Offset + range.Size; g++)
                    if (u[g] >= theta)
                    {
                        ws.Spikes.Add(g);
                        v[g] = range.Subtractive ? v[g] - drop : reset;
                        ws.Counts[g] += 1;
                    }
            }
            for (int p = first; p < ws.Spikes.Count; p++)
            {
                int g = ws.Spikes[p], i = plan.LocalIndex[g];
                foreach (var o in plan.ByPopulation[plan.PopulationOf[g]])
                    o.Deliver(cur, i, KeepOf(ws, o, g));
            }
            return;
        }
        var s = ws.S;
        foreach (var range in plan.Spiking)
        {
            double theta = range.ThresholdValue;
            T reset = range.Reset, drop = range.Drop;
            for (int g = range.Offset; g < range.Offset + range.Size; g++)
            {
                T sg = T.CreateChecked(Surrogate.Logistic(_beta * (double.CreateChecked(u[g]) - theta)));
                s[g] = sg;
                // The reset weighted by the smooth spike: V(1 − s) + s·V_r to a value, V − s(ϑ − V_r) by subtraction.
                v[g] = range.Subtractive ? v[g] - sg * drop : v[g] * (one - sg) + sg * reset;
                ws.Counts[g] += double.CreateChecked(sg);
            }
        }
        foreach (var (offset, size, _, _, _, _) in plan.Spiking)
            for (int g = offset; g < offset + size; g++)
            {
                int i = plan.LocalIndex[g];
                foreach (var o in plan.ByPopulation[plan.PopulationOf[g]])
                    o.Deliver(cur, i, s[g] * KeepOf(ws, o, g));
            }
    }

    /// <summary>
    /// Runs the forward pass of trial <paramref name="sample"/>; with <paramref name="maxDrive"/>, also raises each spiking
    /// neuron's entry to the largest voltage increase a step's synaptic current causes, A·I (A: the step's current-to-voltage
    /// propagator), over the trial's steps (for <see cref="ThresholdCalibration"/>).
    /// </summary>
    private void Forward(Plan plan, Workspace ws, SpikeSample sample, double[]? maxDrive = null)
    {
        int n = plan.Neurons;
        var v = ws.V;
        var cur = ws.I;
        Array.Clear(v);
        Array.Clear(cur);
        Array.Clear(ws.Counts);
        ws.Spikes.Clear();
        BinInputs(plan, ws, sample);
        var em = plan.Em;
        var a = plan.A;
        var es = plan.Es;
        bool bn = plan.BatchNorm.Length > 0;
        if (_exact)
        {
            if (bn) BeginDrive(plan, ws);
            DeliverInputs(plan, ws, 0);
            if (bn) EndDrive(plan, ws, 0);
            v.CopyTo(ws.Vs, 0);
            cur.CopyTo(ws.Is, 0);
            for (int k = 0; k < N; k++)
            {
                int kk = k + 1;
                if (maxDrive is not null) RecordDrive(plan, cur, maxDrive);
                GenericVector.Step<T>(v, cur, em, a, es);
                if (kk < N)
                {
                    // The pre-reset voltage is tested; spikes read in backward iteration k.
                    v.CopyTo(ws.Vt, 0);
                    if (bn) BeginDrive(plan, ws);
                    SpikeResetDeliver(plan, ws, ws.Vt, k);
                    DeliverInputs(plan, ws, kk);
                    if (bn) EndDrive(plan, ws, kk);
                }
                else ws.SpikeStart[k] = ws.Spikes.Count;
                v.CopyTo(ws.Vs, kk * n);
                cur.CopyTo(ws.Is, kk * n);
            }
        }
        else
        {
            v.CopyTo(ws.Vs, 0);
            cur.CopyTo(ws.Is, 0);
            for (int k = 0; k < N; k++)
            {
                // S[k] = Θ(U[k] − 1) resets U[k+1] and enters I[k+1], with the inputs of bin k.
                v.CopyTo(ws.Vt, 0);
                if (maxDrive is not null) RecordDrive(plan, cur, maxDrive);
                GenericVector.Step<T>(v, cur, em, a, es);
                if (bn) BeginDrive(plan, ws);
                SpikeResetDeliver(plan, ws, ws.Vt, k);
                DeliverInputs(plan, ws, k);
                if (bn) EndDrive(plan, ws, k);
                v.CopyTo(ws.Vs, (k + 1) * n);
                cur.CopyTo(ws.Is, (k + 1) * n);
            }
        }
        ws.SpikeStart[N] = ws.Spikes.Count;
    }

    /// <summary>maxDrive[g] ← max(maxDrive[g], A_g·I_g) over the spiking hidden neurons g.</summary>
    private static void RecordDrive(Plan plan, T[] cur, double[] maxDrive)
    {
        foreach (var range in plan.Spiking)
            for (int g = range.Offset; g < range.Offset + range.Size; g++)
            {
                double drive = double.CreateChecked(plan.A[g] * cur[g]);
                if (drive > maxDrive[g]) maxDrive[g] = drive;
            }
    }

    /// <summary>
    /// Per spiking hidden population (by name): the largest per-step voltage increase A·I of any of its neurons over the
    /// trials of <paramref name="batch"/> and their steps (0 if it never receives a current). No loss, no gradient.
    /// </summary>
    public Dictionary<string, double> MaxDrive(Network network, IReadOnlyList<SpikeSample> batch)
    {
        var plan = PreparePlan(network);
        int count = batch.Count;
        int partitions = Math.Min(_engine.Threads, count);
        var maxima = new double[partitions][];
        Parallel(partitions, part =>
        {
            var ws = Rent(plan);
            var max = maxima[part] = new double[plan.Neurons];
            Array.Fill(max, double.NegativeInfinity);
            try
            {
                int from = part * count / partitions, to = (part + 1) * count / partitions;
                for (int b = from; b < to; b++)
                {
                    ws.Sample = b;
                    ws.Dropout = false;
                    Forward(plan, ws, batch[b], max);
                }
            }
            finally
            {
                Return(ws);
            }
        });
        var result = new Dictionary<string, double>();
        foreach (var range in plan.Spiking)
        {
            double m = double.NegativeInfinity;
            for (int part = 0; part < partitions; part++)
                for (int g = range.Offset; g < range.Offset + range.Size; g++) m = Math.Max(m, maxima[part][g]);
            result[plan.Structure.Populations[range.Dyn].Population.Name] = m;
        }
        return result;
    }

    private void Evaluate(Plan plan, Workspace ws, ILoss loss, int label, int b, bool gradient, double scale)
    {
        int n = plan.Neurons, ro = plan.Structure.ReadoutOffset, rs = plan.Structure.ReadoutSize, rows = N + 1;
        var trace = ws.Trace;
        for (int j = 0; j < rs; j++)
        {
            trace.RateMem[j] = plan.Structure.RateMem[ro + j];
            trace.RateLeak[j] = plan.Structure.RateLeak[ro + j];
            trace.RateSyn[j] = plan.Structure.RateSyn[ro + j];
            for (int k = 0; k < rows; k++)
            {
                trace.V[j * rows + k] = double.CreateChecked(ws.Vs[k * n + ro + j]);
                trace.I[j * rows + k] = double.CreateChecked(ws.Is[k * n + ro + j]);
            }
        }
        var e = loss.Evaluate(trace, label);
        Pipeline.BatchLoss.CheckEvaluation(loss, e, rs, b);
        ws.Evaluation = e;
        ws.RegValue = 0;
        Array.Clear(ws.RegGrad);
        var reg = _o.Regularization;
        if (reg is not null)
        {
            foreach (var (offset, size, _, _, _, _) in plan.Spiking)
            {
                var c = ws.Counts.AsSpan(offset, size);
                ws.RegValue += reg.Value(c);
                if (gradient)
                {
                    var grad = new double[size];
                    reg.Gradient(c, grad);
                    for (int i = 0; i < size; i++) ws.RegGrad[offset + i] = T.CreateChecked(grad[i] * scale);
                }
            }
        }
        if (gradient)
        {
            Array.Clear(ws.DV);
            Array.Clear(ws.DI);
            Array.Clear(ws.DTauMem);
            Array.Clear(ws.DTauSyn);
            bool tau = _engine.TimeConstantGradients;
            trace.Differentiate(e.Drive.Scaled(scale), loss.Name, ws.DV, ws.DI, tau ? ws.DTauMem : null, tau ? ws.DTauSyn : null);
        }
    }
}
