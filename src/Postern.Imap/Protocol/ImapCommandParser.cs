// Turns a RawCommand into a typed TaggedCommand, following the formal syntax of RFC 9051 §9
// and of each extension we implement. Anything that does not match throws ImapParseException
// with a message naming the problem; the session answers it with a tagged BAD.
namespace Postern.Imap.Protocol;

/// <summary>Parses commands.</summary>
public static partial class ImapCommandParser
{
    /// <summary>Parses one command. Mailbox names are modified UTF-7 unless <paramref name="utf8Enabled"/> (RFC 9051 §6.3.1).</summary>
    /// <exception cref="ImapParseException">The command is malformed.</exception>
    public static TaggedCommand Parse(RawCommand raw, bool utf8Enabled, ImapLimits limits)
    {
        var t = new ImapTokenizer(raw);
        string tag = t.ReadTag();
        t.Sp();
        string name = t.ReadName();
        var ctx = new Context(utf8Enabled, limits);
        bool uid = false;
        if (name == "UID")
        {
            uid = true;
            t.Sp();
            name = t.ReadName();
            if (name is not ("FETCH" or "STORE" or "SEARCH" or "COPY" or "MOVE" or "EXPUNGE" or "SORT" or "THREAD" or "REPLACE"))
                throw new ImapParseException($"UID {name} is not a command");
        }
        ImapCommand cmd = name switch
        {
            "CAPABILITY" or "NOOP" or "LOGOUT" or "STARTTLS" or "NAMESPACE" or "IDLE" or "CLOSE" or "UNSELECT"
                or "CHECK" or "UNAUTHENTICATE" => new SimpleCommand(name),
            "EXPUNGE" => ParseExpunge(ref t, uid, ctx),
            "LOGIN" => ParseLogin(ref t),
            "AUTHENTICATE" => ParseAuthenticate(ref t),
            "ENABLE" => ParseEnable(ref t, ctx),
            "ID" => ParseId(ref t, ctx),
            "COMPRESS" => ParseCompress(ref t),
            "SELECT" or "EXAMINE" => ParseSelect(ref t, name == "EXAMINE", ctx),
            "CREATE" => ParseCreate(ref t, ctx),
            "DELETE" or "SUBSCRIBE" or "UNSUBSCRIBE" or "GETQUOTAROOT" => ParseMailboxCommand(ref t, name, ctx),
            "RENAME" => ParseRename(ref t, ctx),
            "LIST" or "LSUB" => ParseList(ref t, name == "LSUB", ctx),
            "STATUS" => ParseStatus(ref t, ctx),
            "APPEND" => ParseAppend(ref t, ctx),
            "REPLACE" => ParseReplace(ref t, uid, ctx),
            "GETQUOTA" => ParseGetQuota(ref t),
            "FETCH" => ParseFetch(ref t, uid, ctx),
            "STORE" => ParseStore(ref t, uid, ctx),
            "COPY" or "MOVE" => ParseCopy(ref t, uid, name == "MOVE", ctx),
            "SEARCH" => ParseSearch(ref t, uid, ctx),
            "SORT" => ParseSort(ref t, uid, ctx),
            "THREAD" => ParseThread(ref t, uid, ctx),
            _ => throw new ImapParseException($"Unknown command {name}"),
        };
        t.ExpectEnd();
        return new TaggedCommand(tag, name, cmd);
    }

    /// <summary>Tries to get the tag of a command whose parsing failed, for the BAD response.</summary>
    public static string? TryGetTag(RawCommand raw)
    {
        try
        {
            var t = new ImapTokenizer(raw);
            string tag = t.ReadTag();
            return t.Peek() == (byte)' ' ? tag : null;
        }
        catch (ImapParseException)
        {
            return null;
        }
    }

    private sealed record Context(bool Utf8, ImapLimits Limits);

    private static string ReadMailbox(ref ImapTokenizer t, Context ctx)
    {
        string name = t.ReadAstring();
        return NormalizeMailbox(name, ctx.Utf8);
    }

