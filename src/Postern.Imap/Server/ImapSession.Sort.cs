// SORT and THREAD (RFC 5256) over the messages a search program selects, using the header data
// Postern.Mail extracted at append time (MessageMeta), so no message is parsed again.
using Postern.Imap.Protocol;
using Postern.Mail;
using Postern.Store;

namespace Postern.Imap.Server;

internal sealed partial class ImapSession
{
    private sealed record SortEntry(uint Uid, int Seq, MessageRecord Record, MessageMeta Meta);

    private async Task<List<SortEntry>?> SelectForSortAsync(string tag, string charset, SearchKey key)
    {
        if (!charset.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("US-ASCII", StringComparison.OrdinalIgnoreCase))
        {
            Tagged(tag, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
            return null;
        }
        SelectedMailbox sel = _selected!;
        var ctx = new SearchContext
        {
            Selected = sel,
            Records = sel.Count == 0 ? [] : (await _account!.ListMessagesAsync(sel.Id).ConfigureAwait(false)).ToDictionary(r => r.Uid),
        };
        var entries = new List<SortEntry>();
        for (int seq = 1; seq <= sel.AnnouncedCount && seq <= sel.Count; seq++)
        {
            uint uid = sel.UidAt(seq);
            if (!ctx.Records.TryGetValue(uid, out MessageRecord? rec))
                continue;
            if (!await MatchesAsync(ctx, key, seq, uid).ConfigureAwait(false))
                continue;
            MessageDetails? details = await _account!.GetMessageDetailsAsync(sel.Id, uid).ConfigureAwait(false);
            if (details is null)
                continue;
            entries.Add(new SortEntry(uid, seq, rec, details.Meta));
        }
        return entries;
    }

    private async Task SortAsync(string tag, SortCommand s)
    {
        List<SortEntry>? entries = await SelectForSortAsync(tag, s.Charset, s.Key).ConfigureAwait(false);
        if (entries is null)
            return;
        entries.Sort((a, b) =>
        {
            foreach (SortCriterion c in s.Criteria)
            {
                int r = CompareBy(c.Key, a, b);
                if (r != 0)
                    return c.Reverse ? -r : r;
            }
            // RFC 5256 §3: ties are broken by sequence order.
            return a.Seq.CompareTo(b.Seq);
        });
        _w.Raw("* SORT");
        foreach (SortEntry e in entries)
            _w.Sp().Number(s.Uid ? e.Uid : (uint)e.Seq);
        _w.Crlf();
        await ProcessChangesAsync(allowExpunge: s.Uid).ConfigureAwait(false);
        Tagged(tag, "OK", "SORT completed");
    }

    private static int CompareBy(string key, SortEntry a, SortEntry b) => key switch
    {
        "ARRIVAL" => a.Record.InternalDate.CompareTo(b.Record.InternalDate),
        // RFC 5256 §3: DATE is the sent date, the internal date when there is none.
        "DATE" => (a.Meta.Date ?? a.Record.InternalDate).CompareTo(b.Meta.Date ?? b.Record.InternalDate),
        "SIZE" => a.Record.Size.CompareTo(b.Record.Size),
        "SUBJECT" => string.Compare(a.Meta.BaseSubject ?? "", b.Meta.BaseSubject ?? "", StringComparison.OrdinalIgnoreCase),
        // RFC 5256 §3: addr-mailbox (local part) of the first address.
        "FROM" => string.Compare(LocalPart(a.Meta.FromAddress), LocalPart(b.Meta.FromAddress), StringComparison.OrdinalIgnoreCase),
        "TO" => string.Compare(LocalPart(a.Meta.ToAddress), LocalPart(b.Meta.ToAddress), StringComparison.OrdinalIgnoreCase),
        "CC" => string.Compare(LocalPart(a.Meta.CcAddress), LocalPart(b.Meta.CcAddress), StringComparison.OrdinalIgnoreCase),
        _ => 0,
    };

    private static string LocalPart(string? address)
    {
        if (address is null)
            return "";
        int at = address.LastIndexOf('@');
        return at < 0 ? address : address[..at];
    }

    private async Task ThreadAsync(string tag, ThreadCommand t)
    {
        if (t.Algorithm is not ("ORDEREDSUBJECT" or "REFERENCES"))
        {
            Tagged(tag, "BAD", $"Unknown threading algorithm {t.Algorithm}");
            return;
        }
        List<SortEntry>? entries = await SelectForSortAsync(tag, t.Charset, t.Key).ConfigureAwait(false);
        if (entries is null)
            return;
        var inputs = entries.Select(e =>
        {
            IReadOnlyList<string> refs = Threading.ParseMessageIds(e.Meta.References);
            // RFC 5256 §4.2 step 1A: without References, the first In-Reply-To id.
            if (refs.Count == 0 && Threading.ParseMessageId(e.Meta.InReplyTo) is string irt)
                refs = [irt];
            string baseSubject = e.Meta.BaseSubject ?? "";
            string subject = (e.Meta.Subject ?? "").Trim();
            bool isReply = subject.Length > 0 && !subject.Equals(baseSubject, StringComparison.OrdinalIgnoreCase);
            return new ThreadInput(t.Uid ? e.Uid : (uint)e.Seq, e.Seq, Threading.ParseMessageId(e.Meta.MessageId), refs,
                baseSubject, isReply, e.Meta.Date ?? e.Record.InternalDate);
        }).ToList();
        string threads = t.Algorithm == "REFERENCES" ? MessageThreading.References(inputs) : MessageThreading.OrderedSubject(inputs);
        _w.Raw("* THREAD");
        if (threads.Length > 0)
            _w.Sp().Raw(threads);
        _w.Crlf();
        await ProcessChangesAsync(allowExpunge: t.Uid).ConfigureAwait(false);
        Tagged(tag, "OK", "THREAD completed");
    }
}
