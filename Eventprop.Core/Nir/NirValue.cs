namespace Eventprop.Core.Nir;

/// <summary>
/// One dataset of a NIR node as read or to be written: numbers (float32 or float64 on disk, kept here as double) with
/// their shape, or strings. A scalar has an empty <see cref="Shape"/>.
/// </summary>
internal sealed class NirValue
{
    private NirValue(double[]? numbers, string[]? strings, long[] shape, bool isInteger)
    {
        Numbers = numbers;
        Strings = strings;
        Shape = shape;
        IsInteger = isInteger;
    }

    /// <summary>The numbers in row-major order, or null for strings.</summary>
    public double[]? Numbers { get; }

    /// <summary>The strings in row-major order, or null for numbers.</summary>
    public string[]? Strings { get; }

    /// <summary>The dataset's dimensions (empty for a scalar).</summary>
    public long[] Shape { get; }

    /// <summary>Whether the numbers are integers on disk (written as int64).</summary>
    public bool IsInteger { get; }

    /// <summary>Number of elements.</summary>
    public int Count => Numbers?.Length ?? Strings!.Length;

    /// <summary>Whether it is one value without dimensions (or a 1-element array, which h5py readers treat alike).</summary>
    public bool IsScalar => Count == 1;

    /// <summary>Float64 numbers of the given shape (a vector when no shape is given).</summary>
    public static NirValue Of(double[] numbers, params long[] shape) => new(numbers, null, shape.Length == 0 ? [numbers.Length] : shape, false);

    /// <summary>Numbers as read from a file.</summary>
    public static NirValue Read(double[] numbers, long[] shape, bool isInteger) => new(numbers, null, shape, isInteger);

    /// <summary>Int64 numbers (a shape vector).</summary>
    public static NirValue Integers(params long[] values) => new(values.Select(v => (double)v).ToArray(), null, [values.Length], true);

    /// <summary>Strings of the given shape (a scalar string when none is given and there is one).</summary>
    public static NirValue Text(string[] strings, params long[] shape) => new(null, strings, shape, false);

    /// <summary>A scalar string.</summary>
    public static NirValue Text(string text) => new(null, [text], [], false);

    /// <inheritdoc />
    public override string ToString() => Strings is not null ? $"strings [{string.Join("×", Shape)}]" : $"numbers [{string.Join("×", Shape)}]";
}
