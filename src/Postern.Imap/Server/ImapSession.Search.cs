// SEARCH with ESEARCH (RFC 4731) and SEARCHRES (RFC 5182). Keys that need only flags, UIDs,
// sizes and dates are answered from the view and the message records; header and text keys
// read the message.
using System.Text;
using Postern.Imap.Protocol;
using Postern.Mail;
using Postern.Store;

namespace Postern.Imap.Server;

internal sealed partial class ImapSession
{
    private sealed class SearchContext
    {
        public required SelectedMailbox Selected { get; init; }
        public required Dictionary<uint, MessageRecord> Records { get; init; }
        public Dictionary<uint, (byte[] Content, MessageStructure Structure)> Loaded { get; } = [];
    }

    private async Task SearchAsync(string tag, SearchCommand s)
    {
        SelectedMailbox sel = _selected!;
        if (s.Charset is string cs && !cs.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) && !cs.Equals("US-ASCII", StringComparison.OrdinalIgnoreCase))
        {
            // RFC 9051 §6.4.4: BADCHARSET lists what we support.
            Tagged(tag, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
            return;
        }
        if (s.Key.UsesModSeq)
            _condStoreEnabled = true;
        var ctx = new SearchContext
        {
            Selected = sel,
            Records = sel.Count == 0 ? [] : (await _account!.ListMessagesAsync(sel.Id).ConfigureAwait(false)).ToDictionary(r => r.Uid),
        };
        var matches = new List<uint>();
        for (int seq = 1; seq <= sel.AnnouncedCount && seq <= sel.Count; seq++)
        {
            uint uid = sel.UidAt(seq);
            if (!ctx.Records.ContainsKey(uid))
                continue;
            if (await MatchesAsync(ctx, s.Key, seq, uid).ConfigureAwait(false))
                matches.Add(uid);
        }
        long highestModSeq = matches.Count == 0 ? 0 : matches.Max(u => sel.Get(u)!.Value.ModSeq);
        IEnumerable<uint> Numbers(IEnumerable<uint> uids) => s.Uid ? uids : uids.Select(u => (uint)sel.SeqOf(u));
        SearchReturnOptions? ret = s.Return;
        if (ret is not null && ret.Save)
        {
            // RFC 5182 §2.1: with MIN/MAX only those are saved.
            if (ret.Min || ret.Max)
            {
                var saved = new List<uint>();
                if (ret.Min && matches.Count > 0) saved.Add(matches[0]);
                if (ret.Max && matches.Count > 0) saved.Add(matches[^1]);
                _savedResult = saved.Distinct().ToList();
            }
            else
            {
                _savedResult = matches;
            }
        }
        if (ret is not null || _rev2)
        {
            ret ??= new SearchReturnOptions(false, false, true, false, false);
            bool onlySave = ret.Save && !ret.Min && !ret.Max && !ret.All && !ret.Count;
            if (!onlySave)
            {
                // RFC 4731 §3.1: * ESEARCH (TAG "x") [UID] results
                _w.Raw("* ESEARCH (TAG ").String(tag).Raw(")");
                if (s.Uid)
                    _w.Raw(" UID");
                var nums = Numbers(matches).ToList();
                if (ret.Min && nums.Count > 0)
                    _w.Raw(" MIN ").Number(nums.Min());
                if (ret.Max && nums.Count > 0)
                    _w.Raw(" MAX ").Number(nums.Max());
                if (ret.ReturnsAll && !ret.Save || ret.All)
                {
                    if (nums.Count > 0)
                        _w.Raw(" ALL ").Raw(SequenceSet.Format(nums.Order()));
                }
                if (ret.Count)
                    _w.Raw(" COUNT ").Number((ulong)nums.Count);
                if (s.Key.UsesModSeq && nums.Count > 0)
                    _w.Raw(" MODSEQ ").Number((ulong)highestModSeq);
                _w.Crlf();
            }
        }
        else
        {
            _w.Raw("* SEARCH");
            foreach (uint n in Numbers(matches))
                _w.Sp().Number(n);
            // RFC 7162 §3.1.5: (MODSEQ n) after the numbers when MODSEQ was a key.
            if (s.Key.UsesModSeq && matches.Count > 0)
                _w.Raw(" (MODSEQ ").Number((ulong)highestModSeq).Raw(")");
            _w.Crlf();
        }
        await ProcessChangesAsync(allowExpunge: s.Uid).ConfigureAwait(false);
        Tagged(tag, "OK", "SEARCH completed");
    }

