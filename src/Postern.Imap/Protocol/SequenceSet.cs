namespace Postern.Imap.Protocol;

/// <summary>
/// A sequence-set (RFC 9051 §9 "sequence-set"): ranges of message numbers or UIDs where
/// <c>*</c> is the largest number in use, or <c>$</c>, the saved search result (RFC 5182).
/// </summary>
public sealed class SequenceSet
{
    /// <summary>Marker for <c>*</c> in a range bound.</summary>
    public const uint Star = uint.MaxValue;

    /// <summary>Creates a set of ranges (bounds as written; <see cref="Star"/> for <c>*</c>).</summary>
    public SequenceSet(IReadOnlyList<(uint First, uint Last)> ranges) => Ranges = ranges;

    private SequenceSet() => Ranges = [];

    /// <summary>The <c>$</c> set (RFC 5182 SEARCHRES).</summary>
    public static SequenceSet SavedResult { get; } = new() { IsSavedResult = true };

    /// <summary>Ranges as written by the client.</summary>
    public IReadOnlyList<(uint First, uint Last)> Ranges { get; }

    /// <summary>True for <c>$</c>.</summary>
    public bool IsSavedResult { get; private init; }

    /// <summary>True when any bound is <c>*</c>.</summary>
    public bool UsesStar => Ranges.Any(r => r.First == Star || r.Last == Star);

    /// <summary>
    /// Whether <paramref name="value"/> is in the set, with <c>*</c> standing for <paramref name="max"/>.
    /// RFC 9051 §9: a range n:m includes both ends in either order.
    /// </summary>
    public bool Contains(uint value, uint max)
    {
        foreach (var (f, l) in Ranges)
        {
            uint a = f == Star ? max : f, b = l == Star ? max : l;
            if (a > b)
                (a, b) = (b, a);
            if (value >= a && value <= b)
                return true;
        }
        return false;
    }

    /// <summary>The ranges normalised (ordered bounds, * replaced by <paramref name="max"/>), sorted and merged.</summary>
    public List<(uint First, uint Last)> Normalize(uint max)
    {
        var list = new List<(uint, uint)>(Ranges.Count);
        foreach (var (f, l) in Ranges)
        {
            uint a = f == Star ? max : f, b = l == Star ? max : l;
            list.Add(a <= b ? (a, b) : (b, a));
        }
        list.Sort();
        var merged = new List<(uint First, uint Last)>(list.Count);
        foreach (var (a, b) in list)
        {
            if (merged.Count > 0 && (ulong)a <= (ulong)merged[^1].Last + 1)
                merged[^1] = (merged[^1].First, Math.Max(merged[^1].Last, b));
            else
                merged.Add((a, b));
        }
        return merged;
    }

    /// <summary>Formats sorted numbers compactly ("1:3,7,9:10"); empty input gives "".</summary>
    public static string Format(IEnumerable<uint> sortedValues)
    {
        var sb = new System.Text.StringBuilder();
        uint start = 0, prev = 0;
        bool any = false;
        foreach (uint v in sortedValues)
        {
            if (any && v == prev + 1)
            {
                prev = v;
                continue;
            }
            if (any)
                Append(sb, start, prev);
            start = prev = v;
            any = true;
        }
        if (any)
            Append(sb, start, prev);
        return sb.ToString();

        static void Append(System.Text.StringBuilder sb, uint a, uint b)
        {
            if (sb.Length > 0)
                sb.Append(',');
            sb.Append(a.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (b != a)
                sb.Append(':').Append(b.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        if (IsSavedResult)
            return "$";
        return string.Join(',', Ranges.Select(r => r.First == r.Last ? N(r.First) : N(r.First) + ":" + N(r.Last)));
        static string N(uint v) => v == Star ? "*" : v.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
