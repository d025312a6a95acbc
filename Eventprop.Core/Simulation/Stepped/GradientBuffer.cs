namespace Eventprop.Core.Simulation.Stepped;

/// <summary>One partition's gradient accumulators: float per weight and delay parameter, double per neuron for the τ's.</summary>
internal sealed class GradientBuffer
{
    public float[]?[] Weights { get; private set; } = [];
    public double[] TauMem { get; private set; } = [];
    public double[] TauSyn { get; private set; } = [];

    public void Reset(SteppedPlan plan)
    {
        var parameters = plan.Network.Parameters;
        if (Weights.Length != parameters.Count) Weights = new float[parameters.Count][];
        foreach (int p in plan.GradientParameters)
        {
            int len = parameters[p].Length;
            if (Weights[p] is { } w && w.Length == len) Array.Clear(w);
            else Weights[p] = new float[len];
        }
        if (TauMem.Length != plan.NeuronCount)
        {
            TauMem = new double[plan.NeuronCount];
            TauSyn = new double[plan.NeuronCount];
        }
        else
        {
            Array.Clear(TauMem);
            Array.Clear(TauSyn);
        }
    }
}
