using System.Text;

namespace Postern.Mail;

/// <summary>One MIME parameter, name lowercased, value decoded (RFC 2231 / RFC 2047 applied).</summary>
public readonly record struct MimeParameter(string Name, string Value);

/// <summary>
/// A parsed Content-Type or Content-Disposition value: the token(s) and parameters.
/// </summary>
/// <param name="Value">The main value, lowercased ("text/plain", "attachment"); empty when absent or invalid.</param>
/// <param name="Parameters">Parameters in order of first appearance, RFC 2231 continuations joined.</param>
public sealed record MimeFieldValue(string Value, IReadOnlyList<MimeParameter> Parameters)
{
    /// <summary>The decoded value of a parameter (case-insensitive name), or null.</summary>
    public string? Get(string name)
    {
        foreach (var p in Parameters)
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) return p.Value;
        return null;
    }

    /// <summary>
    /// Parses "token *(; param=value)" (RFC 2045 §5.1, RFC 2183 §2) with RFC 2231 extended
    /// parameters (charset'language'%XX and continuations name*0, name*1*). Tolerant of
    /// missing quotes, stray semicolons and comments. Never throws.
    /// </summary>
    public static MimeFieldValue Parse(string? text, int maxParameters = 64)
    {
        if (string.IsNullOrEmpty(text)) return new MimeFieldValue("", []);
        var s = text.AsSpan();
        int pos = 0;
        SkipCfws(s, ref pos);
        int start = pos;
        while (pos < s.Length && s[pos] != ';') pos++;
        string value = StripComments(s[start..pos].ToString()).Trim().ToLowerInvariant();
        if (value.AsSpan().ContainsAny(' ', '\t')) value = string.Concat(value.Where(c => c is not (' ' or '\t')));
        var raw = new List<(string Name, int Section, bool Extended, string Value)>();
        while (pos < s.Length && raw.Count < maxParameters * 4)
        {
            if (s[pos] == ';') { pos++; continue; }
            SkipCfws(s, ref pos);
            int ns = pos;
            while (pos < s.Length && s[pos] is not ('=' or ';')) pos++;
            var name = s[ns..pos].ToString().Trim().ToLowerInvariant();
            if (pos >= s.Length || s[pos] == ';')
                continue; // a parameter without "=" carries nothing
            pos++; // '='
            SkipCfws(s, ref pos);
            string v;
            if (pos < s.Length && s[pos] == '"')
            {
                var sb = new StringBuilder();
                pos++;
                while (pos < s.Length && s[pos] != '"')
                {
                    if (s[pos] == '\\' && pos + 1 < s.Length) pos++;
                    sb.Append(s[pos++]);
                }
                pos++;
                v = sb.ToString();
                while (pos < s.Length && s[pos] != ';') pos++;
            }
            else
            {
                int vs = pos;
                while (pos < s.Length && s[pos] != ';') pos++;
                v = StripComments(s[vs..pos].ToString()).Trim();
                // RFC 2045 §5.1: an unquoted value is a token, which ends at whitespace.
                int ws = v.AsSpan().IndexOfAny(' ', '\t');
                if (ws >= 0) v = v[..ws];
            }
            if (name.Length == 0) continue;
            // RFC 2231 §3, §4: name*N or name*N* or name*
            int section = -1;
            bool extended = false;
            if (name.EndsWith('*')) { extended = true; name = name[..^1]; }
            int star = name.LastIndexOf('*');
            if (star > 0 && int.TryParse(name.AsSpan(star + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n < 1000)
            {
                section = n;
                name = name[..star];
            }
            raw.Add((name, section, extended, v));
        }
        return new MimeFieldValue(value, Combine(raw, maxParameters));
    }

    private static List<MimeParameter> Combine(List<(string Name, int Section, bool Extended, string Value)> raw, int max)
    {
        var result = new List<MimeParameter>(raw.Count);
        // Fast path: no RFC 2231 sections or extended values (the usual case).
        bool simple = true;
        foreach (var r in raw)
            if (r.Section >= 0 || r.Extended) { simple = false; break; }
        if (simple)
        {
            foreach (var r in raw)
            {
                if (result.Count >= max) break;
                bool dup = false;
                foreach (var e in result)
                    if (e.Name == r.Name) { dup = true; break; }
                if (!dup) result.Add(new MimeParameter(r.Name, EncodedWords.DecodeUnstructured(r.Value)));
            }
            return result;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _, _, _) in raw)
        {
            if (!seen.Add(name)) continue;
            if (result.Count >= max) break;
            // RFC 2231 §3: sections are joined in numeric order; a plain value is used only when
            // there is no extended form.
            var parts = raw.Where(r => r.Name == name).ToList();
            var sections = parts.Where(r => r.Section >= 0).OrderBy(r => r.Section).ToList();
            string value;
            if (sections.Count > 0 && sections[0].Section == 0)
            {
                string? charset = null;
                var bytes = new List<byte>();
                var sb = new StringBuilder();
                for (int i = 0; i < sections.Count; i++)
                {
                    if (sections[i].Section != i) break; // a gap ends the value (RFC 2231 §3)
                    var v = sections[i].Value;
                    if (sections[i].Extended)
                    {
                        if (i == 0) v = SplitCharset(v, out charset);
                        PercentDecode(v, bytes);
                    }
                    else
                    {
                        FlushBytes(sb, bytes, charset);
                        sb.Append(v);
                    }
                }
                FlushBytes(sb, bytes, charset);
                value = sb.ToString();
            }
            else
            {
                var ext = parts.FirstOrDefault(r => r.Section < 0 && r.Extended);
                if (ext.Name is not null)
                {
                    var v = SplitCharset(ext.Value, out string? charset);
                    var bytes = new List<byte>();
                    PercentDecode(v, bytes);
                    var sb = new StringBuilder();
                    FlushBytes(sb, bytes, charset);
                    value = sb.ToString();
                }
                else
                {
                    var plain = parts.FirstOrDefault(r => r.Section < 0);
                    // Only sections and no "*0" (RFC 2231 §3 requires it): the value is unusable.
                    if (plain.Name is null) continue;
                    // RFC 2047 §5 forbids encoded words in parameters, but mailers emit them in
                    // file names; decoding them is what every reader does.
                    value = EncodedWords.DecodeUnstructured(plain.Value);
                }
            }
            result.Add(new MimeParameter(name, value));
        }
        return result;
    }

    private static string SplitCharset(string v, out string? charset)
    {
        charset = null;
        int a = v.IndexOf('\'', StringComparison.Ordinal);
        if (a < 0) return v;
        int b = v.IndexOf('\'', a + 1);
        if (b < 0) return v;
        charset = v[..a];
        return v[(b + 1)..];
    }

    private static void PercentDecode(string v, List<byte> bytes)
    {
        for (int i = 0; i < v.Length; i++)
        {
            char c = v[i];
            if (c == '%' && i + 2 < v.Length && char.IsAsciiHexDigit(v[i + 1]) && char.IsAsciiHexDigit(v[i + 2]))
            {
                bytes.Add((byte)(EncodedWords.Hex(v[i + 1]) << 4 | EncodedWords.Hex(v[i + 2])));
                i += 2;
            }
            else if (c < 128) bytes.Add((byte)c);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
    }

    private static void FlushBytes(StringBuilder sb, List<byte> bytes, string? charset)
    {
        if (bytes.Count == 0) return;
        sb.Append(Charsets.Decode(bytes.ToArray(), charset));
        bytes.Clear();
    }

    private static void SkipCfws(ReadOnlySpan<char> s, ref int pos)
    {
        while (pos < s.Length)
        {
            if (s[pos] is ' ' or '\t' or '\r' or '\n') { pos++; continue; }
            if (s[pos] == '(')
            {
                int depth = 0;
                while (pos < s.Length)
                {
                    if (s[pos] == '\\') { pos += 2; continue; }
                    if (s[pos] == '(') depth++;
                    else if (s[pos] == ')' && --depth == 0) { pos++; break; }
                    pos++;
                }
                if (pos > s.Length) pos = s.Length; // a trailing backslash stepped past the end
                continue;
            }
            break;
        }
    }

    internal static string StripComments(string s)
    {
        if (!s.Contains('(', StringComparison.Ordinal)) return s;
        var sb = new StringBuilder(s.Length);
        int depth = 0;
        bool inQuote = false;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '\\' && i + 1 < s.Length) { if (depth == 0) sb.Append(c).Append(s[i + 1]); i++; continue; }
            if (c == '"' && depth == 0) inQuote = !inQuote;
            if (!inQuote && c == '(') { depth++; continue; }
            if (!inQuote && c == ')' && depth > 0) { depth--; continue; }
            if (depth == 0) sb.Append(c);
        }
        return sb.ToString();
    }
}
