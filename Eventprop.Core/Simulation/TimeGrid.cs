namespace Eventprop.Core.Simulation;

/// <summary>Checks shared by the time-stepped engines for a grid of step dt over a trial of length T.</summary>
internal static class TimeGrid
{
    /// <summary>The grid point nearest to <paramref name="time"/> (ms), ⌊time/dt + ½⌋, capped at <paramref name="limit"/>: the
    /// one rounding rule of the CPU engines, for input spikes on the grid and for learned delays in steps.</summary>
    public static int NearestStep(double time, double dt, int limit)
    {
        double x = Math.Floor(time / dt + 0.5);
        return x >= limit ? limit : (int)x;
    }

    /// <summary>The number of steps T/dt, after checking that T and dt are finite and positive, dt ≤ T and T/dt is whole.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A check fails; the message names it and the fix.</exception>
    public static double Steps(double dt, double duration)
    {
        if (!double.IsFinite(duration) || duration <= 0)
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "The trial duration must be finite and > 0 ms.");
        if (!double.IsFinite(dt) || dt <= 0)
            throw new ArgumentOutOfRangeException(nameof(dt), dt, "The time step dt must be finite and > 0 ms.");
        if (dt > duration)
            throw new ArgumentOutOfRangeException(nameof(dt), dt, $"The time step dt = {dt} ms is longer than the trial ({duration} ms); choose dt ≤ T.");
        double steps = Math.Round(duration / dt);
        if (Math.Abs(steps * dt - duration) > 1e-9 * duration)
            throw new ArgumentOutOfRangeException(nameof(dt), dt, $"The trial duration {duration} ms is not a whole number of steps of {dt} ms; choose dt so that T/dt is an integer.");
        return steps;
    }
}
