namespace Postern.Store;

/// <summary>
/// An event of the per-account change feed, published after its transaction committed, in MODSEQ order.
/// <see cref="FeedOverflow"/> is special: MailboxId and ModSeq are 0, and the subscriber must re-sync from the store.
/// </summary>
public abstract record StoreChange(long MailboxId, long ModSeq);

/// <summary>A message was added (append, copy, move, delivery).</summary>
public sealed record MessageAdded(long MailboxId, long ModSeq, uint Uid, SystemFlags Flags, string[] Keywords) : StoreChange(MailboxId, ModSeq);

/// <summary>Flags of a message changed.</summary>
public sealed record FlagsChanged(long MailboxId, long ModSeq, uint Uid, SystemFlags Flags, string[] Keywords) : StoreChange(MailboxId, ModSeq);

/// <summary>Messages were expunged (or moved away).</summary>
public sealed record MessagesExpunged(long MailboxId, long ModSeq, IReadOnlyList<uint> Uids) : StoreChange(MailboxId, ModSeq);

/// <summary>A mailbox was created (or a \Noselect placeholder became selectable again).</summary>
public sealed record MailboxCreated(long MailboxId, long ModSeq, string Name) : StoreChange(MailboxId, ModSeq);

/// <summary>A mailbox was renamed (one event per renamed mailbox, children included).</summary>
public sealed record MailboxRenamed(long MailboxId, long ModSeq, string OldName, string NewName) : StoreChange(MailboxId, ModSeq);

/// <summary>A mailbox was deleted, or became a \Noselect placeholder (Selectable false in the store afterwards).</summary>
public sealed record MailboxDeleted(long MailboxId, long ModSeq, string Name) : StoreChange(MailboxId, ModSeq);

/// <summary>A subscription was added or removed. MailboxId is 0 when no mailbox has that name.</summary>
public sealed record SubscriptionChanged(long MailboxId, long ModSeq, string Name, bool Subscribed) : StoreChange(MailboxId, ModSeq);

/// <summary>The subscriber fell behind and events were dropped: re-read state from the store.</summary>
public sealed record FeedOverflow() : StoreChange(0, 0);

/// <summary>A subscription to an account's change feed with a bounded buffer. Dispose to unsubscribe.</summary>
public interface IChangeSubscription : IDisposable
{
    /// <summary>Waits for the next event. After a <see cref="FeedOverflow"/> the buffer restarts empty.</summary>
    ValueTask<StoreChange> ReadAsync(CancellationToken cancellationToken = default);

    /// <summary>Takes the next buffered event without waiting.</summary>
    bool TryRead(out StoreChange? change);

    /// <summary>Completes when an event is available (true) or the subscription ended (false).</summary>
    ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default);
}
