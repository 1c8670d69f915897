// Parsing of the reverse-path and forward-path of MAIL and RCPT (RFC 5321 §4.1.2), with the
// UTF-8 extensions of RFC 6531 §3.3 when the transaction uses SMTPUTF8. The grammar is applied
// strictly: what does not match is refused with 501 5.1.3/5.1.7 rather than guessed at.
using System.Net;
using System.Text;

namespace Postern.Smtp.Protocol;

/// <summary>A mailbox of the SMTP envelope: local part (unquoted) and domain (as sent).</summary>
/// <param name="LocalPart">Local part with quoting removed.</param>
/// <param name="Domain">Domain or address literal ("[1.2.3.4]"), as sent; empty only for the special &lt;Postmaster&gt;.</param>
public sealed record SmtpAddress(string LocalPart, string Domain)
{
    /// <summary>Whether the local part needed quoting on the wire.</summary>
    public bool WasQuoted { get; init; }

    /// <summary>Whether any part contains non-ASCII characters (needs SMTPUTF8).</summary>
    public bool IsUtf8 => !Ascii.IsValid(LocalPart) || !Ascii.IsValid(Domain);

    /// <summary>The address as it would be written in a path, quoted when needed.</summary>
    public override string ToString() => Domain.Length == 0 ? SmtpPath.QuoteLocalPart(LocalPart) : SmtpPath.QuoteLocalPart(LocalPart) + "@" + Domain;
}

/// <summary>Thrown for a path that does not follow RFC 5321 §4.1.2.</summary>
public sealed class SmtpSyntaxException(string message) : Exception(message);

/// <summary>The path parser.</summary>
public static class SmtpPath
{
    /// <summary>RFC 5321 §4.5.3.1.1: most octets of a local part.</summary>
    public const int MaxLocalPartOctets = 64;

    /// <summary>RFC 5321 §4.5.3.1.2: most octets of a domain.</summary>
    public const int MaxDomainOctets = 255;

    /// <summary>RFC 5321 §4.5.3.1.3: most octets of a path, angle brackets included.</summary>
    public const int MaxPathOctets = 256;

    /// <summary>
    /// Parses a path starting at <paramref name="s"/>[<paramref name="pos"/>] ("&lt;...&gt;"), advancing
    /// <paramref name="pos"/> past the closing bracket. Returns null for the null path "&lt;&gt;" when
    /// <paramref name="allowNull"/>. A source route (A-d-l) is parsed and ignored (RFC 5321 §4.1.1.3,
    /// §C), reported in <paramref name="hadRoute"/>.
    /// </summary>
    public static SmtpAddress? Parse(string s, ref int pos, bool allowNull, bool utf8, out bool hadRoute)
    {
        hadRoute = false;
        int start = pos;
        if (pos >= s.Length || s[pos] != '<')
            throw new SmtpSyntaxException("Path must be enclosed in <>");
        pos++;
        if (pos < s.Length && s[pos] == '>')
        {
            pos++;
            if (!allowNull)
                throw new SmtpSyntaxException("Null path not allowed here");
            return null;
        }
        if (pos < s.Length && s[pos] == '@')
        {
            // A-d-l ":" — RFC 5321 §4.1.2; the route is ignored (§C), never followed.
            hadRoute = true;
            while (true)
            {
                if (pos >= s.Length || s[pos] != '@')
                    throw new SmtpSyntaxException("Invalid source route");
                pos++;
                ParseDomain(s, ref pos, utf8);
                if (pos < s.Length && s[pos] == ',')
                {
                    pos++;
                    continue;
                }
                if (pos < s.Length && s[pos] == ':')
                {
                    pos++;
                    break;
                }
                throw new SmtpSyntaxException("Invalid source route");
            }
        }
        bool quoted = pos < s.Length && s[pos] == '"';
        string local = quoted ? ParseQuotedLocal(s, ref pos, utf8) : ParseDotString(s, ref pos, utf8);
        string domain;
        if (pos < s.Length && s[pos] == '>' && !quoted && !hadRoute && local.Equals("postmaster", StringComparison.OrdinalIgnoreCase))
        {
            // RFC 5321 §4.1.1.3: "<Postmaster>" without domain must be accepted for RCPT.
            domain = "";
        }
        else
        {
            if (pos >= s.Length || s[pos] != '@')
                throw new SmtpSyntaxException("Address needs a domain");
            pos++;
            domain = pos < s.Length && s[pos] == '[' ? ParseAddressLiteral(s, ref pos) : ParseDomain(s, ref pos, utf8);
        }
        if (pos >= s.Length || s[pos] != '>')
            throw new SmtpSyntaxException("Invalid character in address");
        pos++;
        if (Encoding.UTF8.GetByteCount(local) > MaxLocalPartOctets)
            throw new SmtpSyntaxException("Local part longer than 64 octets");
        if (Encoding.UTF8.GetByteCount(s.AsSpan(start, pos - start)) > MaxPathOctets)
            throw new SmtpSyntaxException("Path longer than 256 octets");
        return new SmtpAddress(local, domain) { WasQuoted = quoted };
    }

