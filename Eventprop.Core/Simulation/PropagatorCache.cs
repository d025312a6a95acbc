namespace Eventprop.Core.Simulation;

/// <summary>
/// A one-entry memo of the propagators over an interval Δ for rates (1/τm, 1/τs). Consecutive neurons updated at the
/// same event usually share Δ, and with population-wide time constants also the rates, so the exponentials are computed
/// once per event rather than once per neuron. The values are bit-identical to computing them afresh.
/// </summary>
internal struct PropagatorCache
{
    private double _delta, _rateMem, _rateSyn;
    private bool _valid, _hasDoubleNodes;

    /// <summary>e^{−Δ/τm}.</summary>
    public double DecayMem;

    /// <summary>e^{−Δ/τs}.</summary>
    public double DecaySyn;

    /// <summary>Psi(Δ; 1/τm, 1/τs).</summary>
    public double PsiMemSyn;

    /// <summary>Psi(Δ; 1/τm, 1/τm, 1/τs).</summary>
    public double PsiMemMemSyn;

    /// <summary>Psi(Δ; 1/τm, 1/τs, 1/τs).</summary>
    public double PsiMemSynSyn;

    /// <summary>Makes <see cref="DecayMem"/>, <see cref="DecaySyn"/> and <see cref="PsiMemSyn"/> valid for (Δ, m, r).</summary>
    public void Set(double delta, double m, double r)
    {
        if (_valid && delta == _delta && m == _rateMem && r == _rateSyn) return;
        _delta = delta;
        _rateMem = m;
        _rateSyn = r;
        _valid = true;
        _hasDoubleNodes = false;
        DecayMem = Math.Exp(-m * delta);
        DecaySyn = Math.Exp(-r * delta);
        PsiMemSyn = ExpKernels.Psi2(delta, m, r, DecayMem, DecaySyn);
    }

    /// <summary>As <see cref="Set"/>, and also makes the double-node values valid.</summary>
    public void SetWithDoubleNodes(double delta, double m, double r)
    {
        Set(delta, m, r);
        if (_hasDoubleNodes) return;
        PsiMemMemSyn = ExpKernels.PsiDoubleNode(delta, m, r, DecayMem, DecaySyn);
        PsiMemSynSyn = ExpKernels.PsiDoubleNode(delta, r, m, DecaySyn, DecayMem);
        _hasDoubleNodes = true;
    }
}

/// <summary>
/// A one-entry memo of the kernels of an exponential loss drive e^{−ρt} over a reverse interval [t, tEnd] for rates
/// (1/τm, 1/τs): the readout neurons are all carried back over the same interval at a hidden spike, and with shared
/// time constants they need the same values. Bit-identical to computing them afresh.
/// </summary>
internal struct DriveKernelCache
{
    private double _t, _tEnd, _rho, _rateMem, _rateSyn;
    private bool _valid;

    /// <summary>e^{−ρ·tEnd}.</summary>
    public double DecayEnd;

    /// <summary>e^{−ρ·t}.</summary>
    public double DecayStart;

    /// <summary>Psi(Δ; ρ + 1/τs, 0).</summary>
    public double PsiSyn;

    /// <summary>Psi(Δ; ρ + 1/τm, 0).</summary>
    public double PsiMem;

    /// <summary>Psi(Δ; ρ + 1/τm, ρ + 1/τs, 0).</summary>
    public double PsiMemSyn;

    public void Set(double t, double tEnd, double rho, double m, double r)
    {
        if (_valid && t == _t && tEnd == _tEnd && rho == _rho && m == _rateMem && r == _rateSyn) return;
        _t = t;
        _tEnd = tEnd;
        _rho = rho;
        _rateMem = m;
        _rateSyn = r;
        _valid = true;
        double delta = tEnd - t;
        DecayEnd = rho == 0 ? 1 : Math.Exp(-rho * tEnd);
        DecayStart = rho == 0 ? 1 : Math.Exp(-rho * t);
        PsiSyn = ExpKernels.Psi2(delta, rho + r, 0);
        PsiMem = ExpKernels.Psi2(delta, rho + m, 0);
        PsiMemSyn = ExpKernels.Psi3(delta, rho + m, rho + r, 0);
    }
}
