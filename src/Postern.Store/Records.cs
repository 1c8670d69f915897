namespace Postern.Store;

/// <summary>An account as held by the global part of the store.</summary>
/// <param name="Name">Account name (also its folder name).</param>
/// <param name="Created">When it was created.</param>
/// <param name="QuotaBytes">Storage limit in bytes, or null for none.</param>
public sealed record AccountInfo(string Name, DateTimeOffset Created, long? QuotaBytes);

/// <summary>Storage limit and current usage of an account (sum of message sizes, copies counted).</summary>
public sealed record QuotaInfo(long? LimitBytes, long UsedBytes);

/// <summary>One login attempt, kept for a bounded time for the admin pages and rate limiting.</summary>
/// <param name="Time">When it happened.</param>
/// <param name="RemoteIp">Address of the client.</param>
/// <param name="LoginName">Name the client gave.</param>
/// <param name="Mechanism">SASL mechanism or protocol login method.</param>
/// <param name="Result">Outcome, e.g. "ok", "badcreds", "aborted".</param>
/// <param name="Protocol">imap, submission, web...</param>
public sealed record LoginAttempt(DateTimeOffset Time, string RemoteIp, string LoginName, string Mechanism, string Result, string Protocol = "");

/// <summary>A mailbox and its counters, exact at the time of reading.</summary>
/// <param name="Id">Stable id, never reused within an account.</param>
/// <param name="Name">Full name with "/" as hierarchy separator; INBOX spelled "INBOX".</param>
/// <param name="SpecialUse">RFC 6154 attributes.</param>
/// <param name="Subscribed">Whether the name is subscribed.</param>
/// <param name="Selectable">False for a \Noselect placeholder left when a mailbox with children was deleted.</param>
/// <param name="UidValidity">UIDVALIDITY.</param>
/// <param name="UidNext">UIDNEXT.</param>
/// <param name="HighestModSeq">HIGHESTMODSEQ (RFC 7162).</param>
/// <param name="Messages">Number of messages.</param>
/// <param name="Unseen">Messages without \Seen.</param>
/// <param name="Deleted">Messages with \Deleted.</param>
/// <param name="Size">Sum of message sizes in bytes.</param>
public sealed record MailboxInfo(
    long Id, string Name, SpecialUse SpecialUse, bool Subscribed, bool Selectable,
    uint UidValidity, uint UidNext, long HighestModSeq,
    int Messages, int Unseen, int Deleted, long Size);

/// <summary>The compact per-message record listed for SELECT and FETCH FLAGS.</summary>
/// <param name="Uid">UID in its mailbox.</param>
/// <param name="ModSeq">MODSEQ of the last change (RFC 7162).</param>
/// <param name="Flags">System flags.</param>
/// <param name="Keywords">Keywords, empty array when none.</param>
/// <param name="Size">RFC822.SIZE: prefix plus file bytes.</param>
/// <param name="InternalDate">INTERNALDATE.</param>
/// <param name="SaveDate">SAVEDATE (RFC 8514): when it was put in this mailbox.</param>
public sealed record MessageRecord(uint Uid, long ModSeq, SystemFlags Flags, string[] Keywords, long Size, DateTimeOffset InternalDate, DateTimeOffset SaveDate);

/// <summary>The per-message state a client session keeps for a selected mailbox. Messages without keywords share one empty array.</summary>
public readonly record struct MessageState(uint Uid, long ModSeq, SystemFlags Flags, string[] Keywords);

/// <summary>Header data the parser extracted once at delivery, kept for threading, SORT and previews. The store does not parse messages.</summary>
public sealed partial record MessageMeta
{
    /// <summary>Message-ID header value.</summary>
    public string? MessageId { get; init; }
    /// <summary>In-Reply-To header value.</summary>
    public string? InReplyTo { get; init; }
    /// <summary>References header value.</summary>
    public string? References { get; init; }
    /// <summary>Base subject (RFC 5256 §2.1), for threading and SORT.</summary>
    public string? BaseSubject { get; init; }
    /// <summary>Decoded Subject.</summary>
    public string? Subject { get; init; }
    /// <summary>Date header, when present and valid.</summary>
    public DateTimeOffset? Date { get; init; }
    /// <summary>First From address (addr-spec).</summary>
    public string? FromAddress { get; init; }
    /// <summary>First From display name.</summary>
    public string? FromName { get; init; }
    /// <summary>First To address.</summary>
    public string? ToAddress { get; init; }
    /// <summary>First To display name.</summary>
    public string? ToName { get; init; }
    /// <summary>First Cc address.</summary>
    public string? CcAddress { get; init; }
    /// <summary>First Cc display name.</summary>
    public string? CcName { get; init; }
    /// <summary>Short text preview (RFC 8970), optional.</summary>
    public string? Preview { get; init; }

    /// <summary>Meta with nothing known.</summary>
    public static MessageMeta Empty { get; } = new();
}

/// <summary>A message to append.</summary>
/// <param name="Content">The message bytes (without prefix).</param>
/// <param name="Structure">Parsed structure as an opaque blob from Postern.Mail (may be empty).</param>
/// <param name="Meta">Header data for threads and SORT.</param>
public sealed record NewMessage(MessageSource Content, byte[] Structure, MessageMeta Meta)
{
    /// <summary>Initial system flags.</summary>
    public SystemFlags Flags { get; init; }
    /// <summary>Initial keywords.</summary>
    public IReadOnlyList<string> Keywords { get; init; } = [];
    /// <summary>INTERNALDATE; now when null.</summary>
    public DateTimeOffset? InternalDate { get; init; }
    /// <summary>Header bytes added at delivery (Received, Authentication-Results), served before the content. Kept in the database.</summary>
    public ReadOnlyMemory<byte> Prefix { get; init; }
}

