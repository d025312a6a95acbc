using Eventprop.Core.Losses;

namespace Eventprop.Core.Simulation;

/// <summary>
/// The integrand of the voltage-dependent drive over one reverse interval of a readout neuron (ρ = tEnd − u, L = Δ − ρ):
/// f(u)·[e^{−lL}, ψ_L[l, rs], V_a L e^{−lL} + I_a m ψ_L[l, l, rs], ψ_L[l, rs, rs]], with m = 1/τm the input gain and
/// l = ℓ/τm the membrane's decay rate (l = m leaky, 0 for the non-leaky integrator). A separate object so that the
/// backward pass's own state is not captured by a delegate (which would move it to the heap).
/// </summary>
internal sealed class VoltageDriveIntegrand(ExactReadoutTrace trace, IReadOnlyList<VoltageDependentDrive> drives, int readoutSize)
{
    private readonly double[] _voltages = new double[readoutSize];
    private readonly double[] _values = new double[readoutSize];
    private int _neuron;
    private double _tEnd, _delta, _m, _l, _rs, _va, _ia;

    /// <summary>m = 1/τm is the input gain, l the membrane's decay rate ℓ/τm (m for a leaky readout, 0 for the integrator).</summary>
    public void Set(int neuron, double tEnd, double delta, double m, double l, double rs, double va, double ia)
    {
        _l = l;
        _neuron = neuron;
        _tEnd = tEnd;
        _delta = delta;
        _m = m;
        _rs = rs;
        _va = va;
        _ia = ia;
    }

    public void Evaluate(double rho, double[] values)
    {
        double u = _tEnd - rho, len = _delta - rho;
        trace.Voltages(u, _voltages);
        double f = 0;
        foreach (var vd in drives)
        {
            vd.Function(u, _voltages, _values);
            f += vd.Coefficient * _values[_neuron];
        }
        double eML = Math.Exp(-_l * len), eSL = Math.Exp(-_rs * len);
        values[0] = f * eML;
        values[1] = f * ExpKernels.Psi2(len, _l, _rs, eML, eSL);
        values[2] = f * (_va * len * eML + _ia * _m * ExpKernels.PsiDoubleNode(len, _l, _rs, eML, eSL));
        values[3] = f * ExpKernels.PsiDoubleNode(len, _rs, _l, eSL, eML);
    }
}
