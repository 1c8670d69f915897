namespace Postern.Store;

/// <summary>An inclusive range of UIDs.</summary>
/// <param name="First">First UID (≥ 1).</param>
/// <param name="Last">Last UID (≥ First).</param>
public readonly record struct UidRange(uint First, uint Last)
{
    /// <summary>Whether the range holds <paramref name="uid"/>.</summary>
    public bool Contains(uint uid) => uid >= First && uid <= Last;
}

/// <summary>A set of UIDs as sorted, merged ranges. The IMAP layer resolves "*" before building one.</summary>
public sealed class UidSet
{
    private readonly UidRange[] _ranges;

    /// <summary>Every UID (1:4294967295).</summary>
    public static UidSet All { get; } = new([new UidRange(1, uint.MaxValue)]);

    /// <summary>Builds a set from ranges in any order; overlapping or adjacent ranges are merged.</summary>
    public UidSet(IEnumerable<UidRange> ranges)
    {
        var sorted = ranges.Select(r => r.First <= r.Last ? r : new UidRange(r.Last, r.First)).OrderBy(r => r.First).ToList();
        var merged = new List<UidRange>(sorted.Count);
        foreach (var r in sorted)
        {
            if (merged.Count > 0 && (ulong)merged[^1].Last + 1 >= r.First)
            {
                var last = merged[^1];
                merged[^1] = new UidRange(last.First, Math.Max(last.Last, r.Last));
            }
            else
            {
                merged.Add(r);
            }
        }
        _ranges = [.. merged];
    }

    /// <summary>A set of the given UIDs.</summary>
    public static UidSet Of(params IEnumerable<uint> uids) => new(uids.Select(u => new UidRange(u, u)));

    /// <summary>A single range.</summary>
    public static UidSet Range(uint first, uint last) => new([new UidRange(first, last)]);

    /// <summary>The merged ranges, ascending.</summary>
    public IReadOnlyList<UidRange> Ranges => _ranges;

    /// <summary>Whether the set holds <paramref name="uid"/>.</summary>
    public bool Contains(uint uid)
    {
        int lo = 0, hi = _ranges.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var r = _ranges[mid];
            if (uid < r.First) hi = mid - 1;
            else if (uid > r.Last) lo = mid + 1;
            else return true;
        }
        return false;
    }

    /// <inheritdoc/>
    public override string ToString() => string.Join(',', _ranges.Select(r => r.First == r.Last ? r.First.ToString(System.Globalization.CultureInfo.InvariantCulture) : FormattableString.Invariant($"{r.First}:{r.Last}")));
}
