namespace Postern.Queue;

/// <summary>Where a delivery (one recipient domain of a message) or a recipient stands.</summary>
public enum DeliveryState
{
    /// <summary>Waiting for its next attempt.</summary>
    Queued = 0,
    /// <summary>Delivered (every recipient of the delivery accepted).</summary>
    Delivered = 1,
    /// <summary>Failed permanently, or gave up after the last attempt (for a delivery: at least one recipient failed).</summary>
    Failed = 2,
}

/// <summary>Message flags stored with a queued message.</summary>
[Flags]
public enum QueueMessageFlags
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>8-bit content (RFC 6152).</summary>
    EightBit = 1,
    /// <summary>Needs SMTPUTF8 (RFC 6531).</summary>
    SmtpUtf8 = 2,
    /// <summary>REQUIRETLS (RFC 8689).</summary>
    RequireTls = 4,
    /// <summary>The message is a DSN Postern generated.</summary>
    Dsn = 8,
    /// <summary>The message has the header <c>TLS-Required: No</c> (RFC 8689 §5): MTA-STS and DANE failures are ignored.</summary>
    TlsRequiredNo = 16,
    /// <summary>A TLS report Postern sends (RFC 8460): the TLS sessions that deliver it are not recorded for TLS reports (Postern's rule against report loops).</summary>
    TlsReport = 32,
}

/// <summary>A recipient to store with a new message.</summary>
/// <param name="Address">The forward-path.</param>
/// <param name="Notify">The raw NOTIFY value, or null.</param>
/// <param name="OriginalRecipient">The raw ORCPT value, or null.</param>
public sealed record NewQueueRecipient(string Address, string? Notify, string? OriginalRecipient);

/// <summary>A message whose file is already written durably, to be recorded.</summary>
/// <param name="Account">The submitting account, or null for mail Postern originates.</param>
/// <param name="MailFrom">The reverse-path ("" for the null sender).</param>
/// <param name="Size">File size in octets.</param>
/// <param name="Flags">8-bit, SMTPUTF8, REQUIRETLS, DSN.</param>
/// <param name="EnvelopeId">ENVID.</param>
/// <param name="Return">RET (FULL or HDRS).</param>
/// <param name="HoldUntil">FUTURERELEASE time, or null.</param>
/// <param name="File">The file name relative to the queue's message folder.</param>
/// <param name="MessageIdHeader">The Message-ID header of the message (for linking incoming DSNs), or null.</param>
/// <param name="Recipients">All recipients; the store groups them into one delivery per domain.</param>
public sealed record NewQueueMessage(
    string? Account, string MailFrom, long Size, QueueMessageFlags Flags, string? EnvelopeId, string? Return,
    DateTimeOffset? HoldUntil, string File, string? MessageIdHeader, IReadOnlyList<NewQueueRecipient> Recipients);

/// <summary>A queued message as stored.</summary>
public sealed record QueueMessage(
    long Id, string? Account, string MailFrom, long Size, QueueMessageFlags Flags, string? EnvelopeId, string? Return,
    DateTimeOffset? HoldUntil, DateTimeOffset Created, string File, string? MessageIdHeader);

/// <summary>A recipient of a delivery with its state and last reply.</summary>
public sealed record QueueRecipient(long Id, long DeliveryId, string Address, string? Notify, string? OriginalRecipient,
    DeliveryState State, int Code, string? Enhanced, string? Text);

/// <summary>One recipient domain of a message.</summary>
public sealed record QueueDelivery(long Id, long MessageId, string Domain, DeliveryState State, DateTimeOffset NextAttempt,
    int Attempts, bool Held, DateTimeOffset? LeasedUntil, bool DelayedDsnSent, DateTimeOffset? Finished, string? LastError);

/// <summary>A delivery leased by a worker, with what it needs for an attempt.</summary>
public sealed record LeasedDelivery(QueueMessage Message, QueueDelivery Delivery, IReadOnlyList<QueueRecipient> Recipients);

/// <summary>One line of <c>queue list</c>.</summary>
public sealed record QueueListItem(QueueMessage Message, QueueDelivery Delivery, int Recipients);

/// <summary>Filters of <c>queue list</c>.</summary>
public sealed record QueueListFilter(string? Account = null, string? Domain = null, bool? Held = null, bool IncludeFinished = false, int Limit = 1000);

/// <summary>One recorded attempt.</summary>
public sealed record QueueAttempt(long DeliveryId, DateTimeOffset Time, string Transport, string? Host, string? Ip, string Tls, string Result, string Log);

/// <summary>An event in a message's history (DSN sent, incoming DSN linked, operator action).</summary>
public sealed record QueueEvent(long MessageId, DateTimeOffset Time, string Kind, string Text);

/// <summary>Everything about one message, for <c>queue show</c>.</summary>
public sealed record QueueMessageDetails(QueueMessage Message, IReadOnlyList<QueueDelivery> Deliveries, IReadOnlyList<QueueRecipient> Recipients,
    IReadOnlyList<QueueAttempt> Attempts, IReadOnlyList<QueueEvent> Events);

/// <summary>An address an account may not send to any more (it bounced hard).</summary>
public sealed record SuppressedAddress(string Account, string Address, string Reason, DateTimeOffset Added);

/// <summary>The outcome of one attempt, applied in one transaction.</summary>
/// <param name="DeliveryId">The delivery attempted.</param>
/// <param name="State">The delivery's new state.</param>
/// <param name="Attempts">Attempts made so far, this one included.</param>
/// <param name="NextAttempt">When to try again (Queued only).</param>
/// <param name="DelayedDsnSent">Whether the delayed DSN has been sent.</param>
/// <param name="LastError">A short reason of the last temporary failure.</param>
/// <param name="Recipients">New state and reply per recipient id.</param>
/// <param name="Attempt">The attempt record.</param>
/// <param name="Suppress">Addresses to add to the suppression list.</param>
public sealed record AttemptOutcome(long DeliveryId, DeliveryState State, int Attempts, DateTimeOffset NextAttempt, bool DelayedDsnSent, string? LastError,
    IReadOnlyList<(long RecipientId, DeliveryState State, int Code, string Enhanced, string Text)> Recipients,
    QueueAttempt Attempt, IReadOnlyList<SuppressedAddress> Suppress);

/// <summary>An account's sending counts for one UTC day.</summary>
/// <param name="Messages">Messages queued today.</param>
/// <param name="FirstTimeRecipients">Recipients written to for the first time today.</param>
/// <param name="KnownRecipient">Whether the asked recipient was written to before.</param>
/// <param name="Suppressed">The suppression entry of the asked recipient, if any.</param>
public sealed record AccountSendingCounts(int Messages, int FirstTimeRecipients, bool KnownRecipient, SuppressedAddress? Suppressed);
