// Incoming DSNs about mail Postern sent: when a message arriving for a local account is a
// delivery status notification (RFC 3464, recognised by Postern.Mail.Dsn's parser) whose
// Original-Envelope-Id is an ENVID Postern set (or whose returned header carries the Message-ID
// of a queued message), the report is recorded in that message's history, and a permanent
// failure of an address (5.1.x) adds it to the sending account's suppression list. The DSN is
// delivered as usual: this checker never rejects or delays anything.
using System.Globalization;
using Microsoft.Extensions.Logging;
using Postern.Mail.Dsn;
using Postern.Smtp.Delivery;

namespace Postern.Queue;

/// <summary>Links incoming DSNs to the queue's history and feeds hard bounces to the suppression list.</summary>
public sealed class IncomingDsnChecker(OutgoingQueue queue) : IIncomingMessageChecker
{
    /// <summary>Most bytes of a message read to recognise a DSN.</summary>
    public const int MaxDsnBytes = 1024 * 1024;

    /// <inheritdoc/>
    public async ValueTask<IncomingVerdict> CheckAsync(IncomingMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        string? type = message.Headers.GetValue("Content-Type");
        if (message.AuthenticatedAccount is not null || type is null || !type.Contains("report", StringComparison.OrdinalIgnoreCase))
            return IncomingVerdict.Accept;
        try
        {
            byte[] buffer = new byte[MaxDsnBytes];
            int length;
            using (Stream s = message.OpenContent())
                length = await s.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            ParsedDsn? dsn = DsnParser.Parse(buffer.AsSpan(0, length));
            if (dsn is null) return IncomingVerdict.Accept;
            QueueMessage? sent = await queue.Store.FindSentMessageAsync(dsn.OriginalEnvelopeId, dsn.OriginalMessageId, cancellationToken).ConfigureAwait(false);
            if (sent is null) return IncomingVerdict.Accept;
            var suppress = new List<SuppressedAddress>();
            foreach (ParsedDsnRecipient r in dsn.Recipients)
            {
                string who = r.FinalRecipient?.Address ?? r.OriginalRecipient?.Address ?? "?";
                await queue.Store.AddEventAsync(sent.Id, queue.Now, "incoming-dsn", string.Create(CultureInfo.InvariantCulture,
                    $"{r.Action ?? "?"} {r.Status ?? "-"} for {who} reported by {dsn.ReportingMta ?? "?"}: {Clip(r.DiagnosticCode)}"), cancellationToken).ConfigureAwait(false);
                if (r.ActionValue == DsnAction.Failed && r.Status?.StartsWith("5.1.", StringComparison.Ordinal) == true && sent.Account is not null && r.FinalRecipient is not null)
                    suppress.Add(new SuppressedAddress(sent.Account, r.FinalRecipient.Address, $"DSN from {dsn.ReportingMta ?? "?"}: {r.Status} {Clip(r.DiagnosticCode)}", queue.Now));
            }
            if (suppress.Count > 0) await queue.Store.AddSuppressionsAsync(suppress, cancellationToken).ConfigureAwait(false);
            queue.Logger.LogInformation("queue incoming dsn linked id={Id} recipients={Count} suppressed={Suppressed}", sent.Id, dsn.Recipients.Count, suppress.Count);
        }
#pragma warning disable CA1031 // Linking is best effort: a DSN we cannot read is still delivered.
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            queue.Logger.LogWarning("queue incoming dsn not linked error={Error}", e.Message);
        }
        return IncomingVerdict.Accept;
    }

    private static string Clip(string? s) => s is null ? "" : s.Length > 300 ? s[..300] + "..." : s;
}
