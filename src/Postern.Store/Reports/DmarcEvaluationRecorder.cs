// Hands DMARC evaluations from the SMTP sessions to the store without slowing delivery: a
// bounded in-memory queue (Record never waits) drained by one writer task that commits in
// batches. When the store falls behind and the queue is full, new evaluations are dropped and
// counted, with a log line now and then; a message is never delayed or refused for its report
// data. What is still queued at a crash is lost: evaluations are not durable the way messages
// are (DESIGN principle 4 covers what is acknowledged to a client, which this is not).
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Postern.Store.Reports;

/// <summary>Buffers DMARC evaluations and writes them to an <see cref="IDmarcEvaluationStore"/> in batches.</summary>
public sealed class DmarcEvaluationRecorder : IAsyncDisposable
{
    /// <summary>Evaluations held in memory at most before new ones are dropped.</summary>
    public const int DefaultCapacity = 10_000;

    /// <summary>Evaluations committed in one transaction at most.</summary>
    public const int MaxBatch = 500;

    private readonly IDmarcEvaluationStore _store;
    private readonly ILogger _logger;
    private readonly Channel<DmarcEvaluationRecord> _queue;
    private readonly Task _writer;
    private long _dropped;
    private long _written;
    private long _accepted;
    private long _finished;
    private long _lastDropLog = -60_000; // so that the first drop is logged (TickCount64 starts near 0 at boot)

    /// <summary>Starts the writer task over <paramref name="store"/>.</summary>
    public DmarcEvaluationRecorder(IDmarcEvaluationStore store, ILogger? logger = null, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _store = store;
        _logger = logger ?? NullLogger.Instance;
        _queue = Channel.CreateBounded<DmarcEvaluationRecord>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite returns false when full; nothing waits.
            SingleReader = true,
            SingleWriter = false,
        });
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Evaluations dropped because the queue was full (or the recorder was stopping).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Evaluations committed to the store.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Queues an evaluation; never waits. Returns false (and counts it) when it was dropped.</summary>
    public bool Record(DmarcEvaluationRecord evaluation)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        if (_queue.Writer.TryWrite(evaluation))
        {
            Interlocked.Increment(ref _accepted);
            return true;
        }
        long dropped = Interlocked.Increment(ref _dropped);
        // One log line per minute at most, with the running count.
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastDropLog);
        if (now - last >= 60_000 && Interlocked.CompareExchange(ref _lastDropLog, now, last) == last)
            _logger.LogWarning("dmarc evaluation dropped: the report store is behind or stopping dropped={Dropped} policy-domain={Domain}", dropped, evaluation.PolicyDomain);
        return false;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<DmarcEvaluationRecord>(MaxBatch);
        ChannelReader<DmarcEvaluationRecord> reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && reader.TryRead(out DmarcEvaluationRecord? e))
                batch.Add(e);
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
                _logger.LogError("dmarc evaluations not stored count={Count} error={Error}", batch.Count, ex.Message);
            }
            Interlocked.Add(ref _finished, batch.Count);
            batch.Clear();
        }
    }

    /// <summary>Waits until everything queued before the call is committed (tests, shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        long target = Interlocked.Read(ref _accepted);
        while (Interlocked.Read(ref _finished) < target && !_writer.IsCompleted)
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops taking evaluations, writes what is queued, and disposes the store.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        if (Dropped > 0)
            _logger.LogWarning("dmarc evaluations dropped since start dropped={Dropped} written={Written}", Dropped, Written);
        await _store.DisposeAsync().ConfigureAwait(false);
    }
}
