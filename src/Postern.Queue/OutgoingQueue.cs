// The outgoing queue as the rest of Postern sees it: the SMTP server checks recipients and
// enqueues submitted mail here (IOutgoingQueue), the scheduler delivers it, and the operator
// inspects and steers it (`postern queue ...`). Enqueueing signs the message with the From
// domain's DKIM keys, writes the signed file durably and commits its rows before returning, so
// the submission's 250 never acknowledges anything a crash could lose.
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Postern.Security.Dkim;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;

namespace Postern.Queue;

/// <summary>The outgoing queue: durable storage, DKIM signing, limits, the delivery scheduler and operator actions.</summary>
public sealed class OutgoingQueue : IOutgoingQueue, IAsyncDisposable
{
    private readonly QueueFiles _files;
    private readonly IDkimKeySource? _dkim;
    private readonly DeliveryScheduler _scheduler;

    /// <summary>Creates the queue over a store; <see cref="Start"/> starts delivering through <paramref name="transport"/> (without one the queue only stores and is steered, as the offline `queue` commands do).</summary>
    public OutgoingQueue(QueueOptions options, IQueueStore store, IOutboundTransport? transport, IDkimKeySource? dkim = null, ILogger? logger = null)
    {
        Options = options;
        Store = store;
        Logger = logger ?? NullLogger.Instance;
        _files = new QueueFiles(store.MessageDirectory);
        _dkim = dkim;
        Reports = new DeliveryReports(this);
        _scheduler = new DeliveryScheduler(this, transport);
    }

    /// <summary>The settings.</summary>
    public QueueOptions Options { get; }

    /// <summary>The storage.</summary>
    public IQueueStore Store { get; }

    internal ILogger Logger { get; }

    internal DeliveryReports Reports { get; }

    internal QueueFiles Files => _files;

    internal DateTimeOffset Now => Options.TimeProvider.GetUtcNow();

    /// <summary>Starts the delivery worker (releasing leases left by a previous run).</summary>
    public void Start()
    {
        Volatile.Write(ref QueueMetrics.Counted, Store);
        _scheduler.Start();
    }

    /// <summary>Runs every delivery that is due now and waits for the attempts (tests, and `queue` commands without a server).</summary>
    public Task RunDueAsync(CancellationToken cancellationToken = default) => _scheduler.RunDueAsync(cancellationToken);

    /// <summary>Wakes the worker: something became due (an enqueue, unhold, schedule).</summary>
    public void Wake() => _scheduler.Wake();

    /// <inheritdoc/>
    public async ValueTask<QueueRecipientCheck> CheckRecipientAsync(string account, string mailFrom, OutboundRecipient recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        AccountSendingCounts c = await Store.GetSendingCountsAsync(account, recipient.Address, Now, cancellationToken).ConfigureAwait(false);
        if (c.Suppressed is { } s)
            return new QueueRecipientCheck(false, 550, "5.1.1", $"Recipient previously bounced ({Short(s.Reason)}); not sending again until it is removed from the suppression list");
        if (Options.MaxMessagesPerDay > 0 && c.Messages >= Options.MaxMessagesPerDay)
            return new QueueRecipientCheck(false, 451, "4.7.1", $"Daily limit of {Options.MaxMessagesPerDay} messages reached; try again later");
        if (!c.KnownRecipient && Options.MaxFirstTimeRecipientsPerDay > 0 && c.FirstTimeRecipients >= Options.MaxFirstTimeRecipientsPerDay)
            return new QueueRecipientCheck(false, 451, "4.7.1", $"Daily limit of {Options.MaxFirstTimeRecipientsPerDay} new recipients reached; try again later");
        return QueueRecipientCheck.Accept;
    }

    private static string Short(string s) => s.Length > 120 ? s[..120] + "..." : s;

