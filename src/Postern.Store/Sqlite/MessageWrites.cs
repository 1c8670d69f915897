namespace Postern.Store.Sqlite;

/// <summary>The message-changing operations, run by the writer inside one savepoint each.</summary>
internal static class MessageWrites
{
    /// <summary>A message whose bytes are already durable in its final file (file and folder fsynced) under a reserved blob id.</summary>
    internal sealed record PreparedMessage(NewMessage Message, long BlobId, string Path, long FileSize)
    {
        public long TotalSize => Message.Prefix.Length + FileSize;
    }

    internal sealed record MovedRow(uint Uid, long BlobId, SystemFlags Flags, string Keywords, long Size, long InternalDate);

    public static AppendResult Append(WriteContext ctx, long mailboxId, IReadOnlyList<PreparedMessage> messages)
    {
        var mb = MailboxRow.RequireSelectable(ctx, mailboxId);
        long adding = messages.Sum(m => m.TotalSize);
        CheckQuota(ctx, adding);
        if ((long)mb.UidNext + messages.Count >= uint.MaxValue) throw new StoreException("UID space of the mailbox exhausted");
        long modseq = ctx.NewModSeq();
        long now = Db.ToUnixMs(ctx.Now);
        uint uid = mb.UidNext;
        var uids = new uint[messages.Count];
        int unseen = 0, deleted = 0;
        for (int i = 0; i < messages.Count; i++)
        {
            var p = messages[i];
            var m = p.Message;
            var meta = m.Meta;
            long blobId = p.BlobId;
            ctx.Exec("""
                INSERT INTO blob (id, size, file_size, refcount, prefix, structure, message_id, in_reply_to, refs, base_subject, subject, date,
                    from_addr, from_name, to_addr, to_name, cc_addr, cc_name, preview)
                VALUES ($id, $size, $fsize, 1, $prefix, $structure, $mid, $irt, $refs, $bs, $subj, $date, $fa, $fn, $ta, $tn, $ca, $cn, $pv)
                """,
                ("$id", blobId), ("$size", p.TotalSize), ("$fsize", p.FileSize),
                ("$prefix", m.Prefix.Length == 0 ? null : m.Prefix.ToArray()), ("$structure", m.Structure),
                ("$mid", meta.MessageId), ("$irt", meta.InReplyTo), ("$refs", meta.References), ("$bs", meta.BaseSubject),
                ("$subj", meta.Subject), ("$date", meta.Date.HasValue ? Db.ToUnixMs(meta.Date.Value) : null),
                ("$fa", meta.FromAddress), ("$fn", meta.FromName), ("$ta", meta.ToAddress), ("$tn", meta.ToName),
                ("$ca", meta.CcAddress), ("$cn", meta.CcName), ("$pv", meta.Preview));
            var kw = Keywords.Distinct(m.Keywords);
            ctx.Exec("""
                INSERT INTO message (mailbox_id, uid, blob_id, modseq, flags, keywords, size, internaldate, savedate)
                VALUES ($mb, $uid, $blob, $ms, $fl, $kw, $size, $idate, $sdate)
                """,
                ("$mb", mailboxId), ("$uid", (long)uid), ("$blob", blobId), ("$ms", modseq), ("$fl", (int)m.Flags),
                ("$kw", Keywords.Format(kw)), ("$size", p.TotalSize),
                ("$idate", m.InternalDate.HasValue ? Db.ToUnixMs(m.InternalDate.Value) : now), ("$sdate", now));
            if ((m.Flags & SystemFlags.Seen) == 0) unseen++;
            if ((m.Flags & SystemFlags.Deleted) != 0) deleted++;
            ctx.AddChange(new MessageAdded(mailboxId, modseq, uid, m.Flags, kw));
            uids[i] = uid++;
        }
        MailboxRow.Update(ctx, mailboxId, uid, modseq, messages.Count, unseen, deleted, adding);
        ctx.AccountSize += adding;
        return new AppendResult(mailboxId, mb.UidValidity, uids, modseq);
    }

    /// <summary>RFC 8508: expunge one message and append its replacement in the same savepoint. The expunge goes first,
    /// so the quota check sees the space the old message frees.</summary>
    public static ReplaceResult Replace(WriteContext ctx, long sourceId, uint uid, long destId, PreparedMessage message)
    {
        MailboxRow.RequireSelectable(ctx, sourceId);
        var rows = SelectRows(ctx, sourceId, UidSet.Of([uid]), onlyDeleted: false);
        if (rows.Count == 0) throw new MessageNotFoundException(sourceId, uid);
        long modseq = ctx.NewModSeq();
        RemoveRows(ctx, sourceId, rows, modseq);
        ReleaseBlob(ctx, rows[0].BlobId);
        ctx.AccountSize -= rows[0].Size;
        var appended = Append(ctx, destId, [message]);
        return new ReplaceResult(appended, new ExpungeResult([uid], modseq));
    }

