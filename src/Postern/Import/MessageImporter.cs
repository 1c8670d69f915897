using Postern.Store;

namespace Postern.Import;

/// <summary>
/// Appends imported messages to an account in batches: each batch is one durable append (one
/// transaction, group-committed by the store), in the order the messages were read.
/// </summary>
/// <remarks>
/// Design: every message is spooled into a temporary file of the account while it is read and
/// parsed. When a batch is full, its files are fsynced in parallel (an fsync costs about a
/// millisecond on common disks; doing them one after the other would cap the import near a
/// thousand messages per second), then appended in one call; meanwhile the next batch is read.
/// On Linux a single syncfs(2) replaces the per-file fsyncs of a batch.
/// At most two batches exist at a time, so memory stays bounded whatever the number of messages:
/// per message only the parsed structure and header data are held until its batch commits.
/// A message counts as imported only once its batch's append has returned.
/// </remarks>
internal sealed class MessageImporter : IAsyncDisposable
{
    /// <summary>Messages per append: larger batches spread the per-commit cost (syncfs, folder fsyncs, WAL commit);
    /// each waiting message holds an open file and its parsed structure.</summary>
    public const int MaxBatchMessages = 500;

    /// <summary>Temporary files fsynced at once.</summary>
    public const int ParallelFsyncs = 16;

    private readonly IAccountStore _account;
    private readonly Dictionary<string, long> _mailboxIds = new(StringComparer.Ordinal);
    private List<(NewMessage Message, MessageSpool Spool)> _batch = [];
    private long _batchMailbox = -1;
    private Task _pending = Task.CompletedTask;
    private List<(NewMessage Message, MessageSpool Spool)>? _pendingBatch;

    public MessageImporter(IAccountStore account) => _account = account;

    /// <summary>Messages durably appended so far.</summary>
    public long Imported { get; private set; }

    /// <summary>Bytes of the messages durably appended so far.</summary>
    public long ImportedBytes { get; private set; }

    /// <summary>Called after each batch commits, with the totals so far.</summary>
    public Action<long, long>? Committed { get; set; }

    public MessageSpool StartMessage() => new(_account);

    /// <summary>The id of a mailbox, created (with its parents) when missing.</summary>
    public async Task<long> MailboxIdAsync(string name, CancellationToken cancellationToken)
    {
        if (_mailboxIds.TryGetValue(name, out long id))
            return id;
        var mailbox = await _account.GetMailboxAsync(name, cancellationToken).ConfigureAwait(false)
            ?? await _account.CreateMailboxAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
        _mailboxIds[name] = mailbox.Id;
        return mailbox.Id;
    }

    /// <summary>Queues a spooled message for the mailbox; may wait for an earlier batch to commit.</summary>
    public async Task AddAsync(long mailboxId, MessageSpool spool, SystemFlags flags, IReadOnlyList<string> keywords, DateTimeOffset? internalDate, CancellationToken cancellationToken)
    {
        try
        {
            if (mailboxId != _batchMailbox && _batch.Count > 0)
                await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            spool.Discard();
            throw;
        }
        _batchMailbox = mailboxId;
        var structure = spool.CompleteParse();
        var message = new NewMessage(MessageSource.FromTempFile(spool.File), structure.ToBytes(), MessageMeta.FromStructure(structure))
        {
            Flags = flags,
            Keywords = keywords,
            InternalDate = internalDate,
        };
        _batch.Add((message, spool));
        if (_batch.Count >= MaxBatchMessages)
            await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts committing the current batch after the previous one has committed.</summary>
    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        await WaitPendingAsync().ConfigureAwait(false);
        if (_batch.Count == 0)
            return;
        var batch = _batch;
        long mailboxId = _batchMailbox;
        _batch = [];
        _pendingBatch = batch;
        _pending = Task.Run(() => CommitAsync(mailboxId, batch, cancellationToken), cancellationToken);
    }

    private async Task WaitPendingAsync()
    {
        try
        {
            await _pending.ConfigureAwait(false);
        }
        finally
        {
            if (_pendingBatch is not null)
            {
                foreach (var (_, spool) in _pendingBatch)
                    spool.Discard();
                _pendingBatch = null;
            }
        }
    }

    private async Task CommitAsync(long mailboxId, List<(NewMessage Message, MessageSpool Spool)> batch, CancellationToken cancellationToken)
    {
        await FlushToDiskAsync(batch, cancellationToken).ConfigureAwait(false);
        await _account.AppendAsync(mailboxId, batch.Select(b => b.Message).ToList(), cancellationToken).ConfigureAwait(false);
        Imported += batch.Count;
        ImportedBytes += batch.Sum(b => b.Spool.Length);
        Committed?.Invoke(Imported, ImportedBytes);
    }

    /// <summary>
    /// Gets the batch's files onto stable storage before the store's own per-file fsync, which
    /// then finds nothing left to write. On Linux one syncfs(2) flushes them all at once (and
    /// reports write-back errors since Linux 5.8); elsewhere, fsyncs run in parallel. Durability
    /// does not depend on this step: the store fsyncs every file itself when appending.
    /// </summary>
    private static async Task FlushToDiskAsync(List<(NewMessage Message, MessageSpool Spool)> batch, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsLinux())
        {
            if (NativeSync.SyncFileSystem((FileStream)batch[0].Spool.File.Stream))
                return;
        }
        await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = ParallelFsyncs, CancellationToken = cancellationToken },
            (item, _) =>
            {
                ((FileStream)item.Spool.File.Stream).Flush(flushToDisk: true);
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false);
    }

    /// <summary>Commits what is queued and waits for it.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        await WaitPendingAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await WaitPendingAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The failure was reported by whoever awaited the batch; here only the files are cleaned up.
        }
        foreach (var (_, spool) in _batch)
            spool.Discard();
        _batch.Clear();
    }
}
