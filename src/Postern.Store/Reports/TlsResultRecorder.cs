// Hands TLS session results from outgoing delivery to the store without ever slowing delivery:
// Record only tries to put the result into a bounded in-memory queue; one writer task drains it
// and commits in batches (the store sums each batch into per-day counters). When the store
// falls behind and the queue is full, results are dropped and counted, with a log line at most
// once a minute. Results still queued at a crash are lost: they are report material, not mail.
using System.Threading.Channels;
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
    private readonly ILogger _logger;
    private readonly Channel<TlsSessionResult> _queue;
    private readonly Task _writer;
    private long _dropped;
    private long _written;
    private long _accepted;
    private long _finished;
    private long _lastDropLog = long.MinValue;

    /// <summary>Starts the writer task over <paramref name="store"/> (which the recorder disposes).</summary>
    public TlsResultRecorder(ITlsResultStore store, ILogger? logger = null, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _store = store;
        _logger = logger ?? NullLogger.Instance;
        _queue = Channel.CreateBounded<TlsSessionResult>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite returns false when full; nothing waits.
            SingleReader = true,
            SingleWriter = false,
        });
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>The store written to.</summary>
    public ITlsResultStore Store => _store;

    /// <summary>Results dropped because the queue was full, the store failed, or the recorder was stopping.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Results committed to the store.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <inheritdoc/>
    public void Record(TlsSessionResult result)
    {
        if (result is null) return; // the contract: never throw on the delivery path
        if (_queue.Writer.TryWrite(result))
        {
            Interlocked.Increment(ref _accepted);
            return;
        }
        long dropped = Interlocked.Increment(ref _dropped);
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastDropLog);
        if (now - last >= 60_000 && Interlocked.CompareExchange(ref _lastDropLog, now, last) == last)
            _logger.LogWarning("tls result dropped: the report store is behind or stopping dropped={Dropped} policy-domain={Domain}", dropped, result.PolicyDomain);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<TlsSessionResult>(MaxBatch);
        ChannelReader<TlsSessionResult> reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && reader.TryRead(out TlsSessionResult? r))
                batch.Add(r);
            try
            {
                await _store.AddAsync(batch).ConfigureAwait(false);
                Interlocked.Add(ref _written, batch.Count);
            }
#pragma warning disable CA1031 // the writer must outlive a failing batch; the failure is logged and counted
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Interlocked.Add(ref _dropped, batch.Count);
                _logger.LogError("tls results not stored count={Count} error={Error}", batch.Count, ex.Message);
            }
            Interlocked.Add(ref _finished, batch.Count);
            batch.Clear();
        }
    }

    /// <summary>Waits until everything queued before the call is committed (tests, report runs, shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        long target = Interlocked.Read(ref _accepted);
        while (Interlocked.Read(ref _finished) < target && !_writer.IsCompleted)
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops taking results, writes what is queued, and disposes the store.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        if (Dropped > 0)
            _logger.LogWarning("tls results dropped since start dropped={Dropped} written={Written}", Dropped, Written);
        await _store.DisposeAsync().ConfigureAwait(false);
    }
}
