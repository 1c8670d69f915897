using System.Globalization;
using System.Text;

namespace Postern.Dns;

/// <summary>
/// Domain name helpers: normalisation of user-supplied names (IDNA to A-labels, lower case,
/// no trailing dot) and comparison. Names are carried as presentation-format strings
/// without the trailing dot ("mail.example.com"); the root is ".".
/// </summary>
/// <remarks>Bytes outside printable ASCII and the characters '.' and '\' inside a label are
/// written as RFC 1035 §5.1 escapes (<c>\DDD</c>, <c>\.</c>), so every wire name has one string form.</remarks>
public static class DnsName
{
    /// <summary>Longest name in wire form, including the root label (RFC 1035 §2.3.4).</summary>
    public const int MaxWireLength = 255;

    /// <summary>Longest label (RFC 1035 §2.3.4).</summary>
    public const int MaxLabelLength = 63;

    /// <summary>The root name.</summary>
    public const string Root = ".";

    private static readonly IdnMapping Idn = new() { AllowUnassigned = false, UseStd3AsciiRules = false };

    /// <summary>
    /// Turns a user-supplied name into its lookup form: Unicode labels become A-labels
    /// (IDNA, RFC 5891), ASCII is lower-cased, a trailing dot is removed.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty, has an empty label, a label
    /// longer than 63 octets, is longer than 255 octets in wire form, or fails IDNA.</exception>
    public static string Normalize(string name)
    {
        if (!TryNormalize(name, out string? normalized, out string? error))
            throw new ArgumentException(error, nameof(name));
        return normalized;
    }

    /// <summary>Like <see cref="Normalize"/>, returning an error message instead of throwing.</summary>
    public static bool TryNormalize(string? name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? normalized, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        normalized = null;
        if (string.IsNullOrEmpty(name)) { error = "empty domain name"; return false; }
        if (name == Root) { normalized = Root; error = null; return true; }
        string ascii = name;
        if (!IsAscii(name))
        {
            try
            {
                // RFC 5891 §4: the lookup uses A-labels. IdnMapping also maps the
                // ideographic full stops (U+3002 etc.) to '.'.
                ascii = Idn.GetAscii(name.EndsWith('.') ? name[..^1] : name);
            }
            catch (ArgumentException e)
            {
                error = $"invalid internationalized domain name: {e.Message}";
                return false;
            }
        }
        if (ascii.EndsWith('.')) ascii = ascii[..^1];
        if (ascii.Length == 0 || ascii == ".") { error = "empty domain name"; return false; }
        Span<byte> wire = stackalloc byte[MaxWireLength];
        if (!TryEncode(ascii, wire, out int length, out error)) return false;
        if (IsCanonical(ascii))
        {
            normalized = ascii;
            return true;
        }
        // One spelling per name: lower case (RFC 4343) and the reader's escaping of the wire form.
        for (int i = 0; i < length; i++)
            if (wire[i] is >= (byte)'A' and <= (byte)'Z') wire[i] += 32;
        normalized = Wire.DnsMessageReader.Present(wire[..(length - 1)]);
        return true;
    }

