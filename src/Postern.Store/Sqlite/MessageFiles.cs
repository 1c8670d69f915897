using System.Globalization;

namespace Postern.Store.Sqlite;

/// <summary>
/// Layout and durable writing of one account's message files.
/// Files are immutable and named by blob id: <c>msg/&lt;id / 4096&gt;/&lt;id&gt;</c> (at most 4096 files per folder).
/// An appended message gets its blob id before it reaches the writer (<see cref="ReserveBlobId"/>): the caller
/// writes it straight to its final path (or renames its <c>tmp/</c> file there), fsyncs the file and the folder,
/// and only then does the writer commit the database row. A crash before the commit leaves an orphan file that
/// the verifier explains and removes, never a row without its file. Writing in place rather than renaming in the
/// writer keeps every file and folder fsync out of the writer's serial batch, in the appending tasks, in parallel.
/// </summary>
internal sealed class MessageFiles
{
    /// <summary>Files per shard folder.</summary>
    public const int ShardSize = 4096;

    private readonly HashSet<long> _knownShards = [];
    private long _nextBlobId = 1;
    private readonly Lock _shardLock = new();

    public MessageFiles(string accountDirectory)
    {
        AccountDirectory = accountDirectory;
        MessageDirectory = Path.Combine(accountDirectory, "msg");
        TempDirectory = Path.Combine(accountDirectory, "tmp");
    }

    public string AccountDirectory { get; }
    public string MessageDirectory { get; }
    public string TempDirectory { get; }

    public void EnsureDirectories()
    {
        bool created = !Directory.Exists(MessageDirectory) || !Directory.Exists(TempDirectory);
        Directory.CreateDirectory(MessageDirectory);
        Directory.CreateDirectory(TempDirectory);
        if (created) NativeMethods.FsyncDirectory(AccountDirectory);
    }

    /// <summary>
    /// A blob id never handed out before by this process and not below the stored <c>next_blob_id</c>. Ids of
    /// failed appends are simply skipped. After a crash, ids of uncommitted files can be handed out again; the
    /// file is then overwritten (<see cref="WriteDurably"/> truncates), which is right since no row refers to it.
    /// </summary>
    public long ReserveBlobId() => Interlocked.Increment(ref _nextBlobId) - 1;

    /// <summary>The lowest id not yet reserved; persisted as <c>next_blob_id</c> at each commit.</summary>
    public long NextBlobId => Volatile.Read(ref _nextBlobId);

    /// <summary>Raises the allocator to at least <paramref name="storedNext"/> (the stored <c>next_blob_id</c>); never lowers it.</summary>
    public void EnsureBlobIdsFrom(long storedNext)
    {
        long current;
        while ((current = Volatile.Read(ref _nextBlobId)) < storedNext)
        {
            if (Interlocked.CompareExchange(ref _nextBlobId, storedNext, current) == current) return;
        }
    }

    public static long ShardOf(long blobId) => blobId / ShardSize;

    public string ShardDirectory(long shard) => Path.Combine(MessageDirectory, shard.ToString(CultureInfo.InvariantCulture));

    public string PathFor(long blobId) => Path.Combine(ShardDirectory(ShardOf(blobId)), blobId.ToString(CultureInfo.InvariantCulture));

    public string NewTempPath() => Path.Combine(TempDirectory, Guid.NewGuid().ToString("N"));

    /// <summary>Creates the shard folder of a blob if needed (durably: the parent is fsynced after a mkdir).</summary>
    public void EnsureShard(long blobId)
    {
        long shard = ShardOf(blobId);
        lock (_shardLock)
        {
            if (_knownShards.Contains(shard)) return;
        }
        string dir = ShardDirectory(shard);
        if (!Directory.Exists(dir))
        {
            Directory.CreateDirectory(dir);
            NativeMethods.FsyncDirectory(MessageDirectory);
        }
        lock (_shardLock) _knownShards.Add(shard);
    }

    /// <summary>Writes bytes to <paramref name="path"/> (replacing any leftover) and fsyncs the file; the caller fsyncs the folder.</summary>
    public static void WriteDurably(string path, ReadOnlySpan<byte> bytes) => Write(path, bytes, FileMode.Create);

    /// <summary>Writes bytes into a pre-created, empty message file and fsyncs it; the folder entry is already durable.</summary>
    public static void WriteIntoPrecreated(string path, ReadOnlySpan<byte> bytes) => Write(path, bytes, FileMode.Open);

    // A failed write leaves no file behind (no row refers to it).
    private static void Write(string path, ReadOnlySpan<byte> bytes, FileMode mode)
    {
        try
        {
            if (mode == FileMode.Open && OperatingSystem.IsLinux())
            {
                NativeMethods.WriteExistingEmptyFileDurably(path, bytes);
                return;
            }
            using var fs = new FileStream(path, mode, FileAccess.Write, FileShare.None, bufferSize: 0);
            fs.Write(bytes);
            fs.Flush(flushToDisk: true);
        }
        catch
        {
            TryDelete(path);
            throw;
        }
    }

    /// <summary>Creates an empty file (truncating a leftover of a blob id handed out again after a crash); the caller fsyncs the folder.</summary>
    public static void CreateEmpty(string path)
    {
        if (OperatingSystem.IsLinux())
            NativeMethods.CreateEmptyFile(path);
        else
            using (new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0)) { }
    }

    public static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
