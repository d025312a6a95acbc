using System.Diagnostics;
using System.Globalization;
using Eventprop.Cli;

namespace Eventprop.Tests.Cli;

/// <summary>Runs the command in this process (<see cref="Program.Run"/>) or as a child process (<c>dotnet eventprop.dll</c>).</summary>
internal static class CliProcess
{
    /// <summary>Runs <paramref name="args"/> in this process.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Starts the built command (eventprop.dll beside the tests) as a child process with redirected output.</summary>
    public static Process Start(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "eventprop.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (string a in args) info.ArgumentList.Add(a);
        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
    }

    /// <summary>Waits until <paramref name="condition"/> holds (polling), failing after <paramref name="seconds"/>.</summary>
    public static void WaitUntil(Func<bool> condition, Process child, double seconds, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (child.HasExited) throw new Xunit.Sdk.XunitException($"the child exited ({child.ExitCode}) before {what}: {child.StandardError.ReadToEnd()}");
            if (clock.Elapsed.TotalSeconds > seconds) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Sends SIGINT (what Ctrl-C sends) to <paramref name="child"/>.</summary>
    public static void Interrupt(Process child)
    {
        using var kill = Process.Start("kill", ["-INT", child.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }
}
