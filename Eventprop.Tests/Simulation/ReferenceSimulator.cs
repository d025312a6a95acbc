using Eventprop.Core.Data;
using Eventprop.Core.Model;

namespace Eventprop.Tests.Simulation;

/// <summary>
/// A deliberately simple, independent simulator for checking the exact engine: classical RK4 on the ODEs with a small
/// fixed step, input spikes delivered at their exact times (the step is split there), and threshold crossings located by
/// linear interpolation inside the step. Errors are O(dt²) in spike times. Only for tests.
/// </summary>
internal sealed class ReferenceSimulator(Network network, double duration, double dt)
{
    private const double Theta = 1.0;

    public (List<double>[] Spikes, Func<int, double, double> ReadoutVoltage) Run(SpikeSample sample)
    {
        var pops = network.Populations.Where(p => p.HasDynamics).ToList();
        int n = pops.Sum(p => p.Size);
        var offset = new Dictionary<string, int>();
        int o = 0;
        foreach (var p in pops)
        {
            offset[p.Name] = o;
            o += p.Size;
        }
        var tm = pops.SelectMany(p => network.TauMem(p.Name).Values).ToArray();
        var ts = pops.SelectMany(p => network.TauSyn(p.Name).Values).ToArray();
        var spiking = pops.SelectMany(p => Enumerable.Repeat(p.IsSpiking, p.Size)).ToArray();
        var v = new double[n];
        var cur = new double[n];
        var spikes = Enumerable.Range(0, n).Select(_ => new List<double>()).ToArray();
        int ro = offset[network.Readout.Name], rk = network.Readout.Size;
        var readoutTrace = new List<(double T, double[] V)>();

        void Deliver(Population pre, int index)
        {
            foreach (var c in network.Connections.Where(c => c.Pre == pre))
            {
                var w = network.Weights(c.Pre.Name, c.Post.Name);
                for (int j = 0; j < c.Post.Size; j++) cur[offset[c.Post.Name] + j] += w[index, j];
            }
        }

        void Step(double h)
        {
            // RK4 for V; I decays exactly (I does not depend on V).
            for (int g = 0; g < n; g++)
            {
                double i0 = cur[g], v0 = v[g];
                double F(double vv, double s) => (-vv + i0 * Math.Exp(-s / ts[g])) / tm[g];
                double k1 = F(v0, 0), k2 = F(v0 + h / 2 * k1, h / 2), k3 = F(v0 + h / 2 * k2, h / 2), k4 = F(v0 + h * k3, h);
                v[g] = v0 + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
                cur[g] = i0 * Math.Exp(-h / ts[g]);
            }
        }

        var times = sample.Times;
        var channels = sample.Channels;
        int inIdx = 0;
        double t = 0;
        readoutTrace.Add((0, new double[rk]));
        while (t < duration - 1e-12)
        {
            double h = Math.Min(dt, duration - t);
            while (inIdx < times.Length && times[inIdx] <= t) Deliver(network.Input, channels[inIdx++]);
            if (inIdx < times.Length && times[inIdx] < t + h) h = times[inIdx] - t;
            var before = (double[])v.Clone();
            Step(h);
            // The earliest crossing in this step, by linear interpolation; spikes are handled one at a time.
            int first = -1;
            double when = double.PositiveInfinity;
            for (int g = 0; g < n; g++)
                if (spiking[g] && v[g] >= Theta && before[g] < Theta)
                {
                    double frac = (Theta - before[g]) / (v[g] - before[g]);
                    if (t + frac * h < when)
                    {
                        when = t + frac * h;
                        first = g;
                    }
                }
            if (first >= 0)
            {
                // Redo the step up to the crossing, then reset and deliver.
                Array.Copy(before, v, n);
                for (int g = 0; g < n; g++) cur[g] /= Math.Exp(-h / ts[g]);
                double hc = when - t;
                if (hc > 0) Step(hc);
                v[first] = 0;
                spikes[first].Add(when);
                var pop = pops.First(p => first >= offset[p.Name] && first < offset[p.Name] + p.Size);
                Deliver(pop, first - offset[pop.Name]);
                t = when;
            }
            else
            {
                t += h;
            }
            readoutTrace.Add((t, v.Skip(ro).Take(rk).ToArray()));
        }

        double Readout(int k, double time)
        {
            int i = readoutTrace.FindLastIndex(x => x.T <= time);
            return readoutTrace[i].V[k];
        }
        return (spikes, Readout);
    }
}
