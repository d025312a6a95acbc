using Eventprop.Core.Losses;

namespace Eventprop.Core.Simulation;

/// <summary>
/// The integrand of the voltage-dependent drive over one reverse interval of a readout neuron (ρ = tEnd − u, L = Δ − ρ):
/// f(u)·[e^{−mL}, ψ_L[m, rs], V_a L e^{−mL} + I_a m ψ_L[m, m, rs], ψ_L[m, rs, rs]]. A separate object so that the
/// backward pass's own state is not captured by a delegate (which would move it to the heap).
/// </summary>
internal sealed class VoltageDriveIntegrand(ExactReadoutTrace trace, IReadOnlyList<VoltageDependentDrive> drives, int readoutSize)
{
    private readonly double[] _voltages = new double[readoutSize];
    private readonly double[] _values = new double[readoutSize];
    private int _neuron;
    private double _tEnd, _delta, _m, _rs, _va, _ia;

    public void Set(int neuron, double tEnd, double delta, double m, double rs, double va, double ia)
    {
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
        double eML = Math.Exp(-_m * len), eSL = Math.Exp(-_rs * len);
        values[0] = f * eML;
        values[1] = f * ExpKernels.Psi2(len, _m, _rs, eML, eSL);
        values[2] = f * (_va * len * eML + _ia * _m * ExpKernels.PsiDoubleNode(len, _m, _rs, eML, eSL));
        values[3] = f * ExpKernels.PsiDoubleNode(len, _rs, _m, eSL, eML);
    }
}
