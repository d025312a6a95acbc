using Eventprop.Core.Simulation;
using Eventprop.Core.Simulation.Stepped;
using Eventprop.Core.Simulation.Surrogate;
using Xunit;

namespace Eventprop.Tests.Simulation;

/// <summary>Both time-stepped engines reject a bad grid with a message that names the problem and the fix.</summary>
public class TimeGridTests
{
    public static TheoryData<double, double, string, string> BadGrids => new()
    {
        { 1, 0, "duration", "must be finite and > 0" },
        { 1, double.NaN, "duration", "must be finite and > 0" },
        { 0, 10, "dt", "must be finite and > 0" },
        { -1, 10, "dt", "must be finite and > 0" },
        { double.PositiveInfinity, 10, "dt", "must be finite and > 0" },
        { 20, 10, "dt", "choose dt ≤ T" },
        { 0.3, 1, "dt", "not a whole number of steps" },
    };

    [Theory]
    [MemberData(nameof(BadGrids))]
    public void BothSteppedEnginesRejectABadGrid(double dt, double duration, string parameter, string message)
    {
        var stepped = Assert.Throws<ArgumentOutOfRangeException>(() => new SteppedEngine(dt, duration));
        var surrogate = Assert.Throws<ArgumentOutOfRangeException>(() => new SurrogateEngine(dt, duration));
        foreach (var e in new[] { stepped, surrogate })
        {
            Assert.Equal(parameter, e.ParamName);
            Assert.Contains(message, e.Message);
        }
    }

    [Fact]
    public void AWholeNumberOfStepsIsAccepted()
    {
        Assert.Equal(400, TimeGrid.Steps(0.1, 40));
        Assert.Equal(1, TimeGrid.Steps(40, 40));
    }
}
