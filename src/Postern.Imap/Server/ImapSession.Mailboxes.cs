// Mailbox-level commands: SELECT/EXAMINE, CLOSE/UNSELECT, CREATE, DELETE, RENAME, (UN)SUBSCRIBE,
// LIST (with LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), STATUS, APPEND (MULTIAPPEND), QUOTA.
using System.Text;
using System.Text.RegularExpressions;
using Postern.Imap.Protocol;
using Postern.Mail;
using Postern.Store;

namespace Postern.Imap.Server;

internal sealed partial class ImapSession
{
    private async Task SelectAsync(string tag, SelectCommand s)
    {
        // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected.
        if (_selected is not null)
        {
            _selected = null;
            _state = SessionState.Authenticated;
            // RFC 7162 §3.2.11 / RFC 9051 §6.3.2: CLOSED marks where the old mailbox's responses end.
            if (_rev2 || _condStoreEnabled)
                _w.Raw("* OK [CLOSED] Previous mailbox closed").Crlf();
        }
        if (s.Qresync is not null && !_qresyncEnabled)
        {
            // RFC 7162 §3.2.5: QRESYNC parameters need ENABLE QRESYNC first.
            Tagged(tag, "BAD", "Use ENABLE QRESYNC first");
            return;
        }
        if (s.CondStore)
            _condStoreEnabled = true;
        // Drain old events first: the mailbox state read below is newer than anything buffered, and every
        // change after this point arrives through the feed (a change already in the listing is recognised).
        while (_feed!.TryRead(out _))
        {
        }
        MailboxInfo? info = await _account!.GetMailboxAsync(s.Mailbox).ConfigureAwait(false);
        if (info is null || !info.Selectable)
        {
            Tagged(tag, "NO", info is null ? "[NONEXISTENT] No such mailbox" : "[CANNOT] Mailbox is not selectable");
            return;
        }
        MailboxSnapshot snapshot = await SnapshotAsync(info).ConfigureAwait(false);
        var sel = new SelectedMailbox(info, s.ReadOnly, snapshot);
        if (!s.ReadOnly)
            await ClaimRecentAsync(sel).ConfigureAwait(false);
        var flagList = new List<string> { "\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft" };
        flagList.AddRange(snapshot.Keywords);
        _w.Raw("* ").Number((ulong)sel.Count).Raw(" EXISTS").Crlf();
        sel.AnnouncedCount = sel.Count;
        if (!_rev2)
        {
            _w.Raw("* ").Number((ulong)sel.Recent.Count).Raw(" RECENT").Crlf();
            int firstUnseen = sel.FirstUnseen();
            if (firstUnseen > 0)
                _w.Raw("* OK [UNSEEN ").Number((ulong)firstUnseen).Raw("] First unseen").Crlf();
        }
        _w.Raw("* FLAGS ").AtomList(flagList).Crlf();
        _w.Raw("* OK [PERMANENTFLAGS ").AtomList(s.ReadOnly ? [] : flagList.Append("\\*")).Raw("] Flags permitted").Crlf();
        _w.Raw("* OK [UIDVALIDITY ").Number(info.UidValidity).Raw("] UIDs valid").Crlf();
        _w.Raw("* OK [UIDNEXT ").Number(info.UidNext).Raw("] Predicted next UID").Crlf();
        // RFC 7162 §3.1.2.1: HIGHESTMODSEQ on every SELECT once CONDSTORE is in use.
        if (_condStoreEnabled)
            _w.Raw("* OK [HIGHESTMODSEQ ").Number((ulong)Math.Max(info.HighestModSeq, sel.HighestModSeq)).Raw("] Highest").Crlf();
        if (_rev2)
            _w.Raw("* LIST () \"/\" ").Mailbox(info.Name).Crlf();
        _selected = sel;
        if (s.Qresync is QresyncParameters q && q.UidValidity == info.UidValidity)
            await QresyncAsync(sel, q).ConfigureAwait(false);
        _state = SessionState.Selected;
        Tagged(tag, "OK", s.ReadOnly ? "[READ-ONLY] EXAMINE completed" : "[READ-WRITE] SELECT completed");
    }

