// The session's view of its selected mailbox: UIDs in sequence order plus the flags and MODSEQ
// the client was last told. Changes from the account's change feed are applied to it only at
// the points where RFC 9051 §7.5.1 allows untagged EXISTS/EXPUNGE/FETCH, so sequence numbers
// stay consistent for this client whatever other sessions do.
using Postern.Store;

namespace Postern.Imap.Server;

/// <summary>Flags and MODSEQ of one message as this session last told its client.</summary>
internal readonly record struct MessageView(SystemFlags Flags, string[] Keywords, long ModSeq);

/// <summary>
/// The state of a mailbox as listed at one MODSEQ, immutable and shared by every session that selects the mailbox
/// while it is unchanged (<see cref="MailboxSnapshotCache"/>): 10,000 sessions idling on one mailbox hold one copy.
/// </summary>
internal sealed class MailboxSnapshot
{
    public MailboxSnapshot(IReadOnlyList<MessageState> messages)
    {
        Uids = new uint[messages.Count];
        Views = new MessageView[messages.Count];
        var keywords = new List<string>();
        var seenKeywordSets = new HashSet<string[]>(ReferenceEqualityComparer.Instance);
        uint previous = 0;
        for (int i = 0; i < messages.Count; i++)
        {
            MessageState m = messages[i];
            if (i > 0 && m.Uid <= previous)
                throw new InvalidOperationException("message states must be in ascending UID order");
            previous = m.Uid;
            Uids[i] = m.Uid;
            Views[i] = new MessageView(m.Flags, m.Keywords, m.ModSeq);
            HighestModSeq = Math.Max(HighestModSeq, m.ModSeq);
            if (FirstUnseen == 0 && (m.Flags & SystemFlags.Seen) == 0)
                FirstUnseen = i + 1;
            if (m.Keywords.Length > 0 && seenKeywordSets.Add(m.Keywords))
            {
                foreach (string k in m.Keywords)
                {
                    if (!keywords.Exists(x => string.Equals(x, k, StringComparison.OrdinalIgnoreCase)))
                        keywords.Add(k);
                }
            }
        }
        Keywords = keywords;
    }

    public uint[] Uids { get; }
    public MessageView[] Views { get; }
    public long HighestModSeq { get; }

    /// <summary>Sequence number of the first message without \Seen, or 0.</summary>
    public int FirstUnseen { get; }

    /// <summary>Keywords in use in the mailbox (for the FLAGS response), first spelling kept.</summary>
    public IReadOnlyList<string> Keywords { get; }

    /// <summary>Up to this many changes (or a quarter of the mailbox) a snapshot is updated rather than listed again.</summary>
    public const int MinIncrementalChanges = 1000;

    /// <summary>This snapshot with <paramref name="changes"/> applied: expunged UIDs removed, changed and new messages merged in UID order.</summary>
    public MailboxSnapshot Apply(MailboxChanges changes)
    {
        var expunged = new HashSet<uint>(changes.Expunged);
        IReadOnlyList<MessageRecord> changed = changes.Changed; // ascending UID
        var merged = new List<MessageState>(Uids.Length + changed.Count);
        int c = 0;
        for (int i = 0; i < Uids.Length; i++)
        {
            uint uid = Uids[i];
            for (; c < changed.Count && changed[c].Uid < uid; c++)
                Add(changed[c]);
            if (c < changed.Count && changed[c].Uid == uid)
            {
                Add(changed[c++]);
                continue;
            }
            if (!expunged.Contains(uid))
                merged.Add(new MessageState(uid, Views[i].ModSeq, Views[i].Flags, Views[i].Keywords));
        }
        for (; c < changed.Count; c++)
            Add(changed[c]);
        return new MailboxSnapshot(merged);

        void Add(MessageRecord r)
        {
            if (!expunged.Contains(r.Uid))
                merged.Add(new MessageState(r.Uid, r.ModSeq, r.Flags, r.Keywords));
        }
    }
}

/// <summary>
/// Kept as two parallel arrays sorted by UID (no per-message objects): 4 bytes of UID and 24 of view per
/// message. The arrays start as a shared <see cref="MailboxSnapshot"/> and are copied on the first change
/// this session applies, so SELECT of an unchanged mailbox copies nothing.
/// </summary>
internal sealed class SelectedMailbox
{
    private uint[] _uids;
    private MessageView[] _views;
    private int _count;
    private MailboxSnapshot? _shared;

    public SelectedMailbox(MailboxInfo info, bool readOnly, MailboxSnapshot snapshot)
    {
        Id = info.Id;
        Name = info.Name;
        ReadOnly = readOnly;
        UidValidity = info.UidValidity;
        _shared = snapshot;
        _uids = snapshot.Uids;
        _views = snapshot.Views;
        _count = snapshot.Uids.Length;
    }

