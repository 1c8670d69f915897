// Sends the reports other operators ask for: daily TLS reports (RFC 8460) about our outgoing
// TLS sessions to each recipient domain's _smtp._tls rua, and DMARC aggregate reports (RFC 7489
// §7.2) about mail we received, to each sender domain's rua=.
//
// How it runs: a worker wakes a little after every full UTC hour (the clock is a TimeProvider, so
// tests produce a day's reports at will) and
//   1. looks at the mailed reports of the last days in the queue: a recipient that failed with a
//      5xx reply, or an incoming DSN that says "failed 5.x.x", puts the address on the report
//      suppression list for a period (shared by TLS and DMARC reports; `postern reports
//      suppression` lists and removes entries);
//   2. TLS: for each of the last three UTC days not yet handled, each policy domain with results
//      (by default only those with failures) gets one report per rua URI: mailto: through the
//      outgoing queue (DKIM-signed there, "TLS-Required: No"), https: by POST with a time limit.
//      A temporary DNS failure leaves the domain's day to the next hour's run;
//   3. DMARC: each policy domain with evaluations from finished periods gets a report per
//      period of its ri= (1 to 24 hours, rounded up to a divisor of 24 so periods align to UTC
//      days; hours for ri=3600, days by default) to each authorised mailto: rua, then its
//      evaluations up to the period end are deleted. Domains without rua= are simply purged.
// Nothing here can affect mail delivery: report messages are ordinary queue entries, a failing
// destination only produces a log line and a row in the sent-report log.
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Postern.Dns;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;
using Postern.Store;
using Postern.Store.Reports;

namespace Postern.Queue.Reports;

/// <summary>What a report run did (or, in a dry run, would do) for one report and destination.</summary>
/// <param name="Kind"><c>tls</c> or <c>dmarc</c>.</param>
/// <param name="PolicyDomain">The domain reported about.</param>
/// <param name="Destination">The rua URI, or "-" when the domain was skipped as a whole.</param>
/// <param name="ReportId">The report id, or "".</param>
/// <param name="Bytes">Size of the message or upload.</param>
/// <param name="Status">queued as N, posted, would mail, would post, suppressed, skipped: why, failed: why.</param>
public sealed record ReportDispatch(string Kind, string PolicyDomain, string Destination, string ReportId, long Bytes, string Status);

/// <summary>The TLS and DMARC report sender.</summary>
public sealed partial class ReportSender : IAsyncDisposable
{
    private const string TlsKind = "tls", DmarcKind = "dmarc";
    private static readonly TimeSpan BounceWatch = TimeSpan.FromDays(6);

