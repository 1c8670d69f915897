// The session's view of its selected mailbox: UIDs in sequence order plus the flags and MODSEQ
// the client was last told. Changes from the account's change feed are applied to it only at
// the points where RFC 9051 §7.5.1 allows untagged EXISTS/EXPUNGE/FETCH, so sequence numbers
// stay consistent for this client whatever other sessions do.
using Postern.Store;

namespace Postern.Imap.Server;

internal sealed class MessageView(SystemFlags flags, string[] keywords, long modSeq)
{
    public SystemFlags Flags { get; set; } = flags;
    public string[] Keywords { get; set; } = keywords;
    public long ModSeq { get; set; } = modSeq;
}

internal sealed class SelectedMailbox
{
    private readonly List<uint> _uids = [];
    private readonly Dictionary<uint, MessageView> _messages = [];

    public SelectedMailbox(MailboxInfo info, bool readOnly, IReadOnlyList<MessageRecord> records)
    {
        Id = info.Id;
        Name = info.Name;
        ReadOnly = readOnly;
        UidValidity = info.UidValidity;
        foreach (MessageRecord r in records)
            Add(r.Uid, r.Flags, r.Keywords, r.ModSeq);
    }

    public long Id { get; }
    public string Name { get; set; }
    public bool ReadOnly { get; }
    public uint UidValidity { get; }
    public HashSet<uint> Recent { get; } = [];

    /// <summary>Expunges seen in the feed while EXPUNGE responses were not allowed.</summary>
    public List<uint> PendingExpunges { get; } = [];

    /// <summary>Number of messages the client has been told about (last EXISTS).</summary>
    public int AnnouncedCount { get; set; }

    public int Count => _uids.Count;
    public uint MaxUid => _uids.Count == 0 ? 0 : _uids[^1];
    public IReadOnlyList<uint> Uids => _uids;

    public uint UidAt(int seq) => _uids[seq - 1];

    /// <summary>1-based sequence number of a UID, or 0.</summary>
    public int SeqOf(uint uid)
    {
        int i = _uids.BinarySearch(uid);
        return i < 0 ? 0 : i + 1;
    }

    public bool Contains(uint uid) => _messages.ContainsKey(uid);

    public MessageView? Get(uint uid) => _messages.GetValueOrDefault(uid);

    public void Add(uint uid, SystemFlags flags, string[] keywords, long modSeq)
    {
        _uids.Add(uid);
        _messages[uid] = new MessageView(flags, keywords, modSeq);
    }

    /// <summary>Removes a UID; returns the sequence number it had, or 0.</summary>
    public int Remove(uint uid)
    {
        int i = _uids.BinarySearch(uid);
        if (i < 0)
            return 0;
        _uids.RemoveAt(i);
        _messages.Remove(uid);
        Recent.Remove(uid);
        return i + 1;
    }

    public long HighestModSeq => _messages.Count == 0 ? 0 : _messages.Values.Max(m => m.ModSeq);
}
