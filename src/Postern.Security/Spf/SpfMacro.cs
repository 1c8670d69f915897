// SPF macros, RFC 7208 §7: syntax checks (done at parse time, so that a bad macro anywhere
// is a permerror) and expansion against the data of one check_host() evaluation.
using System.Globalization;
using System.Net;
using System.Text;

namespace Postern.Security.Spf;

/// <summary>The values macros expand to during one evaluation (RFC 7208 §7.2).</summary>
internal sealed class SpfMacroValues
{
    public required string Sender { get; init; }
    public required string LocalPart { get; init; }
    public required string SenderDomain { get; init; }
    public required string Domain { get; init; }
    public required IPAddress Ip { get; init; }
    public required string Helo { get; init; }
    public string ReceivingHost { get; init; } = "unknown";
    public DateTimeOffset Now { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Resolves %{p} lazily (it needs DNS).</summary>
    public Func<ValueTask<string>>? ValidatedName { get; init; }

    public SpfMacroValues WithDomain(string domain) => new()
    {
        Sender = Sender, LocalPart = LocalPart, SenderDomain = SenderDomain, Domain = domain, Ip = Ip, Helo = Helo,
        ReceivingHost = ReceivingHost, Now = Now, ValidatedName = ValidatedName,
    };
}

/// <summary>Macro-string syntax and expansion.</summary>
internal static class SpfMacro
{
    private const string Delimiters = ".-+,/_=";

