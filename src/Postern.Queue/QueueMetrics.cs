using System.Diagnostics.Metrics;

namespace Postern.Queue;

/// <summary>The outgoing queue's metrics (served at /metrics, docs/operations.md).</summary>
internal static class QueueMetrics
{
    private static readonly Meter Meter = new("Postern.Queue");

    public static readonly Counter<long> Enqueued = Meter.CreateCounter<long>("postern.queue.enqueued",
        description: "Messages added to the outgoing queue (submissions and DSNs).");

    public static readonly Counter<long> Attempts = Meter.CreateCounter<long>("postern.queue.attempts",
        description: "Delivery attempts to a recipient domain, by the delivery's state afterwards: delivered, queued (retry later) or failed.");

    public static readonly Counter<long> Recipients = Meter.CreateCounter<long>("postern.queue.recipients",
        description: "Recipients of delivery attempts, by result: delivered, deferred or failed.");

    /// <summary>The queue whose deliveries the gauge counts (the running server's; one per process).</summary>
    public static IQueueStore? Counted;

    public static readonly ObservableGauge<long> Deliveries = Meter.CreateObservableGauge("postern.queue.deliveries", CountDeliveries,
        description: "Deliveries (a message to one recipient domain) in the queue now, by state: waiting (for an attempt) or held.");

    private static IEnumerable<Measurement<long>> CountDeliveries()
    {
        if (Volatile.Read(ref Counted) is not { } store) return [];
        try
        {
            var (waiting, held) = store.CountQueued();
            return [new(waiting, new KeyValuePair<string, object?>("state", "waiting")), new(held, new KeyValuePair<string, object?>("state", "held"))];
        }
        catch (Exception e) when (e is System.Data.Common.DbException or ObjectDisposedException or IOException)
        {
            return []; // a scrape during shutdown, or a locked database: no figure rather than a wrong one
        }
    }

    public static readonly Counter<long> Dsns = Meter.CreateCounter<long>("postern.queue.dsns",
        description: "Delivery status notifications sent, by kind (failed, delayed, delivered, relayed, expanded).");
}