/// <summary>Result of an append: what APPENDUID (RFC 4315) needs.</summary>
public sealed record AppendResult(long MailboxId, uint UidValidity, IReadOnlyList<uint> Uids, long ModSeq);

/// <summary>Result of a flag change.</summary>
/// <param name="Changed">Records whose flags changed, with their new MODSEQ.</param>
/// <param name="FailedCondition">UIDs whose MODSEQ was above UNCHANGEDSINCE (RFC 7162 §3.1.3): not changed.</param>
public sealed record StoreFlagsResult(IReadOnlyList<MessageRecord> Changed, IReadOnlyList<uint> FailedCondition);

/// <summary>Result of COPY/MOVE: what COPYUID (RFC 4315) needs. SourceUids[i] became DestinationUids[i].</summary>
public sealed record CopyResult(uint DestinationUidValidity, IReadOnlyList<uint> SourceUids, IReadOnlyList<uint> DestinationUids, long ModSeq);

/// <summary>Result of an expunge: UIDs removed, ascending, and the MODSEQ recorded for them.</summary>
public sealed record ExpungeResult(IReadOnlyList<uint> Uids, long ModSeq);

/// <summary>Result of <see cref="IAccountStore.ReplaceAsync"/>: the new message and the expunge of the old one.</summary>
public sealed record ReplaceResult(AppendResult Appended, ExpungeResult Expunged);

/// <summary>Changes in a mailbox after a MODSEQ, for CONDSTORE/QRESYNC (RFC 7162).</summary>
/// <param name="Changed">Current records of messages with MODSEQ above the given one.</param>
/// <param name="Expunged">UIDs expunged with MODSEQ above the given one, ascending.</param>
/// <param name="HighestModSeq">Mailbox HIGHESTMODSEQ at the time of reading.</param>
public sealed record MailboxChanges(IReadOnlyList<MessageRecord> Changed, IReadOnlyList<uint> Expunged, long HighestModSeq);

/// <summary>Parsed data of one message, for FETCH of BODYSTRUCTURE, ENVELOPE and the like.</summary>
/// <param name="Uid">UID.</param>
/// <param name="Size">Total size (prefix + file).</param>
/// <param name="PrefixLength">Bytes of the delivery prefix at the start of the content.</param>
/// <param name="Structure">Opaque structure blob given at append.</param>
/// <param name="Meta">Header data given at append.</param>
public sealed record MessageDetails(uint Uid, long Size, int PrefixLength, byte[] Structure, MessageMeta Meta);

/// <summary>Where mail to an address goes.</summary>
/// <param name="Account">Account name.</param>
/// <param name="Mailbox">Destination mailbox, or null for INBOX.</param>
public sealed record AddressTarget(string Account, string? Mailbox);

/// <summary>An alias address that expands to local members.</summary>
/// <param name="Address">The alias address, lower-cased.</param>
/// <param name="Members">Member addresses (each a local address), lower-cased.</param>
/// <param name="MembersMaySend">Whether accounts of members may use the alias as From when submitting.</param>
public sealed record AliasInfo(string Address, IReadOnlyList<string> Members, bool MembersMaySend);

/// <summary>A local domain.</summary>
/// <param name="Name">The domain, lower-case A-labels.</param>
/// <param name="Created">When it was added (for domains of older data folders: when the folder was upgraded).</param>
/// <param name="Addresses">How many addresses (catch-all included) are in the domain.</param>
/// <param name="Aliases">How many aliases are in the domain.</param>
public sealed record DomainInfo(string Name, DateTimeOffset Created, int Addresses, int Aliases);

/// <summary>What <see cref="IAccountDirectory.RemoveDomainAsync"/> did.</summary>
/// <param name="Removed">False when the domain was not a local domain.</param>
/// <param name="Addresses">Addresses removed with it.</param>
/// <param name="Aliases">Aliases removed with it.</param>
public sealed record DomainRemoval(bool Removed, int Addresses, int Aliases);

/// <summary>What a delivery rule matches on.</summary>
public enum DeliveryRuleField
{
    /// <summary>The value of a named header field (unfolded).</summary>
    Header,
    /// <summary>The From header's addresses.</summary>
    From,
    /// <summary>The envelope sender (MAIL FROM).</summary>
    EnvelopeFrom,
    /// <summary>The envelope recipient (RCPT TO) this copy is delivered for.</summary>
    EnvelopeTo,
}

/// <summary>A rule that files incoming mail of an account into a mailbox when a regular expression matches.</summary>
/// <param name="Id">Id (0 when adding).</param>
/// <param name="Account">Account name.</param>
/// <param name="Field">What is matched.</param>
/// <param name="Header">Header field name for <see cref="DeliveryRuleField.Header"/>.</param>
/// <param name="Pattern">.NET regular expression, matched case-insensitively.</param>
/// <param name="Mailbox">Destination mailbox.</param>
public sealed record DeliveryRule(long Id, string Account, DeliveryRuleField Field, string? Header, string Pattern, string Mailbox);
