using System.Collections.Concurrent;

namespace Postern.Store.Sqlite;

/// <summary>
/// Empty message files created ahead of time, for concurrent appends. An append normally costs three flushes one
/// after the other: the message file, its folder (the new directory entry), then the WAL commit. A file taken from
/// this pool already has a durable directory entry (the folder was fsynced when it was created), so the append
/// writes into it, fsyncs the file, and skips the folder fsync. The pool is filled only once appends overlap
/// (a single writer gains nothing from it), in the background, one folder fsync for a whole refill.
/// Unused files are deleted when the account closes; after a crash they are empty orphan files, which the
/// verifier explains and removes, and whose ids may be handed out again (writing truncates them).
/// </summary>
internal sealed class PrecreatedFiles(MessageFiles files)
{
    /// <summary>Files created per refill.</summary>
    public const int RefillCount = 32;

    private readonly ConcurrentQueue<long> _ready = new();
    private int _refilling;
    private int _inFlight;
    private volatile bool _closed;

    /// <summary>Marks the start of an append; returns a pre-created blob id when one is ready.</summary>
    public long? BeginAppend()
    {
        bool concurrent = Interlocked.Increment(ref _inFlight) > 1;
        if (_ready.TryDequeue(out long id))
        {
            if (_ready.Count < RefillCount / 2) StartRefill();
            return id;
        }
        if (concurrent) StartRefill();
        return null;
    }

    /// <summary>Marks the end of an append started with <see cref="BeginAppend"/>.</summary>
    public void EndAppend() => Interlocked.Decrement(ref _inFlight);

    private void StartRefill()
    {
        if (_closed || Interlocked.CompareExchange(ref _refilling, 1, 0) != 0) return;
        _ = Task.Run(() =>
        {
            try
            {
                var created = new List<long>(RefillCount);
                var folders = new HashSet<string>(StringComparer.Ordinal);
                try
                {
                    for (int i = 0; i < RefillCount && !_closed; i++)
                    {
                        long id = files.ReserveBlobId();
                        files.EnsureShard(id);
                        string path = files.PathFor(id);
                        MessageFiles.CreateEmpty(path);
                        created.Add(id);
                        folders.Add(Path.GetDirectoryName(path)!);
                    }
                    // POSIX: the new directory entries are durable once their folders are fsynced.
                    foreach (var folder in folders) NativeMethods.FsyncDirectory(folder);
                }
                catch (IOException)
                {
                    foreach (long id in created) MessageFiles.TryDelete(files.PathFor(id));
                    return;
                }
                foreach (long id in created) _ready.Enqueue(id);
                if (_closed) DeleteUnused();
            }
            finally
            {
                Volatile.Write(ref _refilling, 0);
            }
        });
    }

    /// <summary>Stops refilling and deletes the files not used.</summary>
    public void Close()
    {
        _closed = true;
        DeleteUnused();
    }

    private void DeleteUnused()
    {
        while (_ready.TryDequeue(out long id)) MessageFiles.TryDelete(files.PathFor(id));
    }
}
