// SPF record syntax, RFC 7208 §4.6 and §12 (ABNF). The whole record is parsed before any
// term is evaluated, because a syntax error anywhere makes the result "permerror"
// (RFC 7208 §4.6), even after a mechanism that would have matched.
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Postern.Security.Spf;

/// <summary>An SPF mechanism (RFC 7208 §5).</summary>
public enum SpfMechanismKind
{
    /// <summary>"all": always matches.</summary>
    All,
    /// <summary>"include:domain": matches when the other domain's policy passes.</summary>
    Include,
    /// <summary>"a": the domain's addresses.</summary>
    A,
    /// <summary>"mx": the addresses of the domain's mail exchangers.</summary>
    Mx,
    /// <summary>"ptr": validated reverse names (deprecated, RFC 7208 §5.5).</summary>
    Ptr,
    /// <summary>"ip4:network".</summary>
    Ip4,
    /// <summary>"ip6:network".</summary>
    Ip6,
    /// <summary>"exists:domain": matches when the name has an A record.</summary>
    Exists,
}

/// <summary>One directive of an SPF record: a qualifier and a mechanism.</summary>
/// <param name="Qualifier">'+', '-', '~' or '?'.</param>
/// <param name="Kind">The mechanism.</param>
/// <param name="DomainSpec">The (unexpanded) domain-spec, or null when the mechanism uses the current domain.</param>
/// <param name="Network">The network of ip4/ip6.</param>
/// <param name="Prefix4">IPv4 prefix length (32 when not given).</param>
/// <param name="Prefix6">IPv6 prefix length (128 when not given).</param>
/// <param name="Text">The term as written.</param>
public sealed record SpfDirective(char Qualifier, SpfMechanismKind Kind, string? DomainSpec, IPAddress? Network, int Prefix4, int Prefix6, string Text);

/// <summary>A parsed SPF record ("v=spf1 ...", RFC 7208 §4.5).</summary>
public sealed class SpfRecord
{
    private SpfRecord(string text, IReadOnlyList<SpfDirective> directives, string? redirect, string? explanation)
    {
        Text = text;
        Directives = directives;
        Redirect = redirect;
        Explanation = explanation;
    }

    /// <summary>The record text.</summary>
    public string Text { get; }

    /// <summary>The directives, in order.</summary>
    public IReadOnlyList<SpfDirective> Directives { get; }

    /// <summary>The domain-spec of "redirect=", or null.</summary>
    public string? Redirect { get; }

    /// <summary>The domain-spec of "exp=", or null.</summary>
    public string? Explanation { get; }

    /// <summary>Whether a TXT string is an SPF version 1 record: "v=spf1" followed by a space or the end (RFC 7208 §4.5).</summary>
    public static bool IsSpfRecord(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (text.Length == 6 || text[6] == ' ');
    }

    /// <summary>Parses a record. On failure, <paramref name="error"/> says what is wrong (the result is then permerror).</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out SpfRecord? record, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        record = null;
        if (!IsSpfRecord(text)) { error = "not an SPF record (must start with \"v=spf1\")"; return false; }
        foreach (char c in text)
        {
            // RFC 7208 §3.1: records are 7-bit ASCII.
            if (c > 0x7E || (c < 0x20 && c != '\t')) { error = "non-ASCII or control character in record"; return false; }
        }
        var directives = new List<SpfDirective>();
        string? redirect = null, exp = null;
        foreach (string term in text[6..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (TryParseModifier(term, out string? name, out string? value, out error))
            {
                if (name is null) continue; // unknown modifier, ignored (RFC 7208 §6)
                if (name == "redirect")
                {
                    if (redirect is not null) { error = "more than one redirect= modifier"; return false; } // RFC 7208 §6
                    redirect = value;
                }
                else
                {
                    if (exp is not null) { error = "more than one exp= modifier"; return false; }
                    exp = value;
                }
                continue;
            }
            if (error is not null) return false;
            if (!TryParseDirective(term, out SpfDirective? d, out error)) return false;
            directives.Add(d);
        }
        record = new SpfRecord(text, directives, redirect, exp);
        error = null;
        return true;
    }

