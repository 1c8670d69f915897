using System.Globalization;
using System.Net;
using System.Text;

namespace Postern.Security.Spf;

/// <summary>Results of check_host() (RFC 7208 §2.6).</summary>
public enum SpfResult
{
    /// <summary>No SPF record, or no valid domain to check.</summary>
    None,
    /// <summary>The domain states nothing about the client.</summary>
    Neutral,
    /// <summary>The client is authorized.</summary>
    Pass,
    /// <summary>The client is explicitly not authorized.</summary>
    Fail,
    /// <summary>The client is probably not authorized.</summary>
    SoftFail,
    /// <summary>A transient (DNS) error; retrying later may succeed.</summary>
    TempError,
    /// <summary>The record could not be interpreted.</summary>
    PermError,
}

/// <summary>Which identity was checked (RFC 7208 §2.3, §2.4).</summary>
public enum SpfIdentity
{
    /// <summary>The HELO/EHLO name.</summary>
    Helo,
    /// <summary>The MAIL FROM address (or postmaster@HELO for the null sender).</summary>
    MailFrom,
}

/// <summary>Result names as used in headers.</summary>
public static class SpfResultNames
{
    /// <summary>The lower-case keyword of a result ("pass", "softfail", ...), RFC 7208 §2.6 and RFC 8601 §2.7.2.</summary>
    public static string ToKeyword(this SpfResult result) => result switch
    {
        SpfResult.None => "none",
        SpfResult.Neutral => "neutral",
        SpfResult.Pass => "pass",
        SpfResult.Fail => "fail",
        SpfResult.SoftFail => "softfail",
        SpfResult.TempError => "temperror",
        _ => "permerror",
    };
}

/// <summary>The outcome of checking one identity with SPF.</summary>
public sealed class SpfCheckResult
{
    /// <summary>The result.</summary>
    public required SpfResult Result { get; init; }

    /// <summary>The identity checked.</summary>
    public required SpfIdentity Identity { get; init; }

    /// <summary>The domain whose policy was evaluated (empty when none could be determined).</summary>
    public required string Domain { get; init; }

    /// <summary>The sender used: MAIL FROM, or postmaster@HELO (RFC 7208 §2.4).</summary>
    public required string Sender { get; init; }

    /// <summary>The client address.</summary>
    public required IPAddress ClientIp { get; init; }

    /// <summary>The HELO name given by the client.</summary>
    public required string Helo { get; init; }

    /// <summary>The directive that matched ("-all", "include:_spf.example.com"...), or null.</summary>
    public string? Mechanism { get; init; }

    /// <summary>For fail: the domain's explanation (exp=), expanded; null when it has none or it could not be used.</summary>
    public string? Explanation { get; init; }

    /// <summary>For errors: what went wrong (the "problem" of Received-SPF).</summary>
    public string? Problem { get; init; }

    /// <summary>DNS lookups counted against the limit of 10 (RFC 7208 §4.6.4).</summary>
    public int DnsLookups { get; init; }

    /// <summary>Lookups that returned no records (limit 2, RFC 7208 §4.6.4).</summary>
    public int VoidLookups { get; init; }

    /// <summary>
    /// True when every DNS answer used was DNSSEC-authentic (so the result itself can be trusted
    /// against DNS spoofing); false when any was not, or no lookup was made.
    /// </summary>
    public bool DnssecAuthentic { get; init; }

    /// <summary>
    /// The Received-SPF header field (RFC 7208 §9.1), name included, folded, without the final CRLF.
    /// </summary>
    public string ReceivedSpfHeader(string receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        var sb = new StringBuilder(256);
        sb.Append("Received-SPF: ").Append(Result.ToKeyword()).Append(" (").Append(Comment(receiver)).Append(")\r\n");
        sb.Append("\treceiver=").Append(ValueText(receiver)).Append("; client-ip=").Append(ClientIp.ToString()).Append(';');
        sb.Append("\r\n\tenvelope-from=").Append(ValueText(Sender)).Append("; helo=").Append(ValueText(Helo)).Append(';');
        sb.Append(" identity=").Append(Identity == SpfIdentity.Helo ? "helo" : "mailfrom").Append(';');
        if (Mechanism is not null) sb.Append("\r\n\tmechanism=").Append(ValueText(Mechanism)).Append(';');
        if (Problem is not null) sb.Append("\r\n\tproblem=").Append(ValueText(Problem)).Append(';');
        return sb.ToString();
    }

    /// <summary>The human-readable comment of Received-SPF (RFC 7208 §9.1 examples).</summary>
    private string Comment(string receiver)
    {
        string who = Identity == SpfIdentity.Helo ? "domain of " + Helo : "domain of " + Sender;
        string dnssec = DnssecAuthentic ? ", DNSSEC-authentic" : "";
        string text = Result switch
        {
            SpfResult.Pass => $"{receiver}: {who} designates {ClientIp} as permitted sender{dnssec}",
            SpfResult.Fail => $"{receiver}: {who} does not designate {ClientIp} as permitted sender{dnssec}",
            SpfResult.SoftFail => $"{receiver}: transitioning {who} does not designate {ClientIp} as permitted sender{dnssec}",
            SpfResult.Neutral => $"{receiver}: {ClientIp} is neither permitted nor denied by {who}{dnssec}",
            SpfResult.None => $"{receiver}: {who} does not provide an SPF record",
            SpfResult.TempError => $"{receiver}: temporary error checking {who}",
            _ => $"{receiver}: permanent error in the SPF record of {Domain}",
        };
        return CommentSafe(text);
    }

    private static string CommentSafe(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
            if (c is not ('(' or ')' or '\\' or '\r' or '\n') && c >= 0x20 && c < 0x7F) sb.Append(c);
        return sb.ToString();
    }

    /// <summary>A dot-atom as is, anything else as a quoted-string (RFC 5322 §3.2.4).</summary>
    internal static string ValueText(string v)
    {
        bool atom = v.Length > 0;
        foreach (char c in v)
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~.@:".Contains(c, StringComparison.Ordinal))) { atom = false; break; }
        if (atom) return v;
        var sb = new StringBuilder(v.Length + 2).Append('"');
        foreach (char c in v)
        {
            if (c is '"' or '\\') sb.Append('\\');
            if (c >= 0x20 && c != 0x7F) sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"spf={Result.ToKeyword()} {(Identity == SpfIdentity.Helo ? "helo" : "mailfrom")}={Sender}{(Problem is null ? "" : " (" + Problem + ")")}");
}
