using Eventprop.Core.Nir;
using Xunit;

namespace Eventprop.Tests.Nir;

/// <summary>Graphs eventprop cannot simulate: one line naming the node and why.</summary>
public class NirBadInputTests
{
    private static NirFixture Chain(string hiddenType = "CubaLIF", double vLeak = 0, int inputs = 3, int w1In = 3)
    {
        var hidden = hiddenType == "CubaLIF"
            ? new (string, object)[] { ("tau_syn", new[] { 0.005, 0.005 }), ("tau_mem", new[] { 0.02, 0.02 }), ("r", new[] { 1.0, 1.0 }), ("v_leak", new[] { vLeak, 0 }), ("v_threshold", new[] { 1.0, 1.0 }) }
            : [("weight", new double[4])];
        return new NirFixture()
            .Node("in", "Input", ("shape", new long[] { inputs }))
            .Node("w1", "Linear", ("weight", NirFixture.Matrix(new double[2 * w1In], 2, w1In)))
            .Node("hid", hiddenType, hidden)
            .Node("w2", "Linear", ("weight", NirFixture.Matrix(new double[2], 1, 2)))
            .Node("ro", "CubaLI", ("tau_syn", 0.005), ("tau_mem", 0.02), ("r", 1.0), ("v_leak", 0.0), ("w_in", 1.0))
            .Node("out", "Output", ("shape", new long[] { 1 }))
            .Edge("in", "w1").Edge("w1", "hid").Edge("hid", "w2").Edge("w2", "ro").Edge("ro", "out");
    }

    private static string Message(NirFixture fixture)
    {
        using var dir = new NirTestNetworks.TempFolder();
        string path = dir.File("bad.nir");
        fixture.Write(path);
        var e = Assert.Throws<NirFormatException>(() => NirImport.Read(path));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith("bad.nir: ", e.Message, StringComparison.Ordinal);
        return e.Message;
    }

    [Fact]
    public void UnknownNodeType()
    {
        string m = Message(Chain(hiddenType: "Spline"));
        Assert.Contains("node 'hid' has type 'Spline'", m);
    }

    [Fact]
    public void NotYetSupportedPrimitive()
    {
        string m = Message(Chain(hiddenType: "Conv2d"));
        Assert.Contains("node 'hid' is a Conv2d", m);
        Assert.Contains("does not import yet", m);
    }

    [Fact]
    public void VLeakOtherThanZero()
    {
        string m = Message(Chain(vLeak: 0.1));
        Assert.Contains("node 'hid': v_leak[0] is 0.1", m);
        Assert.Contains("set v_leak to 0", m);
    }

    [Fact]
    public void ShapeMismatch()
    {
        string m = Message(Chain(inputs: 5));
        Assert.Contains("node 'w1': weight is 2 × 3 (out × in) but its source 'in' has 5 channels", m);
    }

    [Fact]
    public void CycleThroughNonRecurrentConnections()
    {
        var lif = new (string, object)[] { ("tau_syn", 0.005), ("tau_mem", 0.02), ("r", 1.0), ("v_leak", 0.0), ("v_threshold", 1.0) };
        var fixture = new NirFixture()
            .Node("in", "Input", ("shape", new long[] { 2 }))
            .Node("a_in", "Linear", ("weight", NirFixture.Matrix(new double[4], 2, 2)))
            .Node("a", "CubaLIF", lif)
            .Node("ab", "Linear", ("weight", NirFixture.Matrix(new double[4], 2, 2)))
            .Node("b", "CubaLIF", lif)
            .Node("ba", "Linear", ("weight", NirFixture.Matrix(new double[4], 2, 2)))
            .Node("bo", "Linear", ("weight", NirFixture.Matrix(new double[2], 1, 2)))
            .Node("ro", "CubaLI", ("tau_syn", 0.005), ("tau_mem", 0.02), ("r", 1.0), ("v_leak", 0.0))
            .Node("out", "Output", ("shape", new long[] { 1 }))
            .Edge("in", "a_in").Edge("a_in", "a").Edge("a", "ab").Edge("ab", "b").Edge("b", "ba").Edge("ba", "a")
            .Edge("b", "bo").Edge("bo", "ro").Edge("ro", "out");
        string m = Message(fixture);
        Assert.Contains("lies on a cycle through a non-recurrent connection", m);
        Assert.Contains("node 'a'", m);
        Assert.Contains("neuron → Linear → the same neuron", m);
    }

    [Fact]
    public void AffineWithABias()
    {
        var fixture = new NirFixture()
            .Node("in", "Input", ("shape", new long[] { 2 }))
            .Node("aff", "Affine", ("weight", NirFixture.Matrix(new double[2], 1, 2)), ("bias", new[] { 0.3 }))
            .Node("ro", "CubaLI", ("tau_syn", 0.005), ("tau_mem", 0.02), ("r", 1.0), ("v_leak", 0.0))
            .Node("out", "Output", ("shape", new long[] { 1 }))
            .Edge("in", "aff").Edge("aff", "ro").Edge("ro", "out");
        string m = Message(fixture);
        Assert.Contains("node 'aff' is an Affine with a nonzero bias", m);
    }

    [Fact]
    public void NotAnHdf5File()
    {
        using var dir = new NirTestNetworks.TempFolder();
        string path = dir.File("bad.nir");
        File.WriteAllText(path, "{\"format\": 2}");
        var e = Assert.Throws<NirFormatException>(() => NirImport.Read(path));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("not a readable HDF5 file", e.Message);
    }

    [Fact]
    public void LifWithoutASynapse()
    {
        var fixture = new NirFixture()
            .Node("in", "Input", ("shape", new long[] { 2 }))
            .Node("lin", "Linear", ("weight", NirFixture.Matrix(new double[4], 2, 2)))
            .Node("lif", "LIF", ("tau", 0.02), ("r", 1.0), ("v_leak", 0.0), ("v_threshold", 1.0))
            .Node("lin2", "Linear", ("weight", NirFixture.Matrix(new double[2], 1, 2)))
            .Node("ro", "CubaLI", ("tau_syn", 0.005), ("tau_mem", 0.02), ("r", 1.0), ("v_leak", 0.0))
            .Node("out", "Output", ("shape", new long[] { 1 }))
            .Edge("in", "lin").Edge("lin", "lif").Edge("lif", "lin2").Edge("lin2", "ro").Edge("ro", "out");
        string m = Message(fixture);
        Assert.Contains("node 'lif' is a NIR LIF, which has no synaptic current, fed by 'lin'", m);
    }
}
