namespace Postern.Imap.Protocol;

/// <summary>A syntax error in a command: answered with a tagged BAD carrying <see cref="Exception.Message"/>.</summary>
public sealed class ImapParseException : Exception
{
    /// <summary>Creates the error with a message for the client.</summary>
    public ImapParseException(string message) : base(message) { }

    /// <summary>Creates the error.</summary>
    public ImapParseException() { }

    /// <summary>Creates the error with an inner exception.</summary>
    public ImapParseException(string message, Exception inner) : base(message, inner) { }
}