    /// <summary>
    /// The mailbox's messages: a snapshot another session listed at the same HIGHESTMODSEQ, or a new listing,
    /// filed for others when the HIGHESTMODSEQ read after it is unchanged (then it is exactly the state at that value).
    /// </summary>
    private async Task<MailboxSnapshot> SnapshotAsync(MailboxInfo info)
    {
        MailboxSnapshotCache cache = _server.Snapshots;
        string account = _account!.AccountName;
        if (cache.TryGet(account, info.Id, info.HighestModSeq) is MailboxSnapshot shared)
            return shared;
        if (cache.TryGetLatest(account, info.Id) is var (modSeq, older) && modSeq < info.HighestModSeq)
        {
            // Changes since the older snapshot, read in one transaction with the HIGHESTMODSEQ they lead to:
            // applied to it they give exactly the state at that value.
            MailboxChanges changes = await _account.GetChangesSinceAsync(info.Id, modSeq).ConfigureAwait(false);
            if (changes.Changed.Count + changes.Expunged.Count <= Math.Max(MailboxSnapshot.MinIncrementalChanges, older.Uids.Length / 4))
            {
                MailboxSnapshot updated = older.Apply(changes);
                cache.Put(account, info.Id, changes.HighestModSeq, updated);
                return updated;
            }
        }
        IReadOnlyList<MessageState> records = await _account.ListMessageStatesAsync(info.Id).ConfigureAwait(false);
        var snapshot = new MailboxSnapshot(records);
        MailboxInfo? after = await _account.GetMailboxAsync(info.Id).ConfigureAwait(false);
        if (after is not null && after.HighestModSeq == info.HighestModSeq)
            cache.Put(account, info.Id, info.HighestModSeq, snapshot);
        return snapshot;
    }

    /// <summary>RFC 7162 §3.2.5.1: VANISHED (EARLIER) and FETCH for what changed since the client's MODSEQ.</summary>
    private async Task QresyncAsync(SelectedMailbox sel, QresyncParameters q)
    {
        MailboxChanges changes = await _account!.GetChangesSinceAsync(sel.Id, (long)q.ModSeq).ConfigureAwait(false);
        SequenceSet? known = q.KnownUids;
        var vanished = changes.Expunged.Where(u => known is null || known.Contains(u, uint.MaxValue)).Where(u => !sel.Contains(u)).ToList();
        if (vanished.Count > 0)
            _w.Raw("* VANISHED (EARLIER) ").Raw(SequenceSet.Format(vanished.Order())).Crlf();
        foreach (MessageRecord r in changes.Changed.OrderBy(r => r.Uid))
        {
            if (known is not null && !known.Contains(r.Uid, uint.MaxValue))
                continue;
            if (sel.Get(r.Uid) is not MessageView view)
                continue;
            WriteFlagsFetch(sel, sel.SeqOf(r.Uid), r.Uid, view);
        }
    }

    private async Task CloseAsync(string tag, bool expunge)
    {
        SelectedMailbox sel = _selected!;
        // RFC 9051 §6.4.1: CLOSE silently expunges (not in read-only mode).
        if (expunge && !sel.ReadOnly)
            await _account!.ExpungeAsync(sel.Id).ConfigureAwait(false);
        _selected = null;
        _state = SessionState.Authenticated;
        Tagged(tag, "OK", expunge ? "CLOSE completed" : "UNSELECT completed");
    }

    private static SpecialUse ParseSpecialUse(IEnumerable<string> uses)
    {
        SpecialUse result = SpecialUse.None;
        foreach (string u in uses)
        {
            result |= u.ToUpperInvariant() switch
            {
                "\\ALL" => SpecialUse.All,
                "\\ARCHIVE" => SpecialUse.Archive,
                "\\DRAFTS" => SpecialUse.Drafts,
                "\\FLAGGED" => SpecialUse.Flagged,
                "\\JUNK" => SpecialUse.Junk,
                "\\SENT" => SpecialUse.Sent,
                "\\TRASH" => SpecialUse.Trash,
                // RFC 6154 §3: USEATTR for an attribute we do not know.
                _ => throw new UseAttrException(u),
            };
        }
        return result;
    }

    private sealed class UseAttrException(string attr) : Exception(attr);

