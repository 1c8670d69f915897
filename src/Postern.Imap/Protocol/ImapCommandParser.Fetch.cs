namespace Postern.Imap.Protocol;

public static partial class ImapCommandParser
{
    private static ImapCommand ParseFetch(ref ImapTokenizer t, bool uid, Context ctx)
    {
        t.Sp();
        SequenceSet set = t.ReadSequenceSet(ctx.Limits.MaxSequenceRanges);
        t.Sp();
        var items = new List<FetchItem>();
        if (t.TryConsume((byte)'('))
        {
            while (!t.TryConsume((byte)')'))
            {
                if (items.Count > 0)
                    t.Sp();
                items.Add(ParseFetchItem(ref t));
                if (items.Count > ctx.Limits.MaxListItems)
                    t.Fail("Too many fetch items");
            }
            if (items.Count == 0)
                t.Fail("Empty fetch item list");
        }
        else if (t.TryKeyword("ALL"))
        {
            // RFC 9051 §6.4.5: macros
            items.AddRange([new(FetchItemKind.Flags), new(FetchItemKind.InternalDate), new(FetchItemKind.Rfc822Size), new(FetchItemKind.Envelope)]);
        }
        else if (t.TryKeyword("FAST"))
        {
            items.AddRange([new(FetchItemKind.Flags), new(FetchItemKind.InternalDate), new(FetchItemKind.Rfc822Size)]);
        }
        else if (t.TryKeyword("FULL"))
        {
            items.AddRange([new(FetchItemKind.Flags), new(FetchItemKind.InternalDate), new(FetchItemKind.Rfc822Size), new(FetchItemKind.Envelope), new(FetchItemKind.Body)]);
        }
        else
        {
            items.Add(ParseFetchItem(ref t));
        }

        ulong? changedSince = null;
        bool vanished = false;
        if (t.TryConsume((byte)' '))
        {
            // RFC 7162 §3.1.4.1 CHANGEDSINCE, §3.2.6 VANISHED
            t.Expect((byte)'(');
            bool first = true;
            while (!t.TryConsume((byte)')'))
            {
                if (!first)
                    t.Sp();
                first = false;
                if (t.TryKeyword("CHANGEDSINCE"))
                {
                    t.Sp();
                    changedSince = t.ReadNumber64();
                }
                else if (t.TryKeyword("VANISHED"))
                {
                    vanished = true;
                }
                else
                {
                    t.Fail("Unknown FETCH modifier");
                }
            }
            if (vanished && (!uid || changedSince is null))
                t.Fail("VANISHED needs UID FETCH with CHANGEDSINCE");
        }
        return new FetchCommand(uid, set, items, changedSince, vanished);
    }

    private static FetchItem ParseFetchItem(ref ImapTokenizer t)
    {
        string name = t.ReadName();
        switch (name)
        {
            case "FLAGS": return new(FetchItemKind.Flags);
            case "UID": return new(FetchItemKind.Uid);
            case "INTERNALDATE": return new(FetchItemKind.InternalDate);
            case "RFC822.SIZE": return new(FetchItemKind.Rfc822Size);
            case "ENVELOPE": return new(FetchItemKind.Envelope);
            case "BODYSTRUCTURE": return new(FetchItemKind.BodyStructure);
            case "RFC822": return new(FetchItemKind.Rfc822);
            case "RFC822.HEADER": return new(FetchItemKind.Rfc822Header);
            case "RFC822.TEXT": return new(FetchItemKind.Rfc822Text);
            case "MODSEQ": return new(FetchItemKind.ModSeq);
            case "SAVEDATE": return new(FetchItemKind.SaveDate);
            case "PREVIEW":
                if (t.Peek() == (byte)' ' && PeekLazy(ref t))
                    return new(FetchItemKind.Preview, Lazy: true);
                return new(FetchItemKind.Preview);
            case "BODY" or "BODY.PEEK":
                if (t.Peek() != (byte)'[')
                {
                    if (name == "BODY.PEEK")
                        t.Fail("BODY.PEEK needs a section");
                    return new(FetchItemKind.Body);
                }
                return ParseSectionItem(ref t, FetchItemKind.BodySection, name == "BODY.PEEK", binary: false);
            case "BINARY" or "BINARY.PEEK":
                return ParseSectionItem(ref t, FetchItemKind.BinarySection, name == "BINARY.PEEK", binary: true);
            case "BINARY.SIZE":
                {
                    Section s = ParseSection(ref t, binary: true);
                    return new(FetchItemKind.BinarySize, s);
                }
            default:
                t.Fail($"Unknown fetch item {name}");
                return null!;
        }
    }

