// REPLACE and UID REPLACE (RFC 8508): append a new version of a message and expunge the old one,
// atomically (one store transaction), as draft-saving clients want.
using Postern.Imap.Protocol;
using Postern.Store;

namespace Postern.Imap.Server;

internal sealed partial class ImapSession
{
    private async Task ReplaceAsync(string tag, ReplaceCommand r)
    {
        SelectedMailbox sel = _selected!;
        if (sel.ReadOnly)
        {
            // RFC 8508 §3.3: a read-only mailbox cannot have messages expunged.
            Tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
            return;
        }
        uint oldUid;
        if (r.Uid)
        {
            if (!sel.Contains(r.Target))
            {
                Tagged(tag, "NO", "[NONEXISTENT] No message with that UID to replace");
                return;
            }
            oldUid = r.Target;
        }
        else
        {
            // RFC 9051 §9: a message sequence number beyond the mailbox is an error.
            if (r.Target > (uint)sel.AnnouncedCount)
                throw new ImapParseException("Message sequence number out of range");
            oldUid = sel.UidAt((int)r.Target);
        }
        MailboxInfo? dest = await _account!.GetMailboxAsync(r.Mailbox).ConfigureAwait(false);
        if (dest is null || !dest.Selectable)
        {
            // RFC 8508 §3.3: as for APPEND, TRYCREATE, and the old message stays.
            Tagged(tag, "NO", "[TRYCREATE] No such mailbox");
            return;
        }
        var temps = new List<TempMessageFile>();
        ReplaceResult result;
        try
        {
            NewMessage message = await PrepareMessageAsync(r.Message, temps).ConfigureAwait(false);
            result = await _account.ReplaceAsync(sel.Id, oldUid, dest.Id, message).ConfigureAwait(false);
        }
        catch (MessageNotFoundException)
        {
            // Expunged by another session meanwhile; its EXPUNGE comes with the next update.
            Tagged(tag, "NO", "[EXPUNGEISSUED] The message to replace was expunged");
            return;
        }
        finally
        {
            foreach (TempMessageFile t in temps)
                await t.DisposeAsync().ConfigureAwait(false);
        }
        // RFC 8508 §3.3: APPENDUID in an untagged OK, then the EXISTS/EXPUNGE (or VANISHED) updates, then the tagged OK.
        AppendResult appended = result.Appended;
        _w.Raw("* OK [APPENDUID ").Number(appended.UidValidity).Sp().Raw(SequenceSet.Format(appended.Uids))
            .Raw("] Replacement Message ready").Crlf();
        sel.PendingExpunges.Add(oldUid);
        await ProcessChangesAsync(allowExpunge: true).ConfigureAwait(false);
        Tagged(tag, "OK", "REPLACE completed");
    }
}