    /// <summary>INBOX is case-insensitive (RFC 9051 §5.1); other names are decoded from modified UTF-7 for legacy clients.</summary>
    internal static string NormalizeMailbox(string name, bool utf8)
    {
        if (name.Equals("INBOX", StringComparison.OrdinalIgnoreCase))
            return "INBOX";
        if (!utf8)
        {
            if (!ModifiedUtf7.TryDecode(name, out string decoded))
                throw new ImapParseException("Mailbox name is not valid modified UTF-7 (RFC 3501 §5.1.3)");
            name = decoded;
        }
        if (name.StartsWith("INBOX/", StringComparison.OrdinalIgnoreCase))
            name = "INBOX" + name[5..];
        return name;
    }

    private static ImapCommand ParseExpunge(ref ImapTokenizer t, bool uid, Context ctx)
    {
        if (!uid)
            return new ExpungeCommand(null);
        t.Sp();
        return new ExpungeCommand(t.ReadSequenceSet(ctx.Limits.MaxSequenceRanges));
    }

    private static ImapCommand ParseLogin(ref ImapTokenizer t)
    {
        t.Sp();
        string user = t.ReadAstring();
        t.Sp();
        string pass = t.ReadAstring();
        return new LoginCommand(user, pass);
    }

    private static ImapCommand ParseAuthenticate(ref ImapTokenizer t)
    {
        t.Sp();
        string mech = t.ReadAtom().ToUpperInvariant();
        byte[]? initial = null;
        if (t.TryConsume((byte)' '))
        {
            // RFC 4959 §3: "=" is an empty initial response.
            if (t.TryConsume((byte)'='))
            {
                initial = [];
            }
            else
            {
                string b64 = t.ReadAtom();
                try
                {
                    initial = Convert.FromBase64String(b64);
                }
                catch (FormatException)
                {
                    throw new ImapParseException("Initial response is not valid base64");
                }
            }
        }
        return new AuthenticateCommand(mech, initial);
    }

    private static ImapCommand ParseEnable(ref ImapTokenizer t, Context ctx)
    {
        var caps = new List<string>();
        while (t.TryConsume((byte)' '))
        {
            caps.Add(t.ReadAtom().ToUpperInvariant());
            if (caps.Count > ctx.Limits.MaxListItems)
                t.Fail("Too many capabilities");
        }
        if (caps.Count == 0)
            t.Fail("ENABLE needs at least one capability");
        return new EnableCommand(caps);
    }

    private static ImapCommand ParseId(ref ImapTokenizer t, Context ctx)
    {
        t.Sp();
        if (t.TryKeyword("NIL"))
            return new IdCommand(null);
        t.Expect((byte)'(');
        var list = new List<(string, string?)>();
        // RFC 2971 §3.3: at most 30 pairs.
        while (!t.TryConsume((byte)')'))
        {
            if (list.Count > 0)
                t.Sp();
            string key = t.ReadString();
            t.Sp();
            string? value = t.ReadNString();
            list.Add((key, value));
            if (list.Count > 30 || list.Count > ctx.Limits.MaxListItems)
                t.Fail("Too many ID parameters (RFC 2971 allows 30)");
        }
        return new IdCommand(list);
    }

    private static ImapCommand ParseCompress(ref ImapTokenizer t)
    {
        t.Sp();
        return new CompressCommand(t.ReadAtom().ToUpperInvariant());
    }

    private static ImapCommand ParseSelect(ref ImapTokenizer t, bool readOnly, Context ctx)
    {
        t.Sp();
        string mailbox = ReadMailbox(ref t, ctx);
        bool condStore = false;
        QresyncParameters? qresync = null;
        if (t.TryConsume((byte)' '))
        {
            t.Expect((byte)'(');
            while (!t.TryConsume((byte)')'))
            {
                if (condStore || qresync is not null)
                    t.Sp();
                string p = t.ReadName();
                if (p == "CONDSTORE")
                {
                    condStore = true;
                }
                else if (p == "QRESYNC")
                {
                    t.Sp();
                    qresync = ParseQresync(ref t, ctx);
                }
                else
                {
                    t.Fail($"Unknown select parameter {p}");
                }
            }
        }
        return new SelectCommand(mailbox, readOnly, condStore, qresync);
    }

