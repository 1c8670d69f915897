namespace Postern.Store.Sqlite;

/// <summary>Mailbox-changing operations, run by the writer inside one savepoint each.</summary>
internal static class MailboxWrites
{
    /// <summary>Mailboxes of a new account and their special use (RFC 6154).</summary>
    public static readonly (string Name, SpecialUse Use)[] Defaults =
    [
        (MailboxNames.Inbox, SpecialUse.None),
        ("Drafts", SpecialUse.Drafts),
        ("Sent", SpecialUse.Sent),
        ("Archive", SpecialUse.Archive),
        ("Trash", SpecialUse.Trash),
        ("Junk", SpecialUse.Junk),
    ];

    public static long Create(WriteContext ctx, string name, SpecialUse use)
    {
        name = MailboxNames.Normalize(name);
        var existing = MailboxRow.ByName(ctx, name);
        if (existing is { Selectable: true }) throw new MailboxExistsException(name);
        foreach (var parent in MailboxNames.Parents(name))
        {
            if (MailboxRow.ByName(ctx, parent) is null) Insert(ctx, parent, SpecialUse.None);
        }
        if (existing is not null)
        {
            // A \Noselect placeholder becomes a real mailbox again: a fresh UIDVALIDITY, as for any re-used name.
            long modseq = ctx.NewModSeq();
            ctx.Exec("""
                UPDATE mailbox SET selectable = 1, special_use = $su, uidvalidity = $uv, uidnext = 1, recent_from = 1,
                    highestmodseq = $ms, messages = 0, unseen = 0, deleted = 0, size = 0 WHERE id = $id
                """, ("$su", (int)use), ("$uv", (long)ctx.NewUidValidity()), ("$ms", modseq), ("$id", existing.Id));
            ctx.Exec("DELETE FROM expunged WHERE mailbox_id = $id", ("$id", existing.Id));
            ctx.AddChange(new MailboxCreated(existing.Id, modseq, name));
            return existing.Id;
        }
        return Insert(ctx, name, use);
    }

    private static long Insert(WriteContext ctx, string name, SpecialUse use)
    {
        long modseq = ctx.NewModSeq();
        long id = (long)ctx.Scalar("""
            INSERT INTO mailbox (name, special_use, selectable, uidvalidity, uidnext, highestmodseq)
            VALUES ($n, $su, 1, $uv, 1, $ms) RETURNING id
            """, ("$n", name), ("$su", (int)use), ("$uv", (long)ctx.NewUidValidity()), ("$ms", modseq))!;
        ctx.AddChange(new MailboxCreated(id, modseq, name));
        return id;
    }

    private static List<MailboxRow> SelfAndChildren(WriteContext ctx, string name)
    {
        var list = new List<MailboxRow>();
        using var r = ctx.Query($"SELECT {MailboxRow.Columns} FROM mailbox WHERE name = $n OR substr(name, 1, $len) = $prefix ORDER BY name",
            ("$n", name), ("$len", name.Length + 1), ("$prefix", name + MailboxNames.Separator));
        while (r.Read()) list.Add(MailboxRow.Read(r));
        return list;
    }

    public static long Rename(WriteContext ctx, string oldName, string newName)
    {
        oldName = MailboxNames.Normalize(oldName);
        newName = MailboxNames.Normalize(newName);
        var source = MailboxRow.ByName(ctx, oldName) ?? throw new MailboxNotFoundException(oldName);
        if (MailboxRow.ByName(ctx, newName) is not null) throw new MailboxExistsException(newName);
        if (MailboxNames.IsSelfOrChild(newName, oldName)) throw new MailboxOperationException("cannot rename a mailbox into itself");
        if (oldName == MailboxNames.Inbox) return RenameInbox(ctx, source, newName);
        if (newName == MailboxNames.Inbox || MailboxNames.IsSelfOrChild(newName, MailboxNames.Inbox) && MailboxRow.ByName(ctx, MailboxNames.Inbox) is null)
            throw new MailboxOperationException("cannot rename to INBOX");
        var moving = SelfAndChildren(ctx, oldName);
        foreach (var parent in MailboxNames.Parents(newName))
        {
            if (MailboxRow.ByName(ctx, parent) is null) Insert(ctx, parent, SpecialUse.None);
        }
        long modseq = ctx.NewModSeq();
        foreach (var mb in moving)
        {
            string to = newName + mb.Name[oldName.Length..];
            if (MailboxRow.ByName(ctx, to) is not null) throw new MailboxExistsException(to);
            ctx.Exec("UPDATE mailbox SET name = $n WHERE id = $id", ("$n", to), ("$id", mb.Id));
            ctx.AddChange(new MailboxRenamed(mb.Id, modseq, mb.Name, to));
        }
        return source.Id;
    }

