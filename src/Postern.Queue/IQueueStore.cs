namespace Postern.Queue;

// The queue's storage, behind an interface so that a PostgreSQL backend can take over for several
// nodes: a worker leases due deliveries (SQLite: an UPDATE ... RETURNING by the single writer;
// PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED), and a lease that is not released in time (a
// worker that died) simply expires and the delivery becomes due again.

/// <summary>Durable storage of queued messages, deliveries, attempts, suppression list and sending counters.</summary>
public interface IQueueStore : IAsyncDisposable
{
    /// <summary>Folder that holds the message files (<see cref="NewQueueMessage.File"/> is relative to it).</summary>
    string MessageDirectory { get; }

    /// <summary>Records a message (its file is already durable) with one delivery per recipient domain; committed when it returns. Returns the message id.</summary>
    Task<long> AddMessageAsync(NewQueueMessage message, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Leases up to <paramref name="limit"/> due deliveries (queued, not held, next attempt reached, lease free or expired), skipping <paramref name="busyDomains"/>.</summary>
    Task<IReadOnlyList<LeasedDelivery>> LeaseDueAsync(DateTimeOffset now, TimeSpan lease, int limit, IReadOnlyCollection<string> busyDomains, CancellationToken cancellationToken = default);

    /// <summary>The earliest next attempt of a queued, unheld delivery (leased ones count at their lease end), or null when none waits.</summary>
    Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken = default);

    /// <summary>Applies an attempt's outcome and releases the lease.</summary>
    Task RecordAttemptAsync(AttemptOutcome outcome, CancellationToken cancellationToken = default);

    /// <summary>Releases the leases of deliveries a worker took but will not attempt now.</summary>
    Task ReleaseLeasesAsync(IReadOnlyList<long> deliveryIds, CancellationToken cancellationToken = default);

    /// <summary>Releases every lease (at start-up of the only node: no worker of a previous run is alive).</summary>
    Task ReleaseAllLeasesAsync(CancellationToken cancellationToken = default);

    /// <summary>Lists deliveries, oldest first.</summary>
    Task<IReadOnlyList<QueueListItem>> ListAsync(QueueListFilter filter, CancellationToken cancellationToken = default);

    /// <summary>A message with its deliveries, recipients, attempts and history, or null.</summary>
    Task<QueueMessageDetails?> GetAsync(long messageId, CancellationToken cancellationToken = default);

    /// <summary>Holds or releases the queued deliveries of a message; returns how many changed.</summary>
    Task<int> SetHeldAsync(long messageId, bool held, CancellationToken cancellationToken = default);

    /// <summary>Sets the next attempt of the queued deliveries of a message (and clears a FUTURERELEASE hold); returns how many changed.</summary>
    Task<int> ScheduleAsync(long messageId, DateTimeOffset when, CancellationToken cancellationToken = default);

    /// <summary>Marks the queued deliveries and recipients of a message failed with the given reply; returns the recipients that failed.</summary>
    Task<IReadOnlyList<QueueRecipient>> FailAsync(long messageId, DateTimeOffset now, string enhanced, string text, CancellationToken cancellationToken = default);

    /// <summary>Removes a message and its history; returns its file name, or null when there is no such message.</summary>
    Task<string?> DropAsync(long messageId, CancellationToken cancellationToken = default);

    /// <summary>Adds an event to a message's history.</summary>
    Task AddEventAsync(long messageId, DateTimeOffset time, string kind, string text, CancellationToken cancellationToken = default);

    /// <summary>Finds a message Postern sent by the ENVID it carried or by its Message-ID header.</summary>
    Task<QueueMessage?> FindSentMessageAsync(string? envelopeId, string? messageIdHeader, CancellationToken cancellationToken = default);

    /// <summary>The account's counts for the UTC day of <paramref name="now"/>, and what is known of <paramref name="address"/>.</summary>
    /// <summary>Deliveries waiting for an attempt (not held) and held ones, for the metrics; answered synchronously.</summary>
    (long Waiting, long Held) CountQueued();

    Task<AccountSendingCounts> GetSendingCountsAsync(string account, string address, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Adds (or refreshes) suppression entries.</summary>
    Task AddSuppressionsAsync(IReadOnlyList<SuppressedAddress> entries, CancellationToken cancellationToken = default);

    /// <summary>Removes a suppression entry; false when there was none.</summary>
    Task<bool> RemoveSuppressionAsync(string account, string address, CancellationToken cancellationToken = default);

    /// <summary>The suppression list, of one account or all.</summary>
    Task<IReadOnlyList<SuppressedAddress>> ListSuppressionsAsync(string? account, CancellationToken cancellationToken = default);

    /// <summary>Removes up to <paramref name="limit"/> messages whose deliveries all finished before <paramref name="before"/>; returns their file names.</summary>
    Task<IReadOnlyList<string>> PurgeFinishedAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken = default);
}
