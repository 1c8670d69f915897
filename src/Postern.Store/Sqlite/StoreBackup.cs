using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

/// <summary>Totals of a backup.</summary>
/// <param name="Databases">Databases copied with SQLite's online backup.</param>
/// <param name="MessageFiles">Message files hard-linked or copied.</param>
/// <param name="Linked">Of those, how many were hard links (no data copied).</param>
/// <param name="OtherFiles">Other files (keys, certificates, ...) copied.</param>
/// <param name="Bytes">Bytes written (databases, copied files; hard links count nothing).</param>
public sealed record BackupResult(int Databases, int MessageFiles, int Linked, int OtherFiles, long Bytes);

/// <summary>
/// A consistent copy of a data folder, made while a server may be writing to it.
/// Message files are immutable, so they are hard-linked where the destination is on the same
/// file system (copied otherwise). For each account the order is: link every message file
/// present, snapshot the account database with SQLite's online backup, then link what the
/// snapshot references and the first pass missed (delivered in between). A file the snapshot
/// references that no longer exists (delivered and expunged within the backup) makes the
/// account start over. Files linked in the first pass that the snapshot does not reference
/// (expunged in between) are removed from the copy, so the copy verifies clean. Files are
/// written in place under a reserved id before their row commits: a hard link shares the
/// file, so it is complete by the time its row is in the snapshot; a file copied in pass 1
/// whose size differs from its row's is copied again.
/// </summary>
public sealed class StoreBackup(string sourceDirectory, string destinationDirectory)
{
    /// <summary>Attempts per account before giving up on a folder that changes too fast.</summary>
    public const int MaxAttempts = 5;

    private readonly HashSet<long> _copied = [];
    private int _databases, _messages, _linked, _other;
    private long _bytes;

