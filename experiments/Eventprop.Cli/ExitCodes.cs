namespace Eventprop.Cli;

/// <summary>The exit codes of the <c>eventprop</c> command (docs/cli.md), so that <c>train &amp;&amp; evaluate</c> stops when it should.</summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>An unexpected failure (a bug or the machine): the message names the exception; --verbose shows the stack trace.</summary>
    public const int Unexpected = 1;

    /// <summary>A user error: bad command line, config or input files; one line names the problem and the fix.</summary>
    public const int UserError = 2;

    /// <summary>Stopped by Ctrl-C (SIGINT) after writing what was finished (128 + 2, as a shell reports a SIGINT death).</summary>
    public const int Interrupted = 130;
}
