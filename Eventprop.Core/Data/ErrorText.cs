namespace Eventprop.Core.Data;

/// <summary>Helpers for the one-line error messages of the data readers.</summary>
internal static class ErrorText
{
    /// <summary>Collapses a (library) message to one line so that messages quoting it stay one line.</summary>
    internal static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();
}