    private static void CheckQuota(WriteContext ctx, long adding)
    {
        var limit = ctx.QuotaLimit;
        // RFC 9208 §5.1: refuse the whole change when it would exceed the storage limit.
        if (limit.HasValue && adding > 0 && ctx.AccountSize + adding > limit.Value)
            throw new OverQuotaException(limit.Value, ctx.AccountSize, adding);
    }

    public static StoreFlagsResult StoreFlags(WriteContext ctx, long mailboxId, UidSet uids, FlagChange change, long? unchangedSince)
    {
        Keywords.Validate(change.Keywords);
        MailboxRow.RequireSelectable(ctx, mailboxId);
        var rows = new List<MessageRecord>();
        foreach (var range in uids.Ranges)
        {
            using var r = ctx.Query("""
                SELECT uid, modseq, flags, keywords, size, internaldate, savedate FROM message
                WHERE mailbox_id = $mb AND uid BETWEEN $a AND $b ORDER BY uid
                """, ("$mb", mailboxId), ("$a", (long)range.First), ("$b", (long)range.Last));
            while (r.Read()) rows.Add(SqliteAccountStore.ReadRecord(r));
        }
        var changed = new List<MessageRecord>();
        var failed = new List<uint>();
        long modseq = 0;
        int dUnseen = 0, dDeleted = 0;
        foreach (var rec in rows)
        {
            // RFC 7162 §3.1.3: a message modified after UNCHANGEDSINCE is left alone and reported.
            if (unchangedSince.HasValue && rec.ModSeq > unchangedSince.Value)
            {
                failed.Add(rec.Uid);
                continue;
            }
            var (flags, kw) = Keywords.Apply(rec.Flags, rec.Keywords, change);
            if (flags == rec.Flags && Keywords.SameSet(kw, rec.Keywords)) continue;
            if (kw.Length > Keywords.MaxKeywordsPerMessage) throw new StoreException("too many keywords on message");
            if (modseq == 0) modseq = ctx.NewModSeq();
            ctx.Exec("UPDATE message SET flags = $f, keywords = $k, modseq = $m WHERE mailbox_id = $mb AND uid = $uid",
                ("$f", (int)flags), ("$k", Keywords.Format(kw)), ("$m", modseq), ("$mb", mailboxId), ("$uid", (long)rec.Uid));
            dUnseen += Unseen(flags) - Unseen(rec.Flags);
            dDeleted += DeletedCount(flags) - DeletedCount(rec.Flags);
            changed.Add(rec with { ModSeq = modseq, Flags = flags, Keywords = kw });
            ctx.AddChange(new FlagsChanged(mailboxId, modseq, rec.Uid, flags, kw));
        }
        if (modseq != 0) MailboxRow.Update(ctx, mailboxId, null, modseq, 0, dUnseen, dDeleted, 0);
        return new StoreFlagsResult(changed, failed);
    }

    private static int Unseen(SystemFlags f) => (f & SystemFlags.Seen) == 0 ? 1 : 0;
    private static int DeletedCount(SystemFlags f) => (f & SystemFlags.Deleted) != 0 ? 1 : 0;

    private static List<MovedRow> SelectRows(WriteContext ctx, long mailboxId, UidSet? uids, bool onlyDeleted)
    {
        var rows = new List<MovedRow>();
        var ranges = uids?.Ranges ?? UidSet.All.Ranges;
        foreach (var range in ranges)
        {
            using var r = ctx.Query("""
                SELECT uid, blob_id, flags, keywords, size, internaldate FROM message
                WHERE mailbox_id = $mb AND uid BETWEEN $a AND $b AND ($od = 0 OR flags & 8 <> 0) ORDER BY uid
                """, ("$mb", mailboxId), ("$a", (long)range.First), ("$b", (long)range.Last), ("$od", onlyDeleted ? 1 : 0));
            while (r.Read())
                rows.Add(new MovedRow((uint)r.GetInt64(0), r.GetInt64(1), (SystemFlags)r.GetInt32(2), r.GetString(3), r.GetInt64(4), r.GetInt64(5)));
        }
        return rows;
    }

    public static CopyResult Copy(WriteContext ctx, long sourceId, UidSet uids, long destId, bool move)
    {
        MailboxRow.RequireSelectable(ctx, sourceId);
        var dest = MailboxRow.RequireSelectable(ctx, destId);
        var rows = SelectRows(ctx, sourceId, uids, onlyDeleted: false);
        if (rows.Count == 0) return new CopyResult(dest.UidValidity, [], [], 0);
        long size = rows.Sum(r => r.Size);
        if (!move) CheckQuota(ctx, size);
        long modseq = ctx.NewModSeq();
        var destUids = CopyRows(ctx, rows, dest, modseq);
        if (move)
        {
            RemoveRows(ctx, sourceId, rows, modseq);
        }
        else
        {
            foreach (var row in rows) ctx.Exec("UPDATE blob SET refcount = refcount + 1 WHERE id = $id", ("$id", row.BlobId));
            ctx.AccountSize += size;
        }
        return new CopyResult(dest.UidValidity, rows.Select(r => r.Uid).ToArray(), destUids, modseq);
    }