    private readonly OutgoingReportOptions _options;
    private readonly IDnsResolver _dns;
    private readonly OutgoingQueue? _queue;
    private readonly ITlsResultStore? _tls;
    private readonly IDmarcEvaluationStore? _dmarc;
    private readonly SqliteReportLog _log;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _running = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    /// <summary>Creates the sender; <see cref="Start"/> starts the hourly worker, <see cref="RunAsync"/> runs once.</summary>
    /// <param name="options">Settings.</param>
    /// <param name="dns">For _smtp._tls and _report._dmarc lookups.</param>
    /// <param name="queue">Where mailed reports are queued (null: mailto: destinations are skipped).</param>
    /// <param name="tls">TLS results (null: no TLS reports).</param>
    /// <param name="dmarc">DMARC evaluations (null: no DMARC reports).</param>
    /// <param name="log">The sent-report log and suppression list.</param>
    /// <param name="http">For https: destinations (one is created when null).</param>
    /// <param name="logger">Log lines.</param>
    public ReportSender(OutgoingReportOptions options, IDnsResolver dns, OutgoingQueue? queue, ITlsResultStore? tls, IDmarcEvaluationStore? dmarc,
        SqliteReportLog log, HttpClient? http = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dns);
        ArgumentNullException.ThrowIfNull(log);
        _options = options;
        _dns = dns;
        _queue = queue;
        _tls = tls;
        _dmarc = dmarc;
        _log = log;
        _ownsHttp = http is null;
        // No redirects: a report goes where the record says, not where a server points (RFC 8460 §5.4 posts to the URI given).
        _http = http ?? new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(15) });
        _logger = logger ?? NullLogger.Instance;
    }

    private DateTimeOffset Now => _options.TimeProvider.GetUtcNow();

    /// <summary>Starts the worker: a run now, then a little after every full UTC hour.</summary>
    public void Start()
    {
        if (_loop is not null) throw new InvalidOperationException("already started");
        _loop = Task.Run(LoopAsync);
    }

    private Task LoopAsync() =>
        PeriodicRun.LoopAsync(ct => RunAsync(false, ct), () =>
        {
            DateTimeOffset now = Now;
            return Floor(now, TimeSpan.FromHours(1)) + TimeSpan.FromHours(1) + TimeSpan.FromMinutes(2) - now;
        }, _options.TimeProvider, _logger, "reports run", _stop.Token);

    /// <summary>
    /// Runs once: bounce check, TLS reports of finished days, DMARC reports of finished periods,
    /// clean-up. With <paramref name="dryRun"/> nothing is sent, stored or deleted; the result says
    /// what would be sent.
    /// </summary>
    public async Task<IReadOnlyList<ReportDispatch>> RunAsync(bool dryRun = false, CancellationToken cancellationToken = default)
    {
        await _running.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var output = new List<ReportDispatch>();
            DateTimeOffset now = Now;
            if (!dryRun) await CheckBouncesAsync(now, cancellationToken).ConfigureAwait(false);
            if (_tls is not null) await RunTlsAsync(now, dryRun, output, cancellationToken).ConfigureAwait(false);
            if (_dmarc is not null) await RunDmarcAsync(now, dryRun, output, cancellationToken).ConfigureAwait(false);
            if (!dryRun)
            {
                await _log.PurgeSuppressionsAsync(now, cancellationToken).ConfigureAwait(false);
                await _log.DeleteSentBeforeAsync(now - TimeSpan.FromDays(90), cancellationToken).ConfigureAwait(false);
                await _log.DeletePeriodsBeforeAsync(now - TimeSpan.FromDays(30), cancellationToken).ConfigureAwait(false);
            }
            foreach (ReportDispatch d in output)
            {
                _logger.LogInformation("report kind={Kind} domain={Domain} to={To} id={Id} bytes={Bytes} status={Status}",
                    d.Kind, d.PolicyDomain, d.Destination, d.ReportId, d.Bytes, d.Status);
            }
            return output;
        }
        finally
        {
            _running.Release();
        }
    }

    /// <summary>Hands one report to one destination: the queue for mailto: (unless suppressed or too large), a POST for https:.</summary>
    private async Task DeliverAsync(string kind, string policyDomain, ReportDestination dest, string reportId, Func<string, byte[]> buildMessage,
        byte[]? httpsBody, string? httpsType, bool dryRun, List<ReportDispatch> output, CancellationToken ct)
    {
        DateTimeOffset now = Now;
        if (dest.MailAddress is { } address)
        {
            if (await _log.GetSuppressionAsync(address, now, ct).ConfigureAwait(false) is { } s)
            {
                output.Add(new(kind, policyDomain, dest.Uri, reportId, 0, $"suppressed until {s.Until.UtcDateTime:yyyy-MM-dd} ({s.Reason})"));
                return;
            }
            byte[] message = buildMessage(address);
            long limit = Math.Min(_options.MaxReportBytes, dest.MaxBytes ?? long.MaxValue);
            if (message.Length > limit)
            {
                output.Add(new(kind, policyDomain, dest.Uri, reportId, message.Length, $"skipped: {message.Length} bytes, more than the limit of {limit}"));
                return;
            }
            if (dryRun || _queue is null)
            {
                output.Add(new(kind, policyDomain, dest.Uri, reportId, message.Length, dryRun ? "would mail" : "skipped: no outgoing queue"));
                return;
            }
            string envid = "postern-report-" + Guid.NewGuid().ToString("N")[..20];
            // NOTIFY=FAILURE: no delay DSNs for reports; failures are what the bounce check looks for.
            string id = await _queue.EnqueueAsync(new OutgoingMessage(null, _options.FromAddress, [new OutboundRecipient(address, "FAILURE")],
                () => new MemoryStream(message, writable: false), message.Length, false, false, false, envid, "HDRS", null, 0), ct).ConfigureAwait(false);
            long queueId = long.Parse(id, CultureInfo.InvariantCulture);
            await _log.AddSentAsync(now, kind, policyDomain, dest.Uri, reportId, queueId, "queued", ct).ConfigureAwait(false);
            output.Add(new(kind, policyDomain, dest.Uri, reportId, message.Length, "queued as " + id));
            return;
        }
        if (dest.HttpsUri is { } uri && httpsBody is not null && httpsType is not null)
        {
            if (dryRun)
            {
                output.Add(new(kind, policyDomain, dest.Uri, reportId, httpsBody.Length, "would post"));
                return;
            }
            string status = await PostAsync(uri, httpsBody, httpsType, ct).ConfigureAwait(false);
            await _log.AddSentAsync(now, kind, policyDomain, dest.Uri, reportId, null, status, ct).ConfigureAwait(false);
            output.Add(new(kind, policyDomain, dest.Uri, reportId, httpsBody.Length, status));
            return;
        }
        output.Add(new(kind, policyDomain, dest.Uri, reportId, 0, "skipped: unsupported destination"));
    }

    /// <summary>RFC 8460 §5.4: POST the gzip report; any 2xx is success. Bounded in time; never throws.</summary>
    private async Task<string> PostAsync(Uri uri, byte[] body, string contentType, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(_options.HttpTimeout);
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
            using HttpResponseMessage response = await _http.PostAsync(uri, content, cts.Token).ConfigureAwait(false);
            int code = (int)response.StatusCode;
            return code is >= 200 and < 300 ? $"posted ({code})" : $"failed: HTTP {code}";
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"failed: no answer within {_options.HttpTimeout.TotalSeconds:0} s";
        }
        catch (HttpRequestException e)
        {
            return "failed: " + e.Message;
        }
    }

    /// <summary>Finds mailed reports that bounced hard (5xx at delivery, or an incoming DSN "failed 5.x.x") and suppresses their addresses.</summary>
    private async Task CheckBouncesAsync(DateTimeOffset now, CancellationToken ct)
    {
        if (_queue is null) return;
        foreach (SentReport s in await _log.ListUncheckedAsync(1000, ct).ConfigureAwait(false))
        {
            QueueMessageDetails? d = s.QueueId is { } q ? await _queue.Store.GetAsync(q, ct).ConfigureAwait(false) : null;
            if (d is null)
            {
                await _log.MarkCheckedAsync(s.Id, s.Status == "queued" ? "gone from the queue" : s.Status, ct).ConfigureAwait(false);
                continue;
            }
            QueueRecipient? bounced = d.Recipients.FirstOrDefault(r => r.State == DeliveryState.Failed && r.Code >= 500);
            QueueEvent? dsn = d.Events.FirstOrDefault(e => e.Kind == "incoming-dsn" && e.Text.StartsWith("failed 5.", StringComparison.OrdinalIgnoreCase));
            if (bounced is not null || dsn is not null)
            {
                string address = bounced?.Address ?? d.Recipients.FirstOrDefault()?.Address ?? "";
                string reason = bounced is not null ? $"{bounced.Code} {bounced.Enhanced} {Clip(bounced.Text)}" : Clip(dsn!.Text);
                if (address.Length > 0)
                    await _log.SuppressAsync(address, $"{s.Kind} report {s.ReportId}: {reason}", now, now + _options.SuppressionPeriod, ct).ConfigureAwait(false);
                await _log.MarkCheckedAsync(s.Id, "bounced: " + reason, ct).ConfigureAwait(false);
                _logger.LogWarning("report address suppressed address={Address} until={Until} reason={Reason}", address,
                    (now + _options.SuppressionPeriod).ToString("u", CultureInfo.InvariantCulture), reason);
                continue;
            }
            bool finished = d.Recipients.All(r => r.State != DeliveryState.Queued);
            if (finished && now - s.Time >= BounceWatch)
            {
                bool delivered = d.Recipients.All(r => r.State == DeliveryState.Delivered);
                await _log.MarkCheckedAsync(s.Id, delivered ? "delivered" : "failed (temporary errors)", ct).ConfigureAwait(false);
            }
        }
    }

    private static string Clip(string? s) => s is null ? "" : s.Length > 200 ? s[..200] + "..." : s;

    /// <summary>The start of the period of length <paramref name="period"/> (a divisor of a day) that contains <paramref name="t"/>, aligned to UTC days.</summary>
    internal static DateTimeOffset Floor(DateTimeOffset t, TimeSpan period)
    {
        DateTimeOffset day = new(t.UtcDateTime.Date, TimeSpan.Zero);
        long n = (t.UtcDateTime - day.UtcDateTime).Ticks / period.Ticks;
        return day + TimeSpan.FromTicks(n * period.Ticks);
    }

    /// <summary>Stops the worker (a run in progress is cancelled).</summary>
    public async Task StopAsync()
    {
        if (!_stop.IsCancellationRequested) await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_ownsHttp) _http.Dispose();
        _stop.Dispose();
        _running.Dispose();
    }
}
