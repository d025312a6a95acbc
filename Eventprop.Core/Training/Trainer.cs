using System.Diagnostics;
using Eventprop.Core.Data;
using Eventprop.Core.Losses;
using Eventprop.Core.Model;
using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Surrogate;

namespace Eventprop.Core.Training;

/// <summary>
/// Trains a network with any <see cref="IGradientEngine"/> (exact, time-stepped, GPU): shuffled minibatches, Adam with
/// learning-rate ease-in and the two-EMA halving schedule, silent-neuron rescue, optional τ learning with clipping,
/// heterogeneous τ initialisation, input dropout, activity regularisation, early stopping, callbacks and checkpoints.
/// </summary>
/// <remarks>
/// <para>Deterministic: every random choice comes from one <see cref="TrainingRandom"/> seeded by
/// <see cref="TrainingOptions.Seed"/>, so the same seed, data and engine settings give bit-identical parameters. The
/// whole state can be saved with <see cref="SaveCheckpoint"/> and restored with <see cref="LoadCheckpoint"/>; a resumed
/// run continues exactly as the uninterrupted one would have.</para>
/// <para>The trainer changes the network's parameters in place.</para>
/// </remarks>
/// <example>
/// <code>
/// var trainer = new Trainer(net, new SteppedEngine(dt: 1, duration: 1000), Loss.Sum(), new TrainingOptions { LearningRate = 2e-3, Epochs = 100 });
/// var result = trainer.Fit(train, validation, [new CheckpointCallback("runs/shd")]);
/// </code>
/// </example>
public sealed class Trainer
{
    private readonly TrainingRandom _random;
    private readonly List<EpochMetrics> _history = [];
    private bool _stopRequested;

    /// <summary>Creates a trainer; with <see cref="TrainingOptions.HeterogeneousTauInit"/> the hidden τ's are redrawn here.</summary>
    /// <exception cref="ArgumentException">A setting is invalid, or the engine's and the loss's readout do not fit the network.</exception>
    public Trainer(Network network, IGradientEngine engine, ILoss loss, TrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(loss);
        Options = options ?? new TrainingOptions();
        Options.Validate();
        network.Validate();
        if (Options.ReadoutDropout > 0 && engine is not IReadoutDropoutEngine)
            throw new ArgumentException("Readout dropout (training.readout_dropout) needs the surrogate-gradient engine; this engine does not thin the spikes into the readout. Set it to 0 or train with the surrogate engine.", nameof(options));
        Network = network;
        Engine = engine;
        Loss = loss;
        Optimizer = new Adam(Options.Beta1, Options.Beta2, Options.Epsilon);
        _random = new TrainingRandom(Options.Seed);
        State = new TrainingState
        {
            TargetLearningRate = Options.LearningRate,
            LearningRate = Options.OneCycle is { } cycle ? Options.LearningRate / cycle.DivFactor
                : Options.EaseIn ? Options.LearningRate * Options.EaseInStartFactor : Options.LearningRate,
        };
        if (Options.HeterogeneousTauInit) InitialiseHeterogeneousTaus();
        State.RandomState = _random.State;
    }

    /// <summary>The network being trained (its parameters change in place).</summary>
    public Network Network { get; }

    /// <summary>The engine computing gradients.</summary>
    public IGradientEngine Engine { get; }

    /// <summary>
    /// The engine of <see cref="Evaluate"/> (validation and test); null (the default): <see cref="Engine"/>. Set it to evaluate
    /// trials of another length than training's — seed 004 trains analog-input networks at 10 time steps and evaluates them
    /// at 20 (<c>engine.evaluation_duration_ms</c>). It must take the same network, loss and samples.
    /// </summary>
    public IGradientEngine? EvaluationEngine { get; init; }

    /// <summary>The loss.</summary>
    public ILoss Loss { get; }

    /// <summary>The settings.</summary>
    public TrainingOptions Options { get; }

    /// <summary>The Adam optimiser and its moments.</summary>
    public Adam Optimizer { get; }

    /// <summary>Counters, schedule and random state.</summary>
    public TrainingState State { get; }