    /// <summary>Runs the backup; the destination must not exist or be empty.</summary>
    public BackupResult Run(CancellationToken cancellationToken = default)
    {
        string src = Path.GetFullPath(sourceDirectory);
        string dst = Path.GetFullPath(destinationDirectory);
        if (!File.Exists(Path.Combine(src, "postern.db")))
            throw new StoreException($"{src} is not a Postern data folder (no postern.db)");
        if (Directory.Exists(dst) && Directory.EnumerateFileSystemEntries(dst).Any())
            throw new StoreException($"{dst} exists and is not empty");
        if (dst.StartsWith(src + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new StoreException($"{dst} is inside the data folder");
        Directory.CreateDirectory(dst);

        // The global database first: an account created afterwards is simply not in this backup.
        BackupDatabase(Path.Combine(src, "postern.db"), Path.Combine(dst, "postern.db"));
        var accounts = new List<string>();
        using (var conn = new SqliteConnection(Db.ConnectionString(Path.Combine(dst, "postern.db"), readOnly: true)))
        {
            conn.Open();
            using var cmd = Db.Command(conn, null, "SELECT name FROM account ORDER BY name");
            using var r = cmd.ExecuteReader();
            while (r.Read()) accounts.Add(r.GetString(0));
        }
        foreach (var name in accounts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            BackupAccount(Path.Combine(src, "accounts", name), Path.Combine(dst, "accounts", name));
        }
        CopyOtherFiles(src, dst, accounts);
        NativeMethods.FsyncDirectory(dst);
        return new BackupResult(_databases, _messages, _linked, _other, _bytes);
    }

    private void BackupAccount(string src, string dst)
    {
        var srcFiles = new MessageFiles(src);
        for (int attempt = 1; ; attempt++)
        {
            if (Directory.Exists(dst)) Directory.Delete(dst, recursive: true);
            var dstFiles = new MessageFiles(dst);
            dstFiles.EnsureDirectories();
            // Pass 1: every message file present now.
            var linked = new HashSet<long>();
            _copied.Clear();
            if (Directory.Exists(srcFiles.MessageDirectory))
            {
                foreach (var shard in Directory.EnumerateDirectories(srcFiles.MessageDirectory))
                {
                    foreach (var file in Directory.EnumerateFiles(shard))
                    {
                        if (long.TryParse(Path.GetFileName(file), out long id) && LinkOrCopy(file, dstFiles, id))
                            linked.Add(id);
                    }
                }
            }
            // The snapshot.
            string db = Path.Combine(dst, "index.db");
            BackupDatabase(Path.Combine(src, "index.db"), db);
            // The junk filter's training (derived from the keywords, but rebuilding it costs a read of every message).
            if (File.Exists(Path.Combine(src, "junk.db")))
                BackupDatabase(Path.Combine(src, "junk.db"), Path.Combine(dst, "junk.db"));
            var referenced = new Dictionary<long, long>();
            using (var conn = new SqliteConnection(Db.ConnectionString(db, readOnly: true)))
            {
                conn.Open();
                using var cmd = Db.Command(conn, null, "SELECT id, file_size FROM blob");
                using var r = cmd.ExecuteReader();
                while (r.Read()) referenced[r.GetInt64(0)] = r.GetInt64(1);
            }
            // Messages are written in place under a reserved id before their row commits: a file
            // copied (not linked) in pass 1 may have been incomplete then. Copy those again.
            foreach (var (id, size) in referenced)
            {
                if (_copied.Contains(id) && new FileInfo(dstFiles.PathFor(id)).Length != size)
                {
                    File.Delete(dstFiles.PathFor(id));
                    linked.Remove(id);
                    _messages--;
                }
            }
            // Pass 2: what arrived between pass 1 and the snapshot.
            bool complete = true;
            foreach (long id in referenced.Keys)
            {
                if (linked.Contains(id)) continue;
                if (!LinkOrCopy(srcFiles.PathFor(id), dstFiles, id)) { complete = false; break; }
                linked.Add(id);
            }
            if (!complete)
            {
                if (attempt >= MaxAttempts)
                    throw new StoreException($"{src}: message files kept changing during {MaxAttempts} attempts; try again when the server is less busy");
                continue;
            }
            foreach (long id in linked)
            {
                if (!referenced.ContainsKey(id))
                {
                    File.Delete(dstFiles.PathFor(id));
                    _messages--;
                }
            }
            foreach (var shard in Directory.EnumerateDirectories(dstFiles.MessageDirectory))
                NativeMethods.FsyncDirectory(shard);
            NativeMethods.FsyncDirectory(dstFiles.MessageDirectory);
            NativeMethods.FsyncDirectory(dst);
            return;
        }
    }

    /// <summary>Hard-links (or copies) one message file; false when the source no longer exists.</summary>
    private bool LinkOrCopy(string source, MessageFiles dstFiles, long id)
    {
        dstFiles.EnsureShard(id);
        string target = dstFiles.PathFor(id);
        if (NativeMethods.TryHardLink(source, target, out bool missing))
        {
            _messages++;
            _linked++;
            return true;
        }
        if (missing) return false;
        try
        {
            using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
            {
                input.CopyTo(output);
                output.Flush(flushToDisk: true);
                _bytes += output.Length;
            }
            _copied.Add(id);
            _messages++;
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    private void BackupDatabase(string source, string destination)
    {
        using (var from = new SqliteConnection(Db.ConnectionString(source, readOnly: true)))
        using (var to = new SqliteConnection(Db.ConnectionString(destination, readOnly: false)))
        {
            from.Open();
            to.Open();
            from.BackupDatabase(to);
            // The copy is a plain rollback-journal database until a server opens it (then WAL again).
            Db.Exec(to, null, "PRAGMA journal_mode=DELETE");
        }
        SqliteConnection.ClearAllPools();
        using (var fs = new FileStream(destination, FileMode.Open, FileAccess.ReadWrite))
            fs.Flush(flushToDisk: true);
        _databases++;
        _bytes += new FileInfo(destination).Length;
    }

    /// <summary>Everything else in the data folder (keys, certificates, other databases), skipping live-state files.</summary>
    private void CopyOtherFiles(string src, string dst, List<string> accounts)
    {
        var accountDirs = accounts.Select(a => Path.Combine(src, "accounts", a)).ToHashSet(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(src, "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(src, file);
            string name = Path.GetFileName(file);
            if (rel == "postern.db" || accountDirs.Any(d => file.StartsWith(d + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
                continue;
            if (name.EndsWith("-wal", StringComparison.Ordinal) || name.EndsWith("-shm", StringComparison.Ordinal) || name.EndsWith("-journal", StringComparison.Ordinal)
                || name == "postern.ctl" || rel.Split(Path.DirectorySeparatorChar).Contains("tmp"))
                continue;
            string target = Path.Combine(dst, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (name.EndsWith(".db", StringComparison.Ordinal))
            {
                BackupDatabase(file, target);
                continue;
            }
            if ((File.GetAttributes(file) & FileAttributes.ReparsePoint) != 0)
                continue; // sockets and links are not data
            File.Copy(file, target);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(target, File.GetUnixFileMode(file));
            _other++;
            _bytes += new FileInfo(target).Length;
        }
    }
}