    /// <summary>RFC 9051 §6.3.6: renaming INBOX moves its messages to a new mailbox; INBOX stays, empty, its children untouched.</summary>
    private static long RenameInbox(WriteContext ctx, MailboxRow inbox, string newName)
    {
        long id = Create(ctx, newName, SpecialUse.None);
        var dest = MailboxRow.ById(ctx, id)!;
        var rows = new List<MessageWrites.MovedRow>();
        using (var r = ctx.Query("SELECT uid, blob_id, flags, keywords, size, internaldate FROM message WHERE mailbox_id = $mb ORDER BY uid", ("$mb", inbox.Id)))
        {
            while (r.Read())
                rows.Add(new MessageWrites.MovedRow((uint)r.GetInt64(0), r.GetInt64(1), (SystemFlags)r.GetInt32(2), r.GetString(3), r.GetInt64(4), r.GetInt64(5)));
        }
        if (rows.Count > 0)
        {
            long modseq = ctx.NewModSeq();
            MessageWrites.CopyRows(ctx, rows, dest, modseq);
            MessageWrites.RemoveRows(ctx, inbox.Id, rows, modseq);
        }
        return id;
    }

    public static void Delete(WriteContext ctx, string name)
    {
        name = MailboxNames.Normalize(name);
        if (name == MailboxNames.Inbox) throw new MailboxOperationException("cannot delete INBOX");
        var mb = MailboxRow.ByName(ctx, name) ?? throw new MailboxNotFoundException(name);
        bool hasChildren = SelfAndChildren(ctx, name).Count > 1;
        // RFC 9051 §6.3.5: deleting a \Noselect name that still has children is an error.
        if (hasChildren && !mb.Selectable) throw new MailboxOperationException($"mailbox {name} has children and is not selectable");
        long modseq = ctx.NewModSeq();
        var blobs = new List<long>();
        long size = 0;
        using (var r = ctx.Query("SELECT blob_id, size FROM message WHERE mailbox_id = $mb", ("$mb", mb.Id)))
        {
            while (r.Read())
            {
                blobs.Add(r.GetInt64(0));
                size += r.GetInt64(1);
            }
        }
        ctx.Exec("DELETE FROM message WHERE mailbox_id = $mb", ("$mb", mb.Id));
        foreach (var b in blobs) MessageWrites.ReleaseBlob(ctx, b);
        ctx.AccountSize -= size;
        ctx.Exec("DELETE FROM expunged WHERE mailbox_id = $mb", ("$mb", mb.Id));
        if (hasChildren)
        {
            // RFC 9051 §6.3.5: with inferiors the name stays, as \Noselect.
            ctx.Exec("""
                UPDATE mailbox SET selectable = 0, messages = 0, unseen = 0, deleted = 0, size = 0, highestmodseq = $ms WHERE id = $id
                """, ("$ms", modseq), ("$id", mb.Id));
        }
        else
        {
            ctx.Exec("DELETE FROM mailbox WHERE id = $id", ("$id", mb.Id));
        }
        ctx.AddChange(new MailboxDeleted(mb.Id, modseq, name));
    }

    public static void SetSpecialUse(WriteContext ctx, long mailboxId, SpecialUse use)
    {
        var mb = MailboxRow.ById(ctx, mailboxId) ?? throw new MailboxNotFoundException(mailboxId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        ctx.Exec("UPDATE mailbox SET special_use = $su WHERE id = $id", ("$su", (int)use), ("$id", mb.Id));
        ctx.MailboxesChanged();
    }

    public static void SetSubscribed(WriteContext ctx, string name, bool subscribed)
    {
        name = MailboxNames.Normalize(name);
        int n = subscribed
            ? ctx.Exec("INSERT OR IGNORE INTO subscription (name) VALUES ($n)", ("$n", name))
            : ctx.Exec("DELETE FROM subscription WHERE name = $n", ("$n", name));
        if (n == 0) return;
        long modseq = ctx.NewModSeq();
        long id = MailboxRow.ByName(ctx, name)?.Id ?? 0;
        ctx.AddChange(new SubscriptionChanged(id, modseq, name, subscribed));
    }
}
