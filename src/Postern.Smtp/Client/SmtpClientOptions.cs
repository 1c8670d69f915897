namespace Postern.Smtp.Client;

/// <summary>
/// Client timeouts. The defaults are those of RFC 5321 §4.5.3.2: the sender waits this long for
/// each reply before giving up on the connection (a temporary failure of the attempt).
/// </summary>
public sealed record SmtpClientTimeouts
{
    /// <summary>TCP (and proxy) connection set-up. Not in RFC 5321; 30 s is what MTAs commonly use.</summary>
    public TimeSpan Connect { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The 220 greeting (RFC 5321 §4.5.3.2.1: 5 minutes). Also used for EHLO, STARTTLS, AUTH, RSET and the TLS handshake.</summary>
    public TimeSpan Greeting { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The reply to MAIL (§4.5.3.2.2: 5 minutes).</summary>
    public TimeSpan Mail { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The reply to each RCPT (§4.5.3.2.3: 5 minutes).</summary>
    public TimeSpan Rcpt { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The 354 reply to DATA (§4.5.3.2.4: 2 minutes).</summary>
    public TimeSpan DataInitiation { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Each write of message data, and each BDAT chunk's reply (§4.5.3.2.5: 3 minutes).</summary>
    public TimeSpan DataBlock { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>The reply after the final dot or last BDAT chunk (§4.5.3.2.6: 10 minutes).</summary>
    public TimeSpan DataTermination { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The defaults of RFC 5321.</summary>
    public static SmtpClientTimeouts Default { get; } = new();

    /// <summary>The same timeout for everything (tests).</summary>
    public static SmtpClientTimeouts All(TimeSpan t) => new() { Connect = t, Greeting = t, Mail = t, Rcpt = t, DataInitiation = t, DataBlock = t, DataTermination = t };
}

/// <summary>Bounds on what a peer may send the client (DESIGN principle 5): exceeding one fails the attempt temporarily.</summary>
public sealed record SmtpClientLimits
{
    /// <summary>Longest reply line, CRLF included. RFC 5321 §4.5.3.1.5 allows 512; peers are often longer.</summary>
    public int MaxReplyLineLength { get; init; } = 2048;

    /// <summary>Most lines in one multi-line reply (EHLO lists are the longest).</summary>
    public int MaxReplyLines { get; init; } = 100;

    /// <summary>Most octets in one reply.</summary>
    public int MaxReplyBytes { get; init; } = 32 * 1024;

    /// <summary>Most recipients per transaction when the peer announces no LIMITS RCPTMAX (RFC 5321 §4.5.3.1.8 requires servers to take 100).</summary>
    public int DefaultRecipientsPerTransaction { get; init; } = 100;

    /// <summary>Size of one BDAT chunk (RFC 3030).</summary>
    public int ChunkSize { get; init; } = 256 * 1024;

    /// <summary>The defaults.</summary>
    public static SmtpClientLimits Default { get; } = new();
}

/// <summary>Options of an SMTP client connection.</summary>
public sealed record SmtpClientOptions
{
    /// <summary>Our name in EHLO/HELO: this server's host name.</summary>
    public string LocalHostName { get; init; } = "localhost";

    /// <summary>Reply timeouts.</summary>
    public SmtpClientTimeouts Timeouts { get; init; } = SmtpClientTimeouts.Default;

    /// <summary>Input bounds.</summary>
    public SmtpClientLimits Limits { get; init; } = SmtpClientLimits.Default;

    /// <summary>
    /// Where each outgoing TLS session attempt is recorded for TLS reporting (RFC 8460), or null.
    /// <c>serve</c> sets the reports.db recorder; its Record never blocks or throws.
    /// </summary>
    public Store.Reports.ITlsResultRecorder? TlsResults { get; init; }
}
