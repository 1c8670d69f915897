using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

/// <summary>A mailbox row as the writer reads it.</summary>
internal sealed record MailboxRow(long Id, string Name, SpecialUse SpecialUse, bool Selectable, uint UidValidity, uint UidNext, long HighestModSeq, long RecentFrom)
{
    public const string Columns = "id, name, special_use, selectable, uidvalidity, uidnext, highestmodseq, recent_from";

    public static MailboxRow Read(SqliteDataReader r) => new(
        r.GetInt64(0), r.GetString(1), (SpecialUse)r.GetInt32(2), r.GetInt64(3) != 0,
        (uint)r.GetInt64(4), (uint)r.GetInt64(5), r.GetInt64(6), r.GetInt64(7));

    public static MailboxRow? ById(WriteContext ctx, long id)
    {
        using var r = ctx.Query($"SELECT {Columns} FROM mailbox WHERE id = $id", ("$id", id));
        return r.Read() ? Read(r) : null;
    }

    public static MailboxRow? ByName(WriteContext ctx, string name)
    {
        using var r = ctx.Query($"SELECT {Columns} FROM mailbox WHERE name = $n", ("$n", name));
        return r.Read() ? Read(r) : null;
    }

    public static MailboxRow RequireSelectable(WriteContext ctx, long id)
    {
        var mb = ById(ctx, id) ?? throw new MailboxNotFoundException(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (!mb.Selectable) throw new MailboxNotSelectableException(mb.Name);
        return mb;
    }

    /// <summary>Applies count deltas and the new UIDNEXT/HIGHESTMODSEQ in the same transaction as the change.</summary>
    public static void Update(WriteContext ctx, long id, uint? uidNext, long? highestModSeq, int dMessages, int dUnseen, int dDeleted, long dSize)
    {
        ctx.Exec("""
            UPDATE mailbox SET uidnext = coalesce($un, uidnext), highestmodseq = max(highestmodseq, coalesce($hm, 0)),
                messages = messages + $dm, unseen = unseen + $du, deleted = deleted + $dd, size = size + $ds
            WHERE id = $id
            """,
            ("$un", uidNext.HasValue ? (long)uidNext.Value : null), ("$hm", highestModSeq), ("$dm", dMessages),
            ("$du", dUnseen), ("$dd", dDeleted), ("$ds", dSize), ("$id", id));
    }
}
