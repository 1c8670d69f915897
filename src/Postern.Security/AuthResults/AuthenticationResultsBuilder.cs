// The Authentication-Results header field, RFC 8601 §2.2: the authserv-id, then one
// "method=result" per line with its reason and properties (ptype.property=value), and a
// comment saying whether the DNS data behind the result was DNSSEC-authentic.
using System.Text;
using Postern.Security.Dkim;
using Postern.Security.Dmarc;
using Postern.Security.Iprev;
using Postern.Security.Spf;

namespace Postern.Security.AuthResults;

/// <summary>Builds an Authentication-Results header field (RFC 8601).</summary>
public sealed class AuthenticationResultsBuilder
{
    private readonly string _authservId;
    private readonly List<string> _results = [];

    /// <summary>Creates a builder for this server's authserv-id (normally its host name).</summary>
    public AuthenticationResultsBuilder(string authservId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(authservId);
        _authservId = authservId;
    }

    /// <summary>Adds one result: method=result, an optional reason, properties and a comment.</summary>
    public AuthenticationResultsBuilder Add(string method, string result, string? reason = null, string? comment = null, params (string Type, string Property, string Value)[] properties)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(properties);
        var sb = new StringBuilder();
        sb.Append(method).Append('=').Append(result);
        if (reason is not null) sb.Append(" reason=").Append(Quote(reason));
        foreach ((string type, string property, string value) in properties)
            sb.Append(' ').Append(type).Append('.').Append(property).Append('=').Append(PropertyValue(value));
        if (comment is not null) sb.Append(" (").Append(CommentText(comment)).Append(')');
        _results.Add(sb.ToString());
        return this;
    }

    /// <summary>Adds an SPF result (RFC 8601 §2.7.2): smtp.mailfrom, or smtp.helo for the HELO identity.</summary>
    public AuthenticationResultsBuilder AddSpf(SpfCheckResult spf)
    {
        ArgumentNullException.ThrowIfNull(spf);
        string? reason = spf.Result is SpfResult.TempError or SpfResult.PermError ? spf.Problem : null;
        var prop = spf.Identity == SpfIdentity.Helo ? ("smtp", "helo", spf.Helo) : ("smtp", "mailfrom", spf.Sender);
        return Add("spf", spf.Result.ToKeyword(), reason, Dnssec(spf.DnssecAuthentic, spf.DnsLookups > 0 || spf.Result != SpfResult.None), prop);
    }

    /// <summary>Adds one DKIM signature's result (RFC 8601 §2.7.1, header.b per RFC 6008).</summary>
    public AuthenticationResultsBuilder AddDkim(DkimSignatureResult dkim)
    {
        ArgumentNullException.ThrowIfNull(dkim);
        string result = dkim.Result.ToString().ToLowerInvariant();
        if (dkim.Signature is not { } s) return Add("dkim", result, dkim.Reason);
        var props = new List<(string, string, string)> { ("header", "d", s.Domain), ("header", "i", s.Identity), ("header", "s", s.Selector), ("header", "a", s.AlgorithmName) };
        if (s.SignatureBase64.Length > 0) props.Add(("header", "b", s.SignatureBase64[..Math.Min(12, s.SignatureBase64.Length)]));
        string? comment = dkim.Key is null ? null : (dkim.KeyBits > 0 ? dkim.KeyBits + "-bit key; " : "") + (dkim.KeyDnssecAuthentic ? "DNSSEC-authentic key" : "key not DNSSEC-signed");
        return Add("dkim", result, dkim.Result == DkimResult.Pass ? null : dkim.Reason, comment, [.. props]);
    }

    /// <summary>Adds the DMARC result (RFC 7489 §11.2): header.from, and the policy in a comment.</summary>
    public AuthenticationResultsBuilder AddDmarc(DmarcEvaluation dmarc)
    {
        ArgumentNullException.ThrowIfNull(dmarc);
        string result = dmarc.Result.ToString().ToLowerInvariant();
        string? comment = null;
        if (dmarc.Record is not null)
        {
            comment = $"p={DmarcRecord.Keyword(dmarc.RequestedPolicy)} dis={DmarcRecord.Keyword(dmarc.Disposition).ToUpperInvariant()}";
            if (dmarc.Override == DmarcOverride.SampledOut) comment += " sampled-out";
            comment += dmarc.RecordDnssecAuthentic ? "; DNSSEC-authentic" : "; not DNSSEC-signed";
        }
        string? reason = dmarc.Result is DmarcResult.Pass ? null : dmarc.Reason;
        return Add("dmarc", result, reason, comment, dmarc.FromDomain.Length > 0 ? [("header", "from", dmarc.FromDomain)] : []);
    }

    /// <summary>Adds the iprev result (RFC 8601 §3): policy.iprev is the client address.</summary>
    public AuthenticationResultsBuilder AddIprev(IprevCheckResult iprev)
    {
        ArgumentNullException.ThrowIfNull(iprev);
        string comment = (iprev.Name ?? "no verified name") + (iprev.DnssecAuthentic ? "; DNSSEC-authentic" : "");
        return Add("iprev", iprev.Result.ToString().ToLowerInvariant(), iprev.Result == IprevResult.Pass ? null : iprev.Reason, comment,
            ("policy", "iprev", iprev.Address.ToString()));
    }

    /// <summary>The header field, name included, one result per line, without the final CRLF.</summary>
    public string Build()
    {
        var sb = new StringBuilder("Authentication-Results: ").Append(_authservId);
        if (_results.Count == 0) return sb.Append("; none").ToString();
        foreach (string r in _results) sb.Append(";\r\n\t").Append(r);
        return sb.ToString();
    }

    private static string? Dnssec(bool authentic, bool looked) => !looked ? null : authentic ? "DNSSEC-authentic" : "not DNSSEC-signed";

    /// <summary>A property value: a token, an address or domain as is, anything else quoted (RFC 8601 §2.2, RFC 2045 §5.1).</summary>
    private static string PropertyValue(string v)
    {
        if (v.Length > 0 && v.All(c => c > 0x20 && c < 0x7F && "()<>,;:\\\"/[]?= ".IndexOf(c, StringComparison.Ordinal) < 0)) return v;
        return Quote(v);
    }

    private static string Quote(string v)
    {
        var sb = new StringBuilder(v.Length + 2).Append('"');
        foreach (char c in v)
        {
            if (c is '\r' or '\n' || char.IsControl(c)) continue;
            if (c is '"' or '\\') sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    private static string CommentText(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
            if (c is not ('(' or ')' or '\\') && !char.IsControl(c)) sb.Append(c);
        return sb.ToString();
    }
}
