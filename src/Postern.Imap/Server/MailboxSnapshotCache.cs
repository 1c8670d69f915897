// Shares mailbox listings between sessions. A snapshot is filed under the mailbox's HIGHESTMODSEQ
// as read before and after the listing (equal reads mean nothing changed in between); every
// change to a mailbox's messages raises its HIGHESTMODSEQ, so a session that reads the same value
// later may use the snapshot instead of listing the mailbox again. A session that finds an older
// snapshot applies the changes since its HIGHESTMODSEQ to it instead (a few rows instead of the
// whole mailbox).
using System.Collections.Concurrent;

namespace Postern.Imap.Server;

/// <summary>Weakly held <see cref="MailboxSnapshot"/>s by account, mailbox and HIGHESTMODSEQ.</summary>
internal sealed class MailboxSnapshotCache
{
    private readonly ConcurrentDictionary<(string Account, long MailboxId), Entry> _entries = new();

    private sealed record Entry(long HighestModSeq, WeakReference<MailboxSnapshot> Snapshot);

    /// <summary>The snapshot of the mailbox at exactly <paramref name="highestModSeq"/>, if one is still alive.</summary>
    public MailboxSnapshot? TryGet(string account, long mailboxId, long highestModSeq)
    {
        if (_entries.TryGetValue((account, mailboxId), out Entry? e) && e.HighestModSeq == highestModSeq
            && e.Snapshot.TryGetTarget(out MailboxSnapshot? s))
            return s;
        return null;
    }

    /// <summary>The newest snapshot of the mailbox still alive, with the HIGHESTMODSEQ it is exact at.</summary>
    public (long HighestModSeq, MailboxSnapshot Snapshot)? TryGetLatest(string account, long mailboxId)
    {
        if (_entries.TryGetValue((account, mailboxId), out Entry? e) && e.Snapshot.TryGetTarget(out MailboxSnapshot? s))
            return (e.HighestModSeq, s);
        return null;
    }

    /// <summary>Files a snapshot listed while the mailbox's HIGHESTMODSEQ was <paramref name="highestModSeq"/>.</summary>
    public void Put(string account, long mailboxId, long highestModSeq, MailboxSnapshot snapshot)
    {
        _entries.AddOrUpdate((account, mailboxId), new Entry(highestModSeq, new WeakReference<MailboxSnapshot>(snapshot)),
            (key, old) => old.HighestModSeq > highestModSeq && old.Snapshot.TryGetTarget(out MailboxSnapshot? _) ? old : new Entry(highestModSeq, new WeakReference<MailboxSnapshot>(snapshot)));
        if (_entries.Count > 4096)
        {
            // Forget mailboxes no session holds any more.
            foreach (var (key, entry) in _entries)
            {
                if (!entry.Snapshot.TryGetTarget(out _))
                    _entries.TryRemove(new KeyValuePair<(string, long), Entry>(key, entry));
            }
        }
    }
}