    public SelectedMailbox(MailboxInfo info, bool readOnly, IReadOnlyList<MessageState> messages)
        : this(info, readOnly, new MailboxSnapshot(messages))
    {
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

    public int Count => _count;
    public uint MaxUid => _count == 0 ? 0 : _uids[_count - 1];
    public IEnumerable<uint> Uids => new ArraySegment<uint>(_uids, 0, _count);

    public uint UidAt(int seq) => _uids[seq - 1];

    /// <summary>1-based sequence number of a UID, or 0.</summary>
    public int SeqOf(uint uid)
    {
        int i = Array.BinarySearch(_uids, 0, _count, uid);
        return i < 0 ? 0 : i + 1;
    }

    public bool Contains(uint uid) => Array.BinarySearch(_uids, 0, _count, uid) >= 0;

    /// <summary>UID at a 0-based position.</summary>
    public uint UidAtIndex(int index) => _uids[index];

    /// <summary>View at a 0-based position.</summary>
    public MessageView ViewAtIndex(int index) => _views[index];

    /// <summary>First 0-based position whose UID is at least <paramref name="uid"/> (Count when none).</summary>
    public int LowerBound(uint uid)
    {
        int i = Array.BinarySearch(_uids, 0, _count, uid);
        return i >= 0 ? i : ~i;
    }

    /// <summary>
    /// Positions named by UID ranges that are sorted, merged and without <c>*</c>
    /// (<see cref="Protocol.SequenceSet.Normalize"/>): half-open [Start, End) ranges, ascending and disjoint.
    /// One binary search per range, so a set of many ranges on a large mailbox stays cheap.
    /// </summary>
    public List<(int Start, int End)> PositionsOfUids(List<(uint First, uint Last)> normalized)
    {
        var result = new List<(int, int)>(normalized.Count);
        foreach (var (first, last) in normalized)
        {
            int start = LowerBound(first);
            int end = last == uint.MaxValue ? _count : LowerBound(last + 1);
            if (end > start)
                result.Add((start, end));
        }
        return result;
    }

    public MessageView? Get(uint uid)
    {
        int i = Array.BinarySearch(_uids, 0, _count, uid);
        return i < 0 ? null : _views[i];
    }

    /// <summary>Sequence number of the first message without \Seen, or 0.</summary>
    public int FirstUnseen()
    {
        if (_shared is not null)
            return _shared.FirstUnseen;
        for (int i = 0; i < _count; i++)
        {
            if ((_views[i].Flags & SystemFlags.Seen) == 0)
                return i + 1;
        }
        return 0;
    }

    /// <summary>Replaces the view of a message this session knows; ignored for unknown UIDs.</summary>
    public void Set(uint uid, MessageView view)
    {
        int i = Array.BinarySearch(_uids, 0, _count, uid);
        if (i < 0)
            return;
        Own(0);
        _views[i] = view;
    }

    public void Add(uint uid, SystemFlags flags, string[] keywords, long modSeq)
    {
        var view = new MessageView(flags, keywords, modSeq);
        int i = _count == 0 || uid > _uids[_count - 1] ? ~_count : Array.BinarySearch(_uids, 0, _count, uid);
        if (i >= 0)
        {
            Own(0);
            _views[i] = view;
            return;
        }
        Own(1);
        i = ~i;
        Array.Copy(_uids, i, _uids, i + 1, _count - i);
        Array.Copy(_views, i, _views, i + 1, _count - i);
        _uids[i] = uid;
        _views[i] = view;
        _count++;
    }

    /// <summary>Removes a UID; returns the sequence number it had, or 0.</summary>
    public int Remove(uint uid)
    {
        int i = Array.BinarySearch(_uids, 0, _count, uid);
        if (i < 0)
            return 0;
        Own(0);
        Array.Copy(_uids, i + 1, _uids, i, _count - i - 1);
        Array.Copy(_views, i + 1, _views, i, _count - i - 1);
        _count--;
        _views[_count] = default;
        Recent.Remove(uid);
        return i + 1;
    }

    /// <summary>Makes the arrays this session's own (copying the shared snapshot) with room for <paramref name="extra"/> more.</summary>
    private void Own(int extra)
    {
        if (_shared is null && _count + extra <= _uids.Length)
            return;
        int capacity = Math.Max(_count + extra, _shared is null ? _uids.Length * 2 : _count + Math.Max(extra, 16));
        var uids = new uint[capacity];
        var views = new MessageView[capacity];
        Array.Copy(_uids, uids, _count);
        Array.Copy(_views, views, _count);
        _uids = uids;
        _views = views;
        _shared = null;
    }

    public long HighestModSeq
    {
        get
        {
            if (_shared is not null)
                return _shared.HighestModSeq;
            long max = 0;
            for (int i = 0; i < _count; i++)
                max = Math.Max(max, _views[i].ModSeq);
            return max;
        }
    }
}