    private async Task CreateAsync(string tag, CreateCommand c)
    {
        string name = c.Mailbox.TrimEnd('/');
        if (name.Equals("INBOX", StringComparison.OrdinalIgnoreCase))
        {
            Tagged(tag, "NO", "[ALREADYEXISTS] INBOX always exists");
            return;
        }
        SpecialUse use;
        try
        {
            use = ParseSpecialUse(c.SpecialUse);
        }
        catch (UseAttrException ex)
        {
            Tagged(tag, "NO", $"[USEATTR] Unsupported special-use attribute {ex.Message}");
            return;
        }
        await _account!.CreateMailboxAsync(name, use).ConfigureAwait(false);
        Tagged(tag, "OK", "CREATE completed");
    }

    private async Task DeleteAsync(string tag, string mailbox)
    {
        if (mailbox == "INBOX")
        {
            Tagged(tag, "NO", "[CANNOT] INBOX cannot be deleted");
            return;
        }
        if (_selected is not null && _selected.Name == mailbox)
        {
            _selected = null;
            _state = SessionState.Authenticated;
        }
        await _account!.DeleteMailboxAsync(mailbox).ConfigureAwait(false);
        Tagged(tag, "OK", "DELETE completed");
    }

    private async Task RenameAsync(string tag, RenameCommand r)
    {
        await _account!.RenameMailboxAsync(r.From, r.To.TrimEnd('/')).ConfigureAwait(false);
        if (_selected is not null && _selected.Name == r.From)
            _selected.Name = r.To;
        Tagged(tag, "OK", "RENAME completed");
    }

    private async Task SubscribeAsync(string tag, MailboxCommand m)
    {
        await _account!.SetSubscribedAsync(m.Mailbox, m.Name == "SUBSCRIBE").ConfigureAwait(false);
        Tagged(tag, "OK", m.Name + " completed");
    }

