// Hands DMARC evaluations from the SMTP sessions to the store without slowing delivery
// (BatchingReportWriter: bounded queue, batched commits, drop and count when full).
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
    private readonly BatchingReportWriter<DmarcEvaluationRecord> _writer;

    /// <summary>Starts the writer task over <paramref name="store"/> (which the recorder disposes).</summary>
    public DmarcEvaluationRecorder(IDmarcEvaluationStore store, ILogger? logger = null, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _writer = new BatchingReportWriter<DmarcEvaluationRecord>("dmarc evaluations", batch => store.AddAsync(batch), r => r.PolicyDomain, capacity, MaxBatch, logger ?? NullLogger.Instance);
    }

    /// <summary>Items dropped because the queue was full, the store failed, or the recorder was stopping.</summary>
    public long Dropped => _writer.Dropped;

    /// <summary>Items committed to the store.</summary>
    public long Written => _writer.Written;

    /// <summary>Queues an evaluation; never waits. Returns false (and counts it) when it was dropped.</summary>
    public bool Record(DmarcEvaluationRecord evaluation)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        return _writer.Record(evaluation);
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