    /// <summary>Inserts rows into a mailbox with new UIDs; blob refcounts are the caller's business.</summary>
    internal static uint[] CopyRows(WriteContext ctx, List<MovedRow> rows, MailboxRow dest, long modseq)
    {
        if ((long)dest.UidNext + rows.Count >= uint.MaxValue) throw new StoreException("UID space of the mailbox exhausted");
        long now = Db.ToUnixMs(ctx.Now);
        uint uid = dest.UidNext;
        var destUids = new uint[rows.Count];
        int unseen = 0, deleted = 0;
        long size = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            ctx.Exec("""
                INSERT INTO message (mailbox_id, uid, blob_id, modseq, flags, keywords, size, internaldate, savedate)
                VALUES ($mb, $uid, $blob, $ms, $fl, $kw, $size, $idate, $sdate)
                """,
                ("$mb", dest.Id), ("$uid", (long)uid), ("$blob", row.BlobId), ("$ms", modseq), ("$fl", (int)row.Flags),
                ("$kw", row.Keywords), ("$size", row.Size), ("$idate", row.InternalDate), ("$sdate", now));
            unseen += Unseen(row.Flags);
            deleted += DeletedCount(row.Flags);
            size += row.Size;
            ctx.AddChange(new MessageAdded(dest.Id, modseq, uid, row.Flags, Keywords.Parse(row.Keywords)));
            destUids[i] = uid++;
        }
        MailboxRow.Update(ctx, dest.Id, uid, modseq, rows.Count, unseen, deleted, size);
        return destUids;
    }

    /// <summary>Removes rows from a mailbox, recording them as expunged with <paramref name="modseq"/> (RFC 7162 §3.2.10 VANISHED needs them).</summary>
    internal static void RemoveRows(WriteContext ctx, long mailboxId, List<MovedRow> rows, long modseq)
    {
        int unseen = 0, deleted = 0;
        long size = 0;
        foreach (var row in rows)
        {
            ctx.Exec("DELETE FROM message WHERE mailbox_id = $mb AND uid = $uid", ("$mb", mailboxId), ("$uid", (long)row.Uid));
            ctx.Exec("INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES ($mb, $uid, $ms)", ("$mb", mailboxId), ("$uid", (long)row.Uid), ("$ms", modseq));
            unseen += Unseen(row.Flags);
            deleted += DeletedCount(row.Flags);
            size += row.Size;
        }
        MailboxRow.Update(ctx, mailboxId, null, modseq, -rows.Count, -unseen, -deleted, -size);
        ctx.AddChange(new MessagesExpunged(mailboxId, modseq, rows.Select(r => r.Uid).ToArray()));
    }

    /// <summary>Drops one reference to a blob; the last one deletes its row now and its file after the commit.</summary>
    internal static void ReleaseBlob(WriteContext ctx, long blobId)
    {
        long left = (long)ctx.Scalar("UPDATE blob SET refcount = refcount - 1 WHERE id = $id RETURNING refcount", ("$id", blobId))!;
        if (left > 0) return;
        ctx.Exec("DELETE FROM blob WHERE id = $id", ("$id", blobId));
        ctx.DeleteFileAfterCommit(ctx.Files.PathFor(blobId));
    }

    public static ExpungeResult Expunge(WriteContext ctx, long mailboxId, UidSet? uids)
    {
        MailboxRow.RequireSelectable(ctx, mailboxId);
        var rows = SelectRows(ctx, mailboxId, uids, onlyDeleted: true);
        if (rows.Count == 0) return new ExpungeResult([], 0);
        long modseq = ctx.NewModSeq();
        RemoveRows(ctx, mailboxId, rows, modseq);
        foreach (var row in rows) ReleaseBlob(ctx, row.BlobId);
        ctx.AccountSize -= rows.Sum(r => r.Size);
        return new ExpungeResult(rows.Select(r => r.Uid).ToArray(), modseq);
    }

    public static IReadOnlyList<uint> ClaimRecent(WriteContext ctx, long mailboxId)
    {
        var mb = MailboxRow.RequireSelectable(ctx, mailboxId);
        if (mb.RecentFrom >= mb.UidNext) return [];
        var uids = new List<uint>();
        using (var r = ctx.Query("SELECT uid FROM message WHERE mailbox_id = $mb AND uid >= $from ORDER BY uid", ("$mb", mailboxId), ("$from", mb.RecentFrom)))
        {
            while (r.Read()) uids.Add((uint)r.GetInt64(0));
        }
        ctx.Exec("UPDATE mailbox SET recent_from = $n WHERE id = $id", ("$n", (long)mb.UidNext), ("$id", mailboxId));
        return uids;
    }
}
