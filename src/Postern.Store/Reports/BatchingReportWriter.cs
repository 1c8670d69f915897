// Hands report material (DMARC evaluations, TLS session results) from the delivery paths to a
// store without slowing delivery: a bounded in-memory queue (Record never waits) drained by one
// writer task that commits in batches. When the store falls behind and the queue is full, new
// items are dropped and counted, with a log line at most once a minute; mail is never delayed or
// refused for its report data. What is still queued at a crash is lost: report material is not
// durable the way messages are (DESIGN principle 4 covers what is acknowledged to a client).
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Postern.Store.Reports;

/// <summary>The bounded queue and batching writer shared by the report recorders.</summary>
internal sealed class BatchingReportWriter<T> where T : class
{
    private readonly Func<IReadOnlyList<T>, Task> _write;
    private readonly Func<T, string> _domainOf;
    private readonly string _what;
    private readonly int _maxBatch;
    private readonly ILogger _logger;
    private readonly Channel<T> _queue;
    private readonly Task _writer;
    private readonly DropCounter _drops = new();
    private long _written;
    private long _accepted;
    private long _finished;

    /// <param name="what">Plural name in log lines, e.g. "dmarc evaluations".</param>
    public BatchingReportWriter(string what, Func<IReadOnlyList<T>, Task> write, Func<T, string> domainOf, int capacity, int maxBatch, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _what = what;
        _write = write;
        _domainOf = domainOf;
        _maxBatch = maxBatch;
        _logger = logger;
        _queue = Channel.CreateBounded<T>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite returns false when full; nothing waits.
            SingleReader = true,
            SingleWriter = false,
        });
        _writer = Task.Run(WriteLoopAsync);
    }

    public long Dropped => _drops.Dropped;

    public long Written => Interlocked.Read(ref _written);

    /// <summary>Queues an item; never waits. False (and counted) when it was dropped.</summary>
    public bool Record(T item)
    {
        if (_queue.Writer.TryWrite(item))
        {
            Interlocked.Increment(ref _accepted);
            return true;
        }
        if (_drops.Count(out long dropped))
            _logger.LogWarning("{What} dropped: the report store is behind or stopping dropped={Dropped} policy-domain={Domain}", _what, dropped, _domainOf(item));
        return false;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<T>(_maxBatch);
        ChannelReader<T> reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < _maxBatch && reader.TryRead(out T? item))
                batch.Add(item);
            try
            {
                await _write(batch).ConfigureAwait(false);
                Interlocked.Add(ref _written, batch.Count);
            }
#pragma warning disable CA1031 // the writer must outlive a failing batch; the failure is logged and counted
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _drops.Add(batch.Count);
                _logger.LogError("{What} not stored count={Count} error={Error}", _what, batch.Count, ex.Message);
            }
            Interlocked.Add(ref _finished, batch.Count);
            batch.Clear();
        }
    }

    /// <summary>Waits until everything queued before the call is committed.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        long target = Interlocked.Read(ref _accepted);
        while (Interlocked.Read(ref _finished) < target && !_writer.IsCompleted)
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops taking items and writes what is queued.</summary>
    public async Task CompleteAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        if (Dropped > 0)
            _logger.LogWarning("{What} dropped since start dropped={Dropped} written={Written}", _what, Dropped, Written);
    }
}
