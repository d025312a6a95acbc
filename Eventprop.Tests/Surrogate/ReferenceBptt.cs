using Eventprop.Core.Data;
using Eventprop.Core.Model;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// A deliberately simple BPTT reference for the surrogate-gradient engine, written from the equations with plain loops
/// over dense matrices in double precision and sharing no code with the engine: the network is re-read into arrays, the
/// propagators, the SuperSpike / Esser surrogates, the readout integrals, the sum and max cross-entropies and the seed-001
/// regularisers are all written out here. Hard threshold only. τm ≠ τs is required (the exact-propagator coefficient is
/// written in its plain form).
/// </summary>
internal sealed class ReferenceBptt
{
    public required bool Exact { get; init; }
    public required bool DifferentiableReset { get; init; }
    public required bool Recurrent { get; init; }
    /// <summary>"superspike" or "esser".</summary>
    public required string Shape { get; init; }
    public required double Beta { get; init; }
    /// <summary>"sum" or "max".</summary>
    public required string Loss { get; init; }
    public double LowerStrength { get; init; }
    public double LowerTarget { get; init; }
    public double UpperStrength { get; init; }
    public double UpperTarget { get; init; }
    public int UpperExponent { get; init; } = 2;

    /// <summary>If set, called in the backward pass with (k, dL/dV[k] of every neuron) for k = N … 1 (hidden then readout, network order).</summary>
    public Action<int, double[]>? AdjointTrace { get; init; }

    /// <summary>The smallest |U − 1| over all thresholded values of the last run (to skip cases at the knife's edge).</summary>
    public double Margin { get; private set; }

    private double H(double x)
    {
        double a = Math.Abs(x);
        return Shape == "superspike" ? 1.0 / Math.Pow(Beta * a + 1, 2) : Math.Max(0.0, 1.0 - Beta * a);
    }

