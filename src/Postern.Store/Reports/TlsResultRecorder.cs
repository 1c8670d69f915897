// Hands TLS session results from outgoing delivery to the store without ever slowing delivery
// (BatchingReportWriter: bounded queue, batched commits, drop and count when full); the store
// sums each batch into per-day counters.
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Postern.Store.Reports;

/// <summary>Buffers TLS session results and writes them to an <see cref="ITlsResultStore"/> in batches.</summary>
public sealed class TlsResultRecorder : ITlsResultRecorder, IAsyncDisposable
{
    /// <summary>Results held in memory at most before new ones are dropped.</summary>
    public const int DefaultCapacity = 10_000;

    /// <summary>Results committed in one transaction at most.</summary>
    public const int MaxBatch = 1000;

    private readonly ITlsResultStore _store;
    private readonly BatchingReportWriter<TlsSessionResult> _writer;

    /// <summary>Starts the writer task over <paramref name="store"/> (which the recorder disposes).</summary>
    public TlsResultRecorder(ITlsResultStore store, ILogger? logger = null, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _writer = new BatchingReportWriter<TlsSessionResult>("tls results", batch => store.AddAsync(batch), r => r.PolicyDomain, capacity, MaxBatch, logger ?? NullLogger.Instance);
    }

    /// <summary>The store written to.</summary>
    public ITlsResultStore Store => _store;

    /// <summary>Items dropped because the queue was full, the store failed, or the recorder was stopping.</summary>
    public long Dropped => _writer.Dropped;

    /// <summary>Items committed to the store.</summary>
    public long Written => _writer.Written;

    /// <inheritdoc/>
    public void Record(TlsSessionResult result)
    {
        if (result is null) return; // the contract: never throw on the delivery path
        _writer.Record(result);
    }

    /// <summary>Waits until everything queued before the call is committed (tests, report runs, shutdown).</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => _writer.FlushAsync(cancellationToken);

    /// <summary>Stops taking items, writes what is queued, and disposes the store.</summary>
    public async ValueTask DisposeAsync()
    {
        await _writer.CompleteAsync().ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
    }
}
