using System.Text;

namespace Postern.Mail;

/// <summary>
/// One header field as it appears in the raw message: its name and its raw value bytes
/// (after the colon, folding line breaks kept). Decoding happens on demand.
/// </summary>
public sealed class HeaderField
{
    /// <summary>Creates a field from its name and raw value bytes.</summary>
    public HeaderField(string name, ReadOnlyMemory<byte> rawValue)
    {
        Name = name;
        RawValue = rawValue;
    }

    /// <summary>The field name as written (compare case-insensitively).</summary>
    public string Name { get; }

    /// <summary>The raw value bytes after the colon, including folding CRLFs, without the final line ending.</summary>
    public ReadOnlyMemory<byte> RawValue { get; }

    /// <summary>
    /// The value unfolded (RFC 5322 §2.2.3: CRLF followed by WSP is removed), leading and
    /// trailing whitespace trimmed, bytes read as UTF-8 (RFC 6532) or windows-1252 when not UTF-8.
    /// Encoded words are left as they are.
    /// </summary>
    public string Value => Unfold(RawValue.Span);

    /// <summary>The unfolded value with RFC 2047 encoded words decoded: for unstructured fields such as Subject.</summary>
    public string DecodedValue => EncodedWords.DecodeUnstructured(Value);

    /// <inheritdoc/>
    public override string ToString() => Name + ": " + Value;

    /// <summary>Unfolds a raw header value: line breaks (CRLF, bare LF, bare CR) are removed, NULs dropped.</summary>
    public static string Unfold(ReadOnlySpan<byte> raw)
    {
        raw = TrimWsp(raw);
        if (raw.IndexOfAny((byte)'\r', (byte)'\n', (byte)0) < 0) return Charsets.DecodeUtf8OrLatin(raw);
        var buf = raw.Length <= 1024 ? stackalloc byte[raw.Length] : new byte[raw.Length];
        int n = 0;
        foreach (byte b in raw)
        {
            if (b is (byte)'\r' or (byte)'\n' or 0) continue;
            buf[n++] = b;
        }
        return Charsets.DecodeUtf8OrLatin(TrimWsp(buf[..n]));
    }

    internal static ReadOnlySpan<byte> TrimWsp(ReadOnlySpan<byte> s)
    {
        int a = 0, b = s.Length;
        while (a < b && IsWspOrEol(s[a])) a++;
        while (b > a && IsWspOrEol(s[b - 1])) b--;
        return s[a..b];
    }

    private static bool IsWspOrEol(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';
}

/// <summary>
/// The fields of one header block, in order, with case-insensitive lookup by name.
/// </summary>
public sealed class HeaderList : IReadOnlyList<HeaderField>
{
    private readonly List<HeaderField> _fields;

    internal HeaderList(List<HeaderField> fields) => _fields = fields;

    /// <summary>An empty list.</summary>
    public static HeaderList Empty { get; } = new([]);

    /// <inheritdoc/>
    public int Count => _fields.Count;

    /// <inheritdoc/>
    public HeaderField this[int index] => _fields[index];

    /// <summary>The first field with this name, or null.</summary>
    public HeaderField? Get(string name)
    {
        foreach (var f in _fields)
            if (string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase)) return f;
        return null;
    }

    /// <summary>All fields with this name, in order.</summary>
    public IEnumerable<HeaderField> GetAll(string name)
    {
        foreach (var f in _fields)
            if (string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase)) yield return f;
    }

    /// <summary>The unfolded value of the first field with this name, or null.</summary>
    public string? GetValue(string name) => Get(name)?.Value;

    /// <summary>The unfolded, RFC 2047-decoded value of the first field with this name, or null.</summary>
    public string? GetDecoded(string name) => Get(name)?.DecodedValue;

    /// <inheritdoc/>
    public IEnumerator<HeaderField> GetEnumerator() => _fields.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// Parses a header block (the bytes up to, optionally including, the empty line).
    /// Obsolete syntax is accepted (RFC 5322 §4.5: whitespace before the colon); a line that is
    /// neither a field nor a continuation ends the block. Never throws.
    /// </summary>
    public static HeaderList Parse(ReadOnlySpan<byte> block, int maxFields = 2000) =>
        Parse(new ReadOnlyMemory<byte>(block.ToArray()), maxFields);

    /// <summary>Parses a header block held in memory; field values reference <paramref name="block"/>.</summary>
    public static HeaderList Parse(ReadOnlyMemory<byte> block, int maxFields = 2000)
    {
        var fields = new List<HeaderField>();
        var span = block.Span;
        int pos = 0;
        // A mbox "From " line at the very start is not a field (RFC 4155); skip it.
        if (span.StartsWith("From "u8))
        {
            int nl = span.IndexOf((byte)'\n');
            pos = nl < 0 ? span.Length : nl + 1;
        }
        while (pos < span.Length && fields.Count < maxFields)
        {
            int lineEnd = NextLineEnd(span, pos, out int next);
            var line = span[pos..lineEnd];
            if (line.Length == 0) break; // empty line ends the header section
            if (line[0] is (byte)' ' or (byte)'\t')
            {
                // A continuation with no preceding field (RFC 5322 §2.2.3 needs a field first): skip it.
                pos = next;
                continue;
            }
            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsFieldName(TrimEndWsp(line[..colon]))) break;
            // The field value runs over continuation lines (RFC 5322 §2.2.3).
            int valueStart = pos + colon + 1;
            int end = lineEnd;
            int p = next;
            while (p < span.Length && span[p] is (byte)' ' or (byte)'\t')
            {
                end = NextLineEnd(span, p, out int n2);
                p = n2;
            }
            string name = Encoding.ASCII.GetString(TrimEndWsp(line[..colon]));
            fields.Add(new HeaderField(name, block[valueStart..end]));
            pos = p;
        }
        return new HeaderList(fields);
    }

    internal static bool IsFieldName(ReadOnlySpan<byte> name)
    {
        if (name.Length == 0) return false;
        // RFC 5322 §3.6.8: ftext is %d33-57 / %d59-126.
        foreach (byte b in name)
            if (b < 33 || b > 126 || b == (byte)':') return false;
        return true;
    }

    private static ReadOnlySpan<byte> TrimEndWsp(ReadOnlySpan<byte> s)
    {
        int b = s.Length;
        while (b > 0 && s[b - 1] is (byte)' ' or (byte)'\t') b--;
        return s[..b];
    }

    // Line content end (before CRLF/LF); next = start of the following line.
    private static int NextLineEnd(ReadOnlySpan<byte> span, int pos, out int next)
    {
        int nl = span[pos..].IndexOf((byte)'\n');
        if (nl < 0)
        {
            next = span.Length;
            int e = span.Length;
            if (e > pos && span[e - 1] == (byte)'\r') e--;
            return e;
        }
        int lf = pos + nl;
        next = lf + 1;
        return lf > pos && span[lf - 1] == (byte)'\r' ? lf - 1 : lf;
    }
}
