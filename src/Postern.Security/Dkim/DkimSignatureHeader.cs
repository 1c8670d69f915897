// DKIM-Signature fields (RFC 6376 §3.5) and the tag-list syntax they share with key
// records (§3.2). Parsing never throws: a bad field yields a reason that the verifier
// reports as permerror.
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Postern.Security.Dkim;

/// <summary>The tag=value list of RFC 6376 §3.2.</summary>
public static class DkimTagList
{
    /// <summary>Most tags accepted in one list (a bound on hostile input).</summary>
    public const int MaxTags = 64;

    /// <summary>Parses "tag=value; tag=value". Values keep inner white space; duplicate tags are an error.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out Dictionary<string, string>? tags, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string part in text.Split(';'))
        {
            string p = part.Trim(' ', '\t', '\r', '\n');
            if (p.Length == 0) continue; // a trailing ';' is allowed
            int eq = p.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) { tags = null; error = $"malformed tag \"{Short(p)}\""; return false; }
            string name = p[..eq].TrimEnd(' ', '\t', '\r', '\n');
            // tag-name = ALPHA *ALNUMPUNC
            if (name.Length == 0 || !char.IsAsciiLetter(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                tags = null; error = $"invalid tag name \"{Short(name)}\""; return false;
            }
            string value = p[(eq + 1)..].Trim(' ', '\t', '\r', '\n');
            if (!tags.TryAdd(name, value)) { tags = null; error = $"duplicate tag \"{name}\""; return false; }
            if (tags.Count > MaxTags) { tags = null; error = "too many tags"; return false; }
        }
        error = null;
        return true;
    }

    internal static string Short(string s) => s.Length > 40 ? s[..40] + "..." : s;

    /// <summary>Removes folding white space (FWS) from a value, e.g. base64 in b= and p=.</summary>
    public static string RemoveWhiteSpace(string s)
    {
        if (s.AsSpan().IndexOfAny(" \t\r\n") < 0) return s;
        return string.Concat(s.Where(c => c is not (' ' or '\t' or '\r' or '\n')));
    }
}

/// <summary>Signing algorithms (RFC 6376 §3.3, RFC 8463).</summary>
public enum DkimAlgorithm
{
    /// <summary>rsa-sha256.</summary>
    RsaSha256,
    /// <summary>ed25519-sha256.</summary>
    Ed25519Sha256,
    /// <summary>rsa-sha1: parsed in order to be refused (RFC 8301 §3.1).</summary>
    RsaSha1,
}

/// <summary>A parsed DKIM-Signature header field.</summary>
public sealed class DkimSignatureHeader
{
    /// <summary>Signing algorithm (a=).</summary>
    public DkimAlgorithm Algorithm { get; private init; }

    /// <summary>The a= text.</summary>
    public string AlgorithmName { get; private init; } = "";

    /// <summary>Signature (b=), decoded.</summary>
    public byte[] Signature { get; private init; } = [];

    /// <summary>The b= value without white space (for header.b in Authentication-Results).</summary>
    public string SignatureBase64 { get; private init; } = "";

    /// <summary>Body hash (bh=), decoded.</summary>
    public byte[] BodyHash { get; private init; } = [];

    /// <summary>Header canonicalisation (c=).</summary>
    public DkimCanonicalization HeaderCanonicalization { get; private init; }

    /// <summary>Body canonicalisation (c=).</summary>
    public DkimCanonicalization BodyCanonicalization { get; private init; }

    /// <summary>Signing domain (d=), lower case.</summary>
    public string Domain { get; private init; } = "";

    /// <summary>Signed header field names (h=), in order, as written.</summary>
    public IReadOnlyList<string> SignedHeaders { get; private init; } = [];

    /// <summary>Agent or user identifier (i=); "@" + d= when absent.</summary>
    public string Identity { get; private init; } = "";

    /// <summary>Body length limit (l=), or null.</summary>
    public long? BodyLength { get; private init; }

    /// <summary>Selector (s=).</summary>
    public string Selector { get; private init; } = "";

    /// <summary>Signature time (t=), or null.</summary>
    public DateTimeOffset? Timestamp { get; private init; }

    /// <summary>Expiration (x=), or null.</summary>
    public DateTimeOffset? Expiration { get; private init; }

    /// <summary>The hash algorithm of <see cref="Algorithm"/>.</summary>
    public System.Security.Cryptography.HashAlgorithmName Hash =>
        Algorithm == DkimAlgorithm.RsaSha1 ? System.Security.Cryptography.HashAlgorithmName.SHA1 : System.Security.Cryptography.HashAlgorithmName.SHA256;

    /// <summary>The hash name as key records' h= tag lists it ("sha256").</summary>
    public string HashName => Algorithm == DkimAlgorithm.RsaSha1 ? "sha1" : "sha256";

