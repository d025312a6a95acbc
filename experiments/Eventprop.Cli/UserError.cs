namespace Eventprop.Cli;

/// <summary>A mistake in the command line or its input files: printed as one line (with the fix), exit code 2.</summary>
public sealed class UserError(string message) : Exception(message);
