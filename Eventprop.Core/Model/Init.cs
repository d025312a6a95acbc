namespace Eventprop.Core.Model;

/// <summary>How to fill a weight matrix when a network is built.</summary>
public interface IWeightInit
{
    /// <summary>Fills <paramref name="weights"/> (row-major <c>[pre, post]</c>) using <paramref name="random"/> only.</summary>
    void Fill(Span<double> weights, int rows, int columns, Random random);
}

/// <summary>Weight initialisers. Every random draw comes from the network builder's seed.</summary>
public static class Init
{
    /// <summary>Independent normal weights N(<paramref name="mean"/>, <paramref name="std"/>²).</summary>
    public static IWeightInit Normal(double mean, double std) => new NormalInit(mean, std);

    /// <summary>Independent uniform weights on [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static IWeightInit Uniform(double low, double high) => new UniformInit(low, high);

    /// <summary>Every weight equal to <paramref name="value"/>.</summary>
    public static IWeightInit Constant(double value) => new ValuesInit(null, value);

    /// <summary>Exactly the given matrix, <c>weights[pre, post]</c>.</summary>
    public static IWeightInit Values(double[,] weights) => new ValuesInit(weights, 0);

    /// <summary>One standard normal draw (Box–Muller; deterministic for a given <see cref="Random"/>).</summary>
    public static double StandardNormal(Random random)
    {
        double u1 = 1.0 - random.NextDouble(); // (0, 1]
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private sealed record NormalInit(double Mean, double Std) : IWeightInit
    {
        public void Fill(Span<double> weights, int rows, int columns, Random random)
        {
            if (!double.IsFinite(Mean) || !double.IsFinite(Std) || Std < 0)
                throw new ArgumentException($"Init.Normal({Mean}, {Std}): mean must be finite and std finite and ≥ 0.");
            for (int i = 0; i < weights.Length; i++) weights[i] = Mean + Std * StandardNormal(random);
        }
    }

    private sealed record UniformInit(double Low, double High) : IWeightInit
    {
        public void Fill(Span<double> weights, int rows, int columns, Random random)
        {
            if (!double.IsFinite(Low) || !double.IsFinite(High) || High < Low)
                throw new ArgumentException($"Init.Uniform({Low}, {High}): bounds must be finite with low ≤ high.");
            for (int i = 0; i < weights.Length; i++) weights[i] = Low + (High - Low) * random.NextDouble();
        }
    }

    private sealed class ValuesInit(double[,]? matrix, double constant) : IWeightInit
    {
        public void Fill(Span<double> weights, int rows, int columns, Random random)
        {
            if (matrix is null)
            {
                weights.Fill(constant);
                return;
            }
            if (matrix.GetLength(0) != rows || matrix.GetLength(1) != columns)
                throw new ArgumentException($"Init.Values: matrix is {matrix.GetLength(0)}×{matrix.GetLength(1)} but the connection needs {rows}×{columns} ([pre, post]).");
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++) weights[r * columns + c] = matrix[r, c];
        }
    }
}
