using Postern.Smtp.Client;

namespace Postern.Smtp.Delivery;

// How the SMTP server hands mail for remote recipients (and DSNs it must send) to the
// outgoing queue (Postern.Queue implements this). The server stays ignorant of retries,
// transports and DKIM keys.

/// <summary>A message for remote recipients, complete and ready to be queued.</summary>
/// <param name="Account">The account that submitted it, or null for mail Postern itself originates (DSNs, reports).</param>
/// <param name="MailFrom">The reverse-path; empty for the null sender (DSNs).</param>
/// <param name="Recipients">The remote recipients with their RFC 3461 parameters.</param>
/// <param name="OpenContent">Opens the complete message (header and body, CRLF lines) from the start.</param>
/// <param name="Size">The message size in octets.</param>
/// <param name="Needs8BitMime">The message has 8-bit content (BODY=8BITMIME or BINARYMIME, or 8-bit octets seen).</param>
/// <param name="NeedsSmtpUtf8">The message was sent with SMTPUTF8 or has non-ASCII addresses.</param>
/// <param name="RequireTls">REQUIRETLS was given on MAIL FROM (RFC 8689).</param>
/// <param name="EnvelopeId">The raw ENVID (RFC 3461 §4.4), or null.</param>
/// <param name="Return">The RET value, <c>FULL</c> or <c>HDRS</c> (RFC 3461 §4.3), or null.</param>
/// <param name="HoldUntil">FUTURERELEASE (RFC 4865): do not deliver before this time; null for now.</param>
/// <param name="ConnectionId">The SMTP connection id, for logs.</param>
public sealed record OutgoingMessage(
    string? Account,
    string MailFrom,
    IReadOnlyList<OutboundRecipient> Recipients,
    Func<Stream> OpenContent,
    long Size,
    bool Needs8BitMime,
    bool NeedsSmtpUtf8,
    bool RequireTls,
    string? EnvelopeId,
    string? Return,
    DateTimeOffset? HoldUntil,
    long ConnectionId);

/// <summary>The queue's answer to a recipient at RCPT time: accepted, or a reply to send.</summary>
/// <param name="Accepted">True when the recipient may be queued.</param>
/// <param name="Code">The SMTP reply code when refused (452/451 temporary, 550 permanent).</param>
/// <param name="Enhanced">The enhanced status code when refused.</param>
/// <param name="Text">The reply text when refused.</param>
public sealed record QueueRecipientCheck(bool Accepted, int Code = 0, string Enhanced = "", string Text = "")
{
    /// <summary>The recipient may be queued.</summary>
    public static QueueRecipientCheck Accept { get; } = new(true);
}

/// <summary>The outgoing queue as the SMTP server sees it.</summary>
public interface IOutgoingQueue
{
    /// <summary>
    /// At RCPT on submission: may <paramref name="account"/> send to this remote recipient now?
    /// Per-account limits (messages and first-time recipients per day) and the suppression list answer here.
    /// </summary>
    ValueTask<QueueRecipientCheck> CheckRecipientAsync(string account, string mailFrom, OutboundRecipient recipient, CancellationToken cancellationToken);

    /// <summary>
    /// Stores the message durably (message file and record committed) and schedules delivery;
    /// submitted messages are DKIM-signed here. Returns the queue id. Called before the 250 reply:
    /// when it throws, the client gets a temporary error and nothing was queued.
    /// </summary>
    Task<string> EnqueueAsync(OutgoingMessage message, CancellationToken cancellationToken);
}
