namespace Eventprop.Core.Nir;

/// <summary>
/// A NIR file eventprop cannot read or a graph it cannot simulate. The message is one line that names the file, the
/// node and why (and, where there is one, the fix); the CLI prints it as is.
/// </summary>
public sealed class NirFormatException : Exception
{
    /// <summary>Creates the exception with its one-line <paramref name="message"/>.</summary>
    public NirFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with its one-line <paramref name="message"/> and the failure underneath.</summary>
    public NirFormatException(string message, Exception inner) : base(message, inner) { }
}
