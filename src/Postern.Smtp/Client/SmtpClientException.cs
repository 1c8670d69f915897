namespace Postern.Smtp.Client;

/// <summary>Where in a session a client error happened; decides whether another host may be tried.</summary>
public enum SmtpClientStage
{
    /// <summary>Connecting (TCP, proxy).</summary>
    Connect,
    /// <summary>Greeting, EHLO/HELO, STARTTLS, AUTH: nothing of the message was accepted yet.</summary>
    Setup,
    /// <summary>Inside a mail transaction.</summary>
    Transaction,
}

/// <summary>
/// A failure of the SMTP client: a network error, a timeout, a malformed or oversized reply, or a
/// negative reply that ends the session. Never escapes a transport: it becomes recipient results.
/// </summary>
public sealed class SmtpClientException : Exception
{
    /// <summary>Creates an exception.</summary>
    public SmtpClientException(string message, SmtpClientStage stage, SmtpReply? reply = null, bool permanent = false, Exception? inner = null)
        : base(message, inner)
    {
        Stage = stage;
        Reply = reply;
        Permanent = permanent;
    }

    /// <summary>Where it happened.</summary>
    public SmtpClientStage Stage { get; }

    /// <summary>The reply that caused it, if a reply did.</summary>
    public SmtpReply? Reply { get; }

    /// <summary>True when retrying cannot help (a 5xx to MAIL or DATA, or a capability the message needs and the peer lacks).</summary>
    public bool Permanent { get; }
}