    private static QresyncParameters ParseQresync(ref ImapTokenizer t, Context ctx)
    {
        // RFC 7162 §3.2.5: (uidvalidity mod-sequence-value [known-uids] [(seq-match-data)])
        t.Expect((byte)'(');
        uint uidValidity = t.ReadNzNumber();
        t.Sp();
        ulong modSeq = t.ReadNumber64();
        SequenceSet? knownUids = null, seqs = null, uids = null;
        if (t.TryConsume((byte)' '))
        {
            if (t.Peek() != (byte)'(')
            {
                knownUids = t.ReadSequenceSet(ctx.Limits.MaxSequenceRanges);
                if (knownUids.IsSavedResult || knownUids.UsesStar)
                    t.Fail("known-uids must not contain * or $");
                t.TryConsume((byte)' ');
            }
            if (t.TryConsume((byte)'('))
            {
                seqs = t.ReadSequenceSet(ctx.Limits.MaxSequenceRanges);
                t.Sp();
                uids = t.ReadSequenceSet(ctx.Limits.MaxSequenceRanges);
                t.Expect((byte)')');
            }
        }
        t.Expect((byte)')');
        return new QresyncParameters(uidValidity, modSeq, knownUids, seqs, uids);
    }

    private static ImapCommand ParseCreate(ref ImapTokenizer t, Context ctx)
    {
        t.Sp();
        string mailbox = ReadMailbox(ref t, ctx);
        var uses = new List<string>();
        if (t.TryConsume((byte)' '))
        {
            // RFC 6154 §3: create-param "USE" SP "(" [use-attr *(SP use-attr)] ")"
            t.Expect((byte)'(');
            if (!t.TryKeyword("USE"))
                t.Fail("Unknown CREATE parameter");
            t.Sp();
            uses = t.ReadFlagList(ctx.Limits.MaxListItems);
            t.Expect((byte)')');
        }
        return new CreateCommand(mailbox, uses);
    }

    private static ImapCommand ParseMailboxCommand(ref ImapTokenizer t, string name, Context ctx)
    {
        t.Sp();
        return new MailboxCommand(name, ReadMailbox(ref t, ctx));
    }

    private static ImapCommand ParseRename(ref ImapTokenizer t, Context ctx)
    {
        t.Sp();
        string from = ReadMailbox(ref t, ctx);
        t.Sp();
        string to = ReadMailbox(ref t, ctx);
        return new RenameCommand(from, to);
    }

    private static ImapCommand ParseGetQuota(ref ImapTokenizer t)
    {
        t.Sp();
        return new GetQuotaCommand(t.ReadAstring());
    }

    private static ImapCommand ParseStatus(ref ImapTokenizer t, Context ctx)
    {
        t.Sp();
        string mailbox = ReadMailbox(ref t, ctx);
        t.Sp();
        return new StatusCommand(mailbox, ParseStatusItems(ref t, ctx));
    }

    private static List<string> ParseStatusItems(ref ImapTokenizer t, Context ctx)
    {
        t.Expect((byte)'(');
        var items = new List<string>();
        while (!t.TryConsume((byte)')'))
        {
            if (items.Count > 0)
                t.Sp();
            string item = t.ReadName();
            if (item is not ("MESSAGES" or "UIDNEXT" or "UIDVALIDITY" or "UNSEEN" or "DELETED" or "SIZE" or "RECENT"
                or "HIGHESTMODSEQ" or "APPENDLIMIT" or "MAILBOXID"))
                t.Fail($"Unknown status item {item}");
            items.Add(item);
            if (items.Count > ctx.Limits.MaxListItems)
                t.Fail("Too many status items");
        }
        if (items.Count == 0)
            t.Fail("Empty status item list");
        return items;
    }