    private async ValueTask<bool> MatchesAsync(SearchContext ctx, SearchKey key, int seq, uint uid)
    {
        SelectedMailbox sel = ctx.Selected;
        MessageView view = sel.Get(uid)!.Value;
        MessageRecord rec = ctx.Records[uid];
        switch (key.Kind)
        {
            case SearchKeyKind.All:
                return true;
            case SearchKeyKind.And:
                foreach (SearchKey k in key.Children)
                {
                    if (!await MatchesAsync(ctx, k, seq, uid).ConfigureAwait(false))
                        return false;
                }
                return true;
            case SearchKeyKind.Or:
                return await MatchesAsync(ctx, key.Children[0], seq, uid).ConfigureAwait(false)
                    || await MatchesAsync(ctx, key.Children[1], seq, uid).ConfigureAwait(false);
            case SearchKeyKind.Not:
                return !await MatchesAsync(ctx, key.Children[0], seq, uid).ConfigureAwait(false);
            case SearchKeyKind.SequenceNumbers:
                if (key.Set!.IsSavedResult)
                    return _savedResult.Contains(uid);
                return key.Set.Contains((uint)seq, (uint)sel.AnnouncedCount);
            case SearchKeyKind.Uids:
                if (key.Set!.IsSavedResult)
                    return _savedResult.Contains(uid);
                return key.Set.Contains(uid, sel.MaxUid);
            case SearchKeyKind.FlagSet:
                return HasFlag(sel, uid, view, key.Text!);
            case SearchKeyKind.FlagUnset:
                return !HasFlag(sel, uid, view, key.Text!);
            case SearchKeyKind.New:
                return sel.Recent.Contains(uid) && !view.Flags.HasFlag(SystemFlags.Seen);
            case SearchKeyKind.Old:
                return !sel.Recent.Contains(uid);
            case SearchKeyKind.Larger:
                return (ulong)rec.Size > key.Number;
            case SearchKeyKind.Smaller:
                return (ulong)rec.Size < key.Number;
            case SearchKeyKind.ModSeq:
                return (ulong)view.ModSeq >= key.Number;
            // RFC 9051 §6.4.4: date comparisons ignore time and timezone.
            case SearchKeyKind.Before:
                return DateOnly.FromDateTime(rec.InternalDate.DateTime) < key.Date;
            case SearchKeyKind.On:
                return DateOnly.FromDateTime(rec.InternalDate.DateTime) == key.Date;
            case SearchKeyKind.Since:
                return DateOnly.FromDateTime(rec.InternalDate.DateTime) >= key.Date;
            case SearchKeyKind.SavedBefore:
                return DateOnly.FromDateTime(rec.SaveDate.DateTime) < key.Date;
            case SearchKeyKind.SavedOn:
                return DateOnly.FromDateTime(rec.SaveDate.DateTime) == key.Date;
            case SearchKeyKind.SavedSince:
                return DateOnly.FromDateTime(rec.SaveDate.DateTime) >= key.Date;
            case SearchKeyKind.SaveDateSupported:
                return true;
            // RFC 5032 §3: OLDER/YOUNGER by internal date, in seconds.
            case SearchKeyKind.Older:
                return (DateTimeOffset.UtcNow - rec.InternalDate).TotalSeconds >= key.Number;
            case SearchKeyKind.Younger:
                return (DateTimeOffset.UtcNow - rec.InternalDate).TotalSeconds <= key.Number;
        }
        (byte[] content, MessageStructure structure)? loaded = await LoadAsync(ctx, uid).ConfigureAwait(false);
        if (loaded is null)
            return false;
        (byte[] raw, MessageStructure st) = loaded.Value;
        switch (key.Kind)
        {
            case SearchKeyKind.SentBefore or SearchKeyKind.SentOn or SearchKeyKind.SentSince:
                {
                    DateTimeOffset? sent = st.Envelope.ParsedDate;
                    if (sent is null)
                        return false;
                    var d = DateOnly.FromDateTime(sent.Value.DateTime);
                    return key.Kind switch
                    {
                        SearchKeyKind.SentBefore => d < key.Date,
                        SearchKeyKind.SentOn => d == key.Date,
                        _ => d >= key.Date,
                    };
                }
            case SearchKeyKind.Header:
                return HeaderContains(raw, st, key.Field!, key.Text!);
            case SearchKeyKind.Body:
                return Contains(MessageText.ExtractText(st, raw), key.Text!);
            case SearchKeyKind.Text:
                return Contains(Encoding.UTF8.GetString(raw.AsSpan(0, (int)Math.Min(raw.Length, st.Root.BodyStart))), key.Text!)
                    || Contains(MessageText.ExtractText(st, raw), key.Text!);
        }
        return false;
    }

