using Eventprop.Core.Data;
using Eventprop.Core.Model;

namespace Eventprop.Tests.Surrogate;

/// <summary>
/// A plain-loop BPTT reference for batch norm of hidden input currents, sharing no code with the engine and running in the
/// other order: layer by layer over the whole batch (the engine is step-major per trial with statistics passes). Feed-forward
/// dense networks of LIF layers (threshold 1, reset to 0), the leaky-integrator readout, the hard threshold with the
/// SuperSpike surrogate, the <c>sum</c> cross-entropy (mean over the batch), both schemes, double precision. The per-step
/// equations are those of <see cref="ReferenceBptt"/>, written out again per layer; batch norm is
/// y = γ(x − μ)/√(σ² + ε) + β over trials × steps with the textbook backward. τm ≠ τs is required.
/// </summary>
internal sealed class ReferenceBatchNormBptt
{
    public required bool Exact { get; init; }
    public required bool DifferentiableReset { get; init; }
    public required double Beta { get; init; }

    /// <summary>The smallest |U − 1| over all thresholded values of the last run.</summary>
    public double Margin { get; private set; } = double.PositiveInfinity;

    private double H(double x) => 1.0 / Math.Pow(Beta * Math.Abs(x) + 1, 2);

    private sealed class Layer
    {
        public required Population Population { get; init; }
        public required double[] Tm, Ts, Em, Es, A;
        public bool Normalised;
        public double[] Gamma = [], BetaBias = [], Mean = [], Var = [];
        // [trial][k, i]
        public double[][,] X = [], V = [], I = [], U = [], S = [], Dy = [], Dx = [];
    }

