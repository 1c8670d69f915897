// Applying the account's change feed to the selected mailbox view. Called where untagged
// updates are allowed: with allowExpunge false during FETCH, STORE and SEARCH (RFC 9051
// §7.5.1: no EXPUNGE then, it would renumber messages under the client's feet), where
// expunges are kept for later.
using Postern.Imap.Protocol;
using Postern.Store;

namespace Postern.Imap.Server;

internal sealed partial class ImapSession
{
    private async Task ProcessChangesAsync(bool allowExpunge)
    {
        if (_feed is null)
            return;
        SelectedMailbox? sel = _selected;
        bool overflow = false;
        while (_feed.TryRead(out StoreChange? change))
        {
            if (change is FeedOverflow)
            {
                overflow = true;
                continue;
            }
            if (sel is null || change!.MailboxId != sel.Id)
                continue;
            switch (change)
            {
                case MessageAdded add when add.Uid > sel.MaxUid:
                    sel.Add(add.Uid, add.Flags, add.Keywords, add.ModSeq);
                    break;
                case FlagsChanged fc:
                    {
                        if (sel.Get(fc.Uid) is not MessageView old || fc.ModSeq <= old.ModSeq)
                            break;
                        var view = new MessageView(fc.Flags, fc.Keywords, fc.ModSeq);
                        sel.Set(fc.Uid, view);
                        int seq = sel.SeqOf(fc.Uid);
                        if (seq > sel.AnnouncedCount)
                            break;
                        WriteFlagsFetch(sel, seq, fc.Uid, view);
                        break;
                    }
                case MessagesExpunged ex:
                    foreach (uint uid in ex.Uids)
                    {
                        if (sel.Contains(uid))
                            sel.PendingExpunges.Add(uid);
                    }
                    break;
            }
        }
        if (sel is null)
            return;
        if (overflow)
            await ResyncAsync(sel).ConfigureAwait(false);
        if (allowExpunge && sel.PendingExpunges.Count > 0)
            WriteExpunges(sel, sel.PendingExpunges);
        if (sel.Count > sel.AnnouncedCount)
        {
            await ClaimRecentAsync(sel).ConfigureAwait(false);
            _w.Raw("* ").Number((ulong)sel.Count).Raw(" EXISTS").Crlf();
            sel.AnnouncedCount = sel.Count;
            if (!_rev2)
                _w.Raw("* ").Number((ulong)sel.Recent.Count).Raw(" RECENT").Crlf();
        }
    }

    private void WriteExpunges(SelectedMailbox sel, List<uint> uids)
    {
        var list = uids.Distinct().Order().ToList();
        uids.Clear();
        if (_qresyncEnabled)
        {
            // RFC 7162 §3.2.10: VANISHED instead of EXPUNGE.
            var gone = new List<uint>();
            foreach (uint uid in list)
            {
                int seq = sel.Remove(uid);
                if (seq > 0 && seq <= sel.AnnouncedCount)
                {
                    sel.AnnouncedCount--;
                    gone.Add(uid);
                }
            }
            if (gone.Count > 0)
                _w.Raw("* VANISHED ").Raw(SequenceSet.Format(gone)).Crlf();
            return;
        }
        // Highest first, so each number is still valid when the client applies it in order.
        for (int i = list.Count - 1; i >= 0; i--)
        {
            int seq = sel.Remove(list[i]);
            if (seq == 0)
                continue;
            if (seq <= sel.AnnouncedCount)
            {
                _w.Raw("* ").Number((ulong)seq).Raw(" EXPUNGE").Crlf();
                sel.AnnouncedCount--;
            }
        }
    }

    private async Task ResyncAsync(SelectedMailbox sel)
    {
        IReadOnlyList<MessageState> records = await _account!.ListMessageStatesAsync(sel.Id).ConfigureAwait(false);
        var current = new HashSet<uint>(records.Count);
        foreach (MessageState r in records)
            current.Add(r.Uid);
        foreach (uint uid in sel.Uids)
        {
            if (!current.Contains(uid))
                sel.PendingExpunges.Add(uid);
        }
        foreach (MessageState r in records)
        {
            if (sel.Get(r.Uid) is not MessageView old)
            {
                if (r.Uid > sel.MaxUid)
                    sel.Add(r.Uid, r.Flags, r.Keywords, r.ModSeq);
                continue;
            }
            if (r.ModSeq > old.ModSeq)
            {
                var view = new MessageView(r.Flags, r.Keywords, r.ModSeq);
                sel.Set(r.Uid, view);
                int seq = sel.SeqOf(r.Uid);
                if (seq <= sel.AnnouncedCount)
                    WriteFlagsFetch(sel, seq, r.Uid, view);
            }
        }
    }

    private async Task ClaimRecentAsync(SelectedMailbox sel)
    {
        if (sel.ReadOnly)
            return;
        // RFC 3501 §2.3.2: \Recent goes to exactly one session; the store hands out each UID once.
        foreach (uint uid in await _account!.ClaimRecentAsync(sel.Id).ConfigureAwait(false))
        {
            if (sel.Contains(uid))
                sel.Recent.Add(uid);
        }
    }

    private void WriteFlagsFetch(SelectedMailbox sel, int seq, uint uid, MessageView view)
    {
        _w.Raw("* ").Number((ulong)seq).Raw(" FETCH (UID ").Number(uid).Raw(" FLAGS ");
        WriteFlags(sel, uid, view);
        if (_condStoreEnabled)
            _w.Raw(" MODSEQ (").Number((ulong)view.ModSeq).Raw(")");
        _w.Raw(")").Crlf();
    }

    private void WriteFlags(SelectedMailbox sel, uint uid, MessageView view)
    {
        _w.AtomList(FlagNames(view.Flags, view.Keywords, !_rev2 && sel.Recent.Contains(uid)));
    }

    internal static IEnumerable<string> FlagNames(SystemFlags flags, string[] keywords, bool recent)
    {
        if (flags.HasFlag(SystemFlags.Seen)) yield return "\\Seen";
        if (flags.HasFlag(SystemFlags.Answered)) yield return "\\Answered";
        if (flags.HasFlag(SystemFlags.Flagged)) yield return "\\Flagged";
        if (flags.HasFlag(SystemFlags.Deleted)) yield return "\\Deleted";
        if (flags.HasFlag(SystemFlags.Draft)) yield return "\\Draft";
        if (recent) yield return "\\Recent";
        foreach (string k in keywords)
            yield return k;
    }

    /// <summary>Splits IMAP flags into system flags and keywords; throws for unknown system flags.</summary>
    internal static (SystemFlags Flags, List<string> Keywords) ParseFlags(IEnumerable<string> names)
    {
        SystemFlags flags = SystemFlags.None;
        var keywords = new List<string>();
        foreach (string n in names)
        {
            if (!n.StartsWith('\\'))
            {
                keywords.Add(n);
                continue;
            }
            flags |= n.ToUpperInvariant() switch
            {
                "\\SEEN" => SystemFlags.Seen,
                "\\ANSWERED" => SystemFlags.Answered,
                "\\FLAGGED" => SystemFlags.Flagged,
                "\\DELETED" => SystemFlags.Deleted,
                "\\DRAFT" => SystemFlags.Draft,
                _ => throw new ImapParseException($"Unknown system flag {n}"),
            };
        }
        return (flags, keywords);
    }
}
