using System.Globalization;

namespace Postern.Store.Sqlite;

/// <summary>
/// Layout and durable writing of one account's message files.
/// Files are immutable and named by blob id: <c>msg/&lt;id / 4096&gt;/&lt;id&gt;</c> (at most 4096 files per folder).
/// A message is first written to <c>tmp/</c> and fsynced; the writer renames it into <c>msg/</c>, fsyncs the
/// folder, and only then commits the database row. A crash before the commit leaves an orphan file that
/// the verifier explains and removes, never a row without its file.
/// </summary>
internal sealed class MessageFiles
{
    /// <summary>Files per shard folder.</summary>
    public const int ShardSize = 4096;

    private readonly HashSet<long> _knownShards = [];
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

    /// <summary>Writes bytes to a new temp file and fsyncs it; returns its path.</summary>
    public string WriteTempDurably(ReadOnlySpan<byte> bytes)
    {
        string path = NewTempPath();
        try
        {
            using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
            fs.Write(bytes);
            fs.Flush(flushToDisk: true);
        }
        catch
        {
            TryDelete(path);
            throw;
        }
        return path;
    }

    public static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
