using Eventprop.Core.Data;
using Eventprop.Core.Nir;
using Eventprop.Core.Simulation;
using PureHDF;
using Xunit;
using Xunit.Abstractions;

namespace Eventprop.Tests.Nir;

/// <summary>
/// The exported file simulated from NIR's own equations (nir/ir/neuron.py), by a plain loop written here that reads the
/// HDF5 file with PureHDF directly — not through <see cref="NirImport"/> — and knows nothing of eventprop's engines:
/// CubaLIF/CubaLI τ_syn İ = −I + w_in S, τ_mem v̇ = (v_leak − v) + r I; LI τ v̇ = (v_leak − v) + r S; IF v̇ = r I;
/// Linear S = W x; a spike when v > v_threshold, then v = v_reset. Times in seconds, forward Euler (as NIR's own numpy
/// reference implementation steps CubaLIF) at dt = 4 µs and 1 µs.
/// </summary>
public class NirIndependentSimulatorTests(ITestOutputHelper output)
{
    [Fact]
    public void ExportedGraphSimulatedFromNirEquationsSpikesLikeOurExactEngine()
    {
        using var dir = new NirTestNetworks.TempFolder();
        var net = NirTestNetworks.Mixed(seed: 3);
        string path = dir.File("mixed.nir");
        NirExport.Write(net, path);
        var trials = NirTestNetworks.Trials(seed: 5, channels: 6, count: 2);
        var exact = new ExactEngine(40);
        var ours = trials.Select(t => exact.Simulate(net, t)).ToArray();
        var worst = new Dictionary<double, double>();
        int compared = 0;
        foreach (double dt in new[] { 4e-6, 1e-6 })
        {
            worst[dt] = 0;
            compared = 0;
            for (int t = 0; t < trials.Length; t++)
            {
                var reference = Simulate(path, trials[t], 0.040, dt);
                foreach (var pop in net.Hidden)
                    for (int i = 0; i < pop.Size; i++)
                    {
                        var a = ours[t].SpikeTimes(pop.Name, i).ToArray();
                        var b = reference[pop.Name][i];
                        Assert.True(a.Length == b.Count, $"dt {dt * 1e6} µs, {pop.Name}[{i}]: {a.Length} spikes here, {b.Count} from NIR's equations ({string.Join(", ", a)} | {string.Join(", ", b)})");
                        for (int k = 0; k < a.Length; k++) worst[dt] = Math.Max(worst[dt], Math.Abs(a[k] - b[k]));
                        compared += a.Length;
                    }
            }
            output.WriteLine($"dt {dt * 1e6} µs: {compared} spikes compared, worst |Δt| = {worst[dt] * 1000:F1} µs");
        }
        Assert.True(compared > 50, $"only {compared} spikes compared");
        // Forward Euler is first order: a spike is found at the end of the step after the crossing, its effect reaches
        // the next population a step late, and the state drifts by O(dt); near-tangent crossings (small v̇) turn a small
        // error in v into a larger one in time (measured: 0.23 ms at 4 µs, 0.07 ms at 1 µs on this network). So the test
        // asks for first-order convergence to our exact spike times and a small error at 1 µs; a wrong scale (w_in, r,
        // ms vs s, a transposed weight) changes spike counts or moves spikes by ms at every dt.
        Assert.True(worst[1e-6] < 0.15, $"spike times differ by up to {worst[1e-6]} ms at dt = 1 µs");
        Assert.True(worst[1e-6] < 0.5 * worst[4e-6], $"no convergence: {worst[4e-6]} ms at 4 µs, {worst[1e-6]} ms at 1 µs");
    }

