// How long received DMARC aggregate and TLS reports stay in DATA/reports.db (the operator's
// `reports.received-retention-days`): `serve` deletes those that arrived longer ago at start and
// then once a day. The deletion goes in bounded batches (SqliteIncomingReportStore), each its own
// short transaction, so a large backlog never holds the database for long; nothing here is on the
// delivery path (received reports are stored by a background task after delivery, and the
// recorders of DMARC evaluations and TLS results drop rather than wait).
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Postern.Store.Reports;

/// <summary>Deletes received reports older than a retention period, at start and once a day.</summary>
public sealed class IncomingReportRetention : IAsyncDisposable
{
    /// <summary>Time between two runs of the worker.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromDays(1);

    private readonly SqliteIncomingReportStore _store;
    private readonly TimeSpan _keep;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private long _runs;

    /// <summary>Creates the worker; <see cref="Start"/> starts it.</summary>
    /// <param name="store">The received reports (not disposed here).</param>
    /// <param name="keep">How long a report is kept after it arrived; must be positive (keeping forever means not creating this).</param>
    /// <param name="logger">Log lines.</param>
    /// <param name="time">The clock (tests move it by hand).</param>
    public IncomingReportRetention(SqliteIncomingReportStore store, TimeSpan keep, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(keep, TimeSpan.Zero);
        _store = store;
        _keep = keep;
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Runs finished by the worker (tests wait on it).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Starts the worker: a run now, then one every <see cref="Interval"/>.</summary>
    public void Start()
    {
        if (_loop is not null) throw new InvalidOperationException("already started");
        _loop = Task.Run(LoopAsync);
    }

    private Task LoopAsync() =>
        PeriodicRun.LoopAsync(RunAsync, () => Interval, _time, _logger, "received reports clean-up", _stop.Token, () => Interlocked.Increment(ref _runs));

    /// <summary>Deletes, batch by batch, the reports that arrived more than the retention period ago; returns how many DMARC and TLS reports went.</summary>
    public async Task<(long Dmarc, long Tls)> RunAsync(CancellationToken cancellationToken = default)
    {
        DateTimeOffset before = _time.GetUtcNow() - _keep;
        long dmarc = 0, tls = 0;
        while (true)
        {
            (int d, int t) = await _store.DeleteReceivedBatchAsync(before, cancellationToken).ConfigureAwait(false);
            if (d == 0 && t == 0)
                break;
            dmarc += d;
            tls += t;
            await Task.Yield(); // let the receiver's writes in between batches
        }
        if (dmarc + tls > 0)
        {
            _logger.LogInformation("received reports deleted dmarc={Dmarc} tlsrpt={Tls} received-before={Before:O}",
                dmarc, tls, before.UtcDateTime);
        }
        return (dmarc, tls);
    }

    /// <summary>Stops the worker (a batch in progress finishes first).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
