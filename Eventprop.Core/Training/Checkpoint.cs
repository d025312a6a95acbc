using System.Globalization;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using PureHDF;
using PureHDF.VOL.Native;

namespace Eventprop.Core.Training;

/// <summary>
/// The HDF5 checkpoint of a training run (layout in docs/checkpoint.md): parameters, Adam moments and step, counters,
/// schedule, early-stopping state, the random state and a description of the network to check against on load.
/// Written to a temporary file beside the target and renamed over it, so a killed run never leaves a torn checkpoint.
/// </summary>
internal static class Checkpoint
{
    public const string Format = "eventprop-checkpoint";
    /// <summary>
    /// The version written. 2 adds each sparse connection's mask (<c>network/masks/&lt;connection&gt;/row_starts, targets</c>)
    /// and names non-standard neuron models in <c>network/populations</c>; version 1 (wave 1: LIF, dense) still reads.
    /// </summary>
    public const int Version = 2;

    /// <summary>The versions read.</summary>
    public static readonly int[] ReadableVersions = [1, 2];

    public sealed record Data(ParameterSet Parameters, long AdamStep, ParameterSet? FirstMoment, ParameterSet? SecondMoment, TrainingState State, ParameterSet? BestParameters);

    public static void Write(string path, Trainer trainer)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (dir is not null) Directory.CreateDirectory(dir);
        var net = trainer.Network;
        var s = trainer.State;
        var file = new H5File
        {
            ["format"] = new[] { Format },
            ["version"] = new[] { Version },
            ["network"] = new H5Group
            {
                ["populations"] = net.Populations.Select(Describe).ToArray(),
                ["connections"] = net.Connections.Select(c => c.Name).ToArray(),
            },
            ["parameters"] = Group(net.Parameters),
            ["adam"] = AdamGroup(trainer.Optimizer),
            ["training"] = new H5Group
            {
                ["epoch"] = new long[] { s.Epoch },
                ["step"] = new long[] { s.Step },
                ["learning_rate"] = new[] { s.LearningRate },
                ["target_learning_rate"] = new[] { s.TargetLearningRate },
                ["ema_fast"] = new[] { s.EmaFast },
                ["ema_slow"] = new[] { s.EmaSlow },
                ["last_halving_epoch"] = new long[] { s.LastHalvingEpoch },
                ["best_metric"] = new[] { s.BestMetric },
                ["best_epoch"] = new long[] { s.BestEpoch },
                ["epochs_without_improvement"] = new long[] { s.EpochsWithoutImprovement },
                ["stopped"] = new long[] { s.Stopped ? 1 : 0 },
                ["random_state"] = (ulong[])s.RandomState.Clone(),
                ["seed"] = new[] { trainer.Options.Seed },
                ["batch_size"] = new long[] { trainer.Options.BatchSize },
            },
        };
        if (trainer.BestParameters is not null) file["best_parameters"] = Group(trainer.BestParameters);
        var masks = new H5Group();
        foreach (var c in net.Connections)
            if (c.Connectivity is SparseConnectivity sparse)
                masks[c.Name] = new H5Group { ["row_starts"] = sparse.RowStarts.ToArray(), ["targets"] = sparse.Targets.ToArray() };
        if (masks.Count > 0) ((H5Group)file["network"])["masks"] = masks;
        var convolutions = new H5Group();
        foreach (var c in net.Connections)
            if (c.Connectivity is Conv2dConnectivity conv) convolutions[c.Name] = ConvGeometry(conv);
        if (convolutions.Count > 0) ((H5Group)file["network"])["convolutions"] = convolutions;

        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            file.Write(temp);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    public static Data Read(string path, Network network)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string name = Path.GetFileName(path);
        if (!File.Exists(path))
            throw new InvalidDataException($"{name}: checkpoint not found at '{Path.GetFullPath(path)}'.");
        NativeFile file;
        try
        {
            file = H5File.OpenRead(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{name}: not a readable HDF5 file ({ErrorText.OneLine(e.Message)}); the checkpoint is corrupt or not a checkpoint.", e);
        }
        using (file)
        {
            try
            {
                return ReadOpened(file, name, network);
            }
            catch (InvalidDataException)
            {
                throw;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new InvalidDataException($"{name}: could not read the checkpoint ({ErrorText.OneLine(e.Message)}); the file may be truncated or damaged.", e);
            }
        }
    }

