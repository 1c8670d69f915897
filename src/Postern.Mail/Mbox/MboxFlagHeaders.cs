using System.Globalization;
using System.Text;

namespace Postern.Mail.Mbox;

/// <summary>
/// The header fields mail programs use to keep IMAP flags inside an mbox file, and the block
/// Postern writes on export.
/// </summary>
/// <remarks>
/// Foreign files carry flags in <c>Status</c> (R = seen), <c>X-Status</c> (A = answered,
/// F = flagged, T = draft, D = deleted), <c>X-Keywords</c>, and Mozilla's
/// <c>X-Mozilla-Status</c>/<c>X-Mozilla-Keys</c>. Those fields are part of the message as the
/// file holds it, so they are read but kept.
/// <para>
/// On export Postern puts exactly four lines at the very top of each message:
/// <c>X-Postern-Mbox: v1</c> (with <c>no-final-newline</c> when the message does not end in a
/// line break), <c>Status:</c>, <c>X-Status:</c> and <c>X-Keywords:</c>. Other mail programs
/// read the flags from them; on import Postern removes the block only when the message's first
/// four lines are exactly that shape, takes the flags from it, and ignores any older flag fields
/// further down. Because the block is always added on top of the stored bytes and exactly one
/// block is removed, a message that itself begins with such a block survives the round trip.
/// </para>
/// </remarks>
public static class MboxFlagHeaders
{
    /// <summary>Name of the first line of the block Postern writes.</summary>
    public const string MarkerFieldName = "X-Postern-Mbox";

    /// <summary>Longest keyword kept; longer ones are dropped.</summary>
    public const int MaxKeywordLength = 250;

    /// <summary>Most keywords kept per message; further ones are dropped.</summary>
    public const int MaxKeywordsPerMessage = 100;

    internal const string MarkerVersion = "v1";
    internal const string NoFinalNewlineToken = "no-final-newline";

    /// <summary>Formats the block written at the top of an exported message, with "\n" line endings.</summary>
    /// <param name="flags">IMAP flags: system flags (<c>\Seen</c>, <c>\Answered</c>, <c>\Flagged</c>, <c>\Deleted</c>, <c>\Draft</c>) and keywords; others are left out.</param>
    /// <param name="endsWithNewline">Whether the message bytes end in a line break.</param>
    public static string FormatBlock(IEnumerable<string> flags, bool endsWithNewline)
    {
        bool seen = false;
        var status = new StringBuilder();
        var keywords = new List<string>();
        foreach (var flag in flags)
        {
            switch (flag.ToUpperInvariant())
            {
                case "\\SEEN": seen = true; break;
                case "\\ANSWERED": Append(status, 'A'); break;
                case "\\FLAGGED": Append(status, 'F'); break;
                case "\\DRAFT": Append(status, 'T'); break;
                case "\\DELETED": Append(status, 'D'); break;
                default:
                    if (IsKeyword(flag) && !keywords.Contains(flag, StringComparer.OrdinalIgnoreCase))
                        keywords.Add(flag);
                    break;
            }
        }
        var sb = new StringBuilder();
        sb.Append(MarkerFieldName).Append(": ").Append(MarkerVersion);
        if (!endsWithNewline)
            sb.Append(' ').Append(NoFinalNewlineToken);
        sb.Append('\n');
        // Status "O" (old) as mutt and Dovecot write it: the message is not new to the reader.
        sb.Append("Status: ").Append(seen ? "RO" : "O").Append('\n');
        sb.Append("X-Status:").Append(status.Length > 0 ? " " + status : "").Append('\n');
        sb.Append("X-Keywords:");
        foreach (var k in keywords)
            sb.Append(' ').Append(k);
        sb.Append('\n');
        return sb.ToString();

        static void Append(StringBuilder sb, char c)
        {
            if (sb.ToString().IndexOf(c, StringComparison.Ordinal) < 0)
                sb.Append(c);
        }
    }

    /// <summary>True when <paramref name="flag"/> is a valid IMAP keyword (RFC 9051 §9 flag-keyword = atom).</summary>
    public static bool IsKeyword(string flag)
    {
        if (flag.Length == 0 || flag.Length > MaxKeywordLength)
            return false;
        foreach (char c in flag)
        {
            // RFC 9051 §9: ATOM-CHAR is any CHAR except atom-specials: ( ) { SP CTL % * " \ ]
            if (c <= 0x20 || c >= 0x7f || c is '(' or ')' or '{' or '%' or '*' or '"' or '\\' or ']')
                return false;
        }
        return true;
    }

    /// <summary>Adds the flags a foreign flag field carries to <paramref name="flags"/>.</summary>
    /// <param name="name">Field name, any case.</param>
    /// <param name="value">Unfolded field value.</param>
    /// <param name="flags">The set being built.</param>
    /// <returns>True when the field is one of the flag fields.</returns>
    internal static bool AddFromField(string name, string value, FlagSetBuilder flags)
    {
        if (name.Equals("Status", StringComparison.OrdinalIgnoreCase))
        {
            if (value.Contains('R', StringComparison.Ordinal))
                flags.Add("\\Seen");
            return true;
        }
        if (name.Equals("X-Status", StringComparison.OrdinalIgnoreCase))
        {
            foreach (char c in value)
            {
                switch (c)
                {
                    case 'A': flags.Add("\\Answered"); break;
                    case 'F': flags.Add("\\Flagged"); break;
                    case 'T': flags.Add("\\Draft"); break;
                    case 'D': flags.Add("\\Deleted"); break;
                }
            }
            return true;
        }
        if (name.Equals("X-Keywords", StringComparison.OrdinalIgnoreCase) || name.Equals("X-Mozilla-Keys", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var k in value.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries))
            {
                if (IsKeyword(k))
                    flags.Add(k);
            }
            return true;
        }
        if (name.Equals("X-Mozilla-Status", StringComparison.OrdinalIgnoreCase))
        {
            // Mozilla's message flags, four hex digits: 1 read, 2 replied, 4 marked, 8 expunged.
            if (int.TryParse(value.Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int bits))
            {
                if ((bits & 1) != 0) flags.Add("\\Seen");
                if ((bits & 2) != 0) flags.Add("\\Answered");
                if ((bits & 4) != 0) flags.Add("\\Flagged");
                if ((bits & 8) != 0) flags.Add("\\Deleted");
            }
            return true;
        }
        return false;
    }
}

/// <summary>An ordered set of IMAP flags, case-insensitive, bounded by <see cref="MboxFlagHeaders.MaxKeywordsPerMessage"/>.</summary>
internal sealed class FlagSetBuilder
{
    private readonly List<string> _flags = [];

    public int Count => _flags.Count;

    public void Add(string flag)
    {
        if (_flags.Count >= MboxFlagHeaders.MaxKeywordsPerMessage + 5)
            return;
        foreach (var f in _flags)
        {
            // RFC 9051 §2.3.2: flag names are case-insensitive.
            if (string.Equals(f, flag, StringComparison.OrdinalIgnoreCase))
                return;
        }
        _flags.Add(flag);
    }

    public void Clear() => _flags.Clear();

    public IReadOnlyList<string> ToList()
    {
        // System flags first, then keywords, each in the order found.
        var list = new List<string>(_flags.Count);
        list.AddRange(_flags.Where(f => f.StartsWith('\\')));
        list.AddRange(_flags.Where(f => !f.StartsWith('\\')));
        return list;
    }
}
