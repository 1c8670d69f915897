// Message commands of the selected state: FETCH, STORE, COPY/MOVE, EXPUNGE, IDLE.
using Microsoft.Extensions.Logging;
using Postern.Imap.Protocol;
using Postern.Mail;
using Postern.Store;

namespace Postern.Imap.Server;

internal sealed partial class ImapSession
{
    /// <summary>UIDs in the view that a sequence set names, ascending. RFC 9051 §9: numbers beyond the mailbox are an error.</summary>
    private List<uint> Resolve(SequenceSet set, bool uid)
    {
        SelectedMailbox sel = _selected!;
        if (set.IsSavedResult)
            return _savedResult.Where(sel.Contains).Distinct().Order().ToList();
        var result = new List<uint>();
        foreach (var (start, end) in Positions(sel, set, uid))
        {
            for (int i = start; i < end; i++)
                result.Add(sel.UidAtIndex(i));
        }
        return result;
    }

    /// <summary>
    /// The view positions (0-based, half-open ranges, ascending and disjoint) that a UID or sequence set names.
    /// RFC 9051 §9: sequence numbers beyond the last announced message are an error; UIDs that do not exist are ignored.
    /// </summary>
    private static List<(int Start, int End)> Positions(SelectedMailbox sel, SequenceSet set, bool uid)
    {
        if (uid)
            return sel.Count == 0 ? [] : sel.PositionsOfUids(set.Normalize(sel.MaxUid));
        var result = new List<(int, int)>();
        foreach (var (first, last) in set.Normalize((uint)sel.AnnouncedCount))
        {
            if (first < 1 || last > sel.AnnouncedCount)
                throw new ImapParseException("Message sequence number out of range");
            result.Add(((int)first - 1, (int)last));
        }
        return result;
    }

