namespace Postern.Store;

/// <summary>IMAP system flags a message can carry (RFC 9051 §2.3.2). \Recent is not stored as a flag: see <see cref="IAccountStore.ClaimRecentAsync"/>.</summary>
[Flags]
public enum SystemFlags
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>\Seen.</summary>
    Seen = 1,
    /// <summary>\Answered.</summary>
    Answered = 2,
    /// <summary>\Flagged.</summary>
    Flagged = 4,
    /// <summary>\Deleted.</summary>
    Deleted = 8,
    /// <summary>\Draft.</summary>
    Draft = 16,
}

/// <summary>Special-use attributes of a mailbox (RFC 6154 §2).</summary>
[Flags]
public enum SpecialUse
{
    /// <summary>No special use.</summary>
    None = 0,
    /// <summary>\All.</summary>
    All = 1,
    /// <summary>\Archive.</summary>
    Archive = 2,
    /// <summary>\Drafts.</summary>
    Drafts = 4,
    /// <summary>\Flagged.</summary>
    Flagged = 8,
    /// <summary>\Junk.</summary>
    Junk = 16,
    /// <summary>\Sent.</summary>
    Sent = 32,
    /// <summary>\Trash.</summary>
    Trash = 64,
}

/// <summary>How a flag change applies to the current flags (IMAP STORE FLAGS, +FLAGS, -FLAGS).</summary>
public enum FlagOperation
{
    /// <summary>Add the given flags and keywords.</summary>
    Add,
    /// <summary>Remove the given flags and keywords.</summary>
    Remove,
    /// <summary>Replace all flags and keywords by the given ones.</summary>
    Replace,
}

/// <summary>A change to apply to the flags of messages.</summary>
/// <param name="Operation">Add, remove or replace.</param>
/// <param name="Flags">System flags concerned.</param>
/// <param name="Keywords">Keywords concerned (IMAP atoms, compared case-insensitively, stored as first given).</param>
public sealed record FlagChange(FlagOperation Operation, SystemFlags Flags, IReadOnlyList<string> Keywords);