    private async Task ListAsync(string tag, ListCommand l)
    {
        // RFC 9051 §6.3.9: empty pattern asks for the hierarchy delimiter.
        if (!l.Extended && l.Patterns.Count == 1 && l.Patterns[0].Length == 0)
        {
            _w.Raw(l.IsLsub ? "* LSUB" : "* LIST").Raw(" (\\Noselect) \"/\" \"\"").Crlf();
            Tagged(tag, "OK", "LIST completed");
            return;
        }
        IReadOnlyList<MailboxInfo> boxes = await _account!.ListMailboxesAsync().ConfigureAwait(false);
        IReadOnlyList<string> subscriptions = await _account.ListSubscriptionsAsync().ConfigureAwait(false);
        var subscribed = new HashSet<string>(subscriptions, StringComparer.Ordinal);
        var regexes = l.Patterns.Select(p => PatternRegex(l.Reference, p)).ToList();
        var names = new HashSet<string>(boxes.Select(b => b.Name), StringComparer.Ordinal);
        bool returnSubscribed = l.ReturnSubscribed || l.SelectSubscribed;

        // RFC 5258 §3: with SUBSCRIBED selection, subscribed names that do not exist are listed \NonExistent.
        var candidates = boxes.Select(b => (Name: b.Name, Box: (MailboxInfo?)b)).ToList();
        if (l.SelectSubscribed || l.IsLsub)
            candidates.AddRange(subscriptions.Where(s => !names.Contains(s)).Select(s => (Name: s, Box: (MailboxInfo?)null)));

        foreach (var (name, box) in candidates.OrderBy(c => c.Name == "INBOX" ? "" : c.Name, StringComparer.Ordinal))
        {
            if (!regexes.Any(r => r.IsMatch(name)))
                continue;
            bool isSub = subscribed.Contains(name);
            // RFC 5258 §3.5: with RECURSIVEMATCH a parent whose descendants match the selection is
            // listed too, with CHILDINFO saying why.
            bool childInfo = l.SelectRecursiveMatch && l.SelectSubscribed
                && subscriptions.Any(x => x.StartsWith(name + "/", StringComparison.Ordinal));
            if ((l.SelectSubscribed || l.IsLsub) && !isSub && !childInfo)
                continue;
            if (l.SelectSpecialUse && (box is null || box.SpecialUse == SpecialUse.None))
                continue;
            var attrs = new List<string>();
            if (box is null)
                attrs.Add("\\NonExistent");
            else if (!box.Selectable)
                attrs.Add("\\Noselect");
            bool hasChildren = names.Any(n => n.StartsWith(name + "/", StringComparison.Ordinal));
            // RFC 5258 §4: \HasChildren/\HasNoChildren are always allowed in LIST responses.
            if (!l.IsLsub && box is not null)
                attrs.Add(hasChildren ? "\\HasChildren" : "\\HasNoChildren");
            if (returnSubscribed && isSub && !l.IsLsub)
                attrs.Add("\\Subscribed");
            if (box is not null && (!l.Extended || l.ReturnSpecialUse || l.SelectSpecialUse))
                attrs.AddRange(SpecialUseNames(box.SpecialUse));
            _w.Raw(l.IsLsub ? "* LSUB " : "* LIST ").AtomList(attrs).Raw(" \"/\" ").Mailbox(name);
            if (childInfo)
                _w.Raw(" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            _w.Crlf();
            if (l.ReturnStatus is not null && box is { Selectable: true })
                await WriteStatusAsync(box, l.ReturnStatus).ConfigureAwait(false);
        }
        Tagged(tag, "OK", (l.IsLsub ? "LSUB" : "LIST") + " completed");
    }

    private static IEnumerable<string> SpecialUseNames(SpecialUse use)
    {
        if (use.HasFlag(SpecialUse.All)) yield return "\\All";
        if (use.HasFlag(SpecialUse.Archive)) yield return "\\Archive";
        if (use.HasFlag(SpecialUse.Drafts)) yield return "\\Drafts";
        if (use.HasFlag(SpecialUse.Flagged)) yield return "\\Flagged";
        if (use.HasFlag(SpecialUse.Junk)) yield return "\\Junk";
        if (use.HasFlag(SpecialUse.Sent)) yield return "\\Sent";
        if (use.HasFlag(SpecialUse.Trash)) yield return "\\Trash";
    }

    /// <summary>RFC 9051 §6.3.9: "*" matches anything, "%" anything but the delimiter.</summary>
    private static Regex PatternRegex(string reference, string pattern)
    {
        string full = pattern.StartsWith('/') ? pattern : reference + pattern;
        var sb = new StringBuilder("^");
        foreach (char c in full)
        {
            sb.Append(c switch
            {
                '*' => ".*",
                '%' => "[^/]*",
                _ => Regex.Escape(c.ToString()),
            });
        }
        sb.Append('$');
        string re = sb.ToString();
        // INBOX is case-insensitive.
        if (full.StartsWith("INBOX", StringComparison.OrdinalIgnoreCase))
            re = "^(?i:INBOX)" + re[(1 + Regex.Escape("INBOX").Length)..];
        return new Regex(re, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    private async Task StatusAsync(string tag, StatusCommand s)
    {
        MailboxInfo? info = await _account!.GetMailboxAsync(s.Mailbox).ConfigureAwait(false);
        if (info is null || !info.Selectable)
        {
            Tagged(tag, "NO", "[NONEXISTENT] No such mailbox");
            return;
        }
        await WriteStatusAsync(info, s.Items).ConfigureAwait(false);
        Tagged(tag, "OK", "STATUS completed");
    }

    private async Task WriteStatusAsync(MailboxInfo info, IReadOnlyList<string> items)
    {
        _w.Raw("* STATUS ").Mailbox(info.Name).Raw(" (");
        bool first = true;
        foreach (string item in items)
        {
            if (!first)
                _w.Sp();
            first = false;
            _w.Raw(item).Sp();
            switch (item)
            {
                case "MESSAGES": _w.Number((ulong)info.Messages); break;
                case "UIDNEXT": _w.Number(info.UidNext); break;
                case "UIDVALIDITY": _w.Number(info.UidValidity); break;
                case "UNSEEN": _w.Number((ulong)info.Unseen); break;
                case "DELETED": _w.Number((ulong)info.Deleted); break;
                case "SIZE": _w.Number((ulong)info.Size); break;
                case "RECENT": _w.Number(0); break;
                case "HIGHESTMODSEQ": _w.Number((ulong)info.HighestModSeq); break;
                case "APPENDLIMIT": _w.Number((ulong)Limits.AppendLimit); break;
                case "MAILBOXID": _w.Raw("(M").Number((ulong)info.Id).Raw(")"); break;
            }
        }
        _w.Raw(")").Crlf();
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private async Task AppendAsync(string tag, AppendCommand a)
    {
        MailboxInfo? info = await _account!.GetMailboxAsync(a.Mailbox).ConfigureAwait(false);
        if (info is null || !info.Selectable)
        {
            // RFC 9051 §6.3.12: TRYCREATE when the mailbox does not exist.
            Tagged(tag, "NO", "[TRYCREATE] No such mailbox");
            return;
        }
        var messages = new List<NewMessage>();
        var temps = new List<TempMessageFile>();
        try
        {
            foreach (AppendMessage m in a.Messages)
                messages.Add(await PrepareMessageAsync(m, temps).ConfigureAwait(false));
            AppendResult result = await _account.AppendAsync(info.Id, messages).ConfigureAwait(false);
            if (_selected?.Id == info.Id)
                await ProcessChangesAsync(allowExpunge: true).ConfigureAwait(false);
            // RFC 4315 §3: APPENDUID uidvalidity uid-set
            Tagged(tag, "OK", $"[APPENDUID {result.UidValidity} {SequenceSet.Format(result.Uids)}] APPEND completed");
        }
        finally
        {
            foreach (TempMessageFile t in temps)
                await t.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<NewMessage> PrepareMessageAsync(AppendMessage m, List<TempMessageFile> temps)
    {
        (SystemFlags flags, List<string> keywords) = ParseFlags(m.Flags);
        MessageStructure structure;
        MessageSource source;
        if (m.Content.IsInMemory)
        {
            ReadOnlyMemory<byte> bytes = m.Content.GetBytes();
            structure = MessageStructure.Parse(bytes.Span);
            source = MessageSource.FromMemory(bytes);
        }
        else
        {
            // Big messages: stream into the store's temp file while parsing, never whole in memory.
            TempMessageFile temp = _account!.CreateTempFile();
            temps.Add(temp);
            var parser = new MessageParser();
            using (Stream input = m.Content.OpenRead())
            {
                byte[] buffer = new byte[64 * 1024];
                int n;
                while ((n = await input.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                {
                    parser.Append(buffer.AsSpan(0, n));
                    await temp.Stream.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                }
            }
            structure = parser.Complete();
            source = MessageSource.FromTempFile(temp);
        }
        return new NewMessage(source, structure.ToBytes(), MessageMeta.FromStructure(structure))
        {
            Flags = flags,
            Keywords = keywords,
            InternalDate = m.InternalDate,
        };
    }

    private async Task GetQuotaRootAsync(string tag, string mailbox)
    {
        MailboxInfo? info = await _account!.GetMailboxAsync(mailbox).ConfigureAwait(false);
        if (info is null)
        {
            Tagged(tag, "NO", "[NONEXISTENT] No such mailbox");
            return;
        }
        // RFC 9208 §4.3.2: one quota root "" for the whole account.
        _w.Raw("* QUOTAROOT ").Mailbox(mailbox).Raw(" \"\"").Crlf();
        await WriteQuotaAsync().ConfigureAwait(false);
        Tagged(tag, "OK", "GETQUOTAROOT completed");
    }

    private async Task GetQuotaAsync(string tag, GetQuotaCommand q)
    {
        if (q.Root.Length != 0)
        {
            Tagged(tag, "NO", "[NONEXISTENT] No such quota root");
            return;
        }
        await WriteQuotaAsync().ConfigureAwait(false);
        Tagged(tag, "OK", "GETQUOTA completed");
    }

    private async Task WriteQuotaAsync()
    {
        QuotaInfo quota = await _account!.GetQuotaAsync().ConfigureAwait(false);
        _w.Raw("* QUOTA \"\" (");
        // RFC 9208 §5.1: STORAGE in units of 1024 octets.
        if (quota.LimitBytes is long limit)
            _w.Raw("STORAGE ").Number((ulong)((quota.UsedBytes + 1023) / 1024)).Sp().Number((ulong)(limit / 1024));
        _w.Raw(")").Crlf();
    }
}