    /// <summary>True when the term is a modifier (name=value); name is null for unknown (ignored) modifiers.</summary>
    private static bool TryParseModifier(string term, out string? name, out string? value, out string? error)
    {
        name = value = error = null;
        int eq = term.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0) return false;
        string n = term[..eq];
        // RFC 7208 §12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
        if (!char.IsAsciiLetter(n[0])) return false;
        foreach (char c in n)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) return false;
        string v = term[(eq + 1)..];
        if (n.Equals("redirect", StringComparison.OrdinalIgnoreCase) || n.Equals("exp", StringComparison.OrdinalIgnoreCase))
        {
            if (!SpfMacro.IsValidDomainSpec(v, out string? why)) { error = $"{n}=: {why}"; return false; }
            name = n.ToLowerInvariant();
            value = v;
            return true;
        }
        // Unknown modifiers are ignored, but their value must still be a valid macro-string.
        if (!SpfMacro.IsValidMacroString(v, explanation: false, out string? bad)) { error = $"modifier {n}: {bad}"; return false; }
        return true;
    }

    private static bool TryParseDirective(string term, [NotNullWhen(true)] out SpfDirective? directive, [NotNullWhen(false)] out string? error)
    {
        directive = null;
        char q = '+';
        string t = term;
        if (t[0] is '+' or '-' or '~' or '?') { q = t[0]; t = t[1..]; }
        int i = 0;
        while (i < t.Length && char.IsAsciiLetterOrDigit(t[i])) i++;
        string name = t[..i].ToLowerInvariant();
        string rest = t[i..];
        SpfMechanismKind kind;
        switch (name)
        {
            case "all": kind = SpfMechanismKind.All; break;
            case "include": kind = SpfMechanismKind.Include; break;
            case "a": kind = SpfMechanismKind.A; break;
            case "mx": kind = SpfMechanismKind.Mx; break;
            case "ptr": kind = SpfMechanismKind.Ptr; break;
            case "ip4": kind = SpfMechanismKind.Ip4; break;
            case "ip6": kind = SpfMechanismKind.Ip6; break;
            case "exists": kind = SpfMechanismKind.Exists; break;
            default: error = $"unknown mechanism \"{term}\""; return false;
        }
        string? domain = null;
        IPAddress? network = null;
        int p4 = 32, p6 = 128;
        switch (kind)
        {
            case SpfMechanismKind.All:
                if (rest.Length != 0) { error = $"\"all\" takes no argument: \"{term}\""; return false; }
                break;
            case SpfMechanismKind.Include or SpfMechanismKind.Exists:
                if (!rest.StartsWith(':') || !SpfMacro.IsValidDomainSpec(rest[1..], out string? why))
                {
                    error = $"{name} needs a valid domain: \"{term}\"";
                    return false;
                }
                domain = rest[1..];
                break;
            case SpfMechanismKind.A or SpfMechanismKind.Mx or SpfMechanismKind.Ptr:
            {
                string spec = rest;
                int slash = -1;
                if (kind != SpfMechanismKind.Ptr)
                {
                    // The dual-cidr-length is at the end: "/24", "//64" or "/24//64".
                    slash = FindCidrStart(spec);
                    if (slash >= 0 && !TryParseDualCidr(spec[slash..], out p4, out p6)) { error = $"invalid prefix length: \"{term}\""; return false; }
                    if (slash >= 0) spec = spec[..slash];
                }
                if (spec.Length > 0)
                {
                    if (!spec.StartsWith(':') || !SpfMacro.IsValidDomainSpec(spec[1..], out _)) { error = $"invalid domain in \"{term}\""; return false; }
                    domain = spec[1..];
                }
                break;
            }
            case SpfMechanismKind.Ip4:
            {
                if (!rest.StartsWith(':')) { error = $"ip4 needs an address: \"{term}\""; return false; }
                string net = rest[1..];
                int slash = net.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0 && !TryParsePrefix(net[(slash + 1)..], 32, out p4)) { error = $"invalid ip4 prefix: \"{term}\""; return false; }
                if (!TryParseIPv4(slash >= 0 ? net[..slash] : net, out network)) { error = $"invalid ip4 address: \"{term}\""; return false; }
                break;
            }
            case SpfMechanismKind.Ip6:
            {
                if (!rest.StartsWith(':')) { error = $"ip6 needs an address: \"{term}\""; return false; }
                string net = rest[1..];
                int slash = net.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0 && !TryParsePrefix(net[(slash + 1)..], 128, out p6)) { error = $"invalid ip6 prefix: \"{term}\""; return false; }
                string addr = slash >= 0 ? net[..slash] : net;
                if (addr.Length == 0 || !addr.Contains(':', StringComparison.Ordinal) || addr.Contains('%', StringComparison.Ordinal) || addr.Contains('[', StringComparison.Ordinal)
                    || !IPAddress.TryParse(addr, out network) || network.AddressFamily != AddressFamily.InterNetworkV6)
                {
                    error = $"invalid ip6 address: \"{term}\"";
                    return false;
                }
                break;
            }
        }
        directive = new SpfDirective(q, kind, domain, network, p4, p6, term);
        error = null;
        return true;
    }

    /// <summary>Index where a trailing dual-cidr-length ("/24", "//64", "/24//64") starts, or -1.</summary>
    private static int FindCidrStart(string spec)
    {
        int i = spec.Length;
        // Up to two "/digits" groups at the end, the second preceded by "//".
        for (int group = 0; group < 2; group++)
        {
            int j = i;
            while (j > 0 && char.IsAsciiDigit(spec[j - 1])) j--;
            if (j == i || j == 0 || spec[j - 1] != '/') break;
            i = j - 1;
            if (i > 0 && spec[i - 1] == '/') { i--; continue; }
            break;
        }
        return i == spec.Length ? -1 : i;
    }

    private static bool TryParseDualCidr(string s, out int p4, out int p6)
    {
        p4 = 32;
        p6 = 128;
        // dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
        if (s.StartsWith("//", StringComparison.Ordinal)) return TryParsePrefix(s[2..], 128, out p6);
        int second = s.IndexOf("//", StringComparison.Ordinal);
        if (second < 0) return TryParsePrefix(s[1..], 32, out p4);
        return TryParsePrefix(s[1..second], 32, out p4) && TryParsePrefix(s[(second + 2)..], 128, out p6);
    }

    private static bool TryParsePrefix(string s, int max, out int prefix)
    {
        prefix = max;
        // RFC 7208 §12: ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT); no leading zeros.
        if (s.Length is 0 or > 3 || !s.All(char.IsAsciiDigit) || (s.Length > 1 && s[0] == '0')) return false;
        int v = int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);
        if (v > max) return false;
        prefix = v;
        return true;
    }

    /// <summary>Strict dotted-quad IPv4 (RFC 7208 §12 ip4-network): four decimal octets.</summary>
    internal static bool TryParseIPv4(string s, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        string[] parts = s.Split('.');
        if (parts.Length != 4) return false;
        Span<byte> b = stackalloc byte[4];
        for (int i = 0; i < 4; i++)
        {
            string p = parts[i];
            if (p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit)) return false;
            int v = int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture);
            if (v > 255) return false;
            b[i] = (byte)v;
        }
        address = new IPAddress(b);
        return true;
    }
}
