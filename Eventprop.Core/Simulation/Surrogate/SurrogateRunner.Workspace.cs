using System.Numerics;
using System.Runtime.ExceptionServices;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation.Stepped;

namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>The BPTT engine's per-thread workspaces (the V, I trace of a trial) and per-partition gradient buffers.</summary>
internal sealed partial class SurrogateRunner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private sealed class Workspace
    {
        public Workspace(Plan plan, int steps, double dt, bool exact)
        {
            int n = plan.Neurons, rows = steps + 1;
            Vs = new T[rows * n];
            Is = new T[rows * n];
            V = new T[n]; I = new T[n]; S = new T[n]; Vt = new T[n]; H = new T[n];
            GV = new T[n]; GI = new T[n]; Gt = new T[n]; Extra = new T[n];
            GEm = new T[n]; GA = new T[n]; GEs = new T[n];
            Counts = new double[n];
            Keep = new T[n];
            RegGrad = new T[n];
            SpikeStart = new int[steps + 1];
            InputStart = new int[steps + 2];
            Drive = new T[n];
            DriveAdjoint = new T[n];
            int rs = plan.Structure.ReadoutSize;
            Trace = new SurrogateReadoutTrace(rs, steps, dt, exact);
            DV = new double[rs * rows];
            DI = new double[rs * rows];
            DTauMem = new double[rs];
            DTauSyn = new double[rs];
            Drives = new T[steps * plan.BatchNormNeurons];
            SavedCurrent = new T[plan.BatchNormNeurons];
            GD = new T[plan.BatchNorm.Length > 0 ? n : 0];
            int parameters = plan.Structure.Network.Parameters.Count;
            Cells = new T[parameters][];
            CellsStamp = new int[parameters];
        }

        /// <summary>Per connection (by weight parameter): its batched transport of the current backward iteration (<see cref="SurrogateSynapses{T}.TransportCells"/>).</summary>
        public T[]?[] Cells { get; }
        /// <summary>Per connection: the <see cref="Stamp"/> its <see cref="Cells"/> were computed at.</summary>
        public int[] CellsStamp { get; }
        /// <summary>Counts backward iterations: a connection's <see cref="Cells"/> are current when its stamp equals this.</summary>
        public int Stamp { get; set; }

        /// <summary>The raw drive x of every batch-normalised neuron at every delivery point (steps × batch-norm neurons).</summary>
        public T[] Drives { get; }
        /// <summary>The batch-normalised layers' currents set aside during a delivery.</summary>
        public T[] SavedCurrent { get; }
        /// <summary>The presynaptic adjoint: dL/dI with the batch-normalised entries replaced by dL/dx.</summary>
        public T[] GD { get; }
        /// <summary>This partition's batch-norm sums (set by the pass that rents the workspace).</summary>
        public BatchNormSums? BatchNormSums { get; set; }
        /// <summary>Whether the pass is one of the batch-norm statistics passes (the adjoint trace hook is silent then).</summary>
        public bool StatisticsPass { get; set; }

        /// <summary>Direct ∂L/∂τ of the readout through the loss's quadrature weights (exact scheme).</summary>
        public double[] DTauMem { get; }
        public double[] DTauSyn { get; }

        public T[] Vs { get; }
        public T[] Is { get; }
        public T[] V { get; }
        public T[] I { get; }
        public T[] S { get; }
        public T[] Vt { get; }
        /// <summary>h(U − ϑ) of the current backward step.</summary>
        public T[] H { get; }
        public T[] GV { get; }
        public T[] GI { get; }
        public T[] Gt { get; }
        public T[] Extra { get; }
        public T[] GEm { get; }
        public T[] GA { get; }
        public T[] GEs { get; }
        public double[] Counts { get; }
        /// <summary>Per neuron, the trial's <see cref="ReadoutDropout"/> keep factor (read only when <see cref="Dropout"/>).</summary>
        public T[] Keep { get; }
        /// <summary>Whether this trial runs with readout dropout.</summary>
        public bool Dropout { get; set; }
        public T[] RegGrad { get; }
        public int[] SpikeStart { get; }
        public List<int> Spikes { get; } = [];
        public int[] InputStart { get; }
        public List<int> InputChannels { get; } = [];
        /// <summary>Whether the trial's input is analog: the constant <see cref="Drive"/> enters I at every input bin.</summary>
        public bool Analog { get; set; }
        /// <summary>An analog trial's channels with a nonzero value, and the values (parallel lists).</summary>
        public List<int> AnalogChannels { get; } = [];
        public List<T> AnalogValues { get; } = [];
        /// <summary>An analog trial's drive J = Σ_j x_j W_j of every input connection, per global neuron (one product per trial).</summary>
        public T[] Drive { get; }
        /// <summary>Σ over the input bins of dL/dI at the iteration that reads them (an analog trial's input weight gradient is x ⊗ this).</summary>
        public T[] DriveAdjoint { get; }
        public SurrogateReadoutTrace Trace { get; }
        public double[] DV { get; }
        public double[] DI { get; }
        public double RegValue { get; set; }
        /// <summary>The batch index of the trial in the workspace (for <see cref="SurrogateEngine.AdjointTrace"/>).</summary>
        public int Sample { get; set; }
        public LossEvaluation? Evaluation { get; set; }
    }

    private Workspace Rent(Plan plan)
    {
        lock (_workspaces)
            if (_workspaces.Count > 0) return _workspaces.Pop();
        return new Workspace(plan, N, Dt, _exact);
    }

    private void Return(Workspace ws)
    {
        lock (_workspaces) _workspaces.Push(ws);
    }

    private sealed class Buffer
    {
        public T[]?[] Weights { get; private set; } = [];
        public double[] TauMem { get; private set; } = [];
        public double[] TauSyn { get; private set; } = [];
        /// <summary>Per neuron: Σ over trials and grid points 1…N of |dL/dV| (null unless asked for).</summary>
        public double[]? AbsAdjoint { get; private set; }

        public void Reset(Network network, int neurons, bool magnitudes)
        {
            if (!magnitudes) AbsAdjoint = null;
            else if (AbsAdjoint is { } abs && abs.Length == neurons) Array.Clear(abs);
            else AbsAdjoint = new double[neurons];
            var parameters = network.Parameters;
            if (Weights.Length != parameters.Count) Weights = new T[parameters.Count][];
            for (int p = 0; p < parameters.Count; p++)
            {
                if (parameters[p].Kind != ParameterKind.Weight) continue;
                int len = parameters[p].Length;
                if (Weights[p] is { } w && w.Length == len) Array.Clear(w);
                else Weights[p] = new T[len];
            }
            if (TauMem.Length != neurons)
            {
                TauMem = new double[neurons];
                TauSyn = new double[neurons];
            }
            else
            {
                Array.Clear(TauMem);
                Array.Clear(TauSyn);
            }
        }
    }
}
