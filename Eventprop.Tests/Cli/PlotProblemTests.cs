using Eventprop.Cli;
using Xunit;

namespace Eventprop.Tests.Cli;

/// <summary>A missing native drawing library is named in one line (issue 14: plots on platforms the package does not cover).</summary>
public sealed class PlotProblemTests
{
    [Fact]
    public void AMissingNativeLibraryInsideATypeInitializerIsNamedWithThePlatform()
    {
        // What ScottPlot throws when libSkiaSharp cannot be loaded: a type initializer failing on a DllNotFoundException.
        var e = new TypeInitializationException("ScottPlot.Fonts",
            new TypeInitializationException("SkiaSharp.SKTypeface", new DllNotFoundException("Unable to load shared library 'libSkiaSharp'")));
        string message = Plots.Problem(e);
        Assert.Contains("native drawing library (libSkiaSharp) is missing", message);
        Assert.Contains(System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier, message);
        Assert.Contains("linux-x64", message);
        Assert.DoesNotContain("\n", message);
    }

    [Fact]
    public void OtherProblemsGiveTheInnermostMessage()
    {
        var e = new TypeInitializationException("ScottPlot.Fonts", new IOException("disk full\nat line 2"));
        Assert.Equal("disk full", Plots.Problem(e));
    }
}
