using System.Reflection;
using Eventprop.Gpu;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Eventprop.Tests.Conformance;

/// <summary>Why a conformance test is skipped in its concrete class, or null when it runs.</summary>
internal static class ConformanceSkips
{
    private static readonly Lazy<bool> Cuda = new(GpuSteppedEngine.CudaAvailable);

    /// <summary>The skip reason for <paramref name="testMethod"/> in its (concrete) test class, or null.</summary>
    public static string? Reason(ITestMethod testMethod)
    {
        var type = testMethod.TestClass.Class.ToRuntimeType();
        if (type is null) return null;
        if (type.GetCustomAttribute<RequiresCudaAttribute>() is not null && !Cuda.Value)
            return "no CUDA device found (ILGPU's Context lists none): the CUDA conformance subclass runs only where CUDA exists";
        return type.GetCustomAttributes<NotApplicableAttribute>().FirstOrDefault(a => a.Method == testMethod.Method.Name) is { } na
            ? $"not applicable to this engine: {na.Reason}"
            : null;
    }

    /// <summary>
    /// The one skipped test case that stands for <paramref name="testMethod"/> when it has a <see cref="Reason"/> and the
    /// attribute sets no Skip of its own; null when the test runs (a theory is skipped whole: its data rows are not
    /// enumerated, they may need what is missing).
    /// </summary>
    public static IXunitTestCase[]? SkippedCase(IMessageSink sink, ITestFrameworkDiscoveryOptions options, ITestMethod testMethod, IAttributeInfo attribute)
    {
        string? reason = Reason(testMethod);
        if (reason is null || attribute.GetNamedArgument<string>("Skip") is not null) return null;
        return [new XunitSkippedDataRowTestCase(sink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), testMethod, reason)];
    }
}

/// <summary>Discovers <see cref="ConformanceFactAttribute"/> tests: skipped with <see cref="ConformanceSkips.Reason"/>, else as a fact.</summary>
/// <param name="diagnosticMessageSink">xunit's diagnostic sink.</param>
public sealed class ConformanceFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    /// <inheritdoc />
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        ConformanceSkips.SkippedCase(DiagnosticMessageSink, discoveryOptions, testMethod, factAttribute)
        ?? base.Discover(discoveryOptions, testMethod, factAttribute);
}

/// <summary>Discovers <see cref="ConformanceTheoryAttribute"/> tests: skipped with <see cref="ConformanceSkips.Reason"/>, else as a theory.</summary>
/// <param name="diagnosticMessageSink">xunit's diagnostic sink.</param>
public sealed class ConformanceTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    /// <inheritdoc />
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        ConformanceSkips.SkippedCase(DiagnosticMessageSink, discoveryOptions, testMethod, theoryAttribute)
        ?? base.Discover(discoveryOptions, testMethod, theoryAttribute);
}
