// The session's view of its selected mailbox: UIDs in sequence order plus the flags and MODSEQ
// the client was last told. Changes from the account's change feed are applied to it only at
// the points where RFC 9051 §7.5.1 allows untagged EXISTS/EXPUNGE/FETCH, so sequence numbers
// stay consistent for this client whatever other sessions do.
using Postern.Store;

namespace Postern.Imap.Server;

/// <summary>Flags and MODSEQ of one message as this session last told its client.</summary>
internal readonly record struct MessageView(SystemFlags Flags, string[] Keywords, long ModSeq);

/// <summary>
/// Kept as two parallel arrays sorted by UID (no per-message objects): 4 bytes of UID and 24 of
/// view per message, so a 100,000-message mailbox costs a session under 3 MB and SELECT is a copy.
/// </summary>
internal sealed class SelectedMailbox
{
    private readonly List<uint> _uids;
    private readonly List<MessageView> _views;

    public SelectedMailbox(MailboxInfo info, bool readOnly, IReadOnlyList<MessageState> messages)
    {
        Id = info.Id;
        Name = info.Name;
        ReadOnly = readOnly;
        UidValidity = info.UidValidity;
        _uids = new List<uint>(messages.Count);
        _views = new List<MessageView>(messages.Count);
        foreach (MessageState m in messages)
            Add(m.Uid, m.Flags, m.Keywords, m.ModSeq);
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

    public bool Contains(uint uid) => _uids.BinarySearch(uid) >= 0;

    public MessageView? Get(uint uid)
    {
        int i = _uids.BinarySearch(uid);
        return i < 0 ? null : _views[i];
    }

    /// <summary>Replaces the view of a message this session knows; ignored for unknown UIDs.</summary>
    public void Set(uint uid, MessageView view)
    {
        int i = _uids.BinarySearch(uid);
        if (i >= 0)
            _views[i] = view;
    }

    public void Add(uint uid, SystemFlags flags, string[] keywords, long modSeq)
    {
        var view = new MessageView(flags, keywords, modSeq);
        if (_uids.Count == 0 || uid > _uids[^1])
        {
            _uids.Add(uid);
            _views.Add(view);
            return;
        }
        int i = _uids.BinarySearch(uid);
        if (i >= 0)
        {
            _views[i] = view;
            return;
        }
        _uids.Insert(~i, uid);
        _views.Insert(~i, view);
    }

    /// <summary>Removes a UID; returns the sequence number it had, or 0.</summary>
    public int Remove(uint uid)
    {
        int i = _uids.BinarySearch(uid);
        if (i < 0)
            return 0;
        _uids.RemoveAt(i);
        _views.RemoveAt(i);
        Recent.Remove(uid);
        return i + 1;
    }

    public long HighestModSeq
    {
        get
        {
            long max = 0;
            foreach (MessageView v in _views)
                max = Math.Max(max, v.ModSeq);
            return max;
        }
    }
}