    private static bool PeekLazy(ref ImapTokenizer t)
    {
        // RFC 8970 §3: PREVIEW (LAZY)
        ImapTokenizer copy = t;
        copy.Sp();
        if (!copy.TryConsume((byte)'('))
            return false;
        if (!copy.TryKeyword("LAZY"))
            return false;
        if (!copy.TryConsume((byte)')'))
            return false;
        t = copy;
        return true;
    }

    private static FetchItem ParseSectionItem(ref ImapTokenizer t, FetchItemKind kind, bool peek, bool binary)
    {
        Section section = ParseSection(ref t, binary);
        uint? offset = null, length = null;
        if (t.TryConsume((byte)'<'))
        {
            offset = t.ReadNumber();
            t.Expect((byte)'.');
            length = t.ReadNzNumber();
            t.Expect((byte)'>');
        }
        return new FetchItem(kind, section, peek, offset, length);
    }

    private static Section ParseSection(ref ImapTokenizer t, bool binary)
    {
        t.Expect((byte)'[');
        var parts = new List<int>();
        SectionText text = SectionText.None;
        var fields = new List<string>();
        if (t.TryConsume((byte)']'))
            return new Section(parts, text, fields);
        while (t.Peek() is >= (byte)'1' and <= (byte)'9')
        {
            uint n = t.ReadNzNumber();
            if (n > 10_000 || parts.Count >= 100)
                t.Fail("Section part number too large or too deep");
            parts.Add((int)n);
            if (!t.TryConsume((byte)'.'))
                break;
        }
        if (t.Peek() != (byte)']')
        {
            if (binary)
                t.Fail("BINARY sections are part numbers only (RFC 3516)");
            string name = t.ReadName();
            switch (name)
            {
                case "HEADER": text = SectionText.Header; break;
                case "TEXT": text = SectionText.Text; break;
                case "MIME":
                    if (parts.Count == 0)
                        t.Fail("MIME needs a part number");
                    text = SectionText.Mime;
                    break;
                case "HEADER.FIELDS" or "HEADER.FIELDS.NOT":
                    text = name == "HEADER.FIELDS" ? SectionText.HeaderFields : SectionText.HeaderFieldsNot;
                    t.Sp();
                    t.Expect((byte)'(');
                    while (!t.TryConsume((byte)')'))
                    {
                        if (fields.Count > 0)
                            t.Sp();
                        fields.Add(t.ReadAstring());
                        if (fields.Count > 1000)
                            t.Fail("Too many header fields");
                    }
                    if (fields.Count == 0)
                        t.Fail("Empty header field list");
                    break;
                default:
                    t.Fail($"Unknown section {name}");
                    break;
            }
        }
        t.Expect((byte)']');
        return new Section(parts, text, fields);
    }

    private static ImapCommand ParseSearch(ref ImapTokenizer t, bool uid, Context ctx)
    {
        t.Sp();
        SearchReturnOptions? ret = null;
        if (t.TryKeyword("RETURN"))
        {
            // RFC 4731 §3.1 / RFC 5182 §2
            t.Sp();
            t.Expect((byte)'(');
            bool min = false, max = false, all = false, count = false, save = false, first = true;
            while (!t.TryConsume((byte)')'))
            {
                if (!first)
                    t.Sp();
                first = false;
                string opt = t.ReadName();
                switch (opt)
                {
                    case "MIN": min = true; break;
                    case "MAX": max = true; break;
                    case "ALL": all = true; break;
                    case "COUNT": count = true; break;
                    case "SAVE": save = true; break;
                    default: t.Fail($"Unknown search return option {opt}"); break;
                }
            }
            ret = new SearchReturnOptions(min, max, all, count, save);
            t.Sp();
        }
        string? charset = null;
        if (t.TryKeyword("CHARSET"))
        {
            t.Sp();
            charset = t.ReadAstring();
            t.Sp();
        }
        return new SearchCommand(uid, ret, charset, ParseSearchProgram(ref t, ctx));
    }