    /// <summary>Parameters of the best epoch so far, kept when early stopping restores the best (else null).</summary>
    public ParameterSet? BestParameters { get; private set; }

    /// <summary>Metrics of the epochs run by this trainer instance.</summary>
    public IReadOnlyList<EpochMetrics> History => _history;

    /// <summary>Asks a running <see cref="Fit"/> to stop after the current epoch.</summary>
    public void RequestStop() => _stopRequested = true;

    /// <summary>
    /// Trains until <see cref="TrainingOptions.Epochs"/> epochs are done (counting those before a resume), early stopping
    /// fires, <see cref="RequestStop"/> is called or <paramref name="cancellation"/> is cancelled (checked between minibatches).
    /// </summary>
    /// <param name="training">Training trials.</param>
    /// <param name="validation">Optional validation trials (evaluated after every epoch, never trained on).</param>
    /// <param name="callbacks">Progress, metrics and checkpoint hooks.</param>
    /// <param name="cancellation">Stops between minibatches; the epoch in progress is abandoned.</param>
    /// <returns>The metrics of the epochs run.</returns>
    public IReadOnlyList<EpochMetrics> Fit(IReadOnlyList<SpikeSample> training, IReadOnlyList<SpikeSample>? validation = null,
        IEnumerable<ITrainingCallback>? callbacks = null, CancellationToken cancellation = default)
    {
        var hooks = callbacks?.ToArray() ?? [];
        var run = new List<EpochMetrics>();
        _stopRequested = false;
        while (State.Epoch < Options.Epochs && !State.Stopped && !_stopRequested)
        {
            cancellation.ThrowIfCancellationRequested();
            run.Add(TrainEpoch(training, validation, hooks, cancellation));
        }
        if (State.Stopped && Options.EarlyStopping is { RestoreBest: true } && BestParameters is not null)
            CopyValues(BestParameters, Network.Parameters);
        return run;
    }

