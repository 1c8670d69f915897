namespace Postern.Queue;

internal sealed partial class DeliveryReports
{
    // TEMPORARY until the dsn branch's builder is merged.
    private Task<(byte[] Dsn, bool Utf8)> ComposeAsync(QueueMessage message, IReadOnlyList<QueueRecipient> recipients, DsnKind kind, string? remoteMta,
        DateTimeOffset? willRetryUntil, CancellationToken ct) => throw new InvalidDataException("DSN builder missing");
}
