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

    public static readonly Counter<long> Dsns = Meter.CreateCounter<long>("postern.queue.dsns",
        description: "Delivery status notifications sent, by kind (failed, delayed, delivered, relayed, expanded).");
}