    /// <summary>Runs one epoch: shuffled minibatches with updates, silent-neuron rescue, validation, schedule, early stopping.</summary>
    public EpochMetrics TrainEpoch(IReadOnlyList<SpikeSample> training, IReadOnlyList<SpikeSample>? validation = null,
        IReadOnlyList<ITrainingCallback>? callbacks = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(training);
        if (training.Count == 0) throw new ArgumentException("The training set is empty; pass at least one sample.", nameof(training));
        bool hasValidation = validation is { Count: > 0 };
        if (!hasValidation && (Options.EarlyStopping?.Metric is TrainingMetric.ValidationAccuracy or TrainingMetric.ValidationLoss
                               || Options.ScheduleMetric is TrainingMetric.ValidationAccuracy or TrainingMetric.ValidationLoss))
            throw new ArgumentException("Early stopping or the schedule watches a validation metric but no validation data was given; pass a validation set or watch a training metric.", nameof(validation));
        var hooks = callbacks ?? [];
        var watch = Stopwatch.StartNew();
        int epoch = State.Epoch + 1;
        var order = new int[training.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        _random.Shuffle(order.AsSpan());

        var hidden = Network.Hidden;
        var counts = hidden.ToDictionary(p => p.Name, p => new long[p.Size]);
        int batchSize = Options.BatchSize;
        int batches = (training.Count + batchSize - 1) / batchSize;
        double lossSum = 0;
        long correct = 0;
        for (int b = 0; b < batches; b++)
        {
            cancellation.ThrowIfCancellationRequested();
            int from = b * batchSize, to = Math.Min(from + batchSize, training.Count);
            var batch = new SpikeSample[to - from];
            for (int i = 0; i < batch.Length; i++)
            {
                var s = training[order[from + i]];
                batch[i] = Options.InputDropout > 0 ? Dropout(s) : s;
            }
            long totalSteps = (long)Options.Epochs * batches;
            double lr = Options.OneCycle is { } cycle ? cycle.LearningRate(State.Step, totalSteps, Options.LearningRate) : State.LearningRate;
            double? beta1 = Options.OneCycle?.Beta1(State.Step, totalSteps);
            var result = Step(batch, lr, beta1, epoch, b + 1);
            if (Options.OneCycle is { } next)
                State.LearningRate = next.LearningRate(State.Step, totalSteps, Options.LearningRate);
            else if (Options.EaseIn && State.LearningRate < State.TargetLearningRate)
                State.LearningRate = Math.Min(State.LearningRate * Options.EaseInGrowth, State.TargetLearningRate);
            lossSum += result.Loss * batch.Length;
            correct += result.Correct;
            foreach (var (name, c) in result.HiddenSpikeCounts)
                if (counts.TryGetValue(name, out var total))
                    for (int i = 0; i < total.Length; i++) total[i] += c[i];
            var progress = new BatchProgress(epoch, b + 1, batches, result.Loss, result.Accuracy, lr);
            foreach (var h in hooks) h.OnBatchEnd(this, progress);
        }

        int silent = RescueSilentNeurons(counts);
        double? validationLoss = null, validationAccuracy = null;
        if (validation is { Count: > 0 })
        {
            var (vl, va) = Evaluate(validation);
            validationLoss = vl;
            validationAccuracy = va;
        }
        State.Epoch = epoch;
        var meanSpikes = counts.ToDictionary(kv => kv.Key, kv => kv.Value.Length == 0 ? 0 : kv.Value.Average() / training.Count);
        var metrics = new EpochMetrics(epoch, lossSum / training.Count, (double)correct / training.Count, validationLoss, validationAccuracy,
            State.LearningRate, meanSpikes, silent, 0);
        UpdateSchedule(metrics, validation is { Count: > 0 });
        UpdateEarlyStopping(metrics);
        State.RandomState = _random.State;
        metrics = metrics with { LearningRate = State.LearningRate, Seconds = watch.Elapsed.TotalSeconds };
        _history.Add(metrics);
        foreach (var h in hooks) h.OnEpochEnd(this, metrics);
        return metrics;
    }

    /// <summary>
    /// One update on <paramref name="batch"/> at learning rate <paramref name="learningRate"/> (no dropout, no schedule, no
    /// callbacks; the learning-rate range test's step): gradient, finiteness check, Adam/AdamW step with the options' weight
    /// decay, τ clipping. Counts as an update (<see cref="TrainingState.Step"/> grows).
    /// </summary>
    /// <returns>The engine's result for the batch (its loss is the one before the update).</returns>
    /// <exception cref="TrainingDivergedException">The gradient or the updated parameters are not finite.</exception>
    public GradientResult TrainMinibatch(IReadOnlyList<SpikeSample> batch, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0) throw new ArgumentException("The minibatch is empty.", nameof(batch));
        if (!(learningRate > 0) || !double.IsFinite(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be finite and > 0.");
        return Step(batch, learningRate, null, State.Epoch + 1, (int)Math.Min(int.MaxValue, State.Step + 1));
    }

    /// <summary>Mean loss and accuracy of the network on <paramref name="samples"/> (in minibatches; no update, no randomness).</summary>
    public (double Loss, double Accuracy) Evaluate(IReadOnlyList<SpikeSample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0) throw new ArgumentException("The evaluation set is empty.", nameof(samples));
        double loss = 0;
        long correct = 0;
        int size = Options.BatchSize;
        for (int from = 0; from < samples.Count; from += size)
        {
            int n = Math.Min(size, samples.Count - from);
            var batch = new SpikeSample[n];
            for (int i = 0; i < n; i++) batch[i] = samples[from + i];
            var r = (EvaluationEngine ?? Engine).Evaluate(Network, batch, Loss);
            loss += r.Loss * n;
            correct += r.Correct;
        }
        return (loss / samples.Count, (double)correct / samples.Count);
    }

    /// <summary>Writes the whole training state to <paramref name="path"/> atomically (docs/checkpoint.md).</summary>
    public void SaveCheckpoint(string path)
    {
        State.RandomState = _random.State;
        Checkpoint.Write(path, this);
    }

    /// <summary>Restores the training state from a checkpoint written by a trainer of the same network structure.</summary>
    /// <exception cref="InvalidDataException">The file is missing, corrupt or belongs to another network; the message says which.</exception>
    public void LoadCheckpoint(string path)
    {
        var data = Checkpoint.Read(path, Network);
        CopyValues(data.Parameters, Network.Parameters);
        if (data.FirstMoment is not null && data.SecondMoment is not null)
            Optimizer.Restore(data.AdamStep, data.FirstMoment, data.SecondMoment);
        var s = data.State;
        State.Epoch = s.Epoch;
        State.Step = s.Step;
        State.LearningRate = s.LearningRate;
        State.TargetLearningRate = s.TargetLearningRate;
        State.EmaFast = s.EmaFast;
        State.EmaSlow = s.EmaSlow;
        State.LastHalvingEpoch = s.LastHalvingEpoch;
        State.BestMetric = s.BestMetric;
        State.BestEpoch = s.BestEpoch;
        State.EpochsWithoutImprovement = s.EpochsWithoutImprovement;
        State.Stopped = s.Stopped;
        State.RandomState = s.RandomState;
        _random.State = s.RandomState;
        BestParameters = data.BestParameters;
    }

    // ------------------------------------------------------------------ machinery

    private GradientResult Step(IReadOnlyList<SpikeSample> batch, double learningRate, double? beta1, int epoch, int batchNumber)
    {
        // The dropout seed is drawn only when dropout is on, so runs without it draw what they always drew.
        var result = Options.ReadoutDropout > 0
            ? ((IReadoutDropoutEngine)Engine).Gradient(Network, batch, Loss, Options.Regularization, new ReadoutDropout(Options.ReadoutDropout, _random.NextUInt64()))
            : Engine.Gradient(Network, batch, Loss, Options.Regularization);
        RequireFinite(result.Gradient, epoch, batchNumber, "the gradient");
        Optimizer.Update(Network.Parameters, result.Gradient, learningRate, IsTrainable, Options.WeightDecay, IsDecayed, beta1, RateScale);
        ClipTimeConstants();
        ClipDelays();
        // Batch-norm running statistics are state, not gradients: folded in after the step, from the statistics the step used.
        if (result.BatchNorm is { } statistics) BatchNorm.UpdateRunningStatistics(Network.Parameters, statistics, Options.BatchNormMomentum);
        RequireFinite(Network.Parameters, epoch, batchNumber, "the updated value");
        State.Step++;
        return result;
    }

    private static bool IsDecayed(Parameter p) => p.Kind == ParameterKind.Weight;

    private static bool IsDelay(Parameter p) => p.Kind == ParameterKind.Delay || p.Kind == ParameterKind.AxonalDelay;

    private double RateScale(Parameter p) => IsDelay(p) ? Options.DelayLearningRateScale : 1;

    // Learned delays stay in [0, d_max]: the forward pass needs d ≥ 0, and d_max bounds the arrival queue (ring buffers on a grid).
    private void ClipDelays()
    {
        foreach (var p in Network.Parameters)
        {
            if (!IsDelay(p)) continue;
            var v = p.Values;
            for (int i = 0; i < v.Length; i++) v[i] = Math.Clamp(v[i], 0, Options.MaxDelay);
        }
    }

    private bool IsTrainable(Parameter p) =>
        p.Trainable && (p.Kind == ParameterKind.TauMem ? Options.LearnTauMem : p.Kind != ParameterKind.TauSyn || Options.LearnTauSyn);

    private void ClipTimeConstants()
    {
        foreach (var p in Network.Parameters)
        {
            double min = !IsTrainable(p) ? double.NaN
                : p.Kind == ParameterKind.TauMem ? Options.TauMemMinimum
                : p.Kind == ParameterKind.TauSyn ? Options.TauSynMinimum
                : double.NaN;
            if (double.IsNaN(min)) continue;
            var v = p.Values;
            for (int i = 0; i < v.Length; i++)
                if (v[i] < min) v[i] = min;
        }
    }

    private static void RequireFinite(ParameterSet set, int epoch, int batch, string what)
    {
        foreach (var p in set)
            foreach (double x in p.Values)
                if (!double.IsFinite(x)) throw new TrainingDivergedException(epoch, batch, p.Name, what);
    }

    private SpikeSample Dropout(SpikeSample s)
    {
        s.RequireSpikes("Input dropout (training.input_dropout)");
        double keep = 1 - Options.InputDropout;
        var times = s.Times;
        var channels = s.Channels;
        var t = new double[times.Length];
        var c = new int[times.Length];
        int n = 0;
        for (int i = 0; i < times.Length; i++)
            if (_random.NextDouble() < keep)
            {
                t[n] = times[i];
                c[n++] = channels[i];
            }
        return new SpikeSample(t.AsSpan(0, n), c.AsSpan(0, n), s.Label, s.Speaker);
    }

    private int RescueSilentNeurons(Dictionary<string, long[]> counts)
    {
        int silent = 0;
        foreach (var pop in Network.Hidden)
        {
            var c = counts[pop.Name];
            var incoming = Network.Connections.Where(x => x.Post == pop).ToArray();
            for (int j = 0; j < c.Length; j++)
            {
                if (c[j] != 0) continue;
                silent++;
                if (Options.SilentNeuronBoost == 0) continue;
                foreach (var x in incoming)
                    x.Connectivity.AddToIncoming(Network.Parameters[x.Name].Values, x.Pre.Size, x.Post.Size, j, Options.SilentNeuronBoost);
            }
        }
        return silent;
    }

    private void UpdateSchedule(EpochMetrics metrics, bool hasValidation)
    {
        if (!Options.HalvingSchedule || Options.OneCycle is not null) return;
        var metric = Options.ScheduleMetric ?? (hasValidation ? TrainingMetric.ValidationAccuracy : TrainingMetric.TrainingAccuracy);
        double x = metrics.Get(metric);
        if (!EpochMetrics.HigherIsBetter(metric)) x = -x; // the rule expects "higher is better"
        State.EmaFast = 0.8 * State.EmaFast + 0.2 * x;
        State.EmaSlow = 0.85 * State.EmaSlow + 0.15 * x;
        if (State.EmaFast < State.EmaSlow && metrics.Epoch - State.LastHalvingEpoch >= Options.HalvingMinimumEpochs)
        {
            State.TargetLearningRate /= 2;
            State.LearningRate = Math.Min(State.LearningRate, State.TargetLearningRate);
            State.LastHalvingEpoch = metrics.Epoch;
        }
    }

    private void UpdateEarlyStopping(EpochMetrics metrics)
    {
        if (Options.EarlyStopping is not { } es) return;
        double x = metrics.Get(es.Metric);
        bool higher = EpochMetrics.HigherIsBetter(es.Metric);
        bool improved = double.IsNaN(State.BestMetric) || (higher ? x > State.BestMetric + es.MinimumImprovement : x < State.BestMetric - es.MinimumImprovement);
        if (improved)
        {
            State.BestMetric = x;
            State.BestEpoch = metrics.Epoch;
            State.EpochsWithoutImprovement = 0;
            if (es.RestoreBest) BestParameters = Network.Parameters.Clone();
        }
        else if (++State.EpochsWithoutImprovement >= es.Patience)
        {
            State.Stopped = true;
        }
    }

    private void InitialiseHeterogeneousTaus()
    {
        foreach (var pop in Network.Hidden)
        {
            Draw(Network.TauMem(pop.Name).Values, 3);
            Draw(Network.TauSyn(pop.Name).Values, 1);
        }

        void Draw(double[] tau, double lower)
        {
            double mean = tau.Average();
            for (int i = 0; i < tau.Length; i++)
                tau[i] = Math.Clamp(_random.NextGamma(3, mean / 3), Math.Min(lower, 3 * mean), 3 * mean);
        }
    }

    private static void CopyValues(ParameterSet from, ParameterSet to)
    {
        to.RequireSameLayout(from);
        for (int p = 0; p < to.Count; p++) Array.Copy(from[p].Values, to[p].Values, to[p].Length);
    }
}
