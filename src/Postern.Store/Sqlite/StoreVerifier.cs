using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

/// <summary>
/// Checks a data directory offline (no server running on it): SQLite integrity and foreign keys of every database,
/// every message row against its file (present, right size), blob reference counts, mailbox counters, account usage,
/// UIDs below UIDNEXT and MODSEQs not above HIGHESTMODSEQ, orphan message files and temp leftovers.
/// With fix, only safe repairs are made: counters recomputed from rows, reference counts recomputed,
/// unreferenced files and temp leftovers removed. Missing or truncated files are reported, never "fixed".
/// </summary>
public sealed class StoreVerifier(string dataDirectory)
{
    private readonly List<VerifyProblem> _problems = [];
    private bool _fix;

    /// <summary>Runs every check; returns the problems found (empty when clean).</summary>
    public Task<IReadOnlyList<VerifyProblem>> VerifyAsync(bool fix = false, CancellationToken cancellationToken = default)
    {
        _problems.Clear();
        _fix = fix;
        string globalPath = Path.Combine(dataDirectory, "postern.db");
        var accounts = new List<string>();
        if (!File.Exists(globalPath))
        {
            Report("postern.db", "global database missing", explainable: false, fixedIt: false);
        }
        else
        {
            using var conn = Db.OpenWriter(globalPath);
            CheckIntegrity(conn, "postern.db");
            using var cmd = Db.Command(conn, null, "SELECT name FROM account ORDER BY name");
            using var r = cmd.ExecuteReader();
            while (r.Read()) accounts.Add(r.GetString(0));
        }
        string accountsDir = Path.Combine(dataDirectory, "accounts");
        var dirs = Directory.Exists(accountsDir) ? Directory.GetDirectories(accountsDir).Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal) : [];
        foreach (var d in dirs)
        {
            if (!accounts.Contains(d!)) Report($"accounts/{d}", "folder of an account not in postern.db", explainable: false, fixedIt: false);
        }
        foreach (var name in accounts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string dir = Path.Combine(accountsDir, name);
            string db = Path.Combine(dir, "index.db");
            if (!File.Exists(db))
            {
                // CreateAccount writes the global row first; a crash before the account database exists leaves this.
                bool done = false;
                if (_fix)
                {
                    Directory.CreateDirectory(dir);
                    new MessageFiles(dir).EnsureDirectories();
                    using var c = Db.OpenWriter(db);
                    Schema.EnsureAccount(c, tx => SqliteAccountStore.InitializeAccount(c, tx));
                    done = true;
                }
                Report($"accounts/{name}", "account database missing", explainable: true, fixedIt: done);
                continue;
            }
            VerifyAccount(name, dir, cancellationToken);
        }
        SqliteConnection.ClearAllPools();
        return Task.FromResult<IReadOnlyList<VerifyProblem>>([.. _problems]);
    }

    private void Report(string location, string description, bool explainable, bool fixedIt) =>
        _problems.Add(new VerifyProblem(location, description, explainable, fixedIt));

    private void CheckIntegrity(SqliteConnection conn, string location)
    {
        using (var cmd = Db.Command(conn, null, "PRAGMA integrity_check"))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                string s = r.GetString(0);
                if (s != "ok") Report(location, "integrity_check: " + s, explainable: false, fixedIt: false);
            }
        }
        using (var cmd = Db.Command(conn, null, "PRAGMA foreign_key_check"))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read()) Report(location, $"foreign key violation in table {r.GetString(0)} row {r.GetValue(1)}", explainable: false, fixedIt: false);
        }
    }

    private static List<T> Rows<T>(SqliteConnection conn, string sql, Func<SqliteDataReader, T> read)
    {
        using var cmd = Db.Command(conn, null, sql);
        using var r = cmd.ExecuteReader();
        var list = new List<T>();
        while (r.Read()) list.Add(read(r));
        return list;
    }

    private void VerifyAccount(string name, string dir, CancellationToken ct)
    {
        string loc = $"accounts/{name}";
        var files = new MessageFiles(dir);
        using var conn = Db.OpenWriter(Path.Combine(dir, "index.db"));
        CheckIntegrity(conn, loc + "/index.db");
        if (File.Exists(Path.Combine(dir, "junk.db")))
        {
            // Derived data: a damaged one is rebuilt with `postern junk retrain` after moving it away.
            using var junk = Db.OpenWriter(Path.Combine(dir, "junk.db"));
            CheckIntegrity(junk, loc + "/junk.db");
        }

        var state = Rows(conn, "SELECT modseq, next_blob_id, next_uidvalidity, size FROM account_state WHERE id = 1",
            r => (ModSeq: r.GetInt64(0), NextBlob: r.GetInt64(1), NextUidValidity: r.GetInt64(2), Size: r.GetInt64(3)));
        if (state.Count == 0)
        {
            Report(loc, "account_state row missing", explainable: false, fixedIt: false);
            return;
        }
        var st = state[0];

        // Blobs: file present with the recorded size, reference count equal to the message rows using it.
        var blobs = Rows(conn, """
            SELECT b.id, b.size, b.file_size, coalesce(length(b.prefix), 0), b.refcount,
                   (SELECT count(*) FROM message m WHERE m.blob_id = b.id)
            FROM blob b ORDER BY b.id
            """, r => (Id: r.GetInt64(0), Size: r.GetInt64(1), FileSize: r.GetInt64(2), Prefix: r.GetInt64(3), RefCount: r.GetInt64(4), Uses: r.GetInt64(5)));
        var blobIds = new HashSet<long>();
        foreach (var b in blobs)
        {
            ct.ThrowIfCancellationRequested();
            blobIds.Add(b.Id);
            string path = files.PathFor(b.Id);
            var fi = new FileInfo(path);
            if (!fi.Exists) Report($"{loc}/msg/{MessageFiles.ShardOf(b.Id)}/{b.Id}", "message file missing", explainable: false, fixedIt: false);
            else if (fi.Length != b.FileSize) Report($"{loc}/msg/{MessageFiles.ShardOf(b.Id)}/{b.Id}", $"message file has {fi.Length} bytes, expected {b.FileSize}", explainable: false, fixedIt: false);
            if (b.Size != b.FileSize + b.Prefix) Report($"{loc} blob {b.Id}", $"size {b.Size} is not prefix {b.Prefix} + file {b.FileSize}", explainable: false, fixedIt: false);
            if (b.Id >= st.NextBlob) Report($"{loc} blob {b.Id}", $"blob id not below next_blob_id {st.NextBlob}", explainable: false, fixedIt: Fix(conn, "UPDATE account_state SET next_blob_id = (SELECT max(id) + 1 FROM blob)"));
            if (b.RefCount != b.Uses)
            {
                bool done = false;
                if (_fix)
                {
                    if (b.Uses == 0)
                    {
                        Db.Exec(conn, null, "DELETE FROM blob WHERE id = $id", ("$id", b.Id));
                        MessageFiles.TryDelete(path);
                        blobIds.Remove(b.Id);
                    }
                    else
                    {
                        Db.Exec(conn, null, "UPDATE blob SET refcount = $n WHERE id = $id", ("$n", b.Uses), ("$id", b.Id));
                    }
                    done = true;
                }
                Report($"{loc} blob {b.Id}", $"reference count {b.RefCount}, used by {b.Uses} messages", explainable: false, fixedIt: done);
            }
        }

        var mailboxes = Rows(conn, """
            SELECT id, name, uidvalidity, uidnext, highestmodseq, messages, unseen, deleted, size,
                (SELECT count(*) FROM message m WHERE m.mailbox_id = mailbox.id),
                (SELECT count(*) FROM message m WHERE m.mailbox_id = mailbox.id AND m.flags & 1 = 0),
                (SELECT count(*) FROM message m WHERE m.mailbox_id = mailbox.id AND m.flags & 8 <> 0),
                (SELECT coalesce(sum(size), 0) FROM message m WHERE m.mailbox_id = mailbox.id),
                (SELECT coalesce(max(uid), 0) FROM message m WHERE m.mailbox_id = mailbox.id),
                (SELECT coalesce(max(modseq), 0) FROM message m WHERE m.mailbox_id = mailbox.id),
                (SELECT coalesce(max(uid), 0) FROM expunged e WHERE e.mailbox_id = mailbox.id),
                (SELECT coalesce(max(modseq), 0) FROM expunged e WHERE e.mailbox_id = mailbox.id)
            FROM mailbox ORDER BY name
            """, r => (Id: r.GetInt64(0), Name: r.GetString(1), UidValidity: r.GetInt64(2), UidNext: r.GetInt64(3), Highest: r.GetInt64(4),
                Counts: (r.GetInt64(5), r.GetInt64(6), r.GetInt64(7), r.GetInt64(8)),
                Actual: (r.GetInt64(9), r.GetInt64(10), r.GetInt64(11), r.GetInt64(12)),
                MaxUid: r.GetInt64(13), MaxModSeq: r.GetInt64(14), MaxExpUid: r.GetInt64(15), MaxExpModSeq: r.GetInt64(16)));
        foreach (var m in mailboxes)
        {
            string ml = $"{loc} mailbox {m.Name}";
            if (m.Counts != m.Actual)
            {
                Report(ml, $"counts (messages, unseen, deleted, size) {m.Counts} but rows give {m.Actual}", explainable: false,
                    fixedIt: Fix(conn, "UPDATE mailbox SET messages = $a, unseen = $b, deleted = $c, size = $d WHERE id = $id",
                        ("$a", m.Actual.Item1), ("$b", m.Actual.Item2), ("$c", m.Actual.Item3), ("$d", m.Actual.Item4), ("$id", m.Id)));
            }
            // UIDs are allocated from UIDNEXT and never reused (RFC 9051 §2.3.1.1).
            if (Math.Max(m.MaxUid, m.MaxExpUid) >= m.UidNext)
                Report(ml, $"UID {Math.Max(m.MaxUid, m.MaxExpUid)} not below UIDNEXT {m.UidNext}", explainable: false, fixedIt: false);
            // RFC 7162 §3.1.1: HIGHESTMODSEQ is at least every message's MODSEQ, and never above the account counter.
            if (Math.Max(m.MaxModSeq, m.MaxExpModSeq) > m.Highest)
                Report(ml, $"MODSEQ {Math.Max(m.MaxModSeq, m.MaxExpModSeq)} above HIGHESTMODSEQ {m.Highest}", explainable: false, fixedIt: false);
            if (m.Highest > st.ModSeq)
                Report(ml, $"HIGHESTMODSEQ {m.Highest} above account MODSEQ {st.ModSeq}", explainable: false, fixedIt: false);
            if (m.UidValidity >= st.NextUidValidity)
                Report(ml, $"UIDVALIDITY {m.UidValidity} not below next {st.NextUidValidity}", explainable: false, fixedIt: false);
        }
        long dupExpunged = (long)Db.Scalar(conn, null, "SELECT count(*) FROM expunged e JOIN message m ON m.mailbox_id = e.mailbox_id AND m.uid = e.uid")!;
        if (dupExpunged > 0) Report(loc, $"{dupExpunged} UIDs both present and expunged", explainable: false, fixedIt: false);
        long badSize = (long)Db.Scalar(conn, null, "SELECT count(*) FROM message m JOIN blob b ON b.id = m.blob_id WHERE m.size <> b.size")!;
        if (badSize > 0) Report(loc, $"{badSize} messages whose size differs from their file's", explainable: false, fixedIt: false);

        long used = (long)Db.Scalar(conn, null, "SELECT coalesce(sum(size), 0) FROM message")!;
        if (used != st.Size)
            Report(loc, $"account usage {st.Size} but messages sum to {used}", explainable: false, fixedIt: Fix(conn, "UPDATE account_state SET size = $s", ("$s", used)));

        CheckFiles(loc, files, blobIds, ct);
    }

    private bool Fix(SqliteConnection conn, string sql, params ReadOnlySpan<(string, object?)> args)
    {
        if (!_fix) return false;
        Db.Exec(conn, null, sql, args);
        return true;
    }

    private void CheckFiles(string loc, MessageFiles files, HashSet<long> blobIds, CancellationToken ct)
    {
        if (Directory.Exists(files.MessageDirectory))
        {
            foreach (var shardDir in Directory.EnumerateDirectories(files.MessageDirectory))
            {
                string shardName = Path.GetFileName(shardDir);
                bool shardOk = long.TryParse(shardName, NumberStyles.None, CultureInfo.InvariantCulture, out long shard);
                foreach (var file in Directory.EnumerateFiles(shardDir))
                {
                    ct.ThrowIfCancellationRequested();
                    string fname = Path.GetFileName(file);
                    string fl = $"{loc}/msg/{shardName}/{fname}";
                    if (!shardOk || !long.TryParse(fname, NumberStyles.None, CultureInfo.InvariantCulture, out long id) || MessageFiles.ShardOf(id) != shard)
                    {
                        Report(fl, "unexpected file in message folder", explainable: false, fixedIt: false);
                        continue;
                    }
                    if (blobIds.Contains(id)) continue;
                    // A crash after the rename and before the commit, or after a commit and before deleting an expunged message's file.
                    bool done = false;
                    if (_fix)
                    {
                        MessageFiles.TryDelete(file);
                        done = true;
                    }
                    Report(fl, "orphan message file (no database row)", explainable: true, fixedIt: done);
                }
            }
            foreach (var f in Directory.EnumerateFiles(files.MessageDirectory))
                Report($"{loc}/msg/{Path.GetFileName(f)}", "unexpected file in message folder", explainable: false, fixedIt: false);
        }
        if (Directory.Exists(files.TempDirectory))
        {
            foreach (var file in Directory.EnumerateFiles(files.TempDirectory))
            {
                bool done = false;
                if (_fix)
                {
                    MessageFiles.TryDelete(file);
                    done = true;
                }
                Report($"{loc}/tmp/{Path.GetFileName(file)}", "temporary file left over", explainable: true, fixedIt: done);
            }
        }
    }
}
