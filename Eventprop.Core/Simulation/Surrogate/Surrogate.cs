namespace Eventprop.Core.Simulation.Surrogate;

/// <summary>The functional form of a <see cref="Surrogate"/> derivative.</summary>
public enum SurrogateShape
{
    /// <summary>SuperSpike / derivative of a fast sigmoid: 1/(β|x| + 1)² (Zenke &amp; Ganguli 2018).</summary>
    SuperSpike,
    /// <summary>Derivative of a standard sigmoid: s(βx)(1 − s(βx)), s(y) = 1/(1 + e^{−y}).</summary>
    SigmoidDerivative,
    /// <summary>Piecewise linear (Esser et al. 2016): max(0, 1 − β|x|).</summary>
    PiecewiseLinear,
    /// <summary>Asymptotic SuperSpike (seed 001 Fig. 5): β/(β|x| + 1)², which tends to the derivative of the step as β grows.</summary>
    AsymptoticSuperSpike,
    /// <summary>Exponential (seed 004): e^{−β|x|}.</summary>
    Exponential,
    /// <summary>Rectangular (seed 004): 1 where |x| &lt; 1/(2β), else 0 (width 1/β).</summary>
    Rectangular,
}

/// <summary>
/// A surrogate derivative h(x), x = U − ϑ, that replaces the derivative of the spike nonlinearity Θ(U − ϑ) in the
/// backward pass of <see cref="SurrogateEngine"/>: a named shape with its <see cref="Scale"/> (steepness; default 10, as in
/// seed 001) and a <see cref="Height"/> factor (default 1). Create one with the static factories, e.g.
/// <c>Surrogate.SuperSpike(10)</c>, or by config name with <see cref="FromName"/>.
/// </summary>
/// <remarks>
/// <para><b>Names in the papers.</b> Seeds 000/001 (Zenke et al.) call the steepness β; in the shape formulas below β is
/// our <see cref="Scale"/>. Seed 004 (Ledinauskas et al., eq. 9: f(U) = β/(1 + γ|U − ϑ|)²) uses the opposite letters:
/// its <b>width γ is our <see cref="Scale"/></b> and its <b>height β is our <see cref="Height"/></b>, so seed 004's
/// f is <c>Surrogate.SuperSpike(scale: γ, height: β)</c>. The CLI accepts <c>surrogate.width</c> and
/// <c>surrogate.gamma</c> for <c>surrogate.scale</c>. Seed 004 tunes γ so that gradients neither explode nor vanish
/// with depth: <see cref="SurrogateWidthTuner"/>.</para>
/// </remarks>
public sealed record Surrogate
{
    /// <summary>The default scale β of seed 001.</summary>
    public const double DefaultScale = 10;

    private Surrogate(SurrogateShape shape, double scale, double height)
    {
        if (!double.IsFinite(scale) || scale < 0)
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The surrogate scale β must be finite and ≥ 0.");
        if (!double.IsFinite(height))
            throw new ArgumentOutOfRangeException(nameof(height), height, "The surrogate height must be finite.");
        if (shape == SurrogateShape.Rectangular && scale == 0)
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The rectangular surrogate needs β > 0 (its width is 1/β).");
        Shape = shape;
        Scale = scale;
        Height = height;
    }

    /// <summary>The functional form.</summary>
    public SurrogateShape Shape { get; }

    /// <summary>The scale: steepness β of seeds 000/001 = width parameter γ of seed 004 (larger is narrower; the surrogate's width is ~1/scale).</summary>
    public double Scale { get; }

    /// <summary>A factor multiplying h: the height β of seed 004's eq. 9 (1 unless tuned; seed 004 uses 1).</summary>
    public double Height { get; }

    /// <summary>SuperSpike / fast sigmoid: 1/(β|x| + 1)² (β = <paramref name="scale"/>); times <paramref name="height"/> it is seed 004's eq. 9 with γ = scale, β = height.</summary>
    public static Surrogate SuperSpike(double scale = DefaultScale, double height = 1) => new(SurrogateShape.SuperSpike, scale, height);

