namespace Postern.Store;

/// <summary>
/// The mail store of one data directory (embedded SQLite) or one database (PostgreSQL, later).
/// Account stores are shared: every <see cref="OpenAccountAsync"/> returns the same instance while it is in use,
/// reference-counted; dispose what you opened.
/// </summary>
public interface IMailStore : IAsyncDisposable
{
    /// <summary>What spans accounts: accounts, addresses, login attempts.</summary>
    IAccountDirectory Directory { get; }

    /// <summary>Opens (or shares) the store of an account. Throws <see cref="AccountNotFoundException"/>.</summary>
    ValueTask<IAccountStore> OpenAccountAsync(string accountName, CancellationToken cancellationToken = default);

    /// <summary>
    /// Raised after each committed batch of changes to an account made in this process, with the account's name: for
    /// services that follow every account without keeping them open (the junk trainer). Handlers run on the account's
    /// writer and must return at once.
    /// </summary>
    event Action<string, IReadOnlyList<StoreChange>>? AccountChanged;
}

/// <summary>The global part of the store: accounts, credentials, quota limits, addresses and the login-attempt log.</summary>
public interface IAccountDirectory
{
    /// <summary>Creates an account with its default mailboxes: INBOX, Drafts (\Drafts), Sent (\Sent), Archive (\Archive), Trash (\Trash), Junk (\Junk).</summary>
    Task<AccountInfo> CreateAccountAsync(string name, long? quotaBytes = null, CancellationToken cancellationToken = default);

    /// <summary>All accounts, by name.</summary>
    Task<IReadOnlyList<AccountInfo>> ListAccountsAsync(CancellationToken cancellationToken = default);

    /// <summary>One account, or null.</summary>
    Task<AccountInfo?> GetAccountAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The opaque credentials string (derived secrets, never a clear password), or null when none set.</summary>
    Task<string?> GetCredentialsAsync(string accountName, CancellationToken cancellationToken = default);

    /// <summary>Replaces the opaque credentials string.</summary>
    Task SetCredentialsAsync(string accountName, string? credentials, CancellationToken cancellationToken = default);

    /// <summary>Sets or clears the storage limit; takes effect at once for open account stores.</summary>
    Task SetQuotaAsync(string accountName, long? quotaBytes, CancellationToken cancellationToken = default);

    /// <summary>Maps an email address (compared case-insensitively) to an account. Throws <see cref="AddressExistsException"/>.</summary>
    Task AddAddressAsync(string address, string accountName, CancellationToken cancellationToken = default);

    /// <summary>Removes an address mapping; false when it did not exist.</summary>
    Task<bool> RemoveAddressAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>The account an address belongs to, or null.</summary>
    Task<string?> LookupAddressAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>Addresses of an account.</summary>
    Task<IReadOnlyList<string>> ListAddressesAsync(string accountName, CancellationToken cancellationToken = default);

    /// <summary>The account and destination mailbox of an address (exact match, case-insensitive; "@domain" is a catch-all), or null.</summary>
    Task<AddressTarget?> LookupAddressTargetAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>Sets the mailbox that mail to an address is delivered to (null: INBOX). False when the address does not exist.</summary>
    Task<bool> SetAddressMailboxAsync(string address, string? mailbox, CancellationToken cancellationToken = default);

    /// <summary>Whether <paramref name="domain"/> (A-labels, compared case-insensitively) is a local domain: added with <see cref="AddDomainAsync"/>, or by adding an address or alias in it.</summary>
    Task<bool> IsLocalDomainAsync(string domain, CancellationToken cancellationToken = default);

