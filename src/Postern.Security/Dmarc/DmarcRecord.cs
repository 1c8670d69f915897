// DMARC policy records, RFC 7489 §6.3 and §6.4.
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Postern.Security.Dkim;

namespace Postern.Security.Dmarc;

/// <summary>Requested handling of failing mail (p= and sp=).</summary>
public enum DmarcPolicy
{
    /// <summary>No action ("none").</summary>
    None,
    /// <summary>Treat as suspicious, e.g. file into Junk ("quarantine").</summary>
    Quarantine,
    /// <summary>Refuse the message ("reject").</summary>
    Reject,
}

/// <summary>Identifier alignment modes (adkim=, aspf=).</summary>
public enum DmarcAlignment
{
    /// <summary>Same organizational domain ("r", the default).</summary>
    Relaxed,
    /// <summary>Exactly the same domain ("s").</summary>
    Strict,
}

/// <summary>A parsed DMARC record.</summary>
public sealed class DmarcRecord
{
    /// <summary>Policy for the domain (p=).</summary>
    public DmarcPolicy Policy { get; init; }

    /// <summary>Policy for subdomains (sp=), or null to use <see cref="Policy"/>.</summary>
    public DmarcPolicy? SubdomainPolicy { get; init; }

    /// <summary>DKIM alignment mode (adkim=).</summary>
    public DmarcAlignment DkimAlignment { get; init; }

    /// <summary>SPF alignment mode (aspf=).</summary>
    public DmarcAlignment SpfAlignment { get; init; }

    /// <summary>Percentage of failing messages the policy applies to (pct=, default 100).</summary>
    public int Percent { get; init; } = 100;

    /// <summary>Aggregate report URIs (rua=).</summary>
    public IReadOnlyList<string> AggregateReportUris { get; init; } = [];

    /// <summary>Failure report URIs (ruf=).</summary>
    public IReadOnlyList<string> FailureReportUris { get; init; } = [];

    /// <summary>Failure reporting options (fo=, default "0").</summary>
    public string FailureOptions { get; init; } = "0";

    /// <summary>Aggregate report interval in seconds (ri=, default 86400).</summary>
    public long ReportInterval { get; init; } = 86400;

    /// <summary>True when p= was missing or invalid and rua= made the record count as p=none (RFC 7489 §6.6.3).</summary>
    public bool PolicyDefaulted { get; init; }

    /// <summary>The record text.</summary>
    public string Text { get; init; } = "";

    /// <summary>Whether a TXT string is a DMARC record ("v=DMARC1" first, RFC 7489 §6.6.3).</summary>
    public static bool IsDmarcRecord(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.TrimStart();
        if (!t.StartsWith("v", StringComparison.Ordinal)) return false;
        int semi = t.IndexOf(';', StringComparison.Ordinal);
        string first = (semi < 0 ? t : t[..semi]).Replace(" ", "", StringComparison.Ordinal).Replace("\t", "", StringComparison.Ordinal);
        return first == "v=DMARC1";
    }

    /// <summary>Parses a record. Unknown tags are ignored; invalid values of known tags are errors, except as RFC 7489 §6.6.3 allows.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out DmarcRecord? record, [NotNullWhen(false)] out string? error)
    {
        record = null;
        if (!IsDmarcRecord(text)) { error = "not a DMARC record (must start with v=DMARC1)"; return false; }
        if (!DkimTagList.TryParse(text, out Dictionary<string, string>? t, out error)) return false;
        string[] rua = t.TryGetValue("rua", out string? ruaText) ? SplitUris(ruaText) : [];
        string[] ruf = t.TryGetValue("ruf", out string? rufText) ? SplitUris(rufText) : [];
        bool defaulted = false;
        DmarcPolicy p = DmarcPolicy.None;
        if (!t.TryGetValue("p", out string? pText) || !TryPolicy(pText, out p))
        {
            // RFC 7489 §6.6.3: without a valid p=, a record with a valid rua= acts as p=none.
            if (rua.Length == 0) { error = pText is null ? "missing p= tag" : $"invalid policy p={DkimTagList.Short(pText)}"; return false; }
            defaulted = true;
            p = DmarcPolicy.None;
        }
        DmarcPolicy? sp = null;
        if (t.TryGetValue("sp", out string? spText))
        {
            if (!TryPolicy(spText, out DmarcPolicy spv))
            {
                if (rua.Length == 0) { error = $"invalid subdomain policy sp={DkimTagList.Short(spText)}"; return false; }
                defaulted = true;
                p = DmarcPolicy.None;
            }
            else sp = spv;
        }
        if (!TryAlignment(t, "adkim", out DmarcAlignment adkim, out string? alignError) || !TryAlignment(t, "aspf", out DmarcAlignment aspf, out alignError))
        {
            error = alignError ?? "invalid alignment";
            return false;
        }
        int pct = 100;
        if (t.TryGetValue("pct", out string? pctText) && (!int.TryParse(pctText, NumberStyles.None, CultureInfo.InvariantCulture, out pct) || pct > 100))
        {
            error = $"invalid pct={DkimTagList.Short(pctText)}";
            return false;
        }
        long ri = 86400;
        if (t.TryGetValue("ri", out string? riText) && (!long.TryParse(riText, NumberStyles.None, CultureInfo.InvariantCulture, out ri) || ri == 0))
        {
            error = $"invalid ri={DkimTagList.Short(riText)}";
            return false;
        }
        record = new DmarcRecord
        {
            Policy = p, SubdomainPolicy = sp, DkimAlignment = adkim, SpfAlignment = aspf, Percent = pct, AggregateReportUris = rua, FailureReportUris = ruf,
            FailureOptions = t.TryGetValue("fo", out string? fo) ? fo : "0", ReportInterval = ri, PolicyDefaulted = defaulted, Text = text,
        };
        error = null;
        return true;
    }

    private static string[] SplitUris(string s) =>
        [.. s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(u => u.Contains(':', StringComparison.Ordinal))];

    private static bool TryPolicy(string s, out DmarcPolicy p)
    {
        switch (s.ToLowerInvariant())
        {
            case "none": p = DmarcPolicy.None; return true;
            case "quarantine": p = DmarcPolicy.Quarantine; return true;
            case "reject": p = DmarcPolicy.Reject; return true;
            default: p = DmarcPolicy.None; return false;
        }
    }

    private static bool TryAlignment(Dictionary<string, string> t, string tag, out DmarcAlignment a, out string? error)
    {
        a = DmarcAlignment.Relaxed;
        error = null;
        if (!t.TryGetValue(tag, out string? v)) return true;
        switch (v.ToLowerInvariant())
        {
            case "r": return true;
            case "s": a = DmarcAlignment.Strict; return true;
            default: error = $"invalid {tag}={DkimTagList.Short(v)}"; return false;
        }
    }

    /// <summary>The keyword of a policy ("none", "quarantine", "reject").</summary>
    public static string Keyword(DmarcPolicy p) => p switch { DmarcPolicy.Reject => "reject", DmarcPolicy.Quarantine => "quarantine", _ => "none" };
}
