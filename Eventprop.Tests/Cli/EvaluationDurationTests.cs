using System.Text.Json;
using Eventprop.Cli;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Core.Training;
using Eventprop.Tests.Data;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>
/// <c>engine.evaluation_duration_ms</c> and <see cref="Trainer.EvaluationEngine"/>: seed 004 trains at 10 time steps and
/// evaluates at 20. Evaluation (validation, test, <c>evaluate</c>) uses the longer engine, training the configured one,
/// and a shorter evaluation trial is refused where it would cut input spikes.
/// </summary>
public sealed class EvaluationDurationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string[] AnalogMnist(params string[] more) =>
        ["dataset.kind=mnist", "dataset.encoding=current", "dataset.validation_fraction=0", "method=surrogate", $"dataset.path={_dir.Path}",
         "network.hidden=5", "engine.duration_ms=10", .. more];

    [Fact]
    public void TheTrainerEvaluatesWithItsEvaluationEngine()
    {
        TinyMnist.Write(_dir, 6, 4);
        using var p = TrainCommand.Prepare(RunConfig.Load(null, AnalogMnist("engine.evaluation_duration_ms=20")));
        var training = Assert.IsType<SurrogateEngine>(p.Engine);
        var evaluation = Assert.IsType<SurrogateEngine>(p.Evaluator);
        Assert.Equal((10, 20), (training.Steps, evaluation.Steps));
        var trainer = new Trainer(p.Network, p.Engine, p.Loss, p.Options) { EvaluationEngine = p.Evaluator };
        var (loss, accuracy) = trainer.Evaluate(p.Test!);
        var direct = evaluation.Evaluate(p.Network, p.Test!.ToArray(), p.Loss);
        Assert.Equal(direct.Loss, loss, 12);
        Assert.Equal((double)direct.Correct / p.Test!.Count, accuracy);
        // and it is not the training engine's figure: twice as many steps of the same constant input change the readout
        Assert.NotEqual(training.Evaluate(p.Network, p.Test!.ToArray(), p.Loss).Loss, loss, 6);
        // without an evaluation engine the trainer evaluates with its engine
        var plain = new Trainer(p.Network, p.Engine, p.Loss, p.Options);
        Assert.Equal(training.Evaluate(p.Network, p.Test!.ToArray(), p.Loss).Loss, plain.Evaluate(p.Test!).Loss, 12);
    }

    [Fact]
    public void WithoutTheKeyEvaluationUsesTheTrainingEngine()
    {
        TinyMnist.Write(_dir, 6, 4);
        var config = RunConfig.Load(null, AnalogMnist());
        Assert.Null(config.Engine.EvaluationDurationMs);
        using var p = TrainCommand.Prepare(config);
        Assert.Same(p.Engine, p.Evaluator);
        Assert.DoesNotContain("evaluation_duration_ms\": 10", JsonSerializer.Serialize(config, RunConfig.Json));
    }

    [Fact]
    public void AnalogInputMayBeEvaluatedOnShorterTrials()
    {
        var config = RunConfig.Load(null, AnalogMnist("engine.evaluation_duration_ms=5"));
        Assert.Equal(5, config.Engine.EvaluationDuration);
        Assert.Contains("\"evaluation_duration_ms\": 5", JsonSerializer.Serialize(config, RunConfig.Json));
    }

    [Fact]
    public void AnEvaluationTrialOffTheGridIsOneLineNamingTheKey()
    {
        TinyMnist.Write(_dir, 6, 4);
        var e = Assert.Throws<UserError>(() => TrainCommand.Prepare(RunConfig.Load(null, AnalogMnist("engine.evaluation_duration_ms=20.5"))));
        Assert.Equal("engine.evaluation_duration_ms: The trial duration 20.5 ms is not a whole number of steps of 1 ms; choose dt so that T/dt is an integer.", e.Message);
    }

    [Theory]
    [InlineData(new[] { "engine.evaluation_duration_ms=0" }, "engine.evaluation_duration_ms must be > 0 ms (or null for engine.duration_ms), got 0.")]
    [InlineData(new[] { "engine.duration_ms=50", "engine.evaluation_duration_ms=20" }, "engine.evaluation_duration_ms 20 is shorter than engine.duration_ms 50, which would cut input spikes")]
    public void BadEvaluationDurationsAreOneLineErrors(string[] sets, string expected)
    {
        var e = Assert.Throws<UserError>(() => RunConfig.Load(null, sets));
        Assert.StartsWith(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
