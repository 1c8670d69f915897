using System.Text;

namespace Postern.Mail;

/// <summary>
/// RFC 2047 encoded words: decoding (tolerant, as mail in the wild needs) and encoding
/// (strict, for headers Postern writes).
/// </summary>
public static class EncodedWords
{
    /// <summary>
    /// Decodes encoded words in unstructured text (RFC 2047 §5(1)). Whitespace between two
    /// adjacent encoded words is dropped (RFC 2047 §6.2). Malformed words are left as they are.
    /// Encoded words not separated by whitespace from surrounding text are accepted too.
    /// </summary>
    public static string DecodeUnstructured(string text)
    {
        if (!text.Contains("=?", StringComparison.Ordinal)) return text;
        var sb = new StringBuilder(text.Length);
        int pos = 0;
        int lastWordEnd = -1; // end of the previous decoded word, to drop whitespace between words
        // Adjacent words in the same charset are decoded together so a multi-byte character
        // split across two words (common, though RFC 2047 §5 forbids it) survives.
        string? pendingCharset = null;
        var pendingBytes = new List<byte>();
        void Flush()
        {
            if (pendingCharset is null) return;
            sb.Append(Charsets.Decode(pendingBytes.ToArray(), pendingCharset));
            pendingBytes.Clear();
            pendingCharset = null;
        }
        while (pos < text.Length)
        {
            int start = text.IndexOf("=?", pos, StringComparison.Ordinal);
            if (start < 0) break;
            if (!TryParseWord(text, start, out string charset, out byte[] bytes, out int end))
            {
                Flush();
                sb.Append(text, pos, start + 2 - pos);
                pos = start + 2;
                lastWordEnd = -1;
                continue;
            }
            bool onlySpaceBetween = lastWordEnd == pos && IsAllWhitespace(text.AsSpan(pos, start - pos));
            if (!onlySpaceBetween)
            {
                Flush();
                sb.Append(text, pos, start - pos);
            }
            if (pendingCharset is not null && !string.Equals(pendingCharset, charset, StringComparison.OrdinalIgnoreCase)) Flush();
            pendingCharset = charset;
            pendingBytes.AddRange(bytes);
            pos = end;
            lastWordEnd = end;
        }
        Flush();
        sb.Append(text, pos, text.Length - pos);
        return sb.ToString();
    }

    private static bool IsAllWhitespace(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
            if (c is not (' ' or '\t' or '\r' or '\n')) return false;
        return true;
    }

    /// <summary>Parses one encoded word "=?charset?enc?text?=" starting at <paramref name="start"/>.</summary>
    internal static bool TryParseWord(string text, int start, out string charset, out byte[] bytes, out int end)
    {
        charset = "";
        bytes = [];
        end = start;
        int q1 = text.IndexOf('?', start + 2);
        if (q1 < 0 || q1 + 2 >= text.Length || text[q1 + 2] != '?') return false;
        char enc = char.ToUpperInvariant(text[q1 + 1]);
        if (enc is not ('B' or 'Q')) return false;
        int close = text.IndexOf("?=", q1 + 3, StringComparison.Ordinal);
        if (close < 0) return false;
        var cs = text.AsSpan(start + 2, q1 - start - 2);
        if (cs.Length == 0 || cs.ContainsAny(' ', '\t', '?')) return false;
        var payload = text.AsSpan(q1 + 3, close - q1 - 3);
        // RFC 2047 §5: an encoded word contains no whitespace; tolerate none here either,
        // except inside Q where broken mailers leave spaces (kept literally).
        if (enc == 'B' && payload.ContainsAny(' ', '\t')) return false;
        charset = cs.ToString();
        bytes = enc == 'B' ? DecodeB(payload) : DecodeQ(payload);
        end = close + 2;
        return true;
    }

    private static byte[] DecodeB(ReadOnlySpan<char> s)
    {
        var input = new byte[s.Length];
        for (int i = 0; i < s.Length; i++) input[i] = s[i] < 128 ? (byte)s[i] : (byte)'?';
        var dec = new Base64Decoder();
        var output = new byte[s.Length];
        int n = dec.Decode(input, output);
        return output[..n];
    }

    private static byte[] DecodeQ(ReadOnlySpan<char> s)
    {
        var output = new List<byte>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '_') output.Add((byte)' '); // RFC 2047 §4.2(2)
            else if (c == '=' && i + 2 < s.Length && IsHex(s[i + 1]) && IsHex(s[i + 2]))
            {
                output.Add((byte)(Hex(s[i + 1]) << 4 | Hex(s[i + 2])));
                i += 2;
            }
            else if (c < 256) output.Add((byte)c);
            else output.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return [.. output];
    }

    internal static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    internal static int Hex(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    /// <summary>
    /// Encodes unstructured text for a header (RFC 2047 §5(1)): returned as is when it is
    /// printable ASCII, otherwise as UTF-8 "B" encoded words of at most 75 characters each
    /// (RFC 2047 §2), separated by a space so the caller may fold between them.
    /// </summary>
    public static string EncodeUnstructured(string text)
    {
        if (IsPlainAscii(text) && !text.Contains("=?", StringComparison.Ordinal)) return text;
        return EncodeWords(text);
    }

    /// <summary>
    /// Encodes a display name as a phrase (RFC 2047 §5(3)): a plain atom sequence, a quoted
    /// string when it holds specials (RFC 5322 §3.2.3), or encoded words when not ASCII.
    /// </summary>
    public static string EncodePhrase(string name)
    {
        if (!IsPlainAscii(name) || name.Contains("=?", StringComparison.Ordinal)) return EncodeWords(name);
        bool needsQuote = false;
        foreach (char c in name)
            if ("()<>[]:;@\\,.\"".Contains(c, StringComparison.Ordinal)) { needsQuote = true; break; }
        if (!needsQuote) return name;
        return "\"" + name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    private static bool IsPlainAscii(string s)
    {
        foreach (char c in s)
            if ((c < 0x20 && c != '\t') || c > 0x7e) return false;
        return true;
    }

    private static string EncodeWords(string text)
    {
        // "=?utf-8?b?" + "?=" is 12 characters; 75 - 12 = 63, so 45 bytes (60 base64 chars) per word.
        const int maxBytes = 45;
        var sb = new StringBuilder();
        var bytes = new List<byte>(maxBytes);
        var tmp = new byte[4];
        int i = 0;
        while (i < text.Length)
        {
            int len = char.IsSurrogatePair(text, i) ? 2 : 1;
            int n = Encoding.UTF8.GetBytes(text.AsSpan(i, len), tmp);
            if (bytes.Count + n > maxBytes) { AppendWord(sb, bytes); bytes.Clear(); }
            for (int k = 0; k < n; k++) bytes.Add(tmp[k]);
            i += len;
        }
        if (bytes.Count > 0) AppendWord(sb, bytes);
        return sb.ToString();
    }

    private static void AppendWord(StringBuilder sb, List<byte> bytes)
    {
        if (sb.Length > 0) sb.Append(' ');
        sb.Append("=?utf-8?b?").Append(Convert.ToBase64String([.. bytes])).Append("?=");
    }
}
