// Reports other organisations send about our domains (RFC 7489 §7.2 DMARC aggregate reports,
// RFC 8460 TLS reports) arrive as ordinary mail at the addresses our DNS records publish
// (ReportAddresses: dmarc-reports@DOMAIN and tls-reports@DOMAIN after quickstart). They are
// delivered to the mailbox like any message; after that, and after the SMTP reply, this receiver
// copies the message (up to MaxMessageBytes) into a bounded in-memory queue, and one background
// task extracts the report attachment, parses it (the parsers bound decompression, XML and JSON
// sizes) and stores it. A full queue drops the message's report with a log line; a bad report is
// logged. Mail to other addresses is never looked at: anyone could send "reports" anywhere, and
// only the published addresses are where real reporters send.
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Postern.Mail;
using Postern.Mail.Reports;
using Postern.Store;
using Postern.Store.Reports;

namespace Postern.Smtp.Delivery;

/// <summary>Limits of an <see cref="IncomingReportReceiver"/>.</summary>
public sealed record IncomingReportReceiverOptions
{
    /// <summary>Messages larger than this are delivered but not looked at for reports (16 MiB by default).</summary>
    public long MaxMessageBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>Messages waiting to be processed at most (100 by default); beyond, new ones are dropped.</summary>
    public int QueueCapacity { get; init; } = 100;

    /// <summary>Bytes of waiting messages held in memory at most (64 MiB by default); beyond, new ones are dropped.</summary>
    public long MaxQueuedBytes { get; init; } = 64L * 1024 * 1024;
}

/// <summary>Finds DMARC aggregate and TLS reports in mail delivered to a domain's reporting addresses and stores them.</summary>
public sealed class IncomingReportReceiver : IDeliveredMessageObserver, IAsyncDisposable
{
    private readonly IIncomingReportStore _store;
    private readonly IAccountDirectory? _directory;
    private readonly ILogger _logger;
    private readonly IncomingReportReceiverOptions _options;
    private readonly Channel<Job> _queue;
    private readonly Task _worker;
    private long _queuedBytes;
    private long _accepted;
    private long _finished;
    private readonly DropCounter _drops = new();
    private long _stored;

    private sealed record Job(IReadOnlyList<string> Candidates, string MailFrom, byte[] Bytes, MessageStructure Structure);

    [Flags]
    private enum ReportKinds
    {
        None = 0,
        Dmarc = 1,
        Tls = 2,
    }