    /// <summary>Checks a macro-string (RFC 7208 §7.1); in explanations spaces are allowed and c, r, t may be used.</summary>
    public static bool IsValidMacroString(string s, bool explanation, out string? error)
    {
        error = null;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c != '%')
            {
                if (c == ' ' && explanation) continue;
                if (c is < (char)0x21 or > (char)0x7E) { error = "invalid character in macro-string"; return false; }
                continue;
            }
            if (i + 1 >= s.Length) { error = "'%' at the end of a macro-string"; return false; }
            char n = s[i + 1];
            if (n is '%' or '_' or '-') { i++; continue; }
            if (n != '{') { error = $"invalid macro \"%{n}\""; return false; }
            int close = s.IndexOf('}', i + 2);
            if (close < 0) { error = "unterminated macro"; return false; }
            if (!IsValidMacroExpand(s.AsSpan(i + 2, close - i - 2), explanation, out error)) return false;
            i = close;
        }
        return true;
    }

    private static bool IsValidMacroExpand(ReadOnlySpan<char> m, bool explanation, out string? error)
    {
        error = null;
        if (m.Length == 0) { error = "empty macro"; return false; }
        char letter = char.ToLowerInvariant(m[0]);
        if ("slodiphv".IndexOf(letter, StringComparison.Ordinal) < 0 && !(explanation && "crt".IndexOf(letter, StringComparison.Ordinal) >= 0))
        {
            error = $"invalid macro letter '{m[0]}'";
            return false;
        }
        int i = 1;
        int digits = 0;
        while (i < m.Length && char.IsAsciiDigit(m[i])) { i++; digits++; }
        if (digits > 0 && int.TryParse(m.Slice(1, digits), NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v == 0)
        {
            error = "macro digit transformer must not be zero"; // RFC 7208 §7.3
            return false;
        }
        if (i < m.Length && (m[i] is 'r' or 'R')) i++;
        for (; i < m.Length; i++)
            if (Delimiters.IndexOf(m[i], StringComparison.Ordinal) < 0) { error = $"invalid macro delimiter '{m[i]}'"; return false; }
        return true;
    }

    /// <summary>
    /// A domain-spec (RFC 7208 §12): a macro-string whose end is a macro-expand or "." toplabel ["."].
    /// </summary>
    public static bool IsValidDomainSpec(string s, out string? error)
    {
        if (s.Length == 0) { error = "empty domain-spec"; return false; }
        if (!IsValidMacroString(s, explanation: false, out error)) return false;
        if (s.EndsWith('}') || EndsWithEscape(s)) return true;
        string t = s.EndsWith('.') ? s[..^1] : s;
        int dot = t.LastIndexOf('.');
        if (dot < 0) { error = "domain-spec must end with a top label or macro"; return false; }
        string top = t[(dot + 1)..];
        // toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
        bool ok = top.Length > 0 && top.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') && !top.All(char.IsAsciiDigit)
            && top[0] != '-' && top[^1] != '-';
        if (!ok) { error = $"invalid top label \"{top}\" in domain-spec"; return false; }
        return true;
    }

    private static bool EndsWithEscape(string s)
    {
        // "%%", "%_" or "%-" at the end, where the '%' is not itself escaped.
        if (s.Length < 2 || s[^2] != '%' || s[^1] is not ('%' or '_' or '-')) return false;
        int percents = 0;
        for (int i = s.Length - 2; i >= 0 && s[i] == '%'; i--) percents++;
        return percents % 2 == 1;
    }

    /// <summary>Expands a (valid) macro-string.</summary>
    public static async ValueTask<string> ExpandAsync(string s, SpfMacroValues v, bool explanation)
    {
        if (!s.Contains('%', StringComparison.Ordinal)) return s;
        var sb = new StringBuilder(s.Length + 32);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c != '%') { sb.Append(c); continue; }
            char n = s[i + 1];
            i++;
            switch (n)
            {
                case '%': sb.Append('%'); continue;
                case '_': sb.Append(' '); continue;
                case '-': sb.Append("%20"); continue;
            }
            int close = s.IndexOf('}', i + 1);
            string m = s[(i + 1)..close];
            i = close;
            char letter = m[0];
            string value = char.ToLowerInvariant(letter) switch
            {
                's' => v.Sender,
                'l' => v.LocalPart,
                'o' => v.SenderDomain,
                'd' => v.Domain,
                'i' => IpMacro(v.Ip),
                'p' => v.ValidatedName is null ? "unknown" : await v.ValidatedName().ConfigureAwait(false),
                'v' => v.Ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "ip6" : "in-addr",
                'h' => v.Helo,
                'c' => v.Ip.ToString(),
                'r' => v.ReceivingHost,
                't' => v.Now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                _ => "",
            };
            int j = 1;
            while (j < m.Length && char.IsAsciiDigit(m[j])) j++;
            int keep = j == 1 ? 0 : j - 1 > 4 ? 1000 : int.Parse(m.AsSpan(1, j - 1), NumberStyles.None, CultureInfo.InvariantCulture);
            bool reverse = false;
            if (j < m.Length && m[j] is 'r' or 'R') { reverse = true; j++; }
            string delims = j < m.Length ? m[j..] : ".";
            if (keep > 0 || reverse || delims != ".")
            {
                // RFC 7208 §7.3: split on the delimiters, optionally reverse, keep the rightmost N, join with dots.
                string[] parts = value.Split(delims.ToCharArray());
                if (reverse) Array.Reverse(parts);
                if (keep > 0 && keep < parts.Length) parts = parts[^keep..];
                value = string.Join('.', parts);
            }
            if (char.IsAsciiLetterUpper(letter)) value = UrlEscape(value);
            sb.Append(value);
        }
        return sb.ToString();
    }

    /// <summary>%{i}: dotted IPv4, or the IPv6 nibbles separated by dots (RFC 7208 §7.3).</summary>
    private static string IpMacro(IPAddress ip)
    {
        if (ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return ip.ToString();
        byte[] b = ip.GetAddressBytes();
        var sb = new StringBuilder(63);
        const string hex = "0123456789abcdef";
        foreach (byte x in b)
        {
            if (sb.Length > 0) sb.Append('.');
            sb.Append(hex[x >> 4]).Append('.').Append(hex[x & 0xF]);
        }
        return sb.ToString();
    }

    /// <summary>RFC 7208 §7.3: upper-case macros are URL-escaped (RFC 3986 unreserved characters kept).</summary>
    private static string UrlEscape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(s))
        {
            if (char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~') sb.Append((char)b);
            else sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
