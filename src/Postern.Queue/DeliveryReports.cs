// Delivery status notifications the queue sends to the envelope sender (RFC 3461, RFC 3464):
// one DSN per message and event, listing the recipients whose NOTIFY asks for it, built by
// Postern.Mail.Dsn and queued like any other message from the null sender (RFC 3461 §6.1:
// so that a DSN about a DSN can never be sent), DKIM-signed for its From domain.
using System.Globalization;
using Microsoft.Extensions.Logging;
using Postern.Smtp.Client;

namespace Postern.Queue;

/// <summary>What a DSN reports.</summary>
internal enum DsnKind
{
    /// <summary>Recipients failed permanently (or after the last attempt).</summary>
    Failed,
    /// <summary>Recipients are still waiting long after the message was queued.</summary>
    Delayed,
    /// <summary>Recipients asked for NOTIFY=SUCCESS and the message went to a next hop that does not offer DSN (RFC 3461 §5.2.2).</summary>
    Relayed,
    /// <summary>Recipients asked for NOTIFY=SUCCESS and the message reached their mailbox (RFC 3461 §5.2.3).</summary>
    Delivered,
}

/// <summary>Builds and queues DSNs about queued messages.</summary>
internal sealed partial class DeliveryReports(OutgoingQueue queue)
{
    /// <summary>
    /// Whether a recipient's NOTIFY (RFC 3461 §4.1) asks for a DSN of this kind; without NOTIFY both failure and delay
    /// are reported, and success never (success only when asked for, RFC 3461 §4.1).
    /// </summary>
    public static bool NotifyAllows(string? notify, DsnKind kind)
    {
        if (string.IsNullOrWhiteSpace(notify)) return kind is DsnKind.Failed or DsnKind.Delayed;
        string want = kind switch { DsnKind.Failed => "FAILURE", DsnKind.Delayed => "DELAY", _ => "SUCCESS" };
        foreach (string part in notify.Split(','))
        {
            string p = part.Trim();
            if (p.Equals("NEVER", StringComparison.OrdinalIgnoreCase)) return false;
            if (p.Equals(want, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    /// <summary>Queues a DSN about <paramref name="recipients"/> of <paramref name="message"/> to its envelope sender; nothing for the null sender or when no NOTIFY asks for it.</summary>
    public async Task SendAsync(QueueMessage message, IReadOnlyList<QueueRecipient> recipients, DsnKind kind, string? remoteMta, CancellationToken ct,
        DateTimeOffset? willRetryUntil = null)
    {
        // RFC 3461 §6.1, RFC 5321 §4.5.5: never a DSN to the null reverse-path.
        if (message.MailFrom.Length == 0 || message.Flags.HasFlag(QueueMessageFlags.Dsn)) return;
        var reported = recipients.Where(r => NotifyAllows(r.Notify, kind)).ToList();
        if (reported.Count == 0) return;
        try
        {
            (byte[] dsn, bool utf8) = await ComposeAsync(message, reported, kind, remoteMta, willRetryUntil, ct).ConfigureAwait(false);
            long id = await queue.AddAsync(null, "", () => new MemoryStream(dsn, writable: false),
                QueueMessageFlags.Dsn | (utf8 ? QueueMessageFlags.SmtpUtf8 | QueueMessageFlags.EightBit : 0), null, null, null,
                [new OutboundRecipient(message.MailFrom)], sign: true, ct).ConfigureAwait(false);
            string kindText = KindText(kind);
            await queue.Store.AddEventAsync(message.Id, queue.Now, "dsn-" + kindText,
                string.Create(CultureInfo.InvariantCulture, $"{kindText} DSN for {reported.Count} recipient(s) to {message.MailFrom} queued as {id}"), ct).ConfigureAwait(false);
            QueueMetrics.Dsns.Add(1, new KeyValuePair<string, object?>("kind", kindText));
            queue.Logger.LogInformation("queue dsn id={Id} kind={Kind} to={To} dsn={DsnId}", message.Id, kindText, message.MailFrom, id);
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidDataException or UnauthorizedAccessException)
        {
            queue.Logger.LogError("queue dsn failed id={Id} error={Error}", message.Id, e.Message);
        }
    }

    internal static string KindText(DsnKind kind) => kind switch
    {
        DsnKind.Failed => "failed",
        DsnKind.Delayed => "delayed",
        DsnKind.Relayed => "relayed",
        _ => "delivered",
    };

    /// <summary>Reads what the DSN returns of the original: the whole file when it is small enough, else its header section.</summary>
    private async Task<(byte[] Original, bool Full)> ReadOriginalAsync(QueueMessage message, int maxFull, CancellationToken ct)
    {
        await using Stream s = queue.OpenMessage(message);
        if (message.Size <= maxFull)
        {
            var buffer = new byte[message.Size];
            await s.ReadExactlyAsync(buffer, ct).ConfigureAwait(false);
            return (buffer, true);
        }
        (byte[] block, _) = await MessageHeaders.ReadAsync(s, ct).ConfigureAwait(false);
        return (block, false);
    }
}