    private async Task FetchAsync(string tag, FetchCommand f)
    {
        if (!f.Vanished && !f.Set.IsSavedResult && f.Items.All(i => i.Kind is FetchItemKind.Uid or FetchItemKind.Flags or FetchItemKind.ModSeq))
        {
            await FetchFromViewAsync(tag, f).ConfigureAwait(false);
            return;
        }
        SelectedMailbox sel = _selected!;
        List<uint> uids = Resolve(f.Set, f.Uid);
        var items = f.Items.ToList();
        if (f.ChangedSince is not null || items.Any(i => i.Kind == FetchItemKind.ModSeq))
            _condStoreEnabled = true;
        if (f.Vanished && !_qresyncEnabled)
            throw new ImapParseException("VANISHED needs ENABLE QRESYNC");
        if (f.Vanished && f.ChangedSince is ulong vanishedSince)
        {
            // RFC 7162 §3.2.6: expunged UIDs of the set, reported before the FETCH responses.
            MailboxChanges changes = await _account!.GetChangesSinceAsync(sel.Id, (long)vanishedSince).ConfigureAwait(false);
            uint max = sel.MaxUid;
            var gone = changes.Expunged.Where(u => f.Set.IsSavedResult ? _savedResult.Contains(u) : f.Set.Contains(u, Math.Max(max, u))).Where(u => !sel.Contains(u)).ToList();
            if (gone.Count > 0)
                _w.Raw("* VANISHED (EARLIER) ").Raw(SequenceSet.Format(gone.Order())).Crlf();
        }
        if (f.ChangedSince is ulong since)
        {
            uids = uids.Where(u => (ulong)sel.Get(u)!.Value.ModSeq > since).ToList();
            if (!items.Any(i => i.Kind == FetchItemKind.ModSeq))
                items.Add(new FetchItem(FetchItemKind.ModSeq));
        }
        bool setsSeen = !sel.ReadOnly && items.Any(i =>
            (i.Kind is FetchItemKind.BodySection or FetchItemKind.BinarySection && !i.Peek) || i.Kind is FetchItemKind.Rfc822 or FetchItemKind.Rfc822Text);
        var seenNow = new HashSet<uint>();
        if (setsSeen)
        {
            // RFC 9051 §6.4.5: BODY[] without PEEK sets \Seen; the FETCH then reports FLAGS.
            var unseen = uids.Where(u => !sel.Get(u)!.Value.Flags.HasFlag(SystemFlags.Seen)).ToList();
            if (unseen.Count > 0)
            {
                StoreFlagsResult r = await _account!.StoreFlagsAsync(sel.Id, UidSet.Of(unseen),
                    new FlagChange(FlagOperation.Add, SystemFlags.Seen, [])).ConfigureAwait(false);
                foreach (MessageRecord rec in r.Changed)
                {
                    if (sel.Contains(rec.Uid))
                    {
                        sel.Set(rec.Uid, new MessageView(rec.Flags, rec.Keywords, rec.ModSeq));
                        seenNow.Add(rec.Uid);
                    }
                }
            }
        }
        bool needRecords = items.Any(i => i.Kind is FetchItemKind.InternalDate or FetchItemKind.Rfc822Size or FetchItemKind.SaveDate);
        bool needDetails = items.Any(i => i.Kind is FetchItemKind.Envelope or FetchItemKind.BodyStructure or FetchItemKind.Body
            or FetchItemKind.BodySection or FetchItemKind.BinarySection or FetchItemKind.BinarySize or FetchItemKind.Rfc822
            or FetchItemKind.Rfc822Header or FetchItemKind.Rfc822Text or FetchItemKind.Preview);
        bool needContent = items.Any(i => i.Kind is FetchItemKind.BodySection or FetchItemKind.BinarySection or FetchItemKind.BinarySize
            or FetchItemKind.Rfc822 or FetchItemKind.Rfc822Header or FetchItemKind.Rfc822Text);
        var records = new Dictionary<uint, MessageRecord>();
        if (needRecords && uids.Count > 0)
        {
            foreach (MessageRecord r in await _account!.GetMessagesAsync(sel.Id, UidSet.Of(uids)).ConfigureAwait(false))
                records[r.Uid] = r;
        }

        foreach (uint uid in uids)
        {
            MessageView view = sel.Get(uid)!.Value;
            int seq = sel.SeqOf(uid);
            MessageDetails? details = null;
            MessageStructure? structure = null;
            if (needDetails)
            {
                details = await _account!.GetMessageDetailsAsync(sel.Id, uid).ConfigureAwait(false);
                if (details is null)
                    continue; // expunged by another session; the EXPUNGE comes later
                structure = details.Structure.Length > 0 ? MessageStructure.FromBytes(details.Structure) : null;
            }
            Stream? content = null;
            if (needContent)
            {
                try
                {
                    content = await _account!.OpenContentAsync(sel.Id, uid).ConfigureAwait(false);
                }
                catch (MessageNotFoundException)
                {
                    continue;
                }
            }
            await using var contentScope = (content ?? Stream.Null).ConfigureAwait(false);
            long size = content?.Length ?? 0;
            if (content is not null && structure is null)
            {
                byte[] all = await MessageRendering.ReadRangeAsync(content, details!.PrefixLength, size - details.PrefixLength).ConfigureAwait(false);
                structure = MessageStructure.Parse(all);
            }
            if (needDetails && structure is null)
                structure = MessageStructure.Parse([]);
            if ((needRecords && !records.ContainsKey(uid)))
                continue;

            // RFC 3516 §4.3: an unknown transfer encoding fails the command with NO [UNKNOWN-CTE]. It is found before this
            // message's response starts, so the client never gets a FETCH line cut off in the middle.
            Dictionary<FetchItem, byte[]>? decoded = null;
            foreach (FetchItem item in items)
            {
                if (item.Kind is not (FetchItemKind.BinarySection or FetchItemKind.BinarySize) || decoded?.ContainsKey(item) == true)
                    continue;
                byte[] data = await MessageRendering.DecodeBinaryAsync(content!, size, details!.PrefixLength, structure!, item.Section!.Part).ConfigureAwait(false)
                    ?? throw new UnknownCteException();
                (decoded ??= [])[item] = data;
            }

            _w.Raw("* ").Number((ulong)seq).Raw(" FETCH (");
            bool first = true;
            void Next()
            {
                if (!first)
                    _w.Sp();
                first = false;
            }
            // RFC 9051 §6.4.8: UID FETCH responses always include UID.
            if (f.Uid || items.Any(i => i.Kind == FetchItemKind.Uid))
            {
                Next();
                _w.Raw("UID ").Number(uid);
            }
            bool flagsWritten = false;
            foreach (FetchItem item in items)
            {
                switch (item.Kind)
                {
                    case FetchItemKind.Uid:
                        break;
                    case FetchItemKind.Flags:
                        Next();
                        _w.Raw("FLAGS ");
                        WriteFlags(sel, uid, view);
                        flagsWritten = true;
                        break;
                    case FetchItemKind.ModSeq:
                        Next();
                        _w.Raw("MODSEQ (").Number((ulong)view.ModSeq).Raw(")");
                        break;
                    case FetchItemKind.InternalDate:
                        Next();
                        _w.Raw("INTERNALDATE ").DateTime(records[uid].InternalDate);
                        break;
                    case FetchItemKind.SaveDate:
                        Next();
                        _w.Raw("SAVEDATE ").DateTime(records[uid].SaveDate);
                        break;
                    case FetchItemKind.Rfc822Size:
                        Next();
                        _w.Raw("RFC822.SIZE ").Number((ulong)records[uid].Size);
                        break;
                    case FetchItemKind.Envelope:
                        Next();
                        _w.Raw("ENVELOPE ");
                        MessageRendering.WriteEnvelope(_w, structure!.Envelope);
                        break;
                    case FetchItemKind.BodyStructure:
                        Next();
                        _w.Raw("BODYSTRUCTURE ");
                        MessageRendering.WriteBodyStructure(_w, structure!.Root, extensible: true);
                        break;
                    case FetchItemKind.Body:
                        Next();
                        _w.Raw("BODY ");
                        MessageRendering.WriteBodyStructure(_w, structure!.Root, extensible: false);
                        break;
                    case FetchItemKind.Preview:
                        Next();
                        _w.Raw("PREVIEW ").NString(details!.Meta.Preview ?? structure!.Preview);
                        break;
                    case FetchItemKind.Rfc822:
                        Next();
                        _w.Raw("RFC822");
                        await WriteRangeAsync(content!, 0, size, null, null).ConfigureAwait(false);
                        break;
                    case FetchItemKind.Rfc822Header:
                        Next();
                        _w.Raw("RFC822.HEADER ").Literal(await MessageRendering.ReadSectionAsync(content!, size, details!.PrefixLength, structure!, new Section([], SectionText.Header, [])).ConfigureAwait(false));
                        break;
                    case FetchItemKind.Rfc822Text:
                        {
                            Next();
                            _w.Raw("RFC822.TEXT");
                            var (start, end) = MessageRendering.SectionRange(size, details!.PrefixLength, structure!, new Section([], SectionText.Text, [])) ?? (0, 0);
                            await WriteRangeAsync(content!, start, end - start, null, null).ConfigureAwait(false);
                            break;
                        }
                    case FetchItemKind.BodySection:
                        {
                            Next();
                            _w.Raw("BODY[").Raw(item.Section!.ToString()).Raw("]");
                            if (item.Section.Text is SectionText.HeaderFields or SectionText.HeaderFieldsNot or SectionText.Header)
                            {
                                byte[] data = await MessageRendering.ReadSectionAsync(content!, size, details!.PrefixLength, structure!, item.Section).ConfigureAwait(false) ?? [];
                                WritePartial(item, data, binary: false);
                            }
                            else
                            {
                                // Large sections go from the message file to the client without being held in memory.
                                var (start, end) = MessageRendering.SectionRange(size, details!.PrefixLength, structure!, item.Section) ?? (0, 0);
                                await WriteRangeAsync(content!, start, end - start, item.PartialOffset, item.PartialLength).ConfigureAwait(false);
                            }
                            break;
                        }
                    case FetchItemKind.BinarySection:
                        Next();
                        _w.Raw("BINARY[").Raw(item.Section!.ToString()).Raw("]");
                        WritePartial(item, decoded![item], binary: true);
                        break;
                    case FetchItemKind.BinarySize:
                        Next();
                        _w.Raw("BINARY.SIZE[").Raw(item.Section!.ToString()).Raw("] ").Number((ulong)decoded![item].Length);
                        break;
                }
            }
            if (seenNow.Contains(uid) && !flagsWritten)
            {
                Next();
                _w.Raw("FLAGS ");
                WriteFlags(sel, uid, view);
            }
            _w.Raw(")").Crlf();
            if (_w.Length > 256 * 1024)
                await FlushAsync(default).ConfigureAwait(false);
        }
        await ProcessChangesAsync(allowExpunge: f.Uid).ConfigureAwait(false);
        Tagged(tag, "OK", "FETCH completed");
    }

