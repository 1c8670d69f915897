using System.Net;
using Postern.Mail;

namespace Postern.Smtp.Delivery;

/// <summary>A complete incoming message as the acceptance pipeline sees it, before delivery.</summary>
/// <param name="RemoteIp">Client address.</param>
/// <param name="Helo">EHLO/HELO name.</param>
/// <param name="MailFrom">Envelope sender ("" for the null path).</param>
/// <param name="Recipients">Accepted envelope recipients.</param>
/// <param name="Headers">Top-level header fields of the message.</param>
/// <param name="Tls">Whether the connection is TLS.</param>
/// <param name="AuthenticatedAccount">Account of an authenticated submission, or null.</param>
/// <param name="OpenContent">Opens the message bytes from the start (callers dispose the stream).</param>
public sealed record IncomingMessage(
    IPAddress RemoteIp, string Helo, string MailFrom, IReadOnlyList<string> Recipients, HeaderList Headers,
    bool Tls, string? AuthenticatedAccount, Func<Stream> OpenContent);

/// <summary>What a checker decided.</summary>
public sealed record IncomingVerdict
{
    /// <summary>Accepted; nothing to add.</summary>
    public static IncomingVerdict Accept { get; } = new();

    /// <summary>Refused with this reply (4xx temporary or 5xx permanent); null when accepted.</summary>
    public (int Code, string Enhanced, string Text)? Rejection { get; init; }

    /// <summary>Header fields to add at delivery (full lines with CRLF), e.g. Authentication-Results.</summary>
    public string? AddHeaders { get; init; }

    /// <summary>A comment for the Received header's "from" clause (without parentheses), e.g. whether the sender's DNS is DNSSEC-signed.</summary>
    public string? ReceivedComment { get; init; }

    /// <summary>
    /// The client's host name, confirmed by reverse and forward DNS (iprev pass, RFC 8601 §3), for the
    /// Received header's TCP-info (RFC 5321 §4.4: "from HELO (name [address])"); null when not confirmed.
    /// </summary>
    public string? ClientHostName { get; init; }

    /// <summary>Deliver into the account's Junk mailbox (special-use \Junk) instead of the usual one (DMARC quarantine).</summary>
    public bool Junk { get; init; }

    /// <summary>
    /// The From address, lower-cased, when DMARC passed for it (its domain authenticated the message), else null. The junk
    /// filter trusts mail from addresses an account has written to only then: a forged From would pass otherwise.
    /// </summary>
    public string? VerifiedFrom { get; init; }
}

/// <summary>
/// One step of the acceptance pipeline, run after the message is complete and before it is
/// delivered. Sender authentication (SPF, DKIM, DMARC: <see cref="SenderAuthenticationChecker"/>) plugs in
/// here and adds its Authentication-Results; without a checker no such header is written.
/// </summary>
public interface IIncomingMessageChecker
{
    /// <summary>Checks a message.</summary>
    ValueTask<IncomingVerdict> CheckAsync(IncomingMessage message, CancellationToken cancellationToken);
}
