using System.Diagnostics;
using System.Globalization;
using Eventprop.Core.Data;
using Eventprop.Core.Model;
using Eventprop.Core.Model.Connectivities;
using Eventprop.Core.Model.Neurons;
using Eventprop.Core.Simulation.Surrogate;
using Eventprop.Core.Training;
using Eventprop.Losses;

namespace Eventprop.Benchmarks;

/// <summary>
/// Training speed of the surrogate-gradient (BPTT) engine on seed 004's convolutional MNIST network, as
/// <c>experiments/configs/mnist_conv_surrogate.json</c> builds it: 28×28 analog input (constant current) → conv 5×5 32 ch →
/// avgpool 2 → conv 5×5 64 ch → avgpool 2 → dense 1,024 → readout dropout 0.5 → 10 integrator readout; IF neurons, soft
/// reset; 10 steps of 1 ms; SuperSpike β 1, γ 100; loss last_voltage; AdamW (weight decay 0.01), batch 64; thresholds
/// calibrated on the first digits (<see cref="ThresholdCalibration"/>, as network.normalize_thresholds does).
/// </summary>
public static class SurrogateConvBenchmark
{
    /// <summary>Builds the network of <c>mnist_conv_surrogate.json</c> (seeded; thresholds 1 before calibration).</summary>
    public static Network BuildNetwork(int seed = 1)
    {
        var conv1 = Conv2dConnectivity.Create(1, 28, 28, 32, 5);
        var conv2 = Conv2dConnectivity.Create(32, 24, 24, 64, 5, pool: 2);
        var dense = Conv2dConnectivity.PooledDense(64, 8, 8, 2, 1024);
        return Network.Create(seed)
            .Input("in", 784)
            .IntegrateAndFire("h0", conv1.Geometry.PostSize, 1, 1, 1, 0, ResetMode.Subtract)
            .IntegrateAndFire("h1", conv2.Geometry.PostSize, 1, 1, 1, 0, ResetMode.Subtract)
            .IntegrateAndFire("h2", 1024, 1, 1, 1, 0, ResetMode.Subtract)
            .Readout("out", NonLeakyIntegrator.Instance, Enumerable.Repeat(1.0, 10).ToArray(), Enumerable.Repeat(1.0, 10).ToArray())
            .Connect("in", "h0", Init.Normal(0, 0.28), conv1)
            .Connect("h0", "h1", Init.Normal(0, 0.05), conv2)
            .Connect("h1", "h2", Init.Normal(0, 0.044), dense)
            .Connect("h2", "out", Init.Normal(0, 0.044))
            .Build();
    }

    /// <summary>
    /// The first <paramref name="count"/> training digits of the MNIST IDX files in <paramref name="dataDir"/> (as analog input),
    /// or, without a directory, <paramref name="count"/> generated 28×28 images (random strokes, seeded).
    /// </summary>
    public static SpikeSample[] Samples(string? dataDir, int count)
    {
        if (dataDir is not null)
        {
            var set = MnistCurrent.Load(Path.Combine(dataDir, "train-images-idx3-ubyte"), Path.Combine(dataDir, "train-labels-idx1-ubyte"));
            return set.Samples.Take(count).ToArray();
        }
        var random = new Random(3);
        var encoder = new CurrentEncoder();
        var samples = new SpikeSample[count];
        var pixels = new byte[784];
        for (int s = 0; s < count; s++)
        {
            Array.Clear(pixels);
            for (int stroke = 0; stroke < 3; stroke++)
            {
                double x = 6 + 16 * random.NextDouble(), y = 6 + 16 * random.NextDouble(), a = Math.PI * random.NextDouble();
                for (int t = -8; t <= 8; t++)
                    for (int w = -1; w <= 1; w++)
                    {
                        int px = (int)Math.Round(x + t * Math.Cos(a) + w * Math.Sin(a)), py = (int)Math.Round(y + t * Math.Sin(a) - w * Math.Cos(a));
                        if (px is >= 0 and < 28 && py is >= 0 and < 28) pixels[py * 28 + px] = (byte)(w == 0 ? 255 : 128);
                    }
            }
            samples[s] = encoder.Encode(pixels, random.Next(10));
        }
        return samples;
    }

    /// <summary>
    /// Trains <paramref name="batches"/> minibatches of <paramref name="batchSize"/> after one warm-up minibatch and returns a
    /// one-line-per-item report: ms per trial (wall and process CPU), hidden spikes per trial, peak RSS and managed heap,
    /// and a checksum of the trained parameters (Σ|w|, to compare builds for equal results).
    /// </summary>
    public static string Run(string? dataDir, int batches = 2, int batchSize = 64, int? threads = null)
    {
        var samples = Samples(dataDir, (batches + 1) * batchSize);
        var loss = Loss.FromName("last_voltage");
        var options = new SurrogateOptions { Surrogate = Surrogate.FromName("superspike", 100, 1), Threads = threads };
        var engine = new SurrogateEngine(1.0, 10, options, timeConstantGradients: false);
        var network = BuildNetwork();
        network = ThresholdCalibration.Calibrate(engine, network, samples[..batchSize], loss, batchSize).Network;
        var trainer = new Trainer(network, engine, loss, new TrainingOptions
        {
            Epochs = 1, BatchSize = batchSize, LearningRate = 1e-3, Seed = 1, EaseIn = false, HalvingSchedule = false,
            WeightDecay = 0.01, ReadoutDropout = 0.5,
        });
        using var sampler = new PeakHeapSampler(5);
        var losses = new List<double> { trainer.TrainMinibatch(samples[..batchSize], 1e-3).Loss }; // warm-up: JIT tiers, buffers
        double hidden = 0;
        using var self = Process.GetCurrentProcess();
        var cpuStart = self.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (int b = 1; b <= batches; b++)
        {
            var r = trainer.TrainMinibatch(samples[(b * batchSize)..((b + 1) * batchSize)], 1e-3);
            losses.Add(r.Loss);
            hidden += r.HiddenSpikeCounts.Values.Sum(x => x.Sum());
        }
        watch.Stop();
        self.Refresh();
        var cpu = self.TotalProcessorTime - cpuStart;
        long peakManaged = sampler.Stop();
        int trials = batches * batchSize;
        double checksum = trainer.Network.Parameters.Sum(p => p.Values.Sum(Math.Abs));
        return string.Create(CultureInfo.InvariantCulture,
            $"surrogate-conv: {trials} trials ({batches} × {batchSize}, {(dataDir is null ? "generated images" : "MNIST " + dataDir)}), {engine.Threads} threads\n" +
            $"ms/trial {watch.Elapsed.TotalMilliseconds / trials:F2}  cpu ms/trial {cpu.TotalMilliseconds / trials:F2}  hidden spikes/trial {hidden / trials:F0}\n" +
            $"peak RSS MiB {self.PeakWorkingSet64 / 1048576.0:F0}  peak heap MiB {peakManaged / 1048576.0:F0}  projected epoch (8,000 digits) {watch.Elapsed.TotalSeconds / trials * 8000 / 60:F1} min\n" +
            $"losses {string.Join(" ", losses.Select(l => l.ToString("R", CultureInfo.InvariantCulture)))}  Σ|w| {checksum:R}");
    }
}
