using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Nir;
using PureHDF;
using Xunit;

namespace Eventprop.Tests.Nir;

/// <summary>Files in the layout other libraries write (h5py's choices), read by <see cref="NirImport"/>.</summary>
public class NirFixtureTests
{
    private static readonly float[] W1 = [0.5f, -1, 2, 0.25f, 1.5f, 0, -0.75f, 1, 0.125f, 3, -2, 0.5f]; // 4 × 3 (out × in)
    private static readonly float[] W2 = [1, -1, 0.5f, 2, -0.5f, 0.25f, 1, 1]; // 2 × 4

    [Fact]
    public void VariableLengthStringsFloat32PerNeuronParameters()
    {
        using var dir = new NirTestNetworks.TempFolder();
        string path = dir.File("snntorch_style.nir");
        float[] tauSyn = [0.004f, 0.005f, 0.006f, 0.005f], tauMem = [0.02f, 0.01f, 0.03f, 0.02f];
        float[] r = [2, 2, 1, 1], wIn = [0.5f, 1, 1, 0.25f];
        new NirFixture()
            .Node("input", "Input", ("shape", new long[] { 3 }))
            .Node("fc1", "Linear", ("weight", NirFixture.Matrix(W1, 4, 3)))
            .Node("lif1", "CubaLIF", ("tau_syn", tauSyn), ("tau_mem", tauMem), ("r", r), ("v_leak", new float[4]),
                ("v_threshold", new float[] { 1, 1, 1, 1 }), ("v_reset", new float[4]), ("w_in", wIn))
            .Node("fc2", "Linear", ("weight", NirFixture.Matrix(W2, 2, 4)))
            .Node("li", "CubaLI", ("tau_syn", new float[] { 0.005f, 0.005f }), ("tau_mem", new float[] { 0.02f, 0.02f }), ("r", new float[] { 1, 1 }),
                ("v_leak", new float[2]), ("w_in", new float[] { 1, 1 }))
            .Node("output", "Output", ("shape", new long[] { 2 }))
            .Edge("input", "fc1").Edge("fc1", "lif1").Edge("lif1", "fc2").Edge("fc2", "li").Edge("li", "output")
            .Write(path);
        using (var raw = H5File.OpenRead(path))
        {
            Assert.Equal(H5DataTypeClass.VariableLength, raw.Dataset("node/nodes/lif1/type").Type.Class); // h5py.string_dtype()
            Assert.Equal(H5DataTypeClass.VariableLength, raw.Dataset("node/edges").Type.Class);
            Assert.Equal(4, raw.Dataset("node/nodes/lif1/tau_mem").Type.Size); // float32
        }

        var net = NirImport.Read(path);
        Assert.Equal(["input", "lif1", "li"], net.Populations.Select(p => p.Name));
        Assert.IsType<Lif>(net["lif1"].Model);
        Assert.IsType<LeakyIntegrator>(net["li"].Model);
        for (int j = 0; j < 4; j++)
        {
            Assert.Equal((double)tauMem[j] * 1000, net.TauMem("lif1")[j], 12);
            Assert.Equal((double)tauSyn[j] * 1000, net.TauSyn("lif1")[j], 12);
            for (int i = 0; i < 3; i++) // W[i, j] = W_nir[j, i] · r_j · w_in,j / τ_syn,j (τ_syn in the file's seconds)
                Assert.Equal((double)W1[j * 3 + i] * r[j] * wIn[j] / tauSyn[j], net.Weights("input", "lif1")[i, j], 9);
        }
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 4; i++)
                Assert.Equal((double)W2[j * 4 + i] / 0.005f, net.Weights("lif1", "li")[i, j], 9);
    }

    [Fact]
    public void FixedLengthStringsFloat64ScalarsAndA10FileWithoutWInOrVReset()
    {
        using var dir = new NirTestNetworks.TempFolder();
        string path = dir.File("old.nir");
        double[] w1 = W1.Select(x => (double)x).ToArray(), w2 = W2.Select(x => (double)x).ToArray();
        new NirFixture()
            .Node("in", "Input", ("shape", new long[] { 3 }))
            .Node("l1", "Linear", ("weight", NirFixture.Matrix(w1, 4, 3)))
            // NIR 1.0.0's writer: CubaLIF has no w_in (default 1) and no v_reset (default 0); here every parameter is a scalar.
            // Some 1.0.x writers also stored input_type/output_type as groups; they carry nothing the reader needs.
            .Node("h", "CubaLIF", ("tau_syn", 0.005), ("tau_mem", 0.01), ("r", 1.5), ("v_leak", 0.0), ("v_threshold", 0.9),
                ("input_type", new H5Group { ["input"] = new long[] { 4 } }), ("output_type", new H5Group { ["output"] = new long[] { 4 } }))
            .Node("l2", "Linear", ("weight", NirFixture.Matrix(w2, 2, 4)))
            .Node("o", "CubaLI", ("tau_syn", 0.002), ("tau_mem", 0.02), ("r", 1.0), ("v_leak", 0.0), ("w_in", 1.0))
            .Node("out", "Output", ("shape", new long[] { 2 }))
            .Edge("in", "l1").Edge("l1", "h").Edge("h", "l2").Edge("l2", "o").Edge("o", "out")
            .Write(path, fixedStringLength: 16, version: "1.0.0");
        using (var raw = H5File.OpenRead(path))
        {
            Assert.Equal(H5DataTypeClass.String, raw.Dataset("node/nodes/h/type").Type.Class); // really fixed-length
            Assert.Equal(H5DataTypeClass.String, raw.Dataset("node/edges").Type.Class);
            Assert.Empty(raw.Dataset("node/nodes/h/tau_mem").Space.Dimensions); // a scalar
            Assert.Equal(8, raw.Dataset("node/nodes/h/tau_mem").Type.Size); // float64
        }

        var net = NirImport.Read(path);
        var h = Assert.IsType<Lif>(net["h"].Model);
        Assert.Equal(0.9, h.Threshold);
        Assert.Equal(0.0, h.Reset);
        Assert.All(net.TauMem("h").Values, t => Assert.Equal(10, t, 12)); // scalar broadcast to 4 neurons
        Assert.Equal(4, net.TauSyn("h").Length);
        Assert.All(net.TauSyn("o").Values, t => Assert.Equal(2, t, 12));
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < 3; i++)
                Assert.Equal(w1[j * 3 + i] * 1.5 * 1.0 / 0.005, net.Weights("in", "h")[i, j], 9);
        Assert.Equal(w2[0] / 0.002, net.Weights("h", "o")[0, 0], 9);
    }

    [Fact]
    public void GzipCompressedWeightsAreRead()
    {
        using var dir = new NirTestNetworks.TempFolder();
        string path = dir.File("gzip.nir");
        const int n = 64;
        var w = new double[n * n];
        w[5] = 0.7; // W_nir[0, 5]: input 5 → neuron 0
        w[n * 3 + 1] = -0.2; // W_nir[3, 1]
        new NirFixture()
            .Node("in", "Input", ("shape", new long[] { n }))
            .Node("w", "Linear", ("weight", NirFixture.Gzip(w, n, n)))
            .Node("li", "CubaLI", ("tau_syn", Enumerable.Repeat(0.005, n).ToArray()), ("tau_mem", Enumerable.Repeat(0.02, n).ToArray()),
                ("r", Enumerable.Repeat(1.0, n).ToArray()), ("v_leak", new double[n]), ("w_in", Enumerable.Repeat(0.005, n).ToArray()))
            .Node("out", "Output", ("shape", new long[] { n }))
            .Edge("in", "w").Edge("w", "li").Edge("li", "out")
            .Write(path);
        using (var raw = H5File.OpenRead(path)) Assert.Equal(H5DataLayoutClass.Chunked, raw.Dataset("node/nodes/w/weight").Layout.Class);
        Assert.True(new FileInfo(path).Length < n * n * 8 / 2, $"{new FileInfo(path).Length} bytes: the weights are not compressed");

        var net = NirImport.Read(path);
        var weights = net.Weights("in", "li");
        Assert.Equal(0.7, weights[5, 0]);
        Assert.Equal(-0.2, weights[1, 3]);
        Assert.Equal(2, weights.Values.Count(v => v != 0));
    }

    [Fact]
    public void NirLifAfterAnLiSynapseIsOurLifWithTheScalesFolded()
    {
        using var dir = new NirTestNetworks.TempFolder();
        string path = dir.File("li_lif.nir");
        double[] w = [0.5, -1, 2, 0.25, 1.5, 0]; // 2 × 3 (out × in)
        new NirFixture()
            .Node("in", "Input", ("shape", new long[] { 3 }))
            .Node("lin", "Linear", ("weight", NirFixture.Matrix(w, 2, 3)))
            .Node("syn", "LI", ("tau", new[] { 0.004, 0.008 }), ("r", new[] { 2.0, 1.0 }), ("v_leak", new double[2]))
            .Node("lif", "LIF", ("tau", new[] { 0.02, 0.01 }), ("r", new[] { 3.0, 0.5 }), ("v_leak", new double[2]), ("v_threshold", new[] { 1.0, 1.0 }), ("v_reset", new[] { 0.0, 0.0 }))
            .Node("lin2", "Linear", ("weight", NirFixture.Matrix(new[] { 1.0, 1.0 }, 1, 2)))
            .Node("ro", "CubaLI", ("tau_syn", 0.005), ("tau_mem", 0.02), ("r", 1.0), ("v_leak", 0.0), ("w_in", 1.0))
            .Node("out", "Output", ("shape", new long[] { 1 }))
            .Edge("in", "lin").Edge("lin", "syn").Edge("syn", "lif").Edge("lif", "lin2").Edge("lin2", "ro").Edge("ro", "out")
            .Write(path);
        var net = NirImport.Read(path);
        Assert.Equal(["in", "lif", "ro"], net.Populations.Select(p => p.Name)); // the LI is the LIF's current, not a population
        Assert.IsType<Lif>(net["lif"].Model);
        Assert.Equal([20.0, 10.0], net.TauMem("lif").Values);
        Assert.Equal([4.0, 8.0], net.TauSyn("lif").Values);
        // LI: τ_s v̇_s = −v_s + r_s S jumps by r_s W / τ_s; LIF: τ v̇ = −v + r v_s, i.e. our current is r · v_s.
        double[] scale = [2.0 / 0.004 * 3.0, 1.0 / 0.008 * 0.5];
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 3; i++) Assert.Equal(w[j * 3 + i] * scale[j], net.Weights("in", "lif")[i, j], 9);
    }
}
