// Proactive refresh of cached MTA-STS policies (RFC 8461 §5.1: senders should refresh cached
// policies periodically, e.g. daily, so that a policy does not lapse between deliveries and an
// attacker cannot wait for it to expire). Every interval, policies that are unexpired, were used
// by a delivery in the last max-idle period and were fetched more than `refresh-after` ago are
// fetched again (bounded number per round, one at a time). Failures leave the cache as is.
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Postern.Queue.Sqlite;
using Postern.Security.MtaSts;

namespace Postern.Queue;

/// <summary>Settings of <see cref="MtaStsPolicyRefresher"/>.</summary>
public sealed record MtaStsRefreshOptions
{
    /// <summary>How often the cache is scanned.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A policy fetched longer ago than this is fetched again (RFC 8461 §5.1 suggests daily).</summary>
    public TimeSpan RefreshAfter { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Policies of domains no delivery asked for in this long are left to expire.</summary>
    public TimeSpan MaxIdle { get; init; } = TimeSpan.FromDays(60);

    /// <summary>Most policies refreshed per round.</summary>
    public int MaxPerRound { get; init; } = 200;
}

/// <summary>Refreshes the MTA-STS policy cache in queue.db ahead of expiry.</summary>
public sealed class MtaStsPolicyRefresher(SqliteQueueStore store, MtaStsClient client, MtaStsRefreshOptions? options = null, ILogger? logger = null,
    TimeProvider? time = null) : IAsyncDisposable
{
    private readonly MtaStsRefreshOptions _options = options ?? new MtaStsRefreshOptions();
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    /// <summary>Starts the periodic refresh.</summary>
    public void Start() => _loop ??= Task.Run(LoopAsync);

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await RefreshDueAsync(_stop.Token).ConfigureAwait(false);
                await Task.Delay(_options.Interval, _time, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                _logger.LogWarning("mta-sts refresh round failed error={Error}", e.Message);
                try
                {
                    await Task.Delay(_options.Interval, _time, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One round: refreshes the policies that are due; returns how many were refreshed.</summary>
    public async Task<int> RefreshDueAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        IReadOnlyList<StoredMtaStsPolicy> due = await store.ListPoliciesToRefreshAsync(now, now - _options.RefreshAfter, now - _options.MaxIdle, _options.MaxPerRound,
            cancellationToken).ConfigureAwait(false);
        int refreshed = 0;
        foreach (StoredMtaStsPolicy p in due)
        {
            string? error = await client.RefreshAsync(p.Policy.Domain, cancellationToken).ConfigureAwait(false);
            if (error is null)
            {
                refreshed++;
                _logger.LogInformation("mta-sts policy refreshed domain={Domain}", p.Policy.Domain);
            }
            else
            {
                _logger.LogWarning("mta-sts policy refresh failed domain={Domain} expires={Expires} error={Error}", p.Policy.Domain, p.Policy.Expires.ToString("u", System.Globalization.CultureInfo.InvariantCulture), error);
            }
        }
        // Policies long past their max_age are of no use any more.
        await store.PurgeExpiredPoliciesAsync(now - TimeSpan.FromDays(30), cancellationToken).ConfigureAwait(false);
        return refreshed;
    }

    private int _disposed;

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        // Idempotent: the server disposes it when stopping and again when it is disposed.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
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
        _stop.Dispose();
    }
}