    /// <inheritdoc/>
    public async Task<string> EnqueueAsync(OutgoingMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Recipients.Count == 0) throw new ArgumentException("no recipients", nameof(message));
        var flags = (message.Needs8BitMime ? QueueMessageFlags.EightBit : 0) | (message.NeedsSmtpUtf8 ? QueueMessageFlags.SmtpUtf8 : 0)
            | (message.RequireTls ? QueueMessageFlags.RequireTls : 0);
        // An ENVID of our own when the submitter gave none, so that DSNs coming back from other
        // servers (Original-Envelope-Id, RFC 3464 §2.2.1) can be linked to this message.
        string? envid = message.EnvelopeId ?? (message.Account is null ? null : "postern-" + Guid.NewGuid().ToString("N")[..20]);
        // Submitted mail and the DSNs Postern originates are both signed for their From domain.
        long id = await AddAsync(message.Account, message.MailFrom, message.OpenContent, flags, envid, message.Return, message.HoldUntil,
            message.Recipients, sign: true, cancellationToken).ConfigureAwait(false);
        QueueMetrics.Enqueued.Add(1);
        Logger.LogInformation("queue enqueued id={Id} account={Account} from={From} rcpts={Rcpts} size={Size} cid={Cid}",
            id, message.Account ?? "", message.MailFrom, message.Recipients.Count, message.Size, message.ConnectionId);
        return id.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Signs (when asked and a key exists), writes the file durably, commits the rows, wakes the worker.</summary>
    internal async Task<long> AddAsync(string? account, string mailFrom, Func<Stream> open, QueueMessageFlags flags, string? envid, string? ret,
        DateTimeOffset? holdUntil, IReadOnlyList<OutboundRecipient> recipients, bool sign, CancellationToken ct)
    {
        byte[] headerBlock;
        Mail.HeaderList headers;
        using (Stream s = open())
            (headerBlock, headers) = await MessageHeaders.ReadAsync(s, ct).ConfigureAwait(false);
        // RFC 8689 §5: "TLS-Required: No" asks to ignore MTA-STS and DANE failures; REQUIRETLS takes precedence (§4.1).
        if (!flags.HasFlag(QueueMessageFlags.RequireTls) && IsTlsRequiredNo(headers.GetValue("TLS-Required")))
            flags |= QueueMessageFlags.TlsRequiredNo;
        // TLS reports (RFC 8460): the SMTP session that delivers one is not counted in the next report (Postern's rule against report loops).
        // Only mail Postern originates (no account) is marked this way: a submitted message cannot opt out of reporting.
        if (account is null && headers.GetValue("TLS-Report-Domain") is not null)
            flags |= QueueMessageFlags.TlsReport;
        byte[] prefix = sign ? await SignAsync(headers, open, ct).ConfigureAwait(false) : [];
        string? messageId = Mail.Threading.ParseMessageId(headers.GetValue("Message-ID"));
        (string name, long size) = await WriteFileAsync(prefix, open, ct).ConfigureAwait(false);
        try
        {
            long id = await Store.AddMessageAsync(new NewQueueMessage(account, mailFrom, size, flags, envid, ret, holdUntil, name, messageId,
                recipients.Select(r => new NewQueueRecipient(r.Address, r.Notify, r.OriginalRecipient)).ToList()), Now, ct).ConfigureAwait(false);
            Wake();
            return id;
        }
        catch
        {
            _files.Delete(name);
            throw;
        }
    }

    /// <summary>RFC 8689 §5: the field's value is "No" (case-insensitive), with optional whitespace.</summary>
    internal static bool IsTlsRequiredNo(string? value) => value is not null && value.Trim().Equals("No", StringComparison.OrdinalIgnoreCase);

    private async Task<(string, long)> WriteFileAsync(byte[] prefix, Func<Stream> open, CancellationToken ct)
    {
        using Stream content = open();
        return await _files.WriteAsync(prefix, content, ct).ConfigureAwait(false);
    }