    private static bool IsAtext(char c, bool utf8) =>
        char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~".Contains(c, StringComparison.Ordinal) || (utf8 && c > 0x7f && !char.IsControl(c));

    private static string ParseDotString(string s, ref int pos, bool utf8)
    {
        int start = pos;
        bool needAtom = true;
        while (pos < s.Length)
        {
            char c = s[pos];
            if (IsAtext(c, utf8))
            {
                needAtom = false;
                pos++;
            }
            else if (c == '.' && !needAtom)
            {
                needAtom = true;
                pos++;
            }
            else
                break;
        }
        if (needAtom)
            throw new SmtpSyntaxException(pos < s.Length && s[pos] > 0x7f && !utf8 ? "Non-ASCII address needs SMTPUTF8" : "Invalid local part");
        return s[start..pos];
    }

    private static string ParseQuotedLocal(string s, ref int pos, bool utf8)
    {
        var sb = new StringBuilder();
        pos++;
        while (true)
        {
            if (pos >= s.Length)
                throw new SmtpSyntaxException("Unterminated quoted local part");
            char c = s[pos++];
            if (c == '"')
                break;
            if (c == '\\')
            {
                // quoted-pairSMTP = %d92 %d32-126
                if (pos >= s.Length || s[pos] < 32 || s[pos] > 126)
                    throw new SmtpSyntaxException("Invalid quoted pair");
                sb.Append(s[pos++]);
                continue;
            }
            // qtextSMTP = %d32-33 / %d35-91 / %d93-126 (RFC 6531 adds UTF8-non-ascii)
            if ((c >= 32 && c <= 126) || (utf8 && c > 0x7f && !char.IsControl(c)))
                sb.Append(c);
            else
                throw new SmtpSyntaxException(c > 0x7f ? "Non-ASCII address needs SMTPUTF8" : "Invalid character in quoted local part");
        }
        return sb.ToString();
    }

    /// <summary>Parses a domain name (sub-domain *("." sub-domain)); U-labels only with SMTPUTF8.</summary>
    public static string ParseDomain(string s, ref int pos, bool utf8)
    {
        int start = pos;
        int labelLength = 0;
        char last = '.';
        while (pos < s.Length)
        {
            char c = s[pos];
            if (char.IsAsciiLetterOrDigit(c) || (utf8 && c > 0x7f && !char.IsControl(c) && !char.IsWhiteSpace(c)))
            {
                labelLength++;
            }
            else if (c == '-')
            {
                if (labelLength == 0)
                    throw new SmtpSyntaxException("Invalid domain");
                labelLength++;
            }
            else if (c == '.')
            {
                if (labelLength == 0 || last == '-')
                    throw new SmtpSyntaxException("Invalid domain");
                labelLength = 0;
            }
            else
                break;
            if (labelLength > 63)
                throw new SmtpSyntaxException("Domain label longer than 63 octets");
            last = c;
            pos++;
        }
        if (pos == start || last is '.' or '-')
            throw new SmtpSyntaxException(pos < s.Length && s[pos] > 0x7f && !utf8 ? "Non-ASCII domain needs SMTPUTF8" : "Invalid domain");
        string domain = s[start..pos];
        if (Encoding.UTF8.GetByteCount(domain) > MaxDomainOctets)
            throw new SmtpSyntaxException("Domain longer than 255 octets");
        if (!Ascii.IsValid(domain))
        {
            // RFC 6531 §3.3: U-labels must be valid IDNA.
            try
            {
                _ = new System.Globalization.IdnMapping().GetAscii(domain);
            }
            catch (ArgumentException)
            {
                throw new SmtpSyntaxException("Invalid internationalized domain");
            }
        }
        return domain;
    }

    private static string ParseAddressLiteral(string s, ref int pos)
    {
        int end = s.IndexOf(']', pos);
        if (end < 0)
            throw new SmtpSyntaxException("Unterminated address literal");
        string inner = s[(pos + 1)..end];
        // RFC 5321 §4.1.3: IPv4 dotted quad, or "IPv6:" followed by an IPv6 address. General literals are refused.
        bool ok = inner.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase)
            ? IPAddress.TryParse(inner[5..], out IPAddress? v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            : inner.Count(c => c == '.') == 3 && inner.All(c => char.IsAsciiDigit(c) || c == '.') && IPAddress.TryParse(inner, out _);
        if (!ok)
            throw new SmtpSyntaxException("Invalid address literal");
        pos = end + 1;
        return s[(pos - inner.Length - 2)..pos];
    }

    /// <summary>Quotes a local part when it is not a dot-string (RFC 5321 §4.1.2).</summary>
    public static string QuoteLocalPart(string local)
    {
        bool dotString = local.Length > 0 && local[0] != '.' && local[^1] != '.' && !local.Contains("..", StringComparison.Ordinal)
            && local.All(c => c == '.' || IsAtext(c, utf8: true));
        if (dotString)
            return local;
        var sb = new StringBuilder("\"");
        foreach (char c in local)
        {
            if (c is '"' or '\\')
                sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('"').ToString();
    }
}