    private static bool Contains(string haystack, string needle) =>
        haystack.Contains(needle, StringComparison.OrdinalIgnoreCase);

    private static bool HasFlag(SelectedMailbox sel, uint uid, MessageView view, string flag)
    {
        switch (flag.ToUpperInvariant())
        {
            case "\\SEEN": return view.Flags.HasFlag(SystemFlags.Seen);
            case "\\ANSWERED": return view.Flags.HasFlag(SystemFlags.Answered);
            case "\\FLAGGED": return view.Flags.HasFlag(SystemFlags.Flagged);
            case "\\DELETED": return view.Flags.HasFlag(SystemFlags.Deleted);
            case "\\DRAFT": return view.Flags.HasFlag(SystemFlags.Draft);
            case "\\RECENT": return sel.Recent.Contains(uid);
            default: return view.Keywords.Contains(flag, StringComparer.OrdinalIgnoreCase);
        }
    }

    /// <summary>RFC 9051 §6.4.4: HEADER field string; an empty string matches any message with the field.</summary>
    private static bool HeaderContains(byte[] raw, MessageStructure st, string field, string text)
    {
        byte[] header = MessageRendering.FilterHeader(raw.AsSpan(0, (int)Math.Min(raw.Length, st.Root.BodyStart)).ToArray(), [field], exclude: false);
        if (header.Length <= 2)
            return false;
        if (text.Length == 0)
            return true;
        string unfolded = Encoding.UTF8.GetString(header).Replace("\r\n ", " ", StringComparison.Ordinal).Replace("\r\n\t", " ", StringComparison.Ordinal);
        return Contains(unfolded, text) || Contains(EncodedWords.DecodeUnstructured(unfolded), text);
    }

    private async Task<(byte[], MessageStructure)?> LoadAsync(SearchContext ctx, uint uid)
    {
        if (ctx.Loaded.TryGetValue(uid, out var found))
            return found;
        MessageDetails? details = await _account!.GetMessageDetailsAsync(ctx.Selected.Id, uid).ConfigureAwait(false);
        if (details is null)
            return null;
        byte[] content;
        try
        {
            Stream s = await _account.OpenContentAsync(ctx.Selected.Id, uid).ConfigureAwait(false);
            await using (s.ConfigureAwait(false))
            {
                using var ms = new MemoryStream();
                await s.CopyToAsync(ms).ConfigureAwait(false);
                content = ms.ToArray();
            }
        }
        catch (MessageNotFoundException)
        {
            return null;
        }
        byte[] raw = content.AsSpan(details.PrefixLength).ToArray();
        MessageStructure st = details.Structure.Length > 0 ? MessageStructure.FromBytes(details.Structure) : MessageStructure.Parse(raw);
        // Keep a few loaded messages only; a search walks messages in order.
        if (ctx.Loaded.Count > 4)
            ctx.Loaded.Clear();
        ctx.Loaded[uid] = (raw, st);
        return (raw, st);
    }
}