    /// <summary>
    /// Starts the background task. With a <paramref name="directory"/>, the reporting addresses are
    /// those each local domain publishes (<see cref="ReportAddresses"/>); without one (localserve,
    /// where every domain is local), dmarc-reports@ and tls-reports@ of any domain.
    /// </summary>
    public IncomingReportReceiver(IIncomingReportStore store, IAccountDirectory? directory, ILogger? logger = null, IncomingReportReceiverOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _directory = directory;
        _logger = logger ?? NullLogger.Instance;
        _options = options ?? new IncomingReportReceiverOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.QueueCapacity, 1);
        _queue = Channel.CreateBounded<Job>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite returns false when full; nothing waits.
            SingleReader = true,
        });
        _worker = Task.Run(WorkAsync);
    }

    /// <summary>Reports stored (not counting duplicates).</summary>
    public long Stored => Interlocked.Read(ref _stored);

    /// <summary>Messages not processed because the queue was full or the message too large.</summary>
    public long Dropped => _drops.Dropped;

    /// <inheritdoc/>
    public bool Wants(IReadOnlyList<string> recipients)
    {
        ArgumentNullException.ThrowIfNull(recipients);
        return recipients.Any(IsCandidate);
    }

    /// <summary>Whether the local part can be a reporting address (the exact check, which needs the directory, is made in the background).</summary>
    private bool IsCandidate(string address)
    {
        int at = address.LastIndexOf('@');
        if (at <= 0)
            return false;
        string local = address[..at];
        return _directory is null
            ? local.Equals(ReportAddresses.DmarcLocalPart, StringComparison.OrdinalIgnoreCase) || local.Equals(ReportAddresses.TlsLocalPart, StringComparison.OrdinalIgnoreCase)
            : ReportAddresses.PossibleLocalParts.Any(p => local.Equals(p, StringComparison.OrdinalIgnoreCase));
    }

    /// <inheritdoc/>
    public async ValueTask DeliveredAsync(DeliveredMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        List<string> candidates = message.Recipients.Where(IsCandidate).Select(a => a.ToLowerInvariant()).Distinct(StringComparer.Ordinal).ToList();
        if (candidates.Count == 0)
            return;
        DeliveryContent content = message.Content;
        if (content.Length > _options.MaxMessageBytes)
        {
            Drop($"message of {content.Length} bytes is larger than the {_options.MaxMessageBytes} bytes looked at for reports", candidates[0], message.MailFrom);
            return;
        }
        // Reserve the bytes first, so concurrent deliveries cannot together pass the budget.
        if (Interlocked.Add(ref _queuedBytes, content.Length) > _options.MaxQueuedBytes)
        {
            Interlocked.Add(ref _queuedBytes, -content.Length);
            Drop("the report queue is full", candidates[0], message.MailFrom);
            return;
        }
        bool queued = false;
        try
        {
            byte[] bytes;
            if (content.OpenFile is null)
            {
                bytes = content.Memory.ToArray();
            }
            else
            {
                bytes = new byte[content.Length];
                Stream s = content.OpenFile();
                await using (s.ConfigureAwait(false))
                    await s.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            }
            queued = _queue.Writer.TryWrite(new Job(candidates, message.MailFrom, bytes, content.Structure));
            if (queued)
                Interlocked.Increment(ref _accepted);
            else
                Drop("the report queue is full", candidates[0], message.MailFrom);
        }
        finally
        {
            if (!queued)
                Interlocked.Add(ref _queuedBytes, -content.Length);
        }
    }

    private void Drop(string why, string recipient, string mailFrom)
    {
        // One warning per minute at most, with the running count.
        if (_drops.Count(out long dropped))
            _logger.LogWarning("report not processed: {Why} rcpt={Recipient} from={From} dropped={Dropped}; the message was delivered", why, recipient, mailFrom, dropped);
    }

    private async Task WorkAsync()
    {
        ChannelReader<Job> reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out Job? job))
            {
                try
                {
                    await ProcessAsync(job).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // one bad report must not stop the receiver; it is logged
                catch (Exception e)
#pragma warning restore CA1031
                {
                    _logger.LogWarning("report not processed rcpt={Recipient} from={From} error={Error}", job.Candidates[0], job.MailFrom, e.Message);
                }
                finally
                {
                    Interlocked.Add(ref _queuedBytes, -job.Bytes.Length);
                    Interlocked.Increment(ref _finished);
                }
            }
        }
    }

    private async Task ProcessAsync(Job job)
    {
        // Which kind of report each reporting address takes; a domain may publish one address for both.
        ReportKinds kinds = ReportKinds.None;
        string? dmarcRecipient = null, tlsRecipient = null;
        foreach (string address in job.Candidates)
        {
            ReportKinds k = await KindsOfAsync(address).ConfigureAwait(false);
            if ((k & ReportKinds.Dmarc) != 0) dmarcRecipient ??= address;
            if ((k & ReportKinds.Tls) != 0) tlsRecipient ??= address;
            kinds |= k;
        }
        if (kinds == ReportKinds.None)
            return;
        string? error;
        // RFC 8460 §5.3: a TLS report is a part of type application/tlsrpt+gzip or +json.
        if (tlsRecipient is not null && HasPart(job.Structure.Root, p => p.ContentType is "application/tlsrpt+gzip" or "application/tlsrpt+json"))
        {
            TlsReport? tls = ReportExtraction.ExtractTlsReport(job.Structure, job.Bytes, out error);
            if (tls is null)
            {
                _logger.LogWarning("report refused kind=tlsrpt rcpt={Recipient} from={From} error={Error}; the message was delivered", tlsRecipient, job.MailFrom, error);
                return;
            }
            bool added = await _store.AddTlsReportAsync(tls, tlsRecipient, DateTimeOffset.UtcNow).ConfigureAwait(false);
            if (added) Interlocked.Increment(ref _stored);
            _logger.LogInformation("report {Outcome} kind=tlsrpt org={Org} report-id={ReportId} domains={Domains} sessions-ok={Ok} sessions-failed={Failed} rcpt={Recipient}",
                added ? "stored" : "duplicate", tls.OrganizationName, tls.ReportId,
                string.Join(",", tls.Policies.Select(p => p.Policy.PolicyDomain).Distinct(StringComparer.OrdinalIgnoreCase)),
                tls.Policies.Sum(p => p.Summary.TotalSuccessfulSessionCount), tls.Policies.Sum(p => p.Summary.TotalFailureSessionCount), tlsRecipient);
            return;
        }
        if (dmarcRecipient is null)
        {
            _logger.LogInformation("report refused kind=tlsrpt rcpt={Recipient} from={From} error={Error}; the message was delivered",
                tlsRecipient, job.MailFrom, "no application/tlsrpt+gzip or application/tlsrpt+json part");
            return;
        }
        DmarcAggregateReport? dmarc = ReportExtraction.ExtractDmarcReport(job.Structure, job.Bytes, out error);
        if (dmarc is null)
        {
            _logger.LogWarning("report refused kind=dmarc rcpt={Recipient} from={From} error={Error}; the message was delivered", dmarcRecipient, job.MailFrom, error);
            return;
        }
        bool stored = await _store.AddDmarcReportAsync(dmarc, dmarcRecipient, DateTimeOffset.UtcNow).ConfigureAwait(false);
        if (stored) Interlocked.Increment(ref _stored);
        _logger.LogInformation("report {Outcome} kind=dmarc org={Org} report-id={ReportId} domain={Domain} rows={Rows} messages={Messages} rcpt={Recipient}",
            stored ? "stored" : "duplicate", dmarc.OrgName, dmarc.ReportId, dmarc.Policy.Domain, dmarc.Records.Count, dmarc.Records.Sum(r => r.Count), dmarcRecipient);
    }

    private async Task<ReportKinds> KindsOfAsync(string address)
    {
        int at = address.LastIndexOf('@');
        string local = address[..at], domain = address[(at + 1)..].TrimEnd('.');
        if (_directory is null)
            return local == ReportAddresses.DmarcLocalPart ? ReportKinds.Dmarc : local == ReportAddresses.TlsLocalPart ? ReportKinds.Tls : ReportKinds.None;
        // Exactly the addresses `config dnsrecords` publishes for the domain.
        foreach (string d in new[] { domain, MailAddress.ToAsciiDomain(domain), MailAddress.ToUnicodeDomain(domain) }.Distinct(StringComparer.Ordinal))
        {
            if (!await _directory.IsLocalDomainAsync(d).ConfigureAwait(false))
                continue;
            ReportAddresses published = await ReportAddresses.ForDomainAsync(_directory, d).ConfigureAwait(false);
            string a = local + "@" + d;
            return (a == published.Dmarc ? ReportKinds.Dmarc : ReportKinds.None) | (a == published.Tls ? ReportKinds.Tls : ReportKinds.None);
        }
        return ReportKinds.None;
    }

    /// <summary>Whether a part matching <paramref name="match"/> is among the first <see cref="ReportExtraction.MaxPartsScanned"/> parts.</summary>
    private static bool HasPart(MessagePart root, Func<MessagePart, bool> match)
    {
        var stack = new Stack<MessagePart>();
        stack.Push(root);
        for (int seen = 0; stack.Count > 0 && seen < ReportExtraction.MaxPartsScanned; seen++)
        {
            MessagePart p = stack.Pop();
            if (match(p))
                return true;
            for (int i = p.Children.Count - 1; i >= 0; i--)
                stack.Push(p.Children[i]);
        }
        return false;
    }

    /// <summary>Waits until every message queued before the call is processed (tests, shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        long target = Interlocked.Read(ref _accepted);
        while (Interlocked.Read(ref _finished) < target && !_worker.IsCompleted)
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops taking messages, processes those queued, and disposes the store.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _worker.ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
    }
}