    /// <summary>Loss (with regulariser) and gradient by parameter name (weights [pre, post] row-major, τm, τs per neuron).</summary>
    public (double Loss, Dictionary<string, double[]> Gradient) Run(Network net, SpikeSample sample, double dt, double duration)
    {
        int steps = (int)Math.Round(duration / dt);
        // Neurons: hidden populations then readout, in network order; index space per population.
        var pops = net.Populations.Where(p => p.Kind != PopulationKind.Input).ToList();
        var offset = new Dictionary<string, int>();
        int n = 0;
        foreach (var p in pops) { offset[p.Name] = n; n += p.Size; }
        var spiking = new bool[n];
        foreach (var p in pops) if (p.Kind == PopulationKind.Hidden) for (int i = 0; i < p.Size; i++) spiking[offset[p.Name] + i] = true;
        var tm = new double[n];
        var ts = new double[n];
        foreach (var p in pops)
            for (int i = 0; i < p.Size; i++)
            {
                tm[offset[p.Name] + i] = net.TauMem(p.Name).Values[i];
                ts[offset[p.Name] + i] = net.TauSyn(p.Name).Values[i];
            }
        // Dense weight matrices: hidden/readout from all neurons (n × n), input (channels × n); recurrent mask.
        int nin = net.Input.Size;
        var W = new double[n, n];
        var isRec = new bool[n, n];
        var Win = new double[nin, n];
        foreach (var c in net.Connections)
        {
            var w = net.Weights(c.Pre.Name, c.Post.Name);
            for (int i = 0; i < c.Pre.Size; i++)
                for (int j = 0; j < c.Post.Size; j++)
                {
                    if (c.Pre.Kind == PopulationKind.Input) Win[i, offset[c.Post.Name] + j] = w[i, j];
                    else
                    {
                        W[offset[c.Pre.Name] + i, offset[c.Post.Name] + j] = w[i, j];
                        isRec[offset[c.Pre.Name] + i, offset[c.Post.Name] + j] = c.IsRecurrent;
                    }
                }
        }
        var em = new double[n];
        var es = new double[n];
        var a = new double[n];
        for (int g = 0; g < n; g++)
        {
            em[g] = Math.Exp(-dt / tm[g]);
            es[g] = Math.Exp(-dt / ts[g]);
            a[g] = Exact ? ts[g] / (tm[g] - ts[g]) * (em[g] - es[g]) : 1 - em[g];
        }
        // Input counts per channel and bin; an analog sample (seed 004's constant current) puts x_c into every bin 0…N−1.
        var inCount = new double[steps + 1, nin];
        if (sample.IsAnalog)
            for (int b = 0; b < steps; b++)
                for (int c = 0; c < nin; c++) inCount[b, c] = sample.Currents[c];
        for (int s = 0; s < sample.Count; s++)
        {
            int b = (int)Math.Floor(sample.Times[s] / dt + 0.5);
            if (b < steps) inCount[b, sample.Channels[s]] += 1;
        }

        // ---- forward: V[k, g], I[k, g] at grid points (V after reset), U[k, g] the thresholded value, S[k, g] spikes.
        var V = new double[steps + 1, n];
        var I = new double[steps + 1, n];
        var U = new double[steps + 1, n];   // Exact: U[k] = pre-reset V at k (k ≥ 1). ZV: U[k] = V[k].
        var S = new double[steps + 1, n];   // Exact: spikes at grid k (1 ≤ k < N). ZV: S[k] = Θ(V[k] − 1), k < N.
        Margin = double.PositiveInfinity;
        if (Exact)
        {
            for (int g = 0; g < n; g++) for (int c = 0; c < nin; c++) I[0, g] += inCount[0, c] * Win[c, g];
            for (int k = 1; k <= steps; k++)
            {
                for (int g = 0; g < n; g++)
                {
                    U[k, g] = em[g] * V[k - 1, g] + a[g] * I[k - 1, g];
                    I[k, g] = es[g] * I[k - 1, g];
                    V[k, g] = U[k, g];
                    if (k < steps && spiking[g])
                    {
                        Margin = Math.Min(Margin, Math.Abs(U[k, g] - 1));
                        if (U[k, g] >= 1) { S[k, g] = 1; V[k, g] = 0; }
                    }
                }
                if (k < steps)
                    for (int g = 0; g < n; g++)
                    {
                        for (int p = 0; p < n; p++) I[k, g] += S[k, p] * W[p, g];
                        for (int c = 0; c < nin; c++) I[k, g] += inCount[k, c] * Win[c, g];
                    }
            }
        }
        else
        {
            for (int k = 0; k < steps; k++)
            {
                for (int g = 0; g < n; g++)
                {
                    U[k, g] = V[k, g];
                    if (spiking[g])
                    {
                        Margin = Math.Min(Margin, Math.Abs(V[k, g] - 1));
                        S[k, g] = V[k, g] >= 1 ? 1 : 0;
                    }
                }
                for (int g = 0; g < n; g++)
                {
                    V[k + 1, g] = (em[g] * V[k, g] + a[g] * I[k, g]) * (1 - S[k, g]);
                    I[k + 1, g] = es[g] * I[k, g];
                    for (int p = 0; p < n; p++) I[k + 1, g] += S[k, p] * W[p, g];
                    for (int c = 0; c < nin; c++) I[k + 1, g] += inCount[k, c] * Win[c, g];
                }
            }
        }

        // ---- loss on the readout: logits z_j, dL/dV[k, g], dL/dI[k, g].
        var ro = net.Readout;
        int r0 = offset[ro.Name], rs = ro.Size;
        var z = new double[rs];
        var argmax = new int[rs];
        for (int j = 0; j < rs; j++)
        {
            int g = r0 + j;
            if (Loss == "sum")
            {
                for (int k = Exact ? 0 : 1; k <= (Exact ? steps - 1 : steps); k++)
                    z[j] += IntegralV(g, dt, tm, ts, em, es) * V[k, g] + IntegralI(g, dt, tm, ts, em, es) * I[k, g];
                z[j] /= duration;
            }
            else
            {
                z[j] = V[0, g];
                for (int k = 1; k <= steps; k++) if (V[k, g] > z[j]) { z[j] = V[k, g]; argmax[j] = k; }
            }
        }
        double zmax = z.Max();
        double sumExp = z.Sum(x => Math.Exp(x - zmax));
        double loss = -(z[sample.Label] - zmax - Math.Log(sumExp));
        var dV = new double[steps + 1, n];
        var directTm = new double[n];
        var directTs = new double[n];
        var dI = new double[steps + 1, n];
        for (int j = 0; j < rs; j++)
        {
            int g = r0 + j;
            double dz = Math.Exp(z[j] - zmax) / sumExp - (j == sample.Label ? 1 : 0);
            if (Loss == "sum")
                for (int k = Exact ? 0 : 1; k <= (Exact ? steps - 1 : steps); k++)
                {
                    dV[k, g] += dz / duration * IntegralV(g, dt, tm, ts, em, es);
                    dI[k, g] += dz / duration * IntegralI(g, dt, tm, ts, em, es);
                    if (Exact)
                    {
                        // The step integrals depend on τ directly: IV = τm(1 − em), II = τs/(τm − τs)·P, P = τm(1 − em) − τs(1 − es).
                        double D = tm[g] - ts[g], P = tm[g] * (1 - em[g]) - ts[g] * (1 - es[g]);
                        double dIVdTm = 1 - em[g] - em[g] * dt / tm[g];
                        double dPdTs = -(1 - es[g] - es[g] * dt / ts[g]);
                        double dIIdTm = ts[g] * (dIVdTm * D - P) / (D * D);
                        double dIIdTs = tm[g] / (D * D) * P + ts[g] / D * dPdTs;
                        directTm[g] += dz / duration * (V[k, g] * dIVdTm + I[k, g] * dIIdTm);
                        directTs[g] += dz / duration * I[k, g] * dIIdTs;
                    }
                }
            else dV[argmax[j], g] += dz;
        }
        // Regularisers per hidden population; dL/dS[k, g] gets ∂L_reg/∂ζ_g for every k.
        var dZeta = new double[n];
        foreach (var p in net.Hidden)
        {
            int o = offset[p.Name], m = p.Size;
            var zeta = new double[m];
            for (int i = 0; i < m; i++) for (int k = 0; k <= steps; k++) zeta[i] += S[k, o + i];
            double mean = zeta.Average();
            for (int i = 0; i < m; i++)
            {
                double low = Math.Max(0, LowerTarget - zeta[i]);
                loss += LowerStrength * low * low / m;
                dZeta[o + i] += -2 * LowerStrength * low / m;
            }
            double ex = mean - UpperTarget;
            if (ex > 0)
            {
                loss += UpperStrength * (UpperExponent == 1 ? ex : ex * ex);
                for (int i = 0; i < m; i++) dZeta[o + i] += UpperStrength * (UpperExponent == 1 ? 1.0 / m : 2 * ex / m);
            }
        }

        // ---- backward.
        var gW = new double[n, n];
        var gWin = new double[nin, n];
        var gTm = (double[])directTm.Clone();
        var gTs = (double[])directTs.Clone();
        var gV = new double[n];
        var gI = new double[n];
        for (int g = 0; g < n; g++) { gV[g] = dV[steps, g]; gI[g] = dI[steps, g]; }
        for (int k = steps - 1; k >= 0; k--)
        {
            // gV, gI: dL/dV[k+1], dL/dI[k+1] (total).
            AdjointTrace?.Invoke(k + 1, (double[])gV.Clone());
            int sk = Exact ? k + 1 : k;           // index of the spikes that reset V[k+1] and enter I[k+1]
            int ink = Exact ? k + 1 : k;          // input bin entering I[k+1]
            var gS = new double[n];
            for (int p = 0; p < n; p++)
            {
                if (!spiking[p]) continue;
                gS[p] = dZeta[p];
                for (int g = 0; g < n; g++)
                    if (Recurrent || !isRec[p, g]) gS[p] += W[p, g] * gI[g];
            }
            bool active = !Exact || k + 1 < steps;
            var newGV = new double[n];
            var newGI = new double[n];
            for (int g = 0; g < n; g++)
            {
                double pre = em[g] * V[k, g] + a[g] * I[k, g];   // V[k+1] before the reset
                double s = active ? S[sk, g] : 0;
                double gPre = gV[g] * (1 - s);
                double gSg = gS[g];
                if (DifferentiableReset && spiking[g] && active) gSg -= gV[g] * pre;
                double extraV = 0;
                if (spiking[g] && active)
                {
                    if (Exact) gPre += gSg * H(U[k + 1, g] - 1);
                    else extraV = gSg * H(U[k, g] - 1);
                }
                // Parameters: V[k+1] = (em V[k] + a I[k])·(1 − S); I[k+1] = es I[k] + ...
                double dEm = em[g] * dt / (tm[g] * tm[g]);
                double daTm, daTs;
                if (Exact)
                {
                    double D = tm[g] - ts[g];
                    daTm = ts[g] * (dEm * D - (em[g] - es[g])) / (D * D);
                    double dEs = es[g] * dt / (ts[g] * ts[g]);
                    daTs = (((em[g] - es[g]) - ts[g] * dEs) * D + ts[g] * (em[g] - es[g])) / (D * D);
                }
                else
                {
                    daTm = -dEm;
                    daTs = 0;
                }
                gTm[g] += gPre * (V[k, g] * dEm + I[k, g] * daTm);
                gTs[g] += gPre * I[k, g] * daTs + gI[g] * I[k, g] * es[g] * dt / (ts[g] * ts[g]);
                newGV[g] = em[g] * gPre + extraV + dV[k, g];
                newGI[g] = a[g] * gPre + es[g] * gI[g] + dI[k, g];
            }
            if (active)
                for (int p = 0; p < n; p++)
                    for (int g = 0; g < n; g++) gW[p, g] += S[sk, p] * gI[g];
            if (ink < steps)
                for (int c = 0; c < nin; c++)
                    for (int g = 0; g < n; g++) gWin[c, g] += inCount[ink, c] * gI[g];
            gV = newGV;
            gI = newGI;
        }
        if (Exact)
            for (int c = 0; c < nin; c++)
                for (int g = 0; g < n; g++) gWin[c, g] += inCount[0, c] * gI[g];

        // ---- back to parameter names.
        var result = new Dictionary<string, double[]>();
        foreach (var c in net.Connections)
        {
            var arr = new double[c.Pre.Size * c.Post.Size];
            for (int i = 0; i < c.Pre.Size; i++)
                for (int j = 0; j < c.Post.Size; j++)
                    arr[i * c.Post.Size + j] = c.Pre.Kind == PopulationKind.Input
                        ? gWin[i, offset[c.Post.Name] + j]
                        : gW[offset[c.Pre.Name] + i, offset[c.Post.Name] + j];
            result[c.Name] = arr;
        }
        foreach (var p in pops)
        {
            result[ParameterSet.TauMemName(p.Name)] = Enumerable.Range(0, p.Size).Select(i => gTm[offset[p.Name] + i]).ToArray();
            result[ParameterSet.TauSynName(p.Name)] = Enumerable.Range(0, p.Size).Select(i => gTs[offset[p.Name] + i]).ToArray();
        }
        return (loss, result);
    }

    // ∫₀^dt V(s) ds over one step from (V, I) = V·IntegralV + I·IntegralI (exact scheme); dt per value for Zenke–Vogels.
    private double IntegralV(int g, double dt, double[] tm, double[] ts, double[] em, double[] es) =>
        Exact ? tm[g] * (1 - em[g]) : dt;

    private double IntegralI(int g, double dt, double[] tm, double[] ts, double[] em, double[] es) =>
        Exact ? ts[g] / (tm[g] - ts[g]) * (tm[g] * (1 - em[g]) - ts[g] * (1 - es[g])) : 0;
}
