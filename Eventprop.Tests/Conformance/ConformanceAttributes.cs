using Xunit;
using Xunit.Sdk;

namespace Eventprop.Tests.Conformance;

/// <summary>
/// A conformance fact: like <see cref="FactAttribute"/>, but discovered through <see cref="ConformanceFactDiscoverer"/>, which
/// reports it skipped (with the reason) when the engine subclass it runs in marks the feature <see cref="NotApplicableAttribute"/>
/// or needs a device this machine lacks (<see cref="RequiresCudaAttribute"/>). xunit 2.9 cannot skip at run time, so the
/// decision is made at discovery, where the concrete test class is known.
/// </summary>
[XunitTestCaseDiscoverer("Eventprop.Tests.Conformance.ConformanceFactDiscoverer", "Eventprop.Tests")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class ConformanceFactAttribute : FactAttribute;

/// <summary>A conformance theory: <see cref="TheoryAttribute"/> with the skips of <see cref="ConformanceFactAttribute"/>.</summary>
[XunitTestCaseDiscoverer("Eventprop.Tests.Conformance.ConformanceTheoryDiscoverer", "Eventprop.Tests")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class ConformanceTheoryAttribute : TheoryAttribute;

/// <summary>On an engine's conformance subclass: the feature test <see cref="Method"/> does not apply to this engine, and why.</summary>
/// <param name="method">Name of the feature test in <see cref="EngineConformance"/> (use <c>nameof</c>).</param>
/// <param name="reason">Why it does not apply; shown as the skip reason.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class NotApplicableAttribute(string method, string reason) : Attribute
{
    /// <summary>The feature test that is skipped.</summary>
    public string Method { get; } = method;

    /// <summary>Why it does not apply.</summary>
    public string Reason { get; } = reason;
}

/// <summary>On an engine's conformance subclass: every test is skipped, with a visible reason, when no CUDA device is present.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class RequiresCudaAttribute : Attribute;