    private static SearchKey ParseSearchProgram(ref ImapTokenizer t, Context ctx)
    {
        var keys = new List<SearchKey> { ParseSearchKey(ref t, ctx, 0) };
        while (t.TryConsume((byte)' '))
        {
            keys.Add(ParseSearchKey(ref t, ctx, 0));
            if (keys.Count > ctx.Limits.MaxListItems)
                t.Fail("Too many search keys");
        }
        return keys.Count == 1 ? keys[0] : new SearchKey(SearchKeyKind.And) { Children = keys };
    }

    private static ImapCommand ParseSort(ref ImapTokenizer t, bool uid, Context ctx)
    {
        // RFC 5256 §3: SORT (criteria) charset search-keys
        t.Sp();
        t.Expect((byte)'(');
        var criteria = new List<SortCriterion>();
        while (!t.TryConsume((byte)')'))
        {
            if (criteria.Count > 0)
                t.Sp();
            bool reverse = t.TryKeyword("REVERSE");
            if (reverse)
                t.Sp();
            string key = t.ReadName();
            if (key is not ("ARRIVAL" or "CC" or "DATE" or "FROM" or "SIZE" or "SUBJECT" or "TO"))
                t.Fail($"Unknown sort criterion {key}");
            criteria.Add(new SortCriterion(key, reverse));
            if (criteria.Count > 20)
                t.Fail("Too many sort criteria");
        }
        if (criteria.Count == 0)
            t.Fail("Empty sort criteria");
        t.Sp();
        string charset = t.ReadAstring();
        t.Sp();
        return new SortCommand(uid, criteria, charset, ParseSearchProgram(ref t, ctx));
    }

    private static ImapCommand ParseThread(ref ImapTokenizer t, bool uid, Context ctx)
    {
        t.Sp();
        string alg = t.ReadName();
        t.Sp();
        string charset = t.ReadAstring();
        t.Sp();
        return new ThreadCommand(uid, alg, charset, ParseSearchProgram(ref t, ctx));
    }