    private static Data ReadOpened(NativeFile file, string name, Network network)
    {
        if (!file.LinkExists("format") || file.Dataset("format").Read<string[]>() is not [Format])
            throw new InvalidDataException($"{name}: not an Eventprop checkpoint (no 'format' = '{Format}').");
        int version = file.Dataset("version").Read<int[]>()[0];
        if (!ReadableVersions.Contains(version))
            throw new InvalidDataException($"{name}: checkpoint version {version} is not supported (this library reads versions {string.Join(" and ", ReadableVersions)}).");
        var pops = file.Dataset("network/populations").Read<string[]>();
        var expected = network.Populations.Select(Describe).ToArray();
        if (!pops.SequenceEqual(expected))
            throw new InvalidDataException($"{name}: the checkpoint is of another network (populations {string.Join(", ", pops)}; this network has {string.Join(", ", expected)}).");
        var conns = file.Dataset("network/connections").Read<string[]>();
        var expectedConns = network.Connections.Select(c => c.Name).ToArray();
        if (!conns.SequenceEqual(expectedConns))
            throw new InvalidDataException($"{name}: the checkpoint is of another network (connections {string.Join(", ", conns)}; this network has {string.Join(", ", expectedConns)}).");
        foreach (var c in network.Connections)
        {
            bool storedConv = file.LinkExists("network/convolutions") && file.Group("network/convolutions").LinkExists(c.Name);
            if (c.Connectivity is Conv2dConnectivity conv)
            {
                if (!storedConv || !file.Dataset("network/convolutions/" + c.Name).Read<int[]>().AsSpan().SequenceEqual(ConvGeometry(conv)))
                    throw new InvalidDataException($"{name}: connection {c.Name} is the convolution {conv.Geometry} in this network but {(storedConv ? "another convolution" : "not a convolution")} in the checkpoint.");
                continue;
            }
            if (storedConv) throw new InvalidDataException($"{name}: connection {c.Name} is a convolution in the checkpoint but {c.Connectivity.Name} in this network.");
            string key = "network/masks/" + c.Name;
            bool stored = file.LinkExists("network/masks") && file.Group("network/masks").LinkExists(c.Name);
            if (c.Connectivity is not SparseConnectivity sparse)
            {
                if (stored) throw new InvalidDataException($"{name}: connection {c.Name} is sparse in the checkpoint but dense in this network.");
                continue;
            }
            if (!stored) throw new InvalidDataException($"{name}: connection {c.Name} is sparse but the checkpoint has no mask for it (it was made for a dense connection).");
            var rowStarts = file.Dataset(key + "/row_starts").Read<int[]>();
            var targets = file.Dataset(key + "/targets").Read<int[]>();
            if (!rowStarts.AsSpan().SequenceEqual(sparse.RowStarts) || !targets.AsSpan().SequenceEqual(sparse.Targets))
                throw new InvalidDataException($"{name}: the sparse mask of connection {c.Name} differs from this network's; the checkpoint belongs to another mask (masks are stored, never regenerated).");
        }

        var parameters = ReadGroup(file, name, "parameters", network.Parameters);
        long adamStep = file.Dataset("adam/step").Read<long[]>()[0];
        ParameterSet? m = null, v = null;
        if (adamStep > 0)
        {
            m = ReadGroup(file, name, "adam/first_moment", network.Parameters);
            v = ReadGroup(file, name, "adam/second_moment", network.Parameters);
        }
        var state = new TrainingState
        {
            Epoch = (int)Long("epoch"),
            Step = Long("step"),
            LearningRate = Double("learning_rate"),
            TargetLearningRate = Double("target_learning_rate"),
            EmaFast = Double("ema_fast"),
            EmaSlow = Double("ema_slow"),
            LastHalvingEpoch = (int)Long("last_halving_epoch"),
            BestMetric = Double("best_metric"),
            BestEpoch = (int)Long("best_epoch"),
            EpochsWithoutImprovement = (int)Long("epochs_without_improvement"),
            Stopped = Long("stopped") != 0,
            RandomState = file.Dataset("training/random_state").Read<ulong[]>(),
        };
        if (state.RandomState.Length != 4 || state.RandomState.All(x => x == 0))
            throw new InvalidDataException($"{name}: 'training/random_state' must hold 4 words, not all zero.");
        if (!(state.LearningRate > 0) || !(state.TargetLearningRate > 0) || state.Epoch < 0 || state.Step < 0)
            throw new InvalidDataException($"{name}: the training counters or learning rates are invalid (epoch {state.Epoch}, step {state.Step}, learning rate {state.LearningRate}).");
        var best = file.LinkExists("best_parameters") ? ReadGroup(file, name, "best_parameters", network.Parameters) : null;
        return new Data(parameters, adamStep, m, v, state, best);

        long Long(string key) => file.Dataset("training/" + key).Read<long[]>()[0];
        double Double(string key) => file.Dataset("training/" + key).Read<double[]>()[0];
    }

