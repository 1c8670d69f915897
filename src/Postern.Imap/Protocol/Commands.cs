namespace Postern.Imap.Protocol;

/// <summary>A parsed IMAP command with its tag.</summary>
/// <param name="Tag">The client's tag.</param>
/// <param name="Name">The command name in upper case (without "UID ").</param>
/// <param name="Command">The typed arguments.</param>
public sealed record TaggedCommand(string Tag, string Name, ImapCommand Command);

/// <summary>Base of all typed commands.</summary>
public abstract record ImapCommand;

/// <summary>Commands without arguments: CAPABILITY NOOP LOGOUT STARTTLS NAMESPACE IDLE CLOSE UNSELECT EXPUNGE CHECK UNAUTHENTICATE.</summary>
public sealed record SimpleCommand(string Name) : ImapCommand;

/// <summary>LOGIN user password.</summary>
public sealed record LoginCommand(string User, string Password) : ImapCommand;

/// <summary>AUTHENTICATE mechanism [initial-response] (RFC 4959 SASL-IR; "=" is an empty response).</summary>
public sealed record AuthenticateCommand(string Mechanism, byte[]? InitialResponse) : ImapCommand;

/// <summary>ENABLE capability... (RFC 5161).</summary>
public sealed record EnableCommand(IReadOnlyList<string> Capabilities) : ImapCommand;

/// <summary>ID (params) or ID NIL (RFC 2971).</summary>
public sealed record IdCommand(IReadOnlyList<(string Key, string? Value)>? Parameters) : ImapCommand;

/// <summary>COMPRESS mechanism (RFC 4978).</summary>
public sealed record CompressCommand(string Mechanism) : ImapCommand;

/// <summary>QRESYNC parameters of SELECT/EXAMINE (RFC 7162 §3.2.5).</summary>
public sealed record QresyncParameters(uint UidValidity, ulong ModSeq, SequenceSet? KnownUids,
    SequenceSet? KnownSequenceNumbers, SequenceSet? KnownSequenceUids);

/// <summary>SELECT or EXAMINE with optional CONDSTORE/QRESYNC parameters.</summary>
public sealed record SelectCommand(string Mailbox, bool ReadOnly, bool CondStore, QresyncParameters? Qresync) : ImapCommand;

/// <summary>Commands with one mailbox argument: DELETE SUBSCRIBE UNSUBSCRIBE GETQUOTAROOT.</summary>
public sealed record MailboxCommand(string Name, string Mailbox) : ImapCommand;

/// <summary>CREATE mailbox [(USE (special-use...))] (RFC 6154 CREATE-SPECIAL-USE).</summary>
public sealed record CreateCommand(string Mailbox, IReadOnlyList<string> SpecialUse) : ImapCommand;

/// <summary>RENAME from to.</summary>
public sealed record RenameCommand(string From, string To) : ImapCommand;

/// <summary>LIST/LSUB with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154) options.</summary>
public sealed record ListCommand(string Reference, IReadOnlyList<string> Patterns, bool IsLsub,
    bool SelectSubscribed, bool SelectRemote, bool SelectRecursiveMatch, bool SelectSpecialUse,
    bool ReturnSubscribed, bool ReturnChildren, bool ReturnSpecialUse, IReadOnlyList<string>? ReturnStatus,
    bool Extended) : ImapCommand;

/// <summary>STATUS mailbox (items).</summary>
public sealed record StatusCommand(string Mailbox, IReadOnlyList<string> Items) : ImapCommand;

/// <summary>One message of APPEND (several with MULTIAPPEND, RFC 3502).</summary>
public sealed record AppendMessage(IReadOnlyList<string> Flags, DateTimeOffset? InternalDate, ImapLiteral Content);

/// <summary>APPEND mailbox message...</summary>
public sealed record AppendCommand(string Mailbox, IReadOnlyList<AppendMessage> Messages) : ImapCommand;

/// <summary>REPLACE / UID REPLACE (RFC 8508).</summary>
public sealed record ReplaceCommand(bool Uid, uint Target, string Mailbox, AppendMessage Message) : ImapCommand;

/// <summary>GETQUOTA root (RFC 9208).</summary>
public sealed record GetQuotaCommand(string Root) : ImapCommand;

/// <summary>FETCH / UID FETCH with CONDSTORE CHANGEDSINCE and QRESYNC VANISHED modifiers.</summary>
public sealed record FetchCommand(bool Uid, SequenceSet Set, IReadOnlyList<FetchItem> Items, ulong? ChangedSince, bool Vanished) : ImapCommand;

/// <summary>How STORE changes flags.</summary>
public enum StoreMode
{
    /// <summary>FLAGS: replace.</summary>
    Replace,
    /// <summary>+FLAGS: add.</summary>
    Add,
    /// <summary>-FLAGS: remove.</summary>
    Remove,
}

/// <summary>STORE / UID STORE with UNCHANGEDSINCE (RFC 7162).</summary>
public sealed record StoreCommand(bool Uid, SequenceSet Set, ulong? UnchangedSince, StoreMode Mode, bool Silent, IReadOnlyList<string> Flags) : ImapCommand;

/// <summary>COPY / MOVE / UID COPY / UID MOVE.</summary>
public sealed record CopyCommand(bool Uid, bool Move, SequenceSet Set, string Mailbox) : ImapCommand;

/// <summary>EXPUNGE or UID EXPUNGE set (RFC 4315).</summary>
public sealed record ExpungeCommand(SequenceSet? UidSet) : ImapCommand;

/// <summary>SEARCH / UID SEARCH.</summary>
public sealed record SearchCommand(bool Uid, SearchReturnOptions? Return, string? Charset, SearchKey Key) : ImapCommand;

/// <summary>One SORT criterion (RFC 5256).</summary>
public sealed record SortCriterion(string Key, bool Reverse);

/// <summary>SORT / UID SORT (RFC 5256), optionally with ESORT-style RETURN not supported.</summary>
public sealed record SortCommand(bool Uid, IReadOnlyList<SortCriterion> Criteria, string Charset, SearchKey Key) : ImapCommand;

/// <summary>THREAD / UID THREAD (RFC 5256).</summary>
public sealed record ThreadCommand(bool Uid, string Algorithm, string Charset, SearchKey Key) : ImapCommand;
