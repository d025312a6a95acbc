using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Eventprop.Augment;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Training;

namespace Eventprop.Cli;

/// <summary><c>eventprop train</c>: the quick start without arguments, or a JSON config with overrides.</summary>
public static class TrainCommand
{
    /// <summary>The stepped engine on engine.device (auto: CUDA when present, else the CPU engine; the CPU engine for analog input);
    /// a missing GPU is a one-line user error.</summary>
    internal static IGradientEngine CreateSteppedEngine(RunConfig c, bool learnTau, double? duration = null)
    {
        try
        {
            // Analog input (dataset.encoding current) and learned delays run on the CPU engine only: auto picks it (validation
            // refuses a named GPU device).
            string device = (c.Dataset.IsAnalog || c.Network.HasLearnedDelays) && c.Engine.Device == "auto" ? "cpu" : c.Engine.Device;
            return Gpu.SteppedEngines.Create(device, c.Engine.Dt, duration ?? c.Engine.DurationMs,
                threads: c.Engine.Threads > 0 ? c.Engine.Threads : null, timeConstantGradients: learnTau);
        }
        catch (InvalidOperationException e)
        {
            throw new UserError(RunConfig.OneLine(e.Message));
        }
    }

    /// <summary>A prepared run: network, engine, loss, options and data.</summary>
    internal sealed record Prepared(RunConfig Config, Network Network, IGradientEngine Engine, ILoss Loss, TrainingOptions Options,
        SpikeDataset Train, SpikeDataset? Validation, SpikeDataset? Test) : IDisposable
    {
        /// <summary>The training data before the delay line (null without one): per-epoch augmentations work on it (<see cref="EpochAugmentation"/>).</summary>
        public SpikeDataset? UndelayedTrain { get; init; }

        /// <summary>The delay line applied to every set, or null.</summary>
        public DelayedInputCopies? DelayedInputCopies { get; init; }

        /// <summary>Notes for the user about the data (input spikes cropped to the trial), one line each.</summary>
        public IReadOnlyList<string> Notes { get; init; } = [];

        /// <summary>Input spikes cropped per split (only splits that lost some), for summary.json.</summary>
        public Dictionary<string, long> CroppedSpikes { get; init; } = [];

        /// <summary>Whether the engine places an input spike at this time (<see cref="SplitChecks.Window"/>).</summary>
        public Func<double, bool> KeepsSpikeAt { get; init; } = _ => true;

        /// <summary>Input spikes cropped from the per-epoch augmented training data so far (blends, shifts, delay line).</summary>
        public System.Runtime.CompilerServices.StrongBox<long> AugmentedSpikesCropped { get; } = new(0);

        /// <summary>The engine of validation, test and <c>evaluate</c> (engine.evaluation_duration_ms); <see cref="Engine"/> unless that key is set.</summary>
        public IGradientEngine? EvaluationEngine { get; init; }

        /// <summary><see cref="EvaluationEngine"/>, else <see cref="Engine"/>.</summary>
        public IGradientEngine Evaluator => EvaluationEngine ?? Engine;

        /// <summary>Releases the engines' native resources (the GPU engine's accelerator context); a no-op for the CPU engines.</summary>
        public void Dispose()
        {
            if (!ReferenceEquals(Evaluator, Engine)) (Evaluator as IDisposable)?.Dispose();
            (Engine as IDisposable)?.Dispose();
        }
    }

