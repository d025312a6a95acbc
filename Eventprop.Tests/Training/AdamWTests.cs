using Eventprop.Core.Model;
using Eventprop.Core.Training;
using Xunit;

namespace Eventprop.Tests.Training;

public class AdamWTests
{
    // in (1) → out (1): one weight, and out's τ_mem and τ_syn.
    private static Network OneWeight() =>
        Network.Create(1).Input("in", 1).Readout("out", 1, tauMem: 20, tauSyn: 5).Connect("in", "out", Init.Normal(0, 1)).Build();

    [Fact]
    public void Three_AdamW_steps_match_the_decoupled_weight_decay_formula_worked_by_hand()
    {
        var net = OneWeight();
        var w = net.Parameters["in->out"];
        w.Values[0] = 1.0;
        var adam = new Adam();
        double[] gradients = [0.5, -0.25, 0.125];
        // θ_t = θ_{t−1} − η·m̂_t/(√v̂_t + ε) − η·λ·θ_{t−1}, η = 0.1, λ = 0.01, β1 = 0.9, β2 = 0.999, ε = 1e−8:
        // t = 1: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25 → θ = 1 − 0.1·0.5/0.50000001 − 0.001 = 0.899000002.
        // t = 2: m = 0.045 − 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225, m̂ = 0.02/0.19, v̂ = 0.00031225/0.001999.
        // t = 3: m = 0.018 + 0.0125 = 0.0305, v = 0.00031193775 + 0.000015625 = 0.00032756275, m̂ = 0.0305/0.271, v̂ = 0.00032756275/0.002997001.
        double theta1 = 1 - 0.1 * 0.5 / (Math.Sqrt(0.25) + 1e-8) - 0.1 * 0.01 * 1.0;
        double theta2 = theta1 - 0.1 * (0.02 / 0.19) / (Math.Sqrt(0.00031225 / 0.001999) + 1e-8) - 0.1 * 0.01 * theta1;
        double theta3 = theta2 - 0.1 * (0.0305 / 0.271) / (Math.Sqrt(0.00032756275 / 0.002997001) + 1e-8) - 0.1 * 0.01 * theta2;
        double[] expected = [theta1, theta2, theta3];
        Assert.Equal(0.899000002, theta1, 12);
        Assert.Equal(0.8714673, theta2, 6); // rounded by hand: 0.899 − 0.0266337 − 0.000899
        for (int t = 0; t < 3; t++)
        {
            var g = net.Parameters.ZerosLike();
            g["in->out"].Values[0] = gradients[t];
            adam.Update(net.Parameters, g, 0.1, trainable: null, weightDecay: 0.01, decayed: p => p.Kind == ParameterKind.Weight, beta1: null);
            Assert.Equal(expected[t], w.Values[0], 12);
        }
        Assert.Equal(3, adam.Step);
    }

    [Fact]
    public void Weight_decay_zero_is_plain_Adam_bit_for_bit()
    {
        var a = OneWeight();
        var b = OneWeight();
        var plain = new Adam();
        var decoupled = new Adam();
        var rng = new Random(5);
        for (int t = 0; t < 3; t++)
        {
            var g = a.Parameters.ZerosLike();
            foreach (var p in g)
                for (int i = 0; i < p.Length; i++) p.Values[i] = rng.NextDouble() - 0.5;
            plain.Update(a.Parameters, g, 0.01);
            decoupled.Update(b.Parameters, g, 0.01, trainable: null, weightDecay: 0, decayed: null, beta1: null);
        }
        for (int p = 0; p < a.Parameters.Count; p++)
        {
            Assert.Equal(a.Parameters[p].Values, b.Parameters[p].Values);
            Assert.Equal(plain.FirstMoment![p].Values, decoupled.FirstMoment![p].Values);
            Assert.Equal(plain.SecondMoment![p].Values, decoupled.SecondMoment![p].Values);
        }
    }

    [Fact]
    public void The_trainer_decays_weights_but_not_time_constants()
    {
        // A zero gradient makes the Adam step 0, so only the decay moves a parameter: θ ← θ·(1 − ηλ) per update.
        var net = OneWeight();
        net.Parameters["in->out"].Values[0] = 2.0;
        double tau = net.Parameters["out.tau_mem"].Values[0];
        var engine = new ScriptedEngine(gradient: n => n.Parameters.ZerosLike());
        var trainer = new Trainer(net, engine, Eventprop.Losses.Loss.Sum(), new TrainingOptions
        {
            Epochs = 1, BatchSize = 1, LearningRate = 0.1, WeightDecay = 0.5, EaseIn = false, HalvingSchedule = false, SilentNeuronBoost = 0, LearnTauMem = true,
        });
        var samples = Enumerable.Range(0, 2).Select(_ => new Core.Data.SpikeSample([1.0], [0], 0)).ToArray();
        trainer.Fit(samples);
        Assert.Equal(2.0 * 0.95 * 0.95, net.Parameters["in->out"].Values[0], 14);
        Assert.Equal(tau, net.Parameters["out.tau_mem"].Values[0]);
    }

    [Fact]
    public void A_negative_weight_decay_is_refused_naming_it()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { WeightDecay = -0.1 }.Validate());
        Assert.Contains("weight decay", e.Message, StringComparison.Ordinal);
    }
}
