namespace Postern.Smtp.Client;

// The contract between the outgoing queue (Postern.Queue, which decides what to send and
// when) and the transports here (which know how to hand one message to one recipient
// domain). A transport makes one attempt and reports per-recipient results; retries,
// DSNs and history belong to the queue.

/// <summary>One recipient of an outbound transaction, with its RFC 3461 parameters.</summary>
/// <param name="Address">The forward-path, <c>local@domain</c> (the domain may be a U-label).</param>
/// <param name="Notify">The raw NOTIFY value (RFC 3461 §4.1, e.g. <c>FAILURE,DELAY</c>), or null.</param>
/// <param name="OriginalRecipient">The raw ORCPT value (RFC 3461 §4.2, <c>rfc822;addr</c>), or null.</param>
public sealed record OutboundRecipient(string Address, string? Notify = null, string? OriginalRecipient = null);

/// <summary>One attempt at delivering a message to the recipients of one domain.</summary>
/// <param name="RecipientDomain">The domain all <paramref name="Recipients"/> share.</param>
/// <param name="MailFrom">The reverse-path; empty for the null sender (DSNs).</param>
/// <param name="Recipients">The recipients still to deliver.</param>
/// <param name="OpenMessage">Opens the complete message (header and body, CRLF lines) for reading; called once per transaction.</param>
/// <param name="Size">The message size in octets.</param>
/// <param name="Needs8BitMime">The message has 8-bit content: the peer must offer 8BITMIME (RFC 6152).</param>
/// <param name="NeedsSmtpUtf8">An address or header needs SMTPUTF8 (RFC 6531): refuse rather than corrupt.</param>
/// <param name="RequireTls">The message was submitted with REQUIRETLS (RFC 8689).</param>
/// <param name="EnvelopeId">The raw ENVID (RFC 3461 §4.4), passed on to peers that offer DSN.</param>
/// <param name="Return">The raw RET value (FULL or HDRS, RFC 3461 §4.3), passed on to peers that offer DSN.</param>
/// <param name="Attempt">The attempt number, 1-based (routes can choose a transport by it).</param>
/// <param name="SenderDomain">The domain of the sender, for routes (the reverse-path's, or the submitter's for DSNs).</param>
/// <param name="TlsRequiredNo">The message has the header <c>TLS-Required: No</c> (RFC 8689 §5): MTA-STS and DANE verification failures are ignored (ignored itself when <paramref name="RequireTls"/> is set).</param>
/// <param name="TlsReport">The message is a TLS report Postern sends (RFC 8460): the TLS sessions that deliver it are not recorded for TLS reports (no report loops).</param>
public sealed record OutboundRequest(
    string RecipientDomain,
    string MailFrom,
    IReadOnlyList<OutboundRecipient> Recipients,
    Func<Stream> OpenMessage,
    long Size,
    bool Needs8BitMime,
    bool NeedsSmtpUtf8,
    bool RequireTls,
    string? EnvelopeId,
    string? Return,
    int Attempt,
    string SenderDomain,
    bool TlsRequiredNo = false,
    bool TlsReport = false);

/// <summary>What happened to one recipient in an attempt.</summary>
/// <param name="Address">The recipient as in the request.</param>
/// <param name="Code">The SMTP reply code that decided it (250 when delivered), or 0 when no reply applies.</param>
/// <param name="Enhanced">The enhanced status code (RFC 3463), e.g. <c>5.1.1</c>; synthesised when the peer gave none.</param>
/// <param name="Text">The reply text or a description of the local error.</param>
/// <param name="Permanent">True when retrying cannot help (5xx, null MX, message needs an extension the peer lacks).</param>
public sealed record OutboundRecipientResult(string Address, int Code, string Enhanced, string Text, bool Permanent)
{
    /// <summary>True when the peer accepted the message for this recipient.</summary>
    public bool Delivered => Code is >= 200 and < 300;

    /// <summary>
    /// The recipient's DSN request (NOTIFY, ORCPT, and the message's RET and ENVID) went on with the message: the peer
    /// that accepted it offers DSN (RFC 3461 §5.2.1), so success is reported from there, not by the sender's queue.
    /// </summary>
    public bool DsnPassedOn { get; init; }

    /// <summary>The message reached the recipient's mailbox (local delivery), not a next hop: a success DSN says "delivered" (RFC 3461 §5.2.3), not "relayed".</summary>
    public bool FinalDelivery { get; init; }
}

/// <summary>How TLS went for an attempt, recorded with the queue's history (and in TLS reports, later).</summary>
/// <param name="Used">STARTTLS or implicit TLS was negotiated.</param>
/// <param name="Version">The TLS protocol version, e.g. <c>TLSv1.3</c>.</param>
/// <param name="Cipher">The cipher suite.</param>
/// <param name="CertificateVerified">The peer's certificate verified against the policy in force (system CAs by default).</param>
/// <param name="Policy">The policy step that decided: <c>opportunistic</c>, <c>dane</c>, <c>dane-unusable</c> (mandatory unauthenticated TLS), <c>mta-sts</c>, <c>mta-sts-testing</c>, <c>smarthost</c>…</param>
/// <param name="Error">Why TLS failed or was not verified, if it did not work.</param>
public sealed record TlsOutcome(bool Used, string? Version, string? Cipher, bool CertificateVerified, string Policy, string? Error)
{
    /// <summary>No TLS was attempted.</summary>
    public static TlsOutcome None { get; } = new(false, null, null, false, "none", null);
}

/// <summary>The result of one attempt: one entry per requested recipient, in request order.</summary>
/// <param name="Recipients">Per-recipient outcome; every requested recipient appears exactly once.</param>
/// <param name="RemoteHost">The host name that was finally talked to (an MX, smarthost or relay), if any.</param>
/// <param name="RemoteIp">Its IP address, if a connection was made.</param>
/// <param name="Tls">TLS details of the connection that decided the result.</param>
/// <param name="Transport">The name of the transport that made the attempt (<c>direct</c>, a configured name…).</param>
/// <param name="Log">A short, human-readable account of the attempt (hosts tried, errors), for <c>queue show</c>.</param>
public sealed record OutboundResult(
    IReadOnlyList<OutboundRecipientResult> Recipients,
    string? RemoteHost,
    string? RemoteIp,
    TlsOutcome Tls,
    string Transport,
    string Log);

/// <summary>Hands one message to the recipients of one domain: directly to its MX hosts, through a smarthost, relay or proxy.</summary>
public interface IOutboundTransport
{
    /// <summary>Makes one attempt. Never throws for network or peer errors: they become temporary (or permanent) recipient results.</summary>
    Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken);
}
