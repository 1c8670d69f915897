namespace Postern.Queue;

/// <summary>Settings of the outgoing queue, handed over by the executable.</summary>
public sealed record QueueOptions
{
    /// <summary>The data folder; the queue keeps <c>queue/queue.db</c> and <c>queue/msg/</c> under it.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>This server's host name: the From domain of DSNs when the sender's domain has no DKIM key, and the Reporting-MTA.</summary>
    public string HostName { get; init; } = "localhost";

    /// <summary>Most delivery attempts per recipient domain before the message fails (the first is made at once).</summary>
    public int MaxAttempts { get; init; } = 8;

    /// <summary>Wait before the second attempt; each later wait doubles (with ±10 % jitter).</summary>
    public TimeSpan FirstRetryInterval { get; init; } = TimeSpan.FromMinutes(7.5);

    /// <summary>A "delayed" DSN is sent once when a message is still undelivered this long after it was queued.</summary>
    public TimeSpan DelayedDsnAfter { get; init; } = TimeSpan.FromHours(4);

    /// <summary>Delivered and failed messages are kept this long for inspection, then removed.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Most delivery attempts running at once.</summary>
    public int MaxConcurrentDeliveries { get; init; } = 64;

    /// <summary>Most delivery attempts running at once to one recipient domain.</summary>
    public int MaxConcurrentPerDomain { get; init; } = 8;

    /// <summary>Most messages one account may submit per day (UTC) for remote recipients; 0: no limit.</summary>
    public int MaxMessagesPerDay { get; init; } = 1000;

    /// <summary>Most recipients one account may send to for the first time per day (UTC); 0: no limit.</summary>
    public int MaxFirstTimeRecipientsPerDay { get; init; } = 200;

    /// <summary>How long a worker holds a lease on a delivery it attempts; a lease of a crashed worker expires after this.</summary>
    public TimeSpan LeaseTime { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>The clock (a fake one in tests).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