    /// <summary>Runs the command.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, CancellationToken stop)
    {
        var a = Arguments.Parse(args, "train", ["config", "set", "data", "out", "seed", "epochs", "resume", "cv", "device", "method", .. SlurmStudy.ValueOptions], ["quiet", "overwrite", "slurm"]);
        a.RequireAtMostPositional(0, "train");
        if (a.Value("cv") is string cv) return CrossValidation.Run(args, a, cv, output, stop);
        if (a.Flag("slurm"))
            throw new UserError("train --slurm submits a cross-validation: add --cv speaker (a sweep of runs goes to Slurm with 'eventprop study --slurm'; one run with sbatch, see docs/cluster.md).");
        if (SlurmStudy.ValueOptions.FirstOrDefault(o => a.Value(o) is not null) is string slurmOnly)
            throw new UserError($"--{slurmOnly} is a Slurm resource for 'train --cv speaker --slurm'; drop it to train here.");
        string? resume = a.Value("resume");
        if (resume is not null)
        {
            if (a.Value("config") is not null || a.Value("out") is not null || a.Value("seed") is not null)
                throw new UserError("--resume RUN_DIR continues that run with its own config.json; drop --config, --out and --seed (use --epochs for the new total).");
            if (a.Flag("overwrite")) throw new UserError("--resume continues a run and --overwrite replaces one; pass one of them.");
            RequireResumable(resume);
        }
        var overrides = new List<string>(a.Values("set"));
        if (a.Int("seed") is int seed) overrides.Add($"seed={seed}");
        if (a.Int("epochs") is int epochs) overrides.Add($"training.epochs={epochs}");
        if (a.Value("method") is string method) overrides.Add($"method={JsonSerializer.Serialize(method)}");
        if (a.Value("data") is string data) overrides.Add($"dataset.path={JsonSerializer.Serialize(data)}");
        if (a.Value("device") is string device) overrides.Add($"engine.device={JsonSerializer.Serialize(device)}");
        RunConfig config, original;
        IReadOnlyList<ResumeCheck.Change> changes = [];
        if (resume is null) original = config = RunConfig.Load(a.Value("config"), overrides);
        else
        {
            // The resumed run keeps the config its checkpoint was made with; only the keys ResumeCheck allows may differ.
            string onDiskPath = Path.Combine(resume, "config.json"), checkpointConfig = Path.Combine(resume, ResumeCheck.CheckpointConfigFileName);
            var onDisk = RunConfig.Load(onDiskPath, []);
            config = RunConfig.Load(onDiskPath, overrides);
            original = File.Exists(checkpointConfig) ? RunConfig.Load(checkpointConfig, []) : onDisk;
            changes = ResumeCheck.Compare(original, onDisk, config, resume);
        }
        bool quiet = a.Flag("quiet");
        if (config.Dataset.Kind == "randman" && a.Value("data") is not null)
            output.WriteLine("note: --data is ignored: dataset.kind randman generates its data (seeded by seed).");

        var clock = Stopwatch.StartNew();
        string runDir = resume ?? a.Value("out") ?? Path.Combine("runs", $"{config.Name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        using var directory = RunDirectory.Acquire(runDir, resume is not null ? RunDirectoryMode.Resume : a.Flag("overwrite") ? RunDirectoryMode.Overwrite : RunDirectoryMode.New,
            resume is null ? "--out" : "--resume");
        if (resume is not null) RequireResumable(resume); // again, now that this process holds the directory
        if (directory.TookOverFrom is { } previous && !quiet) output.WriteLine($"note: {previous} left '{runDir}' without releasing it (killed?); it is no longer running, so this run takes over.");
        // Thresholds first: the width tuner measures gradients around the thresholds the run will use.
        if (resume is null && config.Method == "surrogate" && config.Network.NormalizeThresholds)
            original = config = ThresholdNormalization.NormalizeBeforeTraining(config, runDir, output, quiet);
        if (resume is null && config.Method == "surrogate" && config.Surrogate.TuneWidth)
            original = config = SurrogateWidthCommands.TuneBeforeTraining(config, runDir, output, quiet);
        using var p = Prepare(config);
        var trainer = new Trainer(p.Network, p.Engine, p.Loss, p.Options) { EvaluationEngine = p.Evaluator };
        var rows = new List<Dictionary<string, object?>>();
        int startEpoch = 0;
        if (resume is not null)
        {
            trainer.LoadCheckpoint(Path.Combine(resume, "checkpoint.h5"));
            startEpoch = trainer.State.Epoch;
            if (trainer.State.Stopped)
                throw new UserError($"'{resume}' stopped early at epoch {startEpoch} (training.early_stopping_patience ran out); there is nothing to resume. Start a new run to train further.");
            if (startEpoch >= p.Options.Epochs)
                throw new UserError(startEpoch == original.Training.Epochs && a.Int("epochs") is null
                    ? $"'{resume}' has finished all its {startEpoch} epochs; pass --epochs N with N > {startEpoch} to train further."
                    : $"'{resume}' already has {startEpoch} epochs; pass --epochs N with N > {startEpoch} to train further.");
            rows.AddRange(ReadMetrics(resume).Take(startEpoch));
            foreach (var change in changes)
                output.WriteLine($"warning: {change.Key} was {change.Before} when the checkpoint was made and is {change.After} now; floating-point rounding differs, so epochs after {startEpoch} are not bit-identical to an uninterrupted run (recorded in summary.json).");
        }
        // config.json is the run's readable config; checkpoint_config.json the copy a resume compares with. A resume changes
        // only the total epochs (and the data's location) in config.json; a changed device or thread count is recorded in summary.json.
        var written = resume is null ? config : config with { Engine = config.Engine with { Device = original.Engine.Device, Threads = original.Engine.Threads } };
        WriteAtomic(Path.Combine(runDir, "config.json"), JsonSerializer.Serialize(written, RunConfig.Json));
        string checkpointConfigPath = Path.Combine(runDir, ResumeCheck.CheckpointConfigFileName);
        if (resume is null || !File.Exists(checkpointConfigPath)) WriteAtomic(checkpointConfigPath, JsonSerializer.Serialize(original, RunConfig.Json));
        foreach (string note in p.Notes) if (!quiet) output.WriteLine(note);
        if (!quiet)
        {
            string engineText = config.Method == "surrogate" ? Inv($"{config.Surrogate.Describe()} dt {config.Engine.Dt} ms")
                : config.Engine.Kind == "stepped" ? Inv($"stepped engine dt {config.Engine.Dt} ms") : "exact engine";
            engineText += config.Engine.EvaluationDuration == config.Engine.DurationMs ? Inv($", T {config.Engine.DurationMs} ms")
                : Inv($", T {config.Engine.DurationMs} ms in training, {config.Engine.EvaluationDuration} ms in evaluation");
            string shape = Inv($"{p.Network.Input.Size} → {config.Network.DescribeHidden()} → {p.Network.Readout.Size}");
            output.WriteLine(Inv($"{config.Name}: {p.Train.Count} training, {p.Validation?.Count ?? 0} validation, {p.Test?.Count ?? 0} test trials; {shape}; {engineText}; loss {config.Loss}"));
            if (resume is not null) output.WriteLine($"resuming after epoch {startEpoch} of {p.Options.Epochs}");
            output.WriteLine("epoch   loss   train    valid    test   spikes/neuron      lr     s");
        }
        var checkpoints = new CheckpointCallback(runDir);
        var metricsHook = new EpochMetricsCallback(m =>
        {
            double? testAccuracy = p.Test is null ? null : trainer.Evaluate(p.Test).Accuracy;
            double spikes = m.MeanHiddenSpikes.Count == 0 ? 0 : m.MeanHiddenSpikes.Values.Average();
            rows.Add(new Dictionary<string, object?>
            {
                ["epoch"] = m.Epoch, ["loss"] = m.TrainingLoss, ["train_accuracy"] = m.TrainingAccuracy,
                ["validation_loss"] = m.ValidationLoss, ["validation_accuracy"] = m.ValidationAccuracy, ["test_accuracy"] = testAccuracy,
                ["spikes_per_hidden_neuron"] = spikes, ["silent_neurons"] = m.SilentNeurons, ["learning_rate"] = m.LearningRate, ["seconds"] = m.Seconds,
            });
            WriteMetrics(runDir, rows);
            if (!quiet)
                output.WriteLine(Inv($"{m.Epoch,5} {m.TrainingLoss,7:F4} {Pct(m.TrainingAccuracy)} {Pct(m.ValidationAccuracy)} {Pct(testAccuracy)} {spikes,12:F2} {m.LearningRate,11:G3} {m.Seconds,6:F1}"));
        });
        // Progress with ETA on standard error, unless --quiet: a bar fitted to the terminal, or plain lines when standard
        // error is redirected (logs).
        var bar = quiet ? null : new ProgressBar(Console.Error, p.Options.Epochs, width: TerminalWidth(), plain: Console.IsErrorRedirected);
        ITrainingCallback[] hooks = bar is null ? [metricsHook, checkpoints] : [bar, metricsHook, checkpoints];
        bool interrupted = false;
        while (trainer.State.Epoch < p.Options.Epochs && !trainer.State.Stopped)
        {
            if (stop.IsCancellationRequested) { interrupted = true; break; }
            IReadOnlyList<SpikeSample> epochData = EpochAugmentation.TrainingData(p, trainer.State.Epoch);
            trainer.TrainEpoch(epochData, p.Validation, hooks);
        }
        bar?.Clear();
        if (interrupted && trainer.History.Count > 0) trainer.SaveCheckpoint(checkpoints.LatestPath);
        // With early stopping the final model is the best epoch's, whether or not the patience ran out (the paper's best-epoch selection).
        if (!interrupted && p.Options.EarlyStopping is { RestoreBest: true } && trainer.BestParameters is { } best)
            for (int i = 0; i < best.Count; i++) best[i].Values.CopyTo(p.Network.Parameters[i].Values, 0);

        var testResult = p.Test is null ? ((double Loss, double Accuracy)?)null : trainer.Evaluate(p.Test);
        // The final parameters (the best epoch's, when early stopping restored them) in the hand-readable model format.
        ModelFiles.WriteModel(Path.Combine(runDir, "model.json"), p.Network, config.Engine.DurationMs);
        string? plotProblem = WritePlots(runDir, p, rows);
        if (plotProblem is not null) output.WriteLine($"warning: plots not written ({plotProblem}); metrics and checkpoint are unaffected.");
        var last = trainer.History.Count > 0 ? trainer.History[^1] : null;
        var summary = new Dictionary<string, object?>
        {
            ["name"] = config.Name, ["epochs"] = trainer.State.Epoch, ["interrupted"] = interrupted, ["early_stopped"] = trainer.State.Stopped,
            ["best_epoch"] = p.Options.EarlyStopping is null ? null : trainer.State.BestEpoch, ["final_train_accuracy"] = last?.TrainingAccuracy, ["final_validation_accuracy"] = last?.ValidationAccuracy,
            ["test_loss"] = testResult?.Loss, ["test_accuracy"] = testResult?.Accuracy, ["chance_accuracy"] = 1.0 / p.Network.Readout.Size,
            ["seconds"] = clock.Elapsed.TotalSeconds, ["checkpoint"] = "checkpoint.h5", ["model"] = "model.json",
        };
        var cropped = new Dictionary<string, long>(p.CroppedSpikes, StringComparer.Ordinal);
        if (p.AugmentedSpikesCropped.Value > 0) cropped["augmented training data (all epochs of this process)"] = p.AugmentedSpikesCropped.Value;
        if (cropped.Count > 0) summary["cropped_input_spikes"] = cropped;
        if (ResumeCheck.History(runDir, resume is not null, startEpoch, changes) is { Count: > 0 } resumes) summary["resumes"] = resumes;
        WriteAtomic(Path.Combine(runDir, "summary.json"), JsonSerializer.Serialize(summary, RunConfig.Json));
        string acc = testResult is { } t ? Inv($"test accuracy {100 * t.Accuracy:F1} % (chance {100.0 / p.Network.Readout.Size:F1} %)") : "no test set";
        string resumed = resume is null ? "" : Inv($" ({trainer.State.Epoch - startEpoch} after resuming at epoch {startEpoch})");
        output.WriteLine(Inv($"{(interrupted ? "interrupted after" : "done:")} {trainer.State.Epoch} epochs{resumed} in {clock.Elapsed.TotalSeconds:F1} s, {acc}; results in {Path.GetFullPath(runDir)}"));
        return interrupted ? ExitCodes.Interrupted : ExitCodes.Success;
    }