    // Wave-1 populations (standard LIF, LI) are described as version 1 did, so its checkpoints still match; other models add
    // their name and constants.
    private static string Describe(Population p) =>
        string.Create(CultureInfo.InvariantCulture, $"{p.Name}|{p.Kind}|{p.Size}|{(p.IsSpiking ? "spiking" : "non-spiking")}")
        + (p.Model is { IsStandardLif: false } model ? "|" + model : "");

    private static H5Group Group(ParameterSet set)
    {
        var g = new H5Group();
        foreach (var p in set) g[p.Name] = (double[])p.Values.Clone();
        return g;
    }

    private static H5Group AdamGroup(Adam adam)
    {
        var g = new H5Group { ["step"] = new[] { adam.Step } };
        if (adam.FirstMoment is not null && adam.SecondMoment is not null)
        {
            g["first_moment"] = Group(adam.FirstMoment);
            g["second_moment"] = Group(adam.SecondMoment);
        }
        return g;
    }

    private static ParameterSet ReadGroup(NativeFile file, string name, string group, ParameterSet layout)
    {
        var set = layout.ZerosLike();
        foreach (var p in set)
        {
            string path = group + "/" + p.Name;
            if (!file.LinkExists(path))
                throw new InvalidDataException($"{name}: '{path}' is missing; the checkpoint is incomplete or of another network.");
            var values = file.Dataset(path).Read<double[]>();
            if (values.Length != p.Length)
                throw new InvalidDataException($"{name}: '{path}' has {values.Length} values but the network needs {p.Length}.");
            Array.Copy(values, p.Values, p.Length);
        }
        // A parameter the network lacks would be dropped silently (e.g. learned delays or batch norm of another config).
        if (file.Group(group).Children().Select(c => c.Name).FirstOrDefault(n => !set.Contains(n)) is { } extra)
            throw new InvalidDataException($"{name}: '{group}/{extra}' is in the checkpoint but this network has no such parameter; the checkpoint is of another network (load it with the config it was made with).");
        return set;
    }

    /// <summary>A convolution's geometry as the checkpoint stores it: in channels, height, width, pool, out channels, kernel height, width, stride, padding.</summary>
    private static int[] ConvGeometry(Conv2dConnectivity conv)
    {
        var g = conv.Geometry;
        return [g.InChannels, g.InHeight, g.InWidth, g.Pool, g.OutChannels, g.KernelHeight, g.KernelWidth, g.Stride, g.Padding];
    }
}
