using System.Globalization;
using Eventprop.Example;
using Xunit;

namespace Eventprop.Tests;

/// <summary>The outside-researcher example (experiments/Eventprop.Example, docs/library.md) runs and learns.</summary>
public class LibraryExampleTests
{
    [Fact]
    public void TheExampleTrainsAboveChancePrintsEveryGradientAndWritesACheckpoint()
    {
        string dir = Path.Combine(Path.GetTempPath(), "eventprop-example-" + Guid.NewGuid().ToString("N"));
        var output = new StringWriter();
        try
        {
            double accuracy = LibraryExample.Run(epochs: 4, output, dir);
            string text = output.ToString();

            // 5 balanced classes: chance is 20 %; four epochs of the example reach well above it.
            Assert.True(accuracy > 0.3, $"test accuracy {accuracy:P1} after 4 epochs is not clearly above chance (20 %):\n{text}");
            Assert.Equal(4, text.Split('\n').Count(l => l.StartsWith("epoch ", StringComparison.Ordinal)));
            // One gradient line per parameter group: three weight matrices and the τ's of hidden and readout.
            foreach (string name in new[] { "in->hidden", "hidden->hidden", "hidden->out", "hidden.tau_mem", "hidden.tau_syn", "out.tau_mem", "out.tau_syn" })
            {
                string? line = text.Split('\n').FirstOrDefault(l => l.TrimStart().StartsWith(name + " ", StringComparison.Ordinal));
                Assert.True(line is not null, $"no gradient line for {name}:\n{text}");
                double norm = double.Parse(line!.Split("gradient norm")[1].Trim(), NumberStyles.Float, CultureInfo.CurrentCulture);
                Assert.True(double.IsFinite(norm) && norm > 0, $"{name}: gradient norm {norm}");
            }
            Assert.True(File.Exists(Path.Combine(dir, "checkpoint.h5")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