    /// <summary>Alias of <see cref="SuperSpike"/>: the derivative of the fast sigmoid x/(1 + β|x|) up to its factor β.</summary>
    public static Surrogate FastSigmoid(double scale = DefaultScale, double height = 1) => SuperSpike(scale, height);

    /// <summary>Sigmoid′: s(βx)(1 − s(βx)). With height β it is the exact derivative of s(βx).</summary>
    public static Surrogate SigmoidDerivative(double scale = DefaultScale, double height = 1) => new(SurrogateShape.SigmoidDerivative, scale, height);

    /// <summary>Esser et al. piecewise linear: max(0, 1 − β|x|).</summary>
    public static Surrogate PiecewiseLinear(double scale = DefaultScale, double height = 1) => new(SurrogateShape.PiecewiseLinear, scale, height);

    /// <summary>Asymptotic SuperSpike: β/(β|x| + 1)².</summary>
    public static Surrogate AsymptoticSuperSpike(double scale = DefaultScale, double height = 1) => new(SurrogateShape.AsymptoticSuperSpike, scale, height);

    /// <summary>Exponential: e^{−β|x|}.</summary>
    public static Surrogate Exponential(double scale = DefaultScale, double height = 1) => new(SurrogateShape.Exponential, scale, height);

    /// <summary>Rectangular: 1 where |x| &lt; 1/(2β), else 0.</summary>
    public static Surrogate Rectangular(double scale = DefaultScale, double height = 1) => new(SurrogateShape.Rectangular, scale, height);

    /// <summary>Config names, in the order of <see cref="SurrogateShape"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["superspike", "sigmoid", "esser", "asymptotic_superspike", "exponential", "rectangular"];

    /// <summary>The config name of this surrogate's shape.</summary>
    public string Name => Names[(int)Shape];

    /// <summary>The surrogate called <paramref name="name"/> (one of <see cref="Names"/>; "fast_sigmoid" is accepted for "superspike").</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static Surrogate FromName(string name, double scale = DefaultScale, double height = 1) => name switch
    {
        "superspike" or "fast_sigmoid" => SuperSpike(scale, height),
        "sigmoid" => SigmoidDerivative(scale, height),
        "esser" or "piecewise_linear" => PiecewiseLinear(scale, height),
        "asymptotic_superspike" => AsymptoticSuperSpike(scale, height),
        "exponential" => Exponential(scale, height),
        "rectangular" => Rectangular(scale, height),
        _ => throw new ArgumentException($"Unknown surrogate '{name}'; choose one of {string.Join(", ", Names)}."),
    };

    /// <summary>h(x) at x = U − ϑ.</summary>
    public double Derivative(double x)
    {
        double b = Scale, a = Math.Abs(x);
        double h = Shape switch
        {
            SurrogateShape.SuperSpike => 1 / ((b * a + 1) * (b * a + 1)),
            SurrogateShape.SigmoidDerivative => SigmoidSlope(b * x),
            SurrogateShape.PiecewiseLinear => Math.Max(0, 1 - b * a),
            SurrogateShape.AsymptoticSuperSpike => b / ((b * a + 1) * (b * a + 1)),
            SurrogateShape.Exponential => Math.Exp(-b * a),
            SurrogateShape.Rectangular => b * a < 0.5 ? 1 : 0,
            _ => throw new InvalidOperationException($"Unknown surrogate shape {Shape}."),
        };
        return Height * h;
    }

    /// <summary>s(y)(1 − s(y)) for the logistic s, without overflow.</summary>
    internal static double SigmoidSlope(double y)
    {
        double e = Math.Exp(-Math.Abs(y));
        return e / ((1 + e) * (1 + e));
    }

    /// <summary>The logistic s(y) = 1/(1 + e^{−y}), without overflow.</summary>
    internal static double Logistic(double y)
    {
        if (y >= 0) return 1 / (1 + Math.Exp(-y));
        double e = Math.Exp(y);
        return e / (1 + e);
    }

    /// <inheritdoc />
    public override string ToString() => Height == 1 ? $"{Name}(β={Scale})" : $"{Name}(β={Scale}, height={Height})";
}
