namespace Postern.Store.Junk;

/// <summary>
/// What the user said a message is, through the keywords $Junk and $NotJunk (RFC 5788 registry; also Apple Mail's
/// Junk/NotJunk and older Thunderbird's NonJunk).
/// </summary>
public enum JunkClass
{
    /// <summary>Neither keyword: not trained.</summary>
    None = 0,

    /// <summary>$NotJunk (and not $Junk).</summary>
    Ham = 1,

    /// <summary>$Junk.</summary>
    Junk = 2,
}

/// <summary>
/// A message's content (copies in several mailboxes share one content id) with the class its messages' keywords give:
/// $Junk on any copy makes it junk, otherwise $NotJunk on any copy makes it ham. <paramref name="MailboxId"/> and
/// <paramref name="Uid"/> name one copy to read it from.
/// </summary>
public sealed record JunkFlagState(long ContentId, JunkClass Class, long MailboxId, uint Uid);

/// <summary>The contents whose messages changed after a MODSEQ, and the account's MODSEQ they were read at.</summary>
public sealed record JunkFlagChanges(IReadOnlyList<JunkFlagState> Contents, long ModSeq);

/// <summary>Totals of an account's junk training.</summary>
/// <param name="JunkMessages">Junk messages trained.</param>
/// <param name="HamMessages">Non-junk messages trained.</param>
/// <param name="Words">Distinct tokens known.</param>
/// <param name="ModSeq">The account MODSEQ up to which flag changes have been trained.</param>
public sealed record JunkTotals(long JunkMessages, long HamMessages, long Words, long ModSeq)
{
    /// <summary>Whether the account's incoming mail is classified at all (the user's choice; training goes on either way).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The account's own threshold, or null for the server's.</summary>
    public double? Threshold { get; init; }
}

/// <summary>
/// One message to (un)train: its tokens move from <paramref name="From"/> to <paramref name="To"/>. Content id 0 is a
/// message from outside the store (`postern junk train`): counted, not remembered.
/// </summary>
public sealed record JunkTrainingStep(long ContentId, JunkClass From, JunkClass To, IReadOnlyCollection<string> Tokens);

/// <summary>
/// An account's junk training data: per token, the number of junk and non-junk messages it was seen in, and which
/// message contents were trained as what. Derived data: it can always be rebuilt from the messages' keywords.
/// </summary>
public interface IJunkWordStore
{
    /// <summary>The totals.</summary>
    Task<JunkTotals> GetTotalsAsync(CancellationToken cancellationToken = default);

    /// <summary>The counts of those of <paramref name="tokens"/> that were ever trained.</summary>
    Task<Dictionary<string, JunkWordCounts>> GetCountsAsync(IReadOnlyCollection<string> tokens, CancellationToken cancellationToken = default);

    /// <summary>Every trained content with how it is trained (as many as the user marked).</summary>
    Task<Dictionary<long, JunkClass>> GetTrainedAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies training steps in one transaction and, with <paramref name="modSeq"/>, records that flag changes up to
    /// it are trained. A step whose <see cref="JunkTrainingStep.From"/> is not how its content is trained now is skipped.
    /// Past the store's word limit (SqliteMailStore.JunkMaxWords), tokens seen in only one message are dropped.
    /// </summary>
    Task ApplyAsync(IReadOnlyList<JunkTrainingStep> steps, long? modSeq, CancellationToken cancellationToken = default);

    /// <summary>
    /// Remembers addresses the account sent mail to (lower-cased), with the time: mail whose DMARC-verified From is one of
    /// them is not judged. At most <see cref="MaxContacts"/> are kept, the least recently written to go first.
    /// </summary>
    Task AddContactsAsync(IReadOnlyCollection<string> addresses, DateTimeOffset when, CancellationToken cancellationToken = default);

    /// <summary>Whether the account has sent mail to <paramref name="address"/> (lower-cased).</summary>
    Task<bool> IsContactAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>The account's own settings: classification on or off, and a threshold (null: the server's). Null arguments leave a setting as it is.</summary>
    Task SetSettingsAsync(bool? enabled, double? threshold, bool serverThreshold = false, CancellationToken cancellationToken = default);

    /// <summary>Contacts kept per account.</summary>
    public const int MaxContacts = 10_000;

    /// <summary>Forgets all training (for a rebuild from the keywords); contacts stay.</summary>
    Task ResetAsync(CancellationToken cancellationToken = default);
}