    private sealed class UnknownCteException : Exception;

    /// <summary>Writes " {n}" then n octets of the stored message from <paramref name="start"/>, copied in chunks.</summary>
    private async Task WriteRangeAsync(Stream content, long start, long length, uint? partialOffset, uint? partialLength)
    {
        if (partialOffset is uint offset)
        {
            // RFC 9051 §6.4.5: BODY[]<o.l> answers BODY[]<o> with at most l octets.
            _w.Byte((byte)'<').Number(offset).Byte((byte)'>');
            long skip = Math.Min(offset, length);
            start += skip;
            length = Math.Min(length - skip, partialLength ?? 0);
        }
        _w.Sp().LiteralHeader(length, binary: false);
        if (length <= 64 * 1024)
        {
            _w.Raw(await MessageRendering.ReadRangeAsync(content, start, length).ConfigureAwait(false));
            return;
        }
        await FlushAsync(default).ConfigureAwait(false);
        content.Position = start;
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long left = length;
            while (left > 0)
            {
                int n = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left))).ConfigureAwait(false);
                if (n == 0)
                    throw new IOException("message file shorter than recorded");
                await _output.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                left -= n;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void WritePartial(FetchItem item, byte[] data, bool binary)
    {
        ReadOnlySpan<byte> span = data;
        if (item.PartialOffset is uint offset)
        {
            // RFC 9051 §6.4.5: BODY[]<o.l> answers BODY[]<o> with at most l octets.
            _w.Byte((byte)'<').Number(offset).Byte((byte)'>');
            int start = (int)Math.Min(offset, (uint)data.Length);
            int len = (int)Math.Min(item.PartialLength ?? 0, (uint)(data.Length - start));
            span = span.Slice(start, len);
        }
        _w.Sp();
        if (binary && span.IndexOf((byte)0) >= 0)
            _w.LiteralHeader(span.Length, binary: true).Raw(span);
        else
            _w.Literal(span);
    }

    private async Task StoreAsync(string tag, StoreCommand s)
    {
        SelectedMailbox sel = _selected!;
        if (sel.ReadOnly)
        {
            Tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        List<uint> uids = Resolve(s.Set, s.Uid);
        if (s.UnchangedSince is not null)
            _condStoreEnabled = true;
        (SystemFlags flags, List<string> keywords) = ParseFlags(s.Flags);
        FlagOperation op = s.Mode switch { StoreMode.Add => FlagOperation.Add, StoreMode.Remove => FlagOperation.Remove, _ => FlagOperation.Replace };
        var failed = new List<uint>();
        var changed = new HashSet<uint>();
        if (uids.Count > 0)
        {
            StoreFlagsResult result = await _account!.StoreFlagsAsync(sel.Id, UidSet.Of(uids), new FlagChange(op, flags, keywords),
                s.UnchangedSince is ulong u ? (long)u : null).ConfigureAwait(false);
            foreach (MessageRecord r in result.Changed)
            {
                if (sel.Contains(r.Uid))
                {
                    sel.Set(r.Uid, new MessageView(r.Flags, r.Keywords, r.ModSeq));
                    changed.Add(r.Uid);
                }
            }
            failed.AddRange(result.FailedCondition);
        }
        var failedSet = failed.ToHashSet();
        foreach (uint uid in uids)
        {
            if (failedSet.Contains(uid) || sel.Get(uid) is not MessageView view)
                continue;
            int seq = sel.SeqOf(uid);
            // RFC 7162 §3.1.3: with CONDSTORE, even .SILENT reports the new MODSEQ of changed messages.
            if (s.Silent && !(_condStoreEnabled && changed.Contains(uid)))
                continue;
            _w.Raw("* ").Number((ulong)seq).Raw(" FETCH (");
            if (s.Uid)
                _w.Raw("UID ").Number(uid).Sp();
            if (!s.Silent)
            {
                _w.Raw("FLAGS ");
                WriteFlags(sel, uid, view);
                if (_condStoreEnabled)
                    _w.Sp();
            }
            if (_condStoreEnabled)
                _w.Raw("MODSEQ (").Number((ulong)view.ModSeq).Raw(")");
            _w.Raw(")").Crlf();
        }
        await ProcessChangesAsync(allowExpunge: s.Uid).ConfigureAwait(false);
        if (failed.Count > 0)
        {
            IEnumerable<uint> ids = s.Uid ? failed.Order() : failed.Select(u => (uint)sel.SeqOf(u)).Where(n => n > 0).Order();
            Tagged(tag, "OK", $"[MODIFIED {SequenceSet.Format(ids)}] Conditional STORE failed for some messages");
            return;
        }
        Tagged(tag, "OK", "STORE completed");
    }

    private async Task CopyAsync(string tag, CopyCommand c)
    {
        SelectedMailbox sel = _selected!;
        if (c.Move && sel.ReadOnly)
        {
            Tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        List<uint> uids = Resolve(c.Set, c.Uid);
        MailboxInfo? dest = await _account!.GetMailboxAsync(c.Mailbox).ConfigureAwait(false);
        if (dest is null || !dest.Selectable)
        {
            // RFC 9051 §6.4.7: TRYCREATE
            Tagged(tag, "NO", "[TRYCREATE] No such mailbox");
            return;
        }
        if (uids.Count == 0)
        {
            Tagged(tag, "OK", (c.Move ? "MOVE" : "COPY") + " completed, nothing to do");
            return;
        }
        CopyResult result = c.Move
            ? await _account.MoveAsync(sel.Id, UidSet.Of(uids), dest.Id).ConfigureAwait(false)
            : await _account.CopyAsync(sel.Id, UidSet.Of(uids), dest.Id).ConfigureAwait(false);
        await MarkJunkDecisionAsync(sel.Id, dest, result.DestinationUids).ConfigureAwait(false);
        // RFC 4315 §3: COPYUID uidvalidity source-uids dest-uids, in corresponding order.
        string copyUid = $"[COPYUID {result.DestinationUidValidity} {string.Join(',', result.SourceUids)} {string.Join(',', result.DestinationUids)}]";
        if (result.SourceUids.Count == 0)
            copyUid = "";
        if (!c.Move)
        {
            if (dest.Id == sel.Id)
                await ProcessChangesAsync(allowExpunge: c.Uid).ConfigureAwait(false);
            Tagged(tag, "OK", (copyUid + " COPY completed").TrimStart());
            return;
        }
        // RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGEs.
        if (copyUid.Length > 0)
            _w.Raw("* OK ").Raw(copyUid).Raw(" Moved").Crlf();
        var moved = result.SourceUids.ToList();
        WriteExpunges(sel, moved);
        await ProcessChangesAsync(allowExpunge: true).ConfigureAwait(false);
        Tagged(tag, "OK", "MOVE completed");
    }

    /// <summary>
    /// Moving or copying a message into the Junk mailbox says it is junk: it gets $Junk (and loses $NotJunk); moving
    /// one out of Junk into any mailbox but Trash says it is not: $NotJunk (and not $Junk). The junk filter trains
    /// from these keywords (Postern.Store/Junk/JunkFilter.cs), as it does when a client sets them itself.
    /// </summary>
    private async Task MarkJunkDecisionAsync(long sourceMailboxId, MailboxInfo dest, IReadOnlyList<uint> destinationUids)
    {
        if (destinationUids.Count == 0 || sourceMailboxId == dest.Id) return;
        MailboxInfo? source = await _account!.GetMailboxAsync(sourceMailboxId).ConfigureAwait(false);
        if (source is null) return;
        bool toJunk = (dest.SpecialUse & SpecialUse.Junk) != 0;
        bool fromJunk = (source.SpecialUse & SpecialUse.Junk) != 0;
        string? add = toJunk && !fromJunk ? JunkKeyword : !toJunk && fromJunk && (dest.SpecialUse & SpecialUse.Trash) == 0 ? NotJunkKeyword : null;
        if (add is null) return;
        string remove = add == JunkKeyword ? NotJunkKeyword : JunkKeyword;
        var set = UidSet.Of(destinationUids);
        try
        {
            await _account.StoreFlagsAsync(dest.Id, set, new FlagChange(FlagOperation.Add, SystemFlags.None, [add])).ConfigureAwait(false);
            await _account.StoreFlagsAsync(dest.Id, set, new FlagChange(FlagOperation.Remove, SystemFlags.None, [remove])).ConfigureAwait(false);
        }
        catch (StoreException e)
        {
            // The move itself succeeded (for example the copies were expunged meanwhile): it is not failed for this.
            _server.Logger.LogInformation("imap junk keywords not set id={Id} mailbox={Mailbox} error={Error}", _id, dest.Name, e.Message);
        }
    }

    private const string JunkKeyword = "$Junk";
    private const string NotJunkKeyword = "$NotJunk";

    private async Task ExpungeAsync(string tag, ExpungeCommand x)
    {
        SelectedMailbox sel = _selected!;
        if (sel.ReadOnly)
        {
            Tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        UidSet? set = null;
        if (x.UidSet is not null)
        {
            List<uint> uids = Resolve(x.UidSet, uid: true);
            if (uids.Count == 0)
            {
                await ProcessChangesAsync(allowExpunge: true).ConfigureAwait(false);
                Tagged(tag, "OK", "EXPUNGE completed");
                return;
            }
            set = UidSet.Of(uids);
        }
        ExpungeResult result = await _account!.ExpungeAsync(sel.Id, set).ConfigureAwait(false);
        var gone = result.Uids.ToList();
        await ProcessChangesAsync(allowExpunge: true).ConfigureAwait(false);
        WriteExpunges(sel, gone);
        Tagged(tag, "OK", "EXPUNGE completed");
    }

    private async Task IdleAsync(string tag)
    {
        // RFC 2177: "+" then updates as they happen until the client sends DONE.
        await ProcessChangesAsync(allowExpunge: true).ConfigureAwait(false);
        _w.Raw("+ idling").Crlf();
        await FlushAsync(default).ConfigureAwait(false);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_server.Stopping);
        cts.CancelAfter(_server.Options.AuthenticatedTimeout);
        Task<byte[]?> done = _reader.ReadRawLineAsync(64, cts.Token).AsTask();
        while (true)
        {
            Task<bool> changes = _feed!.WaitToReadAsync(cts.Token).AsTask();
            Task first = await Task.WhenAny(done, changes).ConfigureAwait(false);
            if (first == done)
                break;
            if (!await changes.ConfigureAwait(false))
                break;
            await ProcessChangesAsync(allowExpunge: true).ConfigureAwait(false);
            await FlushAsync(default).ConfigureAwait(false);
        }
        byte[]? line;
        try
        {
            line = await done.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _w.Raw(_server.Stopping.IsCancellationRequested ? "* BYE Server shutting down" : "* BYE Idle for too long").Crlf();
            _state = SessionState.Logout;
            return;
        }
        if (line is null || !System.Text.Ascii.EqualsIgnoreCase(line, "DONE"u8))
        {
            Tagged(tag, "BAD", "Expected DONE");
            return;
        }
        Tagged(tag, "OK", "IDLE terminated");
    }
}