    /// <summary>Spike times (ms) per neuron node of the NIR file at <paramref name="path"/> for one trial.</summary>
    private static Dictionary<string, List<double>[]> Simulate(string path, SpikeSample trial, double duration, double dt)
    {
        using var file = H5File.OpenRead(path);
        var nodes = new Dictionary<string, Dictionary<string, double[]>>();
        var types = new Dictionary<string, string>();
        var shapes = new Dictionary<string, ulong[]>();
        foreach (var child in file.Group("node/nodes").Children().Cast<IH5Group>())
        {
            types[child.Name] = child.Dataset("type").Read<string>();
            var values = new Dictionary<string, double[]>();
            foreach (var d in child.Children().OfType<IH5Dataset>().Where(d => d.Name != "type"))
            {
                values[d.Name] = d.Type.Class == H5DataTypeClass.FixedPoint ? d.Read<long[]>().Select(x => (double)x).ToArray() : d.Read<double[]>();
                shapes[child.Name + "/" + d.Name] = d.Space.Dimensions;
            }
            nodes[child.Name] = values;
        }
        var flat = file.Dataset("node/edges").Read<string[]>();
        var edges = Enumerable.Range(0, flat.Length / 2).Select(k => (From: flat[2 * k], To: flat[2 * k + 1])).ToList();

        int Size(string n) => types[n] is "Input" or "Output" ? (int)nodes[n]["shape"][0] : nodes[n].First().Value.Length;
        var neurons = types.Where(t => t.Value is "CubaLIF" or "CubaLI" or "LI" or "IF").Select(t => t.Key).ToArray();
        var v = neurons.ToDictionary(n => n, n => new double[Size(n)]);
        var current = neurons.ToDictionary(n => n, n => new double[Size(n)]);
        var impulse = neurons.ToDictionary(n => n, n => new double[Size(n)]);
        var spikes = neurons.ToDictionary(n => n, n => Enumerable.Range(0, Size(n)).Select(_ => new List<double>()).ToArray());
        string input = types.Single(t => t.Value == "Input").Key;

        // A spike of neuron i of `source` sends W[j, i] through every Linear after it to the node after that.
        var fanOut = types.Keys.ToDictionary(n => n, n => edges.Where(e => e.From == n && types[e.To] == "Linear")
            .SelectMany(e => edges.Where(f => f.From == e.To).Select(f => (W: nodes[e.To]["weight"], Cols: (int)shapes[e.To + "/weight"][1], Target: impulse[f.To])))
            .ToArray());
        void Spike(string source, int i)
        {
            foreach (var (w, cols, target) in fanOut[source])
                for (int j = 0; j < target.Length; j++) target[j] += w[j * cols + i];
        }
        // IF nodes first: they read their LI's v at the start of the step, before the LI moves.
        neurons = neurons.OrderBy(n => types[n] == "IF" ? 0 : 1).ToArray();
        var synapseOf = neurons.Where(n => types[n] == "IF").ToDictionary(n => n, n => v[edges.Single(e => e.To == n).From]);

        var inputSteps = trial.Times.ToArray().Select((t, k) => (Step: (long)Math.Round(t / 1000 / dt), Channel: trial.Channels[k])).ToArray();
        int next = 0;
        long steps = (long)Math.Round(duration / dt);
        for (long n = 0; n <= steps; n++)
        {
            while (next < inputSteps.Length && inputSteps[next].Step == n) Spike(input, inputSteps[next++].Channel);
            // Continuous flow over one step from the state at its start (forward Euler), then the impulses, then thresholds.
            foreach (var name in neurons)
            {
                var p = nodes[name];
                var x = impulse[name];
                var u = v[name];
                for (int j = 0; j < x.Length; j++)
                {
                    switch (types[name])
                    {
                        case "CubaLIF":
                        case "CubaLI":
                            double i0 = current[name][j];
                            current[name][j] += dt / p["tau_syn"][j] * -i0 + p["w_in"][j] * x[j] / p["tau_syn"][j];
                            u[j] += dt / p["tau_mem"][j] * (p["v_leak"][j] - u[j] + p["r"][j] * i0);
                            break;
                        case "LI":
                            u[j] += dt / p["tau"][j] * (p["v_leak"][j] - u[j]) + p["r"][j] * x[j] / p["tau"][j];
                            break;
                        case "IF":
                            u[j] += dt * p["r"][j] * synapseOf[name][j]; // its LI's v is the current

                            break;
                    }
                    x[j] = 0;
                }
            }
            foreach (var name in neurons.Where(n => types[n] is "CubaLIF" or "IF"))
            {
                var p = nodes[name];
                for (int j = 0; j < v[name].Length; j++)
                    if (v[name][j] > p["v_threshold"][j])
                    {
                        v[name][j] = p["v_reset"][j];
                        spikes[name][j].Add(n * dt * 1000);
                        Spike(name, j);
                    }
            }
        }
        return spikes;
    }
}