    /// <summary>Builds data, network, engine, loss and options from a config.</summary>
    internal static Prepared Prepare(RunConfig c)
    {
        var (train, validation, test) = LoadData(c);
        // Input spikes the engine cannot place (at or after T, or rounding to the last grid point) are cropped here, with a note per split.
        var (keeps, window) = SplitChecks.Window(c);
        var notes = new List<string>();
        var cropped = new Dictionary<string, long>(StringComparer.Ordinal);
        SpikeDataset? CropSplit(SpikeDataset? set, string split)
        {
            if (set is null) return null;
            var (result, n) = SplitChecks.Crop(set, keeps);
            if (n > 0)
            {
                cropped[split] = n;
                notes.Add(SplitChecks.Note(split, n, set.SpikeCount, window));
            }
            return result;
        }
        if (validation is { Count: 0 })
        {
            notes.Add(Inv($"note: dataset.validation_fraction {c.Dataset.ValidationFraction} holds out no trials of this training set; the run has no validation set."));
            validation = null;
        }
        train = CropSplit(train, "training set")!;
        validation = CropSplit(validation, "validation set");
        test = CropSplit(test, "test set");
        var undelayedTrain = train;
        DelayedInputCopies? line = null;
        if (c.Augment.DelayLineCopies > 0)
        {
            line = new DelayedInputCopies(c.Engine.DurationMs, c.Augment.DelayLineCopies, c.Augment.DelayLineMs, train.ChannelCount);
            var rnd = new Random(c.Seed);
            train = CropSplit(line.ApplyToAll(train, rnd), "training set's delay-line copies")!;
            validation = CropSplit(validation is null ? null : line.ApplyToAll(validation, rnd), "validation set's delay-line copies");
            test = CropSplit(test is null ? null : line.ApplyToAll(test, rnd), "test set's delay-line copies");
        }
        var loss = c.Loss == "first_spike" ? Losses.Loss.FirstSpike(c.FirstSpike.Tau0, c.FirstSpike.Tau1, c.FirstSpike.Alpha) : Losses.Loss.FromName(c.Loss);
        var network = c.Network.Build(c.Seed, train.ChannelCount, train.ClassCount, spikingReadout: loss.Readout == ReadoutKind.Spiking);
        var t = c.Training;
        var options = new TrainingOptions
        {
            Epochs = t.Epochs, BatchSize = t.BatchSize, LearningRate = t.LearningRate, Seed = c.Seed, EaseIn = t.EaseIn ?? !t.IsOneCycle,
            HalvingSchedule = t.HalvingSchedule ?? !t.IsOneCycle, WeightDecay = t.DecoupledWeightDecay, OneCycle = t.OneCycleSchedule(), HalvingMinimumEpochs = t.HalvingMinimumEpochs, LearnTauMem = t.LearnTauMem, LearnTauSyn = t.LearnTauSyn,
            HeterogeneousTauInit = t.HeterogeneousTau, InputDropout = t.InputDropout, ReadoutDropout = t.ReadoutDropout, BatchNormMomentum = t.BatchNormMomentum,
            Regularization = t.RegularizationStrength > 0 ? new ActivityRegularization(t.RegularizationStrength, t.RegularizationTarget) : null,
            EarlyStopping = t.EarlyStoppingPatience > 0 ? new EarlyStopping(Metric(t.EarlyStoppingMetric, "early_stopping_metric") ?? (validation is null ? TrainingMetric.TrainingAccuracy : TrainingMetric.ValidationAccuracy), t.EarlyStoppingPatience, RestoreBest: true) : null,
            ScheduleMetric = Metric(t.ScheduleMetric, "schedule_metric"),
            MaxDelay = t.MaxDelayMs ?? double.PositiveInfinity, DelayLearningRateScale = t.DelayLearningRateScale,
        };
        if (validation is null && (options.EarlyStopping?.Metric is TrainingMetric.ValidationAccuracy or TrainingMetric.ValidationLoss
                                   || options.ScheduleMetric is TrainingMetric.ValidationAccuracy or TrainingMetric.ValidationLoss))
            throw new UserError("training.early_stopping_metric / schedule_metric watch the validation set, but this run has none; set dataset.validation_fraction > 0 or watch a training metric.");
        try { options.Validate(); }
        catch (ArgumentException e) { throw new UserError($"Config training section: {RunConfig.OneLine(e.Message)}"); }
        // Created last, so that nothing above can fail after the GPU engine took its accelerator context.
        bool learnTau = c.Training.LearnTauMem || c.Training.LearnTauSyn;
        IGradientEngine? evaluationEngine = null;
        if (c.Engine.EvaluationDuration != c.Engine.DurationMs)
        {
            // engine.evaluation_duration_ms: validation, test and evaluate run trials of another length (seed 004: 10 steps, 20)
            try { evaluationEngine = CreateEngine(c, learnTau, c.Engine.EvaluationDuration); }
            catch (ArgumentOutOfRangeException e) { throw new UserError($"engine.evaluation_duration_ms: {Program.UserMessage(e)}"); }
        }
        IGradientEngine engine;
        try { engine = CreateEngine(c, learnTau, c.Engine.DurationMs); }
        catch { (evaluationEngine as IDisposable)?.Dispose(); throw; }
        return new Prepared(c, network, engine, loss, options, train, validation, test)
        {
            EvaluationEngine = evaluationEngine,
            UndelayedTrain = line is null ? null : undelayedTrain, DelayedInputCopies = line, Notes = notes, CroppedSpikes = cropped, KeepsSpikeAt = keeps,
        };
    }

