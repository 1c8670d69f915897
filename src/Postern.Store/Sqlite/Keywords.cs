namespace Postern.Store.Sqlite;

/// <summary>Keywords are stored as one space-separated column: they are IMAP atoms and cannot contain spaces (RFC 9051 §9 flag-keyword).</summary>
internal static class Keywords
{
    /// <summary>Longest keyword accepted.</summary>
    public const int MaxKeywordLength = 250;

    /// <summary>Most keywords on one message.</summary>
    public const int MaxKeywordsPerMessage = 500;

    public static readonly string[] None = [];

    public static string[] Parse(string stored) => stored.Length == 0 ? None : stored.Split(' ');

    public static string Format(IReadOnlyCollection<string> keywords) => keywords.Count == 0 ? "" : string.Join(' ', keywords);

    public static void Validate(IReadOnlyList<string> keywords)
    {
        if (keywords.Count > MaxKeywordsPerMessage) throw new StoreException($"too many keywords (limit {MaxKeywordsPerMessage})");
        foreach (var k in keywords)
        {
            if (k.Length == 0 || k.Length > MaxKeywordLength) throw new StoreException("invalid keyword length");
            foreach (char c in k)
            {
                // RFC 9051 §9: atom-specials and "\" are not allowed in a flag-keyword.
                if (c <= ' ' || c >= 0x7f || c is '(' or ')' or '{' or '%' or '*' or '"' or '\\' or ']')
                    throw new StoreException($"invalid keyword {k}");
            }
        }
    }

    /// <summary>Applies a change; keywords compare case-insensitively and keep their first spelling.</summary>
    public static (SystemFlags Flags, string[] Keywords) Apply(SystemFlags flags, string[] current, FlagChange change)
    {
        switch (change.Operation)
        {
            case FlagOperation.Add:
            {
                var list = new List<string>(current);
                foreach (var k in change.Keywords)
                {
                    if (!list.Exists(x => string.Equals(x, k, StringComparison.OrdinalIgnoreCase))) list.Add(k);
                }
                return (flags | change.Flags, list.Count == current.Length ? current : [.. list]);
            }
            case FlagOperation.Remove:
            {
                var list = current.Where(x => !change.Keywords.Any(k => string.Equals(x, k, StringComparison.OrdinalIgnoreCase))).ToArray();
                return (flags & ~change.Flags, list.Length == current.Length ? current : list);
            }
            default:
                return (change.Flags, Distinct(change.Keywords));
        }
    }

    public static string[] Distinct(IReadOnlyList<string> keywords)
    {
        if (keywords.Count == 0) return None;
        var list = new List<string>(keywords.Count);
        foreach (var k in keywords)
        {
            if (!list.Exists(x => string.Equals(x, k, StringComparison.OrdinalIgnoreCase))) list.Add(k);
        }
        return [.. list];
    }

    public static bool SameSet(string[] a, string[] b) =>
        a.Length == b.Length && a.All(x => b.Any(y => string.Equals(x, y, StringComparison.OrdinalIgnoreCase)));
}