    /// <summary>DKIM-Signature fields (RFC 6376) for every key of the From domain, to prepend.</summary>
    private async Task<byte[]> SignAsync(Mail.HeaderList headers, Func<Stream> open, CancellationToken ct)
    {
        if (_dkim is null || MessageHeaders.FromDomain(headers) is not string domain) return [];
        var sb = new StringBuilder();
        foreach (DkimSignerOptions o in _dkim.SignersFor(domain))
        {
            try
            {
                using Stream s = open();
                sb.Append(await new DkimSigner(o).SignAsync(s, ct).ConfigureAwait(false));
            }
            catch (InvalidDataException e)
            {
                Logger.LogWarning("queue dkim signing failed domain={Domain} selector={Selector} error={Error}", domain, o.Selector, e.Message);
            }
        }
        return MessageHeaders.Bytes(sb.ToString());
    }

    internal bool HasDkimKeys(string domain) => _dkim is not null && _dkim.SignersFor(domain).Count > 0;

    /// <summary>Opens a queued message's file (signature fields included), as the transports read it.</summary>
    public Stream OpenMessage(QueueMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new FileStream(_files.PathOf(message.File), FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
    }

    /// <summary>Holds a message's waiting deliveries; returns how many changed.</summary>
    public Task<int> HoldAsync(long messageId, CancellationToken ct = default) => Store.SetHeldAsync(messageId, true, ct);

    /// <summary>Releases held deliveries of a message; returns how many changed.</summary>
    public async Task<int> UnholdAsync(long messageId, CancellationToken ct = default)
    {
        int n = await Store.SetHeldAsync(messageId, false, ct).ConfigureAwait(false);
        Wake();
        return n;
    }

    /// <summary>Sets when a message's waiting deliveries are next attempted; returns how many changed.</summary>
    public async Task<int> ScheduleAsync(long messageId, DateTimeOffset when, CancellationToken ct = default)
    {
        int n = await Store.ScheduleAsync(messageId, when, ct).ConfigureAwait(false);
        Wake();
        return n;
    }

    /// <summary>Gives up on a message's waiting recipients now and sends the failure DSN; returns how many failed.</summary>
    public async Task<int> FailAsync(long messageId, CancellationToken ct = default)
    {
        var details = await Store.GetAsync(messageId, ct).ConfigureAwait(false);
        if (details is null) return 0;
        IReadOnlyList<QueueRecipient> failed = await Store.FailAsync(messageId, Now, "5.0.0", "Delivery cancelled by the postmaster", ct).ConfigureAwait(false);
        if (failed.Count > 0)
        {
            var reported = failed.Select(r => r with { State = DeliveryState.Failed, Code = 550, Enhanced = "5.0.0", Text = "Delivery cancelled by the postmaster" }).ToList();
            await Reports.SendAsync(details.Message, reported, DsnKind.Failed, null, ct).ConfigureAwait(false);
        }
        await Store.AddEventAsync(messageId, Now, "fail", $"{failed.Count} recipient(s) failed by the postmaster", ct).ConfigureAwait(false);
        return failed.Count;
    }

    /// <summary>Removes a message without any DSN; false when there is no such message.</summary>
    public async Task<bool> DropAsync(long messageId, CancellationToken ct = default)
    {
        string? file = await Store.DropAsync(messageId, ct).ConfigureAwait(false);
        if (file is null) return false;
        _files.Delete(file);
        return true;
    }

    /// <summary>Removes finished messages older than the retention period; returns how many.</summary>
    public async Task<int> PurgeAsync(CancellationToken ct = default)
    {
        int total = 0;
        while (true)
        {
            IReadOnlyList<string> files = await Store.PurgeFinishedAsync(Now - Options.Retention, 500, ct).ConfigureAwait(false);
            foreach (string f in files) _files.Delete(f);
            total += files.Count;
            if (files.Count < 500) return total;
        }
    }

    /// <summary>Stops the worker and waits for running attempts.</summary>
    public Task StopAsync() => _scheduler.StopAsync();

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        Interlocked.CompareExchange(ref QueueMetrics.Counted, null, Store);
        await _scheduler.StopAsync().ConfigureAwait(false);
    }
}