    /// <summary>Makes a domain (A-labels) local; false when it already was.</summary>
    Task<bool> AddDomainAsync(string domain, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes a local domain. Throws <see cref="DomainInUseException"/> while addresses or aliases use it, unless
    /// <paramref name="removeAddresses"/> is set: then they are removed with it, in the same transaction.
    /// </summary>
    Task<DomainRemoval> RemoveDomainAsync(string domain, bool removeAddresses, CancellationToken cancellationToken = default);

    /// <summary>The local domains, by name, with how many addresses and aliases each has.</summary>
    Task<IReadOnlyList<DomainInfo>> ListDomainsAsync(CancellationToken cancellationToken = default);

    /// <summary>Adds members to an alias in one transaction (members already present are kept once). Throws <see cref="AliasNotFoundException"/>.</summary>
    Task<AliasInfo> AddAliasMembersAsync(string address, IReadOnlyList<string> members, CancellationToken cancellationToken = default);

    /// <summary>Removes members from an alias in one transaction; each must be a member, and one must remain. Throws <see cref="AliasNotFoundException"/>.</summary>
    Task<AliasInfo> RemoveAliasMembersAsync(string address, IReadOnlyList<string> members, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes an account with its addresses and delivery rules in one transaction; refuses (<see cref="StoreException"/>)
    /// while one of its addresses is an alias member. The account's mail is not deleted: it is moved aside, and the
    /// place is returned (null when the account had no mail folder).
    /// </summary>
    Task<string?> RemoveAccountAsync(string accountName, CancellationToken cancellationToken = default);

    /// <summary>Creates an alias: mail to <paramref name="address"/> goes to each member (local addresses). Throws <see cref="AddressExistsException"/>.</summary>
    Task AddAliasAsync(string address, IReadOnlyList<string> members, bool membersMaySend = false, CancellationToken cancellationToken = default);

    /// <summary>Removes an alias; false when it did not exist.</summary>
    Task<bool> RemoveAliasAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>An alias, or null.</summary>
    Task<AliasInfo?> GetAliasAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>All aliases, by address.</summary>
    Task<IReadOnlyList<AliasInfo>> ListAliasesAsync(CancellationToken cancellationToken = default);

    /// <summary>Adds a delivery rule to an account (evaluated in id order; the first match decides the mailbox). Returns its id.</summary>
    Task<long> AddDeliveryRuleAsync(DeliveryRule rule, CancellationToken cancellationToken = default);

    /// <summary>Delivery rules of an account, in evaluation order.</summary>
    Task<IReadOnlyList<DeliveryRule>> ListDeliveryRulesAsync(string accountName, CancellationToken cancellationToken = default);

    /// <summary>Removes a delivery rule; false when it did not exist.</summary>
    Task<bool> RemoveDeliveryRuleAsync(long id, CancellationToken cancellationToken = default);

    /// <summary>Logs a login attempt; old entries are pruned (bounded retention).</summary>
    Task RecordLoginAttemptAsync(LoginAttempt attempt, CancellationToken cancellationToken = default);

    /// <summary>Most recent login attempts first, optionally only for one login name.</summary>
    Task<IReadOnlyList<LoginAttempt>> ListLoginAttemptsAsync(string? loginName = null, int limit = 100, CancellationToken cancellationToken = default);
}

/// <summary>
/// The mail of one account. Thread-safe: many sessions use one instance. Writes go through one queue and are
/// group-committed (several callers' changes in one durable transaction); reads use pooled connections.
/// Mailboxes are addressed by id after lookup (ids are stable across renames).
/// </summary>
public interface IAccountStore : IAsyncDisposable
{
    /// <summary>Account name.</summary>
    string AccountName { get; }

    // ---- mailboxes ----

    /// <summary>All mailboxes (including \Noselect placeholders), by name.</summary>
    Task<IReadOnlyList<MailboxInfo>> ListMailboxesAsync(CancellationToken cancellationToken = default);

    /// <summary>A mailbox by name (INBOX case-insensitive), or null.</summary>
    Task<MailboxInfo?> GetMailboxAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// The id of the selectable mailbox named <paramref name="name"/>, or null (also for an invalid name). Answered from
    /// a list of the account's mailboxes kept until a mailbox is next created, renamed, deleted or given another special
    /// use, so that delivering a message costs no mailbox query.
    /// </summary>
    ValueTask<long?> FindSelectableMailboxAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The id of the first mailbox (by name) with all of <paramref name="specialUse"/>, or null when there is none or it is not selectable; cached as <see cref="FindSelectableMailboxAsync"/>.</summary>
    ValueTask<long?> FindSpecialUseMailboxAsync(SpecialUse specialUse, CancellationToken cancellationToken = default);

    /// <summary>A mailbox by id, or null.</summary>
    Task<MailboxInfo?> GetMailboxAsync(long mailboxId, CancellationToken cancellationToken = default);

    /// <summary>Creates a mailbox, and its missing parents. A name used before gets a strictly greater UIDVALIDITY.</summary>
    Task<MailboxInfo> CreateMailboxAsync(string name, SpecialUse specialUse = SpecialUse.None, CancellationToken cancellationToken = default);

    /// <summary>Renames a mailbox and its children. Renaming INBOX moves its messages into a new mailbox and leaves INBOX empty (RFC 9051 §6.3.6).</summary>
    Task<MailboxInfo> RenameMailboxAsync(string oldName, string newName, CancellationToken cancellationToken = default);

    /// <summary>Deletes a mailbox and its messages; with children it stays as a \Noselect placeholder (RFC 9051 §6.3.5).</summary>
    Task DeleteMailboxAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Sets special-use attributes of a mailbox (RFC 6154 CREATE-SPECIAL-USE / METADATA).</summary>
    Task SetSpecialUseAsync(long mailboxId, SpecialUse specialUse, CancellationToken cancellationToken = default);

    /// <summary>Subscribes or unsubscribes a name; the mailbox need not exist.</summary>
    Task SetSubscribedAsync(string name, bool subscribed, CancellationToken cancellationToken = default);

    /// <summary>Subscribed names, sorted.</summary>
    Task<IReadOnlyList<string>> ListSubscriptionsAsync(CancellationToken cancellationToken = default);

    // ---- messages ----

    /// <summary>A temporary file in the account's tmp folder for streaming a big message (see <see cref="MessageSource.FromTempFile"/>).</summary>
    TempMessageFile CreateTempFile();

    /// <summary>Appends one or several messages atomically (MULTIAPPEND, RFC 3502; import batches). Durable when it returns.</summary>
    Task<AppendResult> AppendAsync(long mailboxId, IReadOnlyList<NewMessage> messages, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces a message atomically (IMAP REPLACE, RFC 8508): in one transaction, expunges <paramref name="uid"/> from
    /// <paramref name="sourceMailboxId"/> (whatever its flags) and appends <paramref name="message"/> to
    /// <paramref name="destinationMailboxId"/> (which may be the same mailbox). Either both happen or neither does;
    /// throws <see cref="MessageNotFoundException"/> when the message is gone. Durable when it returns.
    /// </summary>
    Task<ReplaceResult> ReplaceAsync(long sourceMailboxId, uint uid, long destinationMailboxId, NewMessage message, CancellationToken cancellationToken = default);

    /// <summary>All messages of a mailbox in UID order, as compact records.</summary>
    Task<IReadOnlyList<MessageRecord>> ListMessagesAsync(long mailboxId, CancellationToken cancellationToken = default);

    /// <summary>UID, MODSEQ and flags of every message of a mailbox in UID order: what IMAP SELECT needs, read as cheaply as the backend can.</summary>
    Task<IReadOnlyList<MessageState>> ListMessageStatesAsync(long mailboxId, CancellationToken cancellationToken = default);

    /// <summary>Records of the messages with UIDs in the set, in UID order (missing UIDs are skipped).</summary>
    Task<IReadOnlyList<MessageRecord>> GetMessagesAsync(long mailboxId, UidSet uids, CancellationToken cancellationToken = default);

    /// <summary>Structure blob and header data of a message, or null when it is gone.</summary>
    Task<MessageDetails?> GetMessageDetailsAsync(long mailboxId, uint uid, CancellationToken cancellationToken = default);

    /// <summary>Opens the full message (prefix then file bytes) as a readable, seekable stream. Throws <see cref="MessageNotFoundException"/>.</summary>
    Task<Stream> OpenContentAsync(long mailboxId, uint uid, CancellationToken cancellationToken = default);

    /// <summary>Changes flags on the messages in the set. With <paramref name="unchangedSince"/>, messages whose MODSEQ is greater are not changed and reported (RFC 7162 §3.1.3).</summary>
    Task<StoreFlagsResult> StoreFlagsAsync(long mailboxId, UidSet uids, FlagChange change, long? unchangedSince = null, CancellationToken cancellationToken = default);

    /// <summary>Copies messages; the bytes are shared, not duplicated.</summary>
    Task<CopyResult> CopyAsync(long sourceMailboxId, UidSet uids, long destinationMailboxId, CancellationToken cancellationToken = default);

    /// <summary>Moves messages atomically (RFC 6851): one transaction adds them to the destination and expunges them from the source.</summary>
    Task<CopyResult> MoveAsync(long sourceMailboxId, UidSet uids, long destinationMailboxId, CancellationToken cancellationToken = default);

    /// <summary>Expunges messages with \Deleted, optionally only those in <paramref name="uids"/> (UID EXPUNGE, RFC 4315).</summary>
    Task<ExpungeResult> ExpungeAsync(long mailboxId, UidSet? uids = null, CancellationToken cancellationToken = default);

    /// <summary>Messages changed and UIDs expunged after <paramref name="modSeq"/> (CONDSTORE/QRESYNC).</summary>
    Task<MailboxChanges> GetChangesSinceAsync(long mailboxId, long modSeq, CancellationToken cancellationToken = default);

    /// <summary>Keywords present on messages of the mailbox, for FLAGS and PERMANENTFLAGS.</summary>
    Task<IReadOnlyList<string>> GetKeywordsAsync(long mailboxId, CancellationToken cancellationToken = default);

    /// <summary>Atomically claims the \Recent messages of a mailbox (IMAP4rev1): each UID is returned to exactly one caller.</summary>
    Task<IReadOnlyList<uint>> ClaimRecentAsync(long mailboxId, CancellationToken cancellationToken = default);

    /// <summary>Storage limit and usage.</summary>
    Task<QuotaInfo> GetQuotaAsync(CancellationToken cancellationToken = default);

    /// <summary>The account's highest MODSEQ so far.</summary>
    Task<long> GetHighestModSeqAsync(CancellationToken cancellationToken = default);

    // ---- change feed ----

    /// <summary>Subscribes to the account's changes. At most <paramref name="capacity"/> events are buffered; beyond, the subscriber gets <see cref="FeedOverflow"/>.</summary>
    IChangeSubscription Subscribe(int capacity = 1024);

    // ---- junk filter ----

    /// <summary>The account's junk-filter training (Junk/JunkFilter.cs).</summary>
    Junk.IJunkWordStore JunkWords { get; }

    /// <summary>
    /// The message contents any copy of which changed (added, flags) after <paramref name="sinceModSeq"/> and that carry a
    /// junk keyword now or are among <paramref name="trained"/> (whose keyword may have been removed), each with the junk
    /// class its copies' $Junk/$NotJunk keywords give now, and the account MODSEQ they were read at. So the answer is
    /// as large as what the user marked, not as the mailbox. Expunges are not reported: a message the user deleted
    /// stays trained as what it was.
    /// </summary>
    Task<Junk.JunkFlagChanges> GetJunkFlagChangesAsync(long sinceModSeq, IReadOnlyCollection<long> trained, CancellationToken cancellationToken = default);
}