    private static ImapCommand ParseList(ref ImapTokenizer t, bool lsub, Context ctx)
    {
        t.Sp();
        bool selSub = false, selRemote = false, selRecursive = false, selSpecial = false, extended = false;
        if (!lsub && t.Peek() == (byte)'(')
        {
            // RFC 5258 §3: list-select-opts
            extended = true;
            t.Expect((byte)'(');
            bool first = true;
            while (!t.TryConsume((byte)')'))
            {
                if (!first)
                    t.Sp();
                first = false;
                string opt = t.ReadName();
                switch (opt)
                {
                    case "SUBSCRIBED": selSub = true; break;
                    case "REMOTE": selRemote = true; break;
                    case "RECURSIVEMATCH": selRecursive = true; break;
                    case "SPECIAL-USE": selSpecial = true; break;
                    default: t.Fail($"Unknown LIST selection option {opt}"); break;
                }
            }
            // RFC 5258 §3.1: RECURSIVEMATCH needs another selection option.
            if (selRecursive && !selSub && !selSpecial)
                t.Fail("RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE");
            t.Sp();
        }
        string reference = NormalizeReference(t.ReadAstring(), ctx.Utf8);
        t.Sp();
        var patterns = new List<string>();
        if (!lsub && t.Peek() == (byte)'(')
        {
            extended = true;
            t.Expect((byte)'(');
            while (!t.TryConsume((byte)')'))
            {
                if (patterns.Count > 0)
                    t.Sp();
                patterns.Add(ReadListMailbox(ref t, ctx));
                if (patterns.Count > ctx.Limits.MaxListItems)
                    t.Fail("Too many patterns");
            }
        }
        else
        {
            patterns.Add(ReadListMailbox(ref t, ctx));
        }
        bool retSub = false, retChildren = false, retSpecial = false;
        List<string>? retStatus = null;
        if (!lsub && t.TryConsume((byte)' '))
        {
            extended = true;
            if (!t.TryKeyword("RETURN"))
                t.Fail("Expected RETURN");
            t.Sp();
            t.Expect((byte)'(');
            bool first = true;
            while (!t.TryConsume((byte)')'))
            {
                if (!first)
                    t.Sp();
                first = false;
                string opt = t.ReadName();
                switch (opt)
                {
                    case "SUBSCRIBED": retSub = true; break;
                    case "CHILDREN": retChildren = true; break;
                    case "SPECIAL-USE": retSpecial = true; break;
                    case "STATUS":
                        t.Sp();
                        retStatus = ParseStatusItems(ref t, ctx);
                        break;
                    default: t.Fail($"Unknown LIST return option {opt}"); break;
                }
            }
        }
        return new ListCommand(reference, patterns, lsub, selSub, selRemote, selRecursive, selSpecial,
            retSub, retChildren, retSpecial, retStatus, extended);
    }

    private static string NormalizeReference(string reference, bool utf8)
    {
        if (utf8 || reference.Length == 0)
            return reference;
        if (!ModifiedUtf7.TryDecode(reference, out string decoded))
            throw new ImapParseException("Reference is not valid modified UTF-7");
        return decoded;
    }

    /// <summary>list-mailbox: 1*list-char (atom chars plus % * ]) or a string.</summary>
    private static string ReadListMailbox(ref ImapTokenizer t, Context ctx)
    {
        string pattern;
        if (t.Peek() == (byte)'"' || t.AtLiteral)
        {
            pattern = t.ReadString();
        }
        else
        {
            var sb = new System.Text.StringBuilder();
            while (!t.AtEnd && (ImapTokenizer.IsAstringChar(t.Peek()) || t.Peek() is (byte)'%' or (byte)'*'))
            {
                sb.Append((char)t.Peek());
                t.TryConsume(t.Peek());
            }
            if (sb.Length == 0)
                t.Fail("Expected a mailbox pattern");
            pattern = sb.ToString();
        }
        if (!ctx.Utf8)
        {
            if (!ModifiedUtf7.TryDecode(pattern, out string decoded))
                throw new ImapParseException("Pattern is not valid modified UTF-7");
            pattern = decoded;
        }
        return pattern;
    }