    /// <summary>Parses the value of a DKIM-Signature field (after the colon, unfolded or not).</summary>
    public static bool TryParse(string value, [NotNullWhen(true)] out DkimSignatureHeader? header, [NotNullWhen(false)] out string? error)
    {
        header = null;
        if (!DkimTagList.TryParse(value, out Dictionary<string, string>? t, out error)) return false;
        foreach (string required in new[] { "v", "a", "b", "bh", "d", "h", "s" })
            if (!t.ContainsKey(required)) { error = $"missing required tag {required}="; return false; }
        if (t["v"] != "1") { error = $"unsupported version v={DkimTagList.Short(t["v"])}"; return false; }
        string a = t["a"].ToLowerInvariant();
        DkimAlgorithm alg;
        switch (a)
        {
            case "rsa-sha256": alg = DkimAlgorithm.RsaSha256; break;
            case "ed25519-sha256": alg = DkimAlgorithm.Ed25519Sha256; break;
            case "rsa-sha1": alg = DkimAlgorithm.RsaSha1; break;
            default: error = $"unknown algorithm a={DkimTagList.Short(a)}"; return false;
        }
        string b64 = DkimTagList.RemoveWhiteSpace(t["b"]);
        byte[] sig, bh;
        try
        {
            sig = Convert.FromBase64String(b64);
            bh = Convert.FromBase64String(DkimTagList.RemoveWhiteSpace(t["bh"]));
        }
        catch (FormatException)
        {
            error = "invalid base64 in b= or bh=";
            return false;
        }
        if (sig.Length == 0) { error = "empty signature b="; return false; }
        DkimCanonicalization hc = DkimCanonicalization.Simple, bc = DkimCanonicalization.Simple;
        if (t.TryGetValue("c", out string? c))
        {
            string[] parts = c.ToLowerInvariant().Split('/');
            if (parts.Length > 2 || !TryCanon(parts[0], out hc) || (parts.Length == 2 && !TryCanon(parts[1], out bc)))
            {
                error = $"unknown canonicalization c={DkimTagList.Short(c)}";
                return false;
            }
        }
        string d = t["d"].ToLowerInvariant();
        if (d.Length == 0 || d.StartsWith('.') || d.EndsWith('.') || d.Contains("..", StringComparison.Ordinal) || d.Any(ch => ch <= ' '))
        {
            error = $"invalid domain d={DkimTagList.Short(d)}";
            return false;
        }
        string s = t["s"];
        if (s.Length == 0 || s.Any(ch => ch <= ' ' || ch == ';')) { error = "invalid selector s="; return false; }
        string[] h = [.. t["h"].Split(':').Select(x => x.Trim(' ', '\t', '\r', '\n'))];
        if (h.Any(x => x.Length == 0)) { error = "empty header name in h="; return false; }
        // RFC 6376 §5.4: From must be signed.
        if (!h.Any(x => x.Equals("from", StringComparison.OrdinalIgnoreCase))) { error = "From is not signed (h= lacks from)"; return false; }
        string identity = "@" + d;
        if (t.TryGetValue("i", out string? i))
        {
            int at = i.LastIndexOf('@');
            string idDomain = at >= 0 ? i[(at + 1)..] : "";
            // RFC 6376 §3.5: the i= domain is d= or a subdomain of it.
            if (at < 0 || !(idDomain.Equals(d, StringComparison.OrdinalIgnoreCase) || idDomain.EndsWith("." + d, StringComparison.OrdinalIgnoreCase)))
            {
                error = $"i={DkimTagList.Short(i)} is not in the domain d={d}";
                return false;
            }
            identity = i;
        }
        long? l = null;
        if (t.TryGetValue("l", out string? lt))
        {
            if (lt.Length is 0 or > 76 || !lt.All(char.IsAsciiDigit)) { error = "invalid body length l="; return false; }
            l = long.TryParse(lt, NumberStyles.None, CultureInfo.InvariantCulture, out long lv) ? lv : long.MaxValue;
        }
        if (t.TryGetValue("q", out string? q) && !q.Split(':').Any(x => x.Trim().Equals("dns/txt", StringComparison.OrdinalIgnoreCase)))
        {
            error = $"unsupported query method q={DkimTagList.Short(q)}";
            return false;
        }
        DateTimeOffset? ts = null, xs = null;
        if (t.TryGetValue("t", out string? tt))
        {
            if (!TryTime(tt, out DateTimeOffset v)) { error = "invalid timestamp t="; return false; }
            ts = v;
        }
        if (t.TryGetValue("x", out string? xt))
        {
            if (!TryTime(xt, out DateTimeOffset v)) { error = "invalid expiration x="; return false; }
            xs = v;
            if (ts is { } tv && v < tv) { error = "expiration x= before timestamp t="; return false; }
        }
        header = new DkimSignatureHeader
        {
            Algorithm = alg, AlgorithmName = a, Signature = sig, SignatureBase64 = b64, BodyHash = bh, HeaderCanonicalization = hc,
            BodyCanonicalization = bc, Domain = d, SignedHeaders = h, Identity = identity, BodyLength = l, Selector = s, Timestamp = ts, Expiration = xs,
        };
        error = null;
        return true;
    }

    private static bool TryCanon(string s, out DkimCanonicalization c)
    {
        c = s == "relaxed" ? DkimCanonicalization.Relaxed : DkimCanonicalization.Simple;
        return s is "simple" or "relaxed";
    }

    private static bool TryTime(string s, out DateTimeOffset value)
    {
        value = default;
        // RFC 6376 §3.5: at most 12 digits.
        if (s.Length is 0 or > 12 || !s.All(char.IsAsciiDigit)) return false;
        long secs = long.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);
        if (secs > 253402300799) return false;
        value = DateTimeOffset.FromUnixTimeSeconds(secs);
        return true;
    }
}