    /// <summary>Batch loss (mean) and gradient by parameter name (weights [pre, post], τm, τs, bn_scale, bn_bias).</summary>
    public (double Loss, Dictionary<string, double[]> Gradient) Run(Network net, IReadOnlyList<SpikeSample> batch, double dt, double duration)
    {
        int N = (int)Math.Round(duration / dt), B = batch.Count;
        var layers = new Dictionary<string, Layer>();
        var order = net.Populations.Where(p => p.Kind != PopulationKind.Input).OrderBy(p => p.Index).ToList();
        foreach (var p in order)
        {
            var tm = net.TauMem(p.Name).Values;
            var ts = net.TauSyn(p.Name).Values;
            var l = new Layer
            {
                Population = p, Tm = tm, Ts = ts,
                Em = tm.Select(t => Math.Exp(-dt / t)).ToArray(), Es = ts.Select(t => Math.Exp(-dt / t)).ToArray(), A = new double[p.Size],
            };
            for (int i = 0; i < p.Size; i++) l.A[i] = Exact ? ts[i] / (tm[i] - ts[i]) * (l.Em[i] - l.Es[i]) : 1 - l.Em[i];
            if (net.BatchNormalized.Contains(p))
            {
                l.Normalised = true;
                l.Gamma = net.Parameters[$"{p.Name}.bn_scale"].Values;
                l.BetaBias = net.Parameters[$"{p.Name}.bn_bias"].Values;
            }
            layers[p.Name] = l;
        }
        // Input counts [trial][bin, channel].
        var input = batch.Select(s =>
        {
            var c = new double[N + 1, net.Input.Size];
            for (int q = 0; q < s.Count; q++)
            {
                int b = (int)Math.Floor(s.Times[q] / dt + 0.5);
                if (b < N) c[b, s.Channels[q]] += 1;
            }
            return c;
        }).ToArray();
        double[,] SpikesOf(Population pre, int b) => pre.Kind == PopulationKind.Input ? input[b] : layers[pre.Name].S[b];

        // ---- forward, layer by layer over the whole batch.
        foreach (var p in order)
        {
            var l = layers[p.Name];
            int n = p.Size;
            l.X = new double[B][,]; l.V = new double[B][,]; l.I = new double[B][,]; l.U = new double[B][,]; l.S = new double[B][,];
            for (int b = 0; b < B; b++)
            {
                // Raw drive at delivery d = 0…N−1: input bin d and the presynaptic spikes of index d.
                var x = l.X[b] = new double[N, n];
                foreach (var c in net.Connections.Where(c => c.Post == p))
                {
                    var w = net.Weights(c.Pre.Name, p.Name);
                    var s = SpikesOf(c.Pre, b);
                    for (int d = 0; d < N; d++)
                        for (int i = 0; i < c.Pre.Size; i++)
                            if (s[d, i] != 0)
                                for (int j = 0; j < n; j++) x[d, j] += s[d, i] * w[i, j];
                }
            }
            var y = new double[B][,];
            if (l.Normalised)
            {
                l.Mean = new double[n];
                l.Var = new double[n];
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int b = 0; b < B; b++) for (int d = 0; d < N; d++) sum += l.X[b][d, j];
                    l.Mean[j] = sum / (B * N);
                    double sq = 0;
                    for (int b = 0; b < B; b++) for (int d = 0; d < N; d++) sq += Math.Pow(l.X[b][d, j] - l.Mean[j], 2);
                    l.Var[j] = sq / (B * N);
                }
            }
            for (int b = 0; b < B; b++)
            {
                y[b] = new double[N, n];
                for (int d = 0; d < N; d++)
                    for (int j = 0; j < n; j++)
                        y[b][d, j] = l.Normalised ? l.Gamma[j] * (l.X[b][d, j] - l.Mean[j]) / Math.Sqrt(l.Var[j] + 1e-5) + l.BetaBias[j] : l.X[b][d, j];
                bool spiking = p.Kind == PopulationKind.Hidden;
                var V = l.V[b] = new double[N + 1, n];
                var I = l.I[b] = new double[N + 1, n];
                var U = l.U[b] = new double[N + 1, n];
                var S = l.S[b] = new double[N + 1, n];
                for (int g = 0; g < n; g++)
                {
                    if (Exact)
                    {
                        I[0, g] = y[b][0, g];
                        for (int k = 1; k <= N; k++)
                        {
                            U[k, g] = l.Em[g] * V[k - 1, g] + l.A[g] * I[k - 1, g];
                            I[k, g] = l.Es[g] * I[k - 1, g];
                            V[k, g] = U[k, g];
                            if (k < N)
                            {
                                if (spiking)
                                {
                                    Margin = Math.Min(Margin, Math.Abs(U[k, g] - 1));
                                    if (U[k, g] >= 1) { S[k, g] = 1; V[k, g] = 0; }
                                }
                                I[k, g] += y[b][k, g];
                            }
                        }
                    }
                    else
                    {
                        for (int k = 0; k < N; k++)
                        {
                            U[k, g] = V[k, g];
                            if (spiking)
                            {
                                Margin = Math.Min(Margin, Math.Abs(V[k, g] - 1));
                                S[k, g] = V[k, g] >= 1 ? 1 : 0;
                            }
                            V[k + 1, g] = (l.Em[g] * V[k, g] + l.A[g] * I[k, g]) * (1 - S[k, g]);
                            I[k + 1, g] = l.Es[g] * I[k, g] + y[b][k, g];
                        }
                    }
                }
            }
        }

        // ---- loss: the sum readout per trial, cross-entropy, mean over the batch; dL/dV, dL/dI of the readout.
        var ro = layers[net.Readout.Name];
        int rs = net.Readout.Size;
        double loss = 0;
        var dV = new double[B][,];
        var dI = new double[B][,];
        var directTm = new double[rs];
        var directTs = new double[rs];
        for (int b = 0; b < B; b++)
        {
            dV[b] = new double[N + 1, rs];
            dI[b] = new double[N + 1, rs];
            var z = new double[rs];
            int k0 = Exact ? 0 : 1, k1 = Exact ? N - 1 : N;
            for (int j = 0; j < rs; j++)
            {
                for (int k = k0; k <= k1; k++) z[j] += IntegralV(ro, j, dt) * ro.V[b][k, j] + IntegralI(ro, j) * ro.I[b][k, j];
                z[j] /= duration;
            }
            double zmax = z.Max(), sumExp = z.Sum(v => Math.Exp(v - zmax));
            int label = batch[b].Label;
            loss += -(z[label] - zmax - Math.Log(sumExp)) / B;
            for (int j = 0; j < rs; j++)
            {
                double dz = (Math.Exp(z[j] - zmax) / sumExp - (j == label ? 1 : 0)) / B;
                for (int k = k0; k <= k1; k++)
                {
                    dV[b][k, j] += dz / duration * IntegralV(ro, j, dt);
                    dI[b][k, j] += dz / duration * IntegralI(ro, j);
                    if (Exact)
                    {
                        double tm = ro.Tm[j], ts = ro.Ts[j], em = ro.Em[j], es = ro.Es[j];
                        double D = tm - ts, P = tm * (1 - em) - ts * (1 - es);
                        double dIVdTm = 1 - em - em * dt / tm;
                        double dPdTs = -(1 - es - es * dt / ts);
                        double dIIdTm = ts * (dIVdTm * D - P) / (D * D);
                        double dIIdTs = tm / (D * D) * P + ts / D * dPdTs;
                        directTm[j] += dz / duration * (ro.V[b][k, j] * dIVdTm + ro.I[b][k, j] * dIIdTm);
                        directTs[j] += dz / duration * ro.I[b][k, j] * dIIdTs;
                    }
                }
            }
        }

        // ---- backward, layer by layer in reverse over the whole batch.
        var result = new Dictionary<string, double[]>();
        for (int li = order.Count - 1; li >= 0; li--)
        {
            var p = order[li];
            var l = layers[p.Name];
            int n = p.Size;
            bool spiking = p.Kind == PopulationKind.Hidden;
            var gTm = new double[n];
            var gTs = new double[n];
            if (!spiking) { directTm.CopyTo(gTm, 0); directTs.CopyTo(gTs, 0); }
            l.Dy = new double[B][,];
            for (int b = 0; b < B; b++)
            {
                // dL/dS of this layer's spikes of index k: Σ_post W[i, post]·dx_post[k, post].
                var gSext = new double[N + 1, n];
                foreach (var c in net.Connections.Where(c => c.Pre == p))
                {
                    var post = layers[c.Post.Name];
                    var w = net.Weights(p.Name, c.Post.Name);
                    for (int k = 0; k < N; k++)
                        for (int i = 0; i < n; i++)
                            for (int j = 0; j < c.Post.Size; j++) gSext[k, i] += w[i, j] * post.Dx[b][k, j];
                }
                var dy = l.Dy[b] = new double[N, n];
                var V = l.V[b];
                var I = l.I[b];
                var U = l.U[b];
                var S = l.S[b];
                for (int g = 0; g < n; g++)
                {
                    double gV = spiking ? 0 : dV[b][N, g], gI = spiking ? 0 : dI[b][N, g];
                    for (int k = N - 1; k >= 0; k--)
                    {
                        // gV, gI = dL/dV[k+1], dL/dI[k+1]. The delivery into I[k+1] is d = k+1 (exact) or k (ZV).
                        if (Exact && k + 1 < N) dy[k + 1, g] = gI;
                        if (!Exact) dy[k, g] = gI;
                        int sk = Exact ? k + 1 : k;
                        bool active = spiking && (!Exact || k + 1 < N);
                        double pre = l.Em[g] * V[k, g] + l.A[g] * I[k, g];
                        double s = active ? S[sk, g] : 0;
                        double gPre = gV * (1 - s);
                        double gSg = active ? gSext[sk, g] : 0;
                        if (DifferentiableReset && active) gSg -= gV * pre;
                        double extraV = 0;
                        if (active)
                        {
                            if (Exact) gPre += gSg * H(U[k + 1, g] - 1);
                            else extraV = gSg * H(U[k, g] - 1);
                        }
                        double tm = l.Tm[g], ts = l.Ts[g], em = l.Em[g], es = l.Es[g];
                        double dEm = em * dt / (tm * tm), daTm, daTs;
                        if (Exact)
                        {
                            double D = tm - ts, dEs = es * dt / (ts * ts);
                            daTm = ts * (dEm * D - (em - es)) / (D * D);
                            daTs = (((em - es) - ts * dEs) * D + ts * (em - es)) / (D * D);
                        }
                        else
                        {
                            daTm = -dEm;
                            daTs = 0;
                        }
                        gTm[g] += gPre * (V[k, g] * dEm + I[k, g] * daTm);
                        gTs[g] += gPre * I[k, g] * daTs + gI * I[k, g] * es * dt / (ts * ts);
                        double newGV = em * gPre + extraV + (spiking ? 0 : dV[b][k, g]);
                        double newGI = l.A[g] * gPre + es * gI + (spiking ? 0 : dI[b][k, g]);
                        gV = newGV;
                        gI = newGI;
                    }
                    if (Exact) dy[0, g] = gI;
                }
            }
            // Batch norm backward over trials × deliveries.
            l.Dx = new double[B][,];
            for (int b = 0; b < B; b++) l.Dx[b] = (double[,])l.Dy[b].Clone();
            if (l.Normalised)
            {
                var dGamma = new double[n];
                var dBeta = new double[n];
                for (int j = 0; j < n; j++)
                {
                    double sigma = Math.Sqrt(l.Var[j] + 1e-5), m1 = 0, m2 = 0;
                    for (int b = 0; b < B; b++)
                        for (int d = 0; d < N; d++)
                        {
                            double xhat = (l.X[b][d, j] - l.Mean[j]) / sigma;
                            m1 += l.Dy[b][d, j];
                            m2 += l.Dy[b][d, j] * xhat;
                        }
                    dBeta[j] = m1;
                    dGamma[j] = m2;
                    m1 /= B * N;
                    m2 /= B * N;
                    for (int b = 0; b < B; b++)
                        for (int d = 0; d < N; d++)
                        {
                            double xhat = (l.X[b][d, j] - l.Mean[j]) / sigma;
                            l.Dx[b][d, j] = l.Gamma[j] / sigma * (l.Dy[b][d, j] - m1 - xhat * m2);
                        }
                }
                result[$"{p.Name}.bn_scale"] = dGamma;
                result[$"{p.Name}.bn_bias"] = dBeta;
                result[$"{p.Name}.bn_running_mean"] = new double[n];
                result[$"{p.Name}.bn_running_var"] = new double[n];
            }
            foreach (var c in net.Connections.Where(c => c.Post == p))
            {
                var gw = new double[c.Pre.Size * n];
                for (int b = 0; b < B; b++)
                {
                    var s = SpikesOf(c.Pre, b);
                    for (int d = 0; d < N; d++)
                        for (int i = 0; i < c.Pre.Size; i++)
                            if (s[d, i] != 0)
                                for (int j = 0; j < n; j++) gw[i * n + j] += s[d, i] * l.Dx[b][d, j];
                }
                result[c.Name] = gw;
            }
            result[ParameterSet.TauMemName(p.Name)] = gTm;
            result[ParameterSet.TauSynName(p.Name)] = gTs;
        }
        return (loss, result);
    }

    private double IntegralV(Layer l, int j, double dt) => Exact ? l.Tm[j] * (1 - l.Em[j]) : dt;

    private double IntegralI(Layer l, int j) => Exact ? l.Ts[j] / (l.Tm[j] - l.Ts[j]) * (l.Tm[j] * (1 - l.Em[j]) - l.Ts[j] * (1 - l.Es[j])) : 0;
}