    private static AppendMessage ParseAppendMessage(ref ImapTokenizer t, Context ctx)
    {
        IReadOnlyList<string> flags = [];
        DateTimeOffset? date = null;
        if (t.Peek() == (byte)'(')
        {
            flags = t.ReadFlagList(ctx.Limits.MaxListItems);
            t.Sp();
        }
        if (t.Peek() == (byte)'"')
        {
            date = t.ReadDateTime();
            t.Sp();
        }
        ImapLiteral content;
        // RFC 3516 §4.3 / RFC 9051: append-data may be literal8; UTF8 (~{n}) as in RFC 6855 too.
        if (t.TryKeyword("UTF8"))
        {
            t.Sp();
            t.Expect((byte)'(');
            content = t.ReadLiteral(allowBinary: true);
            t.Expect((byte)')');
        }
        else
        {
            if (!t.AtLiteral)
                t.Fail("Expected the message as a literal");
            content = t.ReadLiteral(allowBinary: true);
        }
        return new AppendMessage(flags, date, content);
    }

    private static ImapCommand ParseAppend(ref ImapTokenizer t, Context ctx)
    {
        t.Sp();
        string mailbox = ReadMailbox(ref t, ctx);
        t.Sp();
        var messages = new List<AppendMessage> { ParseAppendMessage(ref t, ctx) };
        // RFC 3502 §6.3.11: MULTIAPPEND repeats the message part.
        while (t.TryConsume((byte)' '))
            messages.Add(ParseAppendMessage(ref t, ctx));
        return new AppendCommand(mailbox, messages);
    }

    private static ImapCommand ParseReplace(ref ImapTokenizer t, bool uid, Context ctx)
    {
        t.Sp();
        uint target = t.ReadNzNumber();
        t.Sp();
        string mailbox = ReadMailbox(ref t, ctx);
        t.Sp();
        return new ReplaceCommand(uid, target, mailbox, ParseAppendMessage(ref t, ctx));
    }

    private static ImapCommand ParseCopy(ref ImapTokenizer t, bool uid, bool move, Context ctx)
    {
        t.Sp();
        SequenceSet set = t.ReadSequenceSet(ctx.Limits.MaxSequenceRanges);
        t.Sp();
        return new CopyCommand(uid, move, set, ReadMailbox(ref t, ctx));
    }

    private static ImapCommand ParseStore(ref ImapTokenizer t, bool uid, Context ctx)
    {
        t.Sp();
        SequenceSet set = t.ReadSequenceSet(ctx.Limits.MaxSequenceRanges);
        t.Sp();
        ulong? unchangedSince = null;
        if (t.TryConsume((byte)'('))
        {
            // RFC 7162 §3.1.3: store-modifier UNCHANGEDSINCE
            if (!t.TryKeyword("UNCHANGEDSINCE"))
                t.Fail("Unknown STORE modifier");
            t.Sp();
            unchangedSince = t.ReadNumber64();
            t.Expect((byte)')');
            t.Sp();
        }
        StoreMode mode = StoreMode.Replace;
        if (t.TryConsume((byte)'+'))
            mode = StoreMode.Add;
        else if (t.TryConsume((byte)'-'))
            mode = StoreMode.Remove;
        string item = t.ReadName();
        bool silent = item == "FLAGS.SILENT";
        if (item != "FLAGS" && !silent)
            t.Fail("Expected FLAGS, +FLAGS or -FLAGS");
        t.Sp();
        List<string> flags;
        if (t.Peek() == (byte)'(')
        {
            flags = t.ReadFlagList(ctx.Limits.MaxListItems);
        }
        else
        {
            flags = [t.ReadFlag()];
            while (t.TryConsume((byte)' '))
                flags.Add(t.ReadFlag());
        }
        if (flags.Any(f => f.Equals("\\Recent", StringComparison.OrdinalIgnoreCase)))
            t.Fail("\\Recent cannot be stored");
        return new StoreCommand(uid, set, unchangedSince, mode, silent, flags);
    }
}
