// FETCH of only UID, FLAGS and MODSEQ (what a client asks after SELECT to sync a mailbox,
// e.g. "UID FETCH 1:* (UID FLAGS)") answered from the session's view: no store round trip, no
// per-message allocation, responses written in bulk.
using System.Text;
using Postern.Imap.Protocol;
using Postern.Store;

namespace Postern.Imap.Server;

internal sealed partial class ImapSession
{
    /// <summary>"(\Seen \Answered ...)" for every combination of the five system flags, without \Recent.</summary>
    private static readonly byte[][] SystemFlagLists = BuildSystemFlagLists();

    private static byte[][] BuildSystemFlagLists()
    {
        var lists = new byte[32][];
        for (int bits = 0; bits < lists.Length; bits++)
        {
            var names = FlagNames((SystemFlags)bits, [], recent: false);
            lists[bits] = Encoding.ASCII.GetBytes("(" + string.Join(' ', names) + ")");
        }
        return lists;
    }

    /// <summary>FETCH whose items are all among UID, FLAGS and MODSEQ: everything comes from <see cref="SelectedMailbox"/>.</summary>
    private async Task FetchFromViewAsync(string tag, FetchCommand f)
    {
        SelectedMailbox sel = _selected!;
        List<(int Start, int End)> positions = Positions(sel, f.Set, f.Uid);
        bool modSeq = f.ChangedSince is not null || f.Items.Any(i => i.Kind == FetchItemKind.ModSeq);
        if (modSeq)
            _condStoreEnabled = true;
        // RFC 9051 §6.4.8: UID FETCH responses always include UID; then the items in the order asked.
        bool writeUid = f.Uid || f.Items.Any(i => i.Kind == FetchItemKind.Uid);
        var order = new List<FetchItemKind>(f.Items.Count + 1);
        foreach (FetchItem item in f.Items)
        {
            if (item.Kind != FetchItemKind.Uid)
                order.Add(item.Kind);
        }
        // RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ in the responses.
        if (f.ChangedSince is not null && !order.Contains(FetchItemKind.ModSeq))
            order.Add(FetchItemKind.ModSeq);
        long since = f.ChangedSince is ulong cs ? (long)Math.Min(cs, long.MaxValue) : -1;
        bool anyRecent = !_rev2 && sel.Recent.Count > 0;

        foreach (var (start, end) in positions)
        {
            for (int i = start; i < end; i++)
            {
                MessageView view = sel.ViewAtIndex(i);
                if (view.ModSeq <= since)
                    continue;
                uint uid = sel.UidAtIndex(i);
                _w.Raw("* "u8).Number((ulong)(i + 1)).Raw(" FETCH ("u8);
                bool first = true;
                if (writeUid)
                {
                    _w.Raw("UID "u8).Number(uid);
                    first = false;
                }
                foreach (FetchItemKind kind in order)
                {
                    if (!first)
                        _w.Sp();
                    first = false;
                    if (kind == FetchItemKind.Flags)
                    {
                        _w.Raw("FLAGS "u8);
                        bool recent = anyRecent && sel.Recent.Contains(uid);
                        if (view.Keywords.Length == 0 && !recent)
                            _w.Raw(SystemFlagLists[(int)view.Flags & 31]);
                        else
                            _w.AtomList(FlagNames(view.Flags, view.Keywords, recent));
                    }
                    else
                    {
                        _w.Raw("MODSEQ ("u8).Number((ulong)view.ModSeq).Byte((byte)')');
                    }
                }
                _w.Raw(")\r\n"u8);
                if (_w.Length > 256 * 1024)
                    await FlushAsync(default).ConfigureAwait(false);
            }
        }
        await ProcessChangesAsync(allowExpunge: f.Uid).ConfigureAwait(false);
        Tagged(tag, "OK", "FETCH completed");
    }
}