    private static SearchKey ParseSearchKey(ref ImapTokenizer t, Context ctx, int depth)
    {
        if (depth > ctx.Limits.MaxSearchDepth)
            t.Fail("Search keys nested too deeply");
        byte c = t.Peek();
        if (c == (byte)'(')
        {
            t.Expect((byte)'(');
            var keys = new List<SearchKey> { ParseSearchKey(ref t, ctx, depth + 1) };
            while (!t.TryConsume((byte)')'))
            {
                t.Sp();
                keys.Add(ParseSearchKey(ref t, ctx, depth + 1));
                if (keys.Count > ctx.Limits.MaxListItems)
                    t.Fail("Too many search keys");
            }
            return keys.Count == 1 ? keys[0] : new SearchKey(SearchKeyKind.And) { Children = keys };
        }
        if (c is (byte)'$' or (byte)'*' or (>= (byte)'0' and <= (byte)'9'))
            return new SearchKey(SearchKeyKind.SequenceNumbers) { Set = t.ReadSequenceSet(ctx.Limits.MaxSequenceRanges) };

        string name = t.ReadName();
        switch (name)
        {
            case "ALL": return new(SearchKeyKind.All);
            case "ANSWERED" or "DELETED" or "DRAFT" or "FLAGGED" or "SEEN" or "RECENT":
                return new(SearchKeyKind.FlagSet) { Text = "\\" + name[0] + name[1..].ToLowerInvariant() };
            case "UNANSWERED" or "UNDELETED" or "UNDRAFT" or "UNFLAGGED" or "UNSEEN":
                return new(SearchKeyKind.FlagUnset) { Text = "\\" + name[2] + name[3..].ToLowerInvariant() };
            case "NEW": return new(SearchKeyKind.New);
            case "OLD": return new(SearchKeyKind.Old);
            case "KEYWORD" or "UNKEYWORD":
                t.Sp();
                return new(name == "KEYWORD" ? SearchKeyKind.FlagSet : SearchKeyKind.FlagUnset) { Text = t.ReadAtom() };
            case "BCC" or "CC" or "FROM" or "SUBJECT" or "TO":
                t.Sp();
                return new(SearchKeyKind.Header) { Field = name[0] + name[1..].ToLowerInvariant(), Text = t.ReadAstring() };
            case "HEADER":
                {
                    t.Sp();
                    string field = t.ReadAstring();
                    t.Sp();
                    return new(SearchKeyKind.Header) { Field = field, Text = t.ReadAstring() };
                }
            case "BODY":
                t.Sp();
                return new(SearchKeyKind.Body) { Text = t.ReadAstring() };
            case "TEXT":
                t.Sp();
                return new(SearchKeyKind.Text) { Text = t.ReadAstring() };
            case "BEFORE" or "ON" or "SINCE" or "SENTBEFORE" or "SENTON" or "SENTSINCE" or "SAVEDBEFORE" or "SAVEDON" or "SAVEDSINCE":
                {
                    t.Sp();
                    SearchKeyKind kind = name switch
                    {
                        "BEFORE" => SearchKeyKind.Before,
                        "ON" => SearchKeyKind.On,
                        "SINCE" => SearchKeyKind.Since,
                        "SENTBEFORE" => SearchKeyKind.SentBefore,
                        "SENTON" => SearchKeyKind.SentOn,
                        "SENTSINCE" => SearchKeyKind.SentSince,
                        "SAVEDBEFORE" => SearchKeyKind.SavedBefore,
                        "SAVEDON" => SearchKeyKind.SavedOn,
                        _ => SearchKeyKind.SavedSince,
                    };
                    return new(kind) { Date = t.ReadDate() };
                }
            case "SAVEDATESUPPORTED": return new(SearchKeyKind.SaveDateSupported);
            case "LARGER" or "SMALLER":
                t.Sp();
                return new(name == "LARGER" ? SearchKeyKind.Larger : SearchKeyKind.Smaller) { Number = t.ReadNumber64() };
            case "OLDER" or "YOUNGER":
                // RFC 5032 §3: interval in seconds, nz-number
                t.Sp();
                return new(name == "OLDER" ? SearchKeyKind.Older : SearchKeyKind.Younger) { Number = t.ReadNzNumber() };
            case "MODSEQ":
                {
                    // RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer
                    t.Sp();
                    if (t.Peek() == (byte)'"')
                    {
                        t.ReadString();
                        t.Sp();
                        string type = t.ReadName();
                        if (type is not ("PRIV" or "SHARED" or "ALL"))
                            t.Fail("Invalid MODSEQ entry type");
                        t.Sp();
                    }
                    return new(SearchKeyKind.ModSeq) { Number = t.ReadNumber64() };
                }
            case "NOT":
                t.Sp();
                return new(SearchKeyKind.Not) { Children = [ParseSearchKey(ref t, ctx, depth + 1)] };
            case "OR":
                {
                    t.Sp();
                    SearchKey a = ParseSearchKey(ref t, ctx, depth + 1);
                    t.Sp();
                    SearchKey b = ParseSearchKey(ref t, ctx, depth + 1);
                    return new(SearchKeyKind.Or) { Children = [a, b] };
                }
            case "UID":
                t.Sp();
                return new(SearchKeyKind.Uids) { Set = t.ReadSequenceSet(ctx.Limits.MaxSequenceRanges) };
            default:
                t.Fail($"Unknown search key {name}");
                return null!;
        }
    }
}
