using Postern.Mail.Dsn;

namespace Postern.Queue;

internal sealed partial class DeliveryReports
{
    /// <summary>The DSN message (RFC 3464 in RFC 6522 multipart/report, built by <see cref="DsnBuilder"/>) and whether it needs SMTPUTF8.</summary>
    private async Task<(byte[] Dsn, bool Utf8)> ComposeAsync(QueueMessage message, IReadOnlyList<QueueRecipient> recipients, DsnKind kind, string? remoteMta,
        DateTimeOffset? willRetryUntil, CancellationToken ct)
    {
        const int maxFull = 512 * 1024;
        DsnReturn? ret = message.Return?.ToUpperInvariant() switch { "FULL" => DsnReturn.Full, "HDRS" => DsnReturn.Headers, _ => null };
        // RFC 8689 §5: the content of a REQUIRETLS message is not returned in a DSN (the DSN may travel without verified TLS).
        bool mayReturnContent = !message.Flags.HasFlag(QueueMessageFlags.RequireTls);
        (byte[] original, bool full) = await ReadOriginalAsync(message, kind == DsnKind.Failed && ret != DsnReturn.Headers && mayReturnContent ? maxFull : 0, ct).ConfigureAwait(false);
        if (!full) ret = DsnReturn.Headers;
        DateTimeOffset now = queue.Now;
        bool utf8 = message.Flags.HasFlag(QueueMessageFlags.SmtpUtf8);
        string? fromDomain = FromDomainFor(message.MailFrom);
        var report = new DsnReport
        {
            ReportingMta = queue.Options.HostName,
            To = message.MailFrom,
            From = "MAILER-DAEMON@" + (fromDomain ?? queue.Options.HostName),
            // The ENVID is stored as given on MAIL FROM, xtext-encoded (RFC 3461 §4.4).
            EnvelopeId = message.EnvelopeId is null ? null : DsnAddress.DecodeXtext(message.EnvelopeId) ?? message.EnvelopeId,
            ArrivalDate = message.Created,
            Return = ret,
            Utf8 = utf8,
            Date = now,
            OriginalMessage = original,
            MaxFullReturnBytes = maxFull,
            Recipients = recipients.Select(r => new DsnRecipient(DsnAddress.ForMailbox(r.Address), ActionOf(kind), StatusOf(r, kind))
            {
                OriginalRecipient = r.OriginalRecipient is null ? null : DsnAddress.ParseOrcpt(r.OriginalRecipient, allowUtf8: utf8),
                RemoteMta = remoteMta,
                DiagnosticCode = r.Code > 0 ? $"{r.Code} {r.Enhanced} {r.Text}".Trim() : r.Text,
                DiagnosticType = r.Code > 0 ? "smtp" : "x-postern",
                LastAttemptDate = now,
                WillRetryUntil = kind == DsnKind.Delayed ? willRetryUntil : null,
            }).ToList(),
        };
        byte[] dsn = DsnBuilder.Build(report);
        return (dsn, !System.Text.Ascii.IsValid(dsn));
    }

    private static DsnAction ActionOf(DsnKind kind) => kind switch
    {
        DsnKind.Failed => DsnAction.Failed,
        DsnKind.Delayed => DsnAction.Delayed,
        DsnKind.Relayed => DsnAction.Relayed,
        _ => DsnAction.Delivered,
    };

    /// <summary>The RFC 3463 status of a recipient: its enhanced code when it has the right class, else a generic one.</summary>
    private static string StatusOf(QueueRecipient r, DsnKind kind)
    {
        string? e = r.Enhanced;
        bool valid = e is { Length: >= 5 } && (e[0] is '2' or '4' or '5') && e[1] == '.';
        // RFC 3464 §2.3.4: relayed and delivered carry a success (2.x.y) status.
        if (kind is DsnKind.Relayed or DsnKind.Delivered) return valid && e![0] == '2' ? e! : "2.0.0";
        if (kind == DsnKind.Delayed) return valid && e![0] == '4' ? e! : "4.0.0";
        // A failed recipient after the last temporary failure keeps its 4.x.y detail (RFC 3464 §2.3.4 allows it with Action: failed).
        return valid && e![0] != '2' ? e! : "5.0.0";
    }

    /// <summary>The sender's domain when it has DKIM keys (the DSN is signed for it); else null and the host name is used.</summary>
    private string? FromDomainFor(string mailFrom)
    {
        string domain = Sqlite.SqliteQueueStore.DomainOf(mailFrom);
        return domain.Length > 0 && queue.HasDkimKeys(domain) ? domain : null;
    }
}
