using Postern.Store;

namespace Postern.Queue;

/// <summary>
/// The queue's message files: DATA/queue/msg/XX/NAME, named by a random id (XX its first two hex
/// digits, 256 folders). A file is written in place, fsynced, and its folder fsynced before the
/// database row that names it is committed; a crash in between leaves an orphan file, never a
/// row without its file. Files never change after they are written.
/// </summary>
internal sealed class QueueFiles(string messageDirectory)
{
    private readonly HashSet<string> _knownShards = [];
    private readonly Lock _lock = new();

    public string MessageDirectory { get; } = messageDirectory;

    public string PathOf(string name) => Path.Combine(MessageDirectory, name);

    /// <summary>Writes <paramref name="prefix"/> then the content to a new file, durably; returns its relative name.</summary>
    public async Task<(string Name, long Size)> WriteAsync(ReadOnlyMemory<byte> prefix, Stream content, CancellationToken ct)
    {
        string id = Guid.NewGuid().ToString("N");
        string shard = id[..2];
        string dir = Path.Combine(MessageDirectory, shard);
        bool known;
        lock (_lock) known = _knownShards.Contains(shard);
        if (!known)
        {
            DurableFiles.EnsureDirectory(dir);
            lock (_lock) _knownShards.Add(shard);
        }
        string name = shard + "/" + id;
        string path = Path.Combine(dir, id);
        long size;
        try
        {
            await using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous))
            {
                await fs.WriteAsync(prefix, ct).ConfigureAwait(false);
                await content.CopyToAsync(fs, 64 * 1024, ct).ConfigureAwait(false);
                await fs.FlushAsync(ct).ConfigureAwait(false);
                fs.Flush(flushToDisk: true);
                size = fs.Length;
            }
            DurableFiles.FsyncDirectory(dir);
        }
        catch
        {
            DurableFiles.TryDelete(path);
            throw;
        }
        return (name, size);
    }

    public void Delete(string name) => DurableFiles.TryDelete(PathOf(name));
}