    /// <summary>The configured engine for trials of <paramref name="duration"/> ms (method surrogate, exact, or stepped on engine.device).</summary>
    private static IGradientEngine CreateEngine(RunConfig c, bool learnTau, double duration) => c.Method == "surrogate"
        ? new Core.Simulation.Surrogate.SurrogateEngine(c.Engine.Dt, duration, c.Surrogate.ToOptions(c.Engine.Threads > 0 ? c.Engine.Threads : null), timeConstantGradients: learnTau)
        : c.Engine.Kind == "exact"
        ? new ExactEngine(duration)
        : CreateSteppedEngine(c, learnTau, duration);

    private static TrainingMetric? Metric(string? name, string key) => name switch
    {
        null => null,
        "training_accuracy" => TrainingMetric.TrainingAccuracy,
        "training_loss" => TrainingMetric.TrainingLoss,
        "validation_accuracy" => TrainingMetric.ValidationAccuracy,
        "validation_loss" => TrainingMetric.ValidationLoss,
        _ => throw new UserError($"training.{key}: unknown metric '{name}'."),
    };

    /// <summary>
    /// Writes the run's figures: learning curves, and a raster of the first test (else training) trial with the readout
    /// voltages, simulated on the CPU (exact or stepped engine, as configured). Returns why it failed, or null.
    /// </summary>
    internal static string? WritePlots(string runDir, Prepared p, IReadOnlyList<Dictionary<string, object?>> rows)
    {
        try
        {
            Plots.LearningCurves(runDir, rows, p.Config.Name);
            if (p.Network.Delayed.Count > 0)
            {
                // The initial delays are the config's draws from the seed: rebuild them rather than keep a copy.
                var initial = p.Config.Network.Build(p.Config.Seed, p.Network.Input.Size, p.Network.Readout.Size, p.Network.Readout.IsSpiking);
                Plots.DelayDistributions(runDir, "delays", initial, p.Network, $"{p.Config.Name}: learned delays before and after training");
            }
            var data = p.Test is { Count: > 0 } ? p.Test : p.Train;
            if (data.Count == 0) return null;
            var sample = data[0];
            // The raster's CPU simulators (exact, stepped) take input spikes; an analog input has none to draw.
            if (sample.IsAnalog) return null;
            string title = Inv($"{p.Config.Name}: {(ReferenceEquals(data, p.Test) ? "test" : "training")} trial 0 (label {sample.Label})");
            if (p.Config.Engine.Kind == "exact")
            {
                var trial = new ExactEngine(p.Config.Engine.DurationMs).Simulate(p.Network, sample);
                Plots.TrialRaster(runDir, "trial_raster", p.Network, sample, (pop, n) => trial.SpikeTimes(pop, n).ToArray(), trial.Readout, title);
            }
            else
            {
                var sim = new SteppedEngine(p.Config.Engine.Dt, p.Config.Engine.DurationMs, threads: 1).Simulate(p.Network, sample);
                Plots.TrialRaster(runDir, "trial_raster", p.Network, sample, (pop, n) => sim.SpikeTimes(pop, n).ToArray(), sim.Readout, title);
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or TypeInitializationException or DllNotFoundException)
        {
            return Plots.Problem(e);
        }
    }

    internal static (SpikeDataset Train, SpikeDataset? Validation, SpikeDataset? Test) LoadData(RunConfig c)
    {
        var d = c.Dataset;
        SpikeDataset train, test;
        SpikeDataset? validation = null;
        string trainName, testName, validationName = "";
        switch (d.Kind)
        {
            case "randman":
                var all = Randman.Generate(new RandmanOptions
                {
                    ClassCount = d.Classes, UnitCount = d.Units, SamplesPerClass = d.SamplesPerClass, ManifoldDimension = d.ManifoldDimension,
                    Alpha = d.Alpha, DurationMs = d.DurationMs, Seed = c.Seed,
                });
                var split = DatasetSplits.Stratified(all, d.TestFraction, c.Seed);
                (train, test) = (split.Train, split.Validation);
                (trainName, testName) = ("the randman training split", "the randman test split (dataset.test_fraction)");
                break;
            case "shd":
                train = HeidelbergSpikeFile.Read(trainName = DataFile(d, "shd_train.h5"));
                test = HeidelbergSpikeFile.Read(testName = DataFile(d, "shd_test.h5"));
                break;
            case "fsdd": // the spiking FSDD: SHD layout, official split (recording indices 0-4 test, 5-49 train)
                train = HeidelbergSpikeFile.Read(trainName = DataFile(d, "fsdd_train.h5"));
                test = HeidelbergSpikeFile.Read(testName = DataFile(d, "fsdd_test.h5"));
                break;
            case "ssc":
                train = HeidelbergSpikeFile.Read(trainName = DataFile(d, "ssc_train.h5"));
                validation = HeidelbergSpikeFile.Read(validationName = DataFile(d, "ssc_valid.h5"));
                test = HeidelbergSpikeFile.Read(testName = DataFile(d, "ssc_test.h5"));
                break;
            default: // mnist, latency_mnist: the IDX files, latency-coded or (dataset.encoding current) analog
                Func<string, string, SpikeDataset> mnist = d.IsAnalog ? MnistCurrent.Load : (images, labels) => MnistLatency.Load(images, labels);
                trainName = DataFile(d, "train-images-idx3-ubyte");
                train = mnist(trainName, DataFile(d, "train-labels-idx1-ubyte"));
                testName = DataFile(d, "t10k-images-idx3-ubyte");
                test = mnist(testName, DataFile(d, "t10k-labels-idx1-ubyte"));
                break;
        }
        // Every split is checked now, naming its file, rather than when an epoch first meets it.
        SplitChecks.Check(new(trainName, train), new SplitChecks.Split(testName, test), validation is null ? null : new SplitChecks.Split(validationName, validation));
        if (d.MaxTrain > 0 && train.Count > d.MaxTrain) train = train.Subset(Enumerable.Range(0, d.MaxTrain));
        if (d.HoldOutSpeaker is int speaker) return CrossValidation.Fold(train, speaker, d.Kind);
        if (validation is null && d.ValidationFraction > 0)
        {
            var split = DatasetSplits.Stratified(train, d.ValidationFraction, c.Seed + 1);
            (train, validation) = (split.Train, split.Validation);
            SplitChecks.Check(new($"{trainName} less its validation part", train)); // an empty validation part: Prepare notes it and runs without
        }
        return (train, validation, test);
    }

    private static string DataFile(DatasetConfig d, string name)
    {
        bool mnist = d.IsMnist;
        if (d.Path is null)
            throw new UserError(mnist
                ? $"dataset '{d.Kind}' needs the MNIST IDX files (train-images-idx3-ubyte etc., plain or .gz): pass --data DIR."
                : $"dataset '{d.Kind}' needs its files: pass --data DIR (get SHD/SSC with 'eventprop data download --to DIR'; make the FSDD files with 'eventprop data encode-audio', see docs/speech.md).");
        string path = Path.Combine(d.Path, name);
        if (mnist && !File.Exists(path) && File.Exists(path + ".gz")) return path + ".gz"; // the reader decompresses gzip
        if (!File.Exists(path))
            throw new UserError(d.Kind switch
            {
                "shd" or "ssc" => $"Missing data file '{path}'; run 'eventprop data download --to {d.Path}{(d.Kind == "ssc" ? " --which ssc" : "")}' first.",
                "fsdd" => $"Missing data file '{path}'; encode the FSDD recordings into it with 'eventprop data encode-audio' (the commands are in docs/speech.md).",
                _ => $"Missing data file '{path}' (or '{name}.gz'); put the MNIST IDX files in {d.Path}.",
            });
        return path;
    }

    /// <summary>Fails with one line unless <paramref name="dir"/> is a run directory with a checkpoint to continue from.</summary>
    private static void RequireResumable(string dir)
    {
        if (!Directory.Exists(dir)) throw new UserError($"--resume '{dir}': no such directory; pass the run directory that 'train' wrote.");
        if (!File.Exists(Path.Combine(dir, "config.json")))
            throw new UserError($"--resume '{dir}' is not a run directory (no config.json); pass the directory that 'train' wrote.");
        if (!File.Exists(Path.Combine(dir, "checkpoint.h5")))
            throw new UserError($"--resume '{dir}': no epoch finished before that run stopped, so there is no checkpoint to resume; start it again with 'eventprop train --config {Path.Combine(dir, "config.json")} --out {dir} --overwrite'.");
    }

    private static IEnumerable<Dictionary<string, object?>> ReadMetrics(string runDir)
    {
        string path = Path.Combine(runDir, "metrics.json");
        if (!File.Exists(path)) return [];
        var rows = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path)) as System.Text.Json.Nodes.JsonArray
            ?? throw new UserError($"'{path}' is not a metrics list; remove it to resume without the earlier rows.");
        return rows.OfType<System.Text.Json.Nodes.JsonObject>().Select(r => r.ToDictionary(kv => kv.Key, kv => kv.Value is null ? null : (object?)kv.Value.GetValue<System.Text.Json.JsonElement>()));
    }

    private static void WriteMetrics(string runDir, List<Dictionary<string, object?>> rows)
    {
        WriteAtomic(Path.Combine(runDir, "metrics.json"), JsonSerializer.Serialize(rows, RunConfig.Json));
        var csv = new StringBuilder();
        var keys = rows[0].Keys.ToArray();
        csv.AppendLine(string.Join(',', keys));
        foreach (var r in rows)
            csv.AppendLine(string.Join(',', keys.Select(k => r[k] switch
            {
                null => "",
                double x => x.ToString("R", CultureInfo.InvariantCulture),
                JsonElement { ValueKind: JsonValueKind.Null } => "",
                JsonElement e => e.GetRawText(),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                var o => o.ToString(),
            })));
        WriteAtomic(Path.Combine(runDir, "metrics.csv"), csv.ToString());
    }

    private static int TerminalWidth()
    {
        try { return Console.IsErrorRedirected || Console.WindowWidth <= 0 ? 120 : Console.WindowWidth; }
        catch (IOException) { return 120; }
    }

    internal static void WriteAtomic(string path, string text)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }

    private static string Pct(double? x) => x is double v ? Inv($"{100 * v,6:F1} %") : "     – ";

    internal static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