    /// <summary>Compares two names as DNS does: ASCII case-insensitive, trailing dot ignored (RFC 4343).</summary>
    public static bool Equals(string? a, string? b)
    {
        if (a is null || b is null) return a is null && b is null;
        ReadOnlySpan<char> x = Trim(a), y = Trim(b);
        return x.Equals(y, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether <paramref name="name"/> equals <paramref name="zone"/> or is below it.</summary>
    public static bool IsSubdomainOf(string name, string zone)
    {
        ReadOnlySpan<char> n = Trim(name), z = Trim(zone);
        if (z.Length == 0 || zone == Root) return true;
        if (!n.EndsWith(z, StringComparison.OrdinalIgnoreCase)) return false;
        return n.Length == z.Length || n[n.Length - z.Length - 1] == '.';
    }

    /// <summary>The reverse-lookup name for an address (RFC 1035 §3.5, RFC 3596 §2.5).</summary>
    public static string ReverseName(System.Net.IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        byte[] b = address.GetAddressBytes();
        var sb = new StringBuilder(80);
        if (b.Length == 4)
        {
            for (int i = 3; i >= 0; i--) sb.Append(b[i].ToString(CultureInfo.InvariantCulture)).Append('.');
            return sb.Append("in-addr.arpa").ToString();
        }
        const string hex = "0123456789abcdef";
        for (int i = b.Length - 1; i >= 0; i--)
            sb.Append(hex[b[i] & 0xF]).Append('.').Append(hex[b[i] >> 4]).Append('.');
        return sb.Append("ip6.arpa").ToString();
    }

    /// <summary>Converts a presentation-format name into wire format (uncompressed).</summary>
    internal static bool TryEncode(string name, Span<byte> destination, out int written, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        written = 0;
        error = null;
        if (name == Root || name.Length == 0)
        {
            if (destination.Length < 1) { error = "buffer too small"; return false; }
            destination[0] = 0; written = 1; return true;
        }
        int pos = 0;
        int labelStart = 0;
        int i = 0;
        ReadOnlySpan<char> s = name.EndsWith('.') && !name.EndsWith("\\.", StringComparison.Ordinal) ? name.AsSpan(0, name.Length - 1) : name.AsSpan();
        if (s.Length == 0) { error = "empty domain name"; return false; }
        // Reserve the length octet of the first label.
        if (destination.Length < 1) { error = "name too long"; return false; }
        pos = 1;
        while (true)
        {
            if (i == s.Length || s[i] == '.')
            {
                int len = pos - labelStart - 1;
                if (len == 0) { error = "empty label in domain name"; return false; }
                if (len > MaxLabelLength) { error = "label longer than 63 octets"; return false; } // RFC 1035 §2.3.4
                destination[labelStart] = (byte)len;
                if (i == s.Length) break;
                i++;
                if (i == s.Length) { error = "empty label in domain name"; return false; }
                labelStart = pos;
                if (pos >= MaxWireLength - 1) { error = "domain name longer than 255 octets"; return false; }
                pos++;
                continue;
            }
            byte value;
            char c = s[i];
            if (c == '\\')
            {
                // RFC 1035 §5.1: \X is X literally, \DDD is a decimal octet.
                if (i + 1 >= s.Length) { error = "dangling escape in domain name"; return false; }
                if (char.IsAsciiDigit(s[i + 1]))
                {
                    if (i + 3 >= s.Length) { error = "short \\DDD escape in domain name"; return false; }
                    if (!char.IsAsciiDigit(s[i + 2]) || !char.IsAsciiDigit(s[i + 3])) { error = "bad \\DDD escape in domain name"; return false; }
                    int v = (s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 + (s[i + 3] - '0');
                    if (v > 255) { error = "bad \\DDD escape in domain name"; return false; }
                    value = (byte)v;
                    i += 4;
                }
                else
                {
                    if (s[i + 1] > 0x7F) { error = "non-ASCII character in domain name"; return false; }
                    value = (byte)s[i + 1];
                    i += 2;
                }
            }
            else
            {
                if (c > 0x7F) { error = "non-ASCII character in domain name"; return false; }
                // RFC 1035 §5.1: outside quotes, spaces and control characters must be escaped.
                if (c <= 0x20 || c == 0x7F) { error = "space or control character in domain name"; return false; }
                value = (byte)c;
                i++;
            }
            if (pos >= MaxWireLength - 1) { error = "domain name longer than 255 octets"; return false; }
            destination[pos++] = value;
        }
        destination[pos++] = 0;
        written = pos;
        return true;
    }

    /// <summary>Appends one wire label in presentation format, escaping as RFC 1035 §5.1 requires.</summary>
    internal static void AppendLabel(StringBuilder sb, ReadOnlySpan<byte> label)
    {
        foreach (byte b in label)
        {
            if (b is (byte)'.' or (byte)'\\' or (byte)'"' or (byte)'(' or (byte)')' or (byte)';' or (byte)'@' or (byte)'$')
                sb.Append('\\').Append((char)b);
            else if (b is > 0x20 and < 0x7F)
                sb.Append((char)b);
            else
                sb.Append('\\').Append((b / 100).ToString(CultureInfo.InvariantCulture)).Append((b / 10 % 10).ToString(CultureInfo.InvariantCulture)).Append((b % 10).ToString(CultureInfo.InvariantCulture));
        }
    }

    private static ReadOnlySpan<char> Trim(string s) =>
        s == Root ? ReadOnlySpan<char>.Empty : s.EndsWith('.') && !s.EndsWith("\\.", StringComparison.Ordinal) ? s.AsSpan(0, s.Length - 1) : s.AsSpan();

    /// <summary>Fast path: lower-case host-name characters only, already the canonical spelling.</summary>
    private static bool IsCanonical(string s)
    {
        foreach (char c in s)
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.' or '*' or '/')) return false;
        return true;
    }

    private static bool IsAscii(string s)
    {
        foreach (char c in s) if (c > 0x7F) return false;
        return true;
    }
}
