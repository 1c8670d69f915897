namespace Postern.Smtp.Protocol;

/// <summary>
/// Every bound the SMTP server enforces on what a client sends. Each has a reply when exceeded
/// (and a test). Defaults follow RFC 5321 §4.5.3 where it sets minimums.
/// </summary>
public sealed record SmtpLimits
{
    /// <summary>Longest command line, CRLF included (RFC 5321 §4.5.3.1.4: 512 octets).</summary>
    public int MaxCommandLineLength { get; init; } = 512;

    /// <summary>
    /// Longest text line of a message under DATA (or non-BINARYMIME BDAT), CRLF included. RFC 5321
    /// §4.5.3.1.6 says 1,000; real senders (HTML generators) exceed that now and then, so the
    /// default accepts up to 4,096 octets (the documented tolerance) and refuses longer lines with
    /// 500 5.5.6.
    /// </summary>
    public int MaxTextLineLength { get; init; } = 4096;

    /// <summary>Largest message, advertised as SIZE (RFC 1870) and enforced while the message streams in.</summary>
    public long MaxMessageSize { get; init; } = 64L * 1024 * 1024;

    /// <summary>Most recipients of one transaction (RFC 5321 §4.5.3.1.8 asks for at least 100); advertised as LIMITS RCPTMAX.</summary>
    public int MaxRecipients { get; init; } = 1000;

    /// <summary>Most transactions (messages) on one connection; advertised as LIMITS MAILMAX (RFC 9422).</summary>
    public int MaxMessagesPerConnection { get; init; } = 1000;

    /// <summary>Most commands that are not MAIL/RCPT/DATA/BDAT (NOOP, RSET, VRFY, HELP...) on one connection, against idle chatter.</summary>
    public int MaxOtherCommands { get; init; } = 1000;

    /// <summary>Most failed commands (syntax errors, unknown commands, refused recipients) before the connection is closed.</summary>
    public int MaxErrors { get; init; } = 30;

    /// <summary>Messages up to this size stay in memory; larger ones spill to a temporary file as they arrive.</summary>
    public int InMemoryMessageThreshold { get; init; } = 128 * 1024;

    /// <summary>Defaults used by the server.</summary>
    public static SmtpLimits Default { get; } = new();
}
