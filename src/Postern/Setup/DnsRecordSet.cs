// The DNS records a domain needs to receive and send mail through this server, as a plan (record
// groups with a comment each) that `quickstart` and `config dnsrecords` print in zone-file syntax
// and `config dnscheck` compares with live DNS. Records for a service the configuration does not
// run (the MTA-STS policy and client autoconfiguration need the web listener, `https` on a
// listener with a certificate) are printed commented out, with why: a record that advertises a
// missing service would mislead other servers and mail clients.
using System.Globalization;
using System.Net;
using System.Text;
using Postern.Security.MtaSts;
using Postern.Web;

namespace Postern.Setup;

/// <summary>A client service for SRV records (RFC 6186, RFC 8314 §5.1).</summary>
/// <param name="Service">Owner-name prefix, e.g. "_submissions._tcp".</param>
/// <param name="Port">Port, or null when the server does not offer it (published with target ".").</param>
/// <param name="Priority">SRV priority: implicit TLS is preferred (lower) over STARTTLS (RFC 8314 §5.1).</param>
internal sealed record ClientService(string Service, int? Port, int Priority);

/// <summary>Who may issue certificates for the host name (CAA, RFC 8659), with the ACME account (RFC 8657).</summary>
/// <param name="DirectoryUrl">The configured ACME directory.</param>
/// <param name="IssuerDomains">The CA's CAA identities; empty when unknown.</param>
/// <param name="AccountUri">The ACME account URL once the server has registered, else null.</param>
internal sealed record CaaIssuer(string DirectoryUrl, IReadOnlyList<string> IssuerDomains, string? AccountUri);

/// <summary>Inputs of <see cref="DnsRecordSet.Plan"/>.</summary>
/// <param name="Domain">The mail domain (A-labels).</param>
/// <param name="HostName">The server's host name (A-labels).</param>
/// <param name="PublicIPs">Public addresses of the host, for A/AAAA; may be empty.</param>
/// <param name="TlsaSha256">SHA-256 digests of the host keys' public keys (TLSA 3 1 1).</param>
/// <param name="DmarcReportAddress">Where aggregate DMARC reports go.</param>
/// <param name="TlsReportAddress">Where TLS reports (RFC 8460) go.</param>
/// <param name="SmtpMx">Whether the server accepts incoming mail on port 25 (MX, TLSA on _25._tcp).</param>
/// <param name="ClientServices">SRV records for mail clients.</param>
/// <param name="DkimKeys">DKIM selectors with the TXT record text of their public keys.</param>
/// <param name="Caa">The ACME CA, or null when certificates do not come from ACME.</param>
/// <param name="WebServices">Whether this server serves the MTA-STS policy and autoconfiguration over HTTPS.</param>
/// <param name="MtaSts">The MTA-STS policy the web listener serves; null: enforce with the host name for a week.</param>
internal sealed record DnsRecordInputs(
    string Domain,
    string HostName,
    IReadOnlyList<IPAddress> PublicIPs,
    IReadOnlyList<string> TlsaSha256,
    string DmarcReportAddress,
    string TlsReportAddress,
    bool SmtpMx,
    IReadOnlyList<ClientService> ClientServices,
    IReadOnlyList<(string Selector, string Record)> DkimKeys,
    CaaIssuer? Caa,
    bool WebServices,
    MtaStsPolicy? MtaSts = null)
{
    /// <summary>The policy served and announced (the same object gives the file and the id).</summary>
    public MtaStsPolicy Policy => MtaSts ?? new MtaStsPolicy(MtaStsMode.Enforce, TimeSpan.FromSeconds(DnsRecordSet.MtaStsMaxAgeSeconds), [HostName.TrimEnd('.').ToLowerInvariant()]);
}

/// <summary>What a planned record is for: dnscheck compares each kind its own way.</summary>
internal enum RecordPurpose { HostAddress, Mx, DomainSpf, HostSpf, Dkim, Dmarc, TlsRpt, MtaSts, Caa, Tlsa, Srv, Cname }

/// <summary>One record: absolute owner name, type, zone-file data; for TXT also the unquoted text.</summary>
internal sealed record PlannedRecord(string Name, string Type, string Data, RecordPurpose Purpose, string? Text = null)
{
    public override string ToString() => $"{Name} IN {Type} {Data}";
}

/// <summary>Records printed together under a comment; <see cref="Published"/> false prints them commented out.</summary>
internal sealed record RecordGroup(string Comment, IReadOnlyList<PlannedRecord> Records, bool Published = true);

/// <summary>Plans and prints the records.</summary>
internal static class DnsRecordSet
{
    /// <summary>MTA-STS policy lifetime (RFC 8461 §3.2 max_age): one week.</summary>
    public const int MtaStsMaxAgeSeconds = 604800;

    /// <summary>The client services of a configuration: implicit TLS first (RFC 8314 §5.1), "." for what is off.</summary>
    public static IReadOnlyList<ClientService> ClientServicesOf(int? submissions, int? imaps, int? submission, int? imap) =>
    [
        new("_submissions._tcp", submissions, 0),
        new("_imaps._tcp", imaps, 0),
        new("_submission._tcp", submission, 10),
        new("_imap._tcp", imap, 10),
    ];

    public static IReadOnlyList<RecordGroup> Plan(DnsRecordInputs r)
    {
        string d = r.Domain.TrimEnd('.') + ".";
        string h = r.HostName.TrimEnd('.') + ".";
        var groups = new List<RecordGroup>();
        if (r.PublicIPs.Count > 0)
        {
            groups.Add(new($"The server's host name points to its public addresses; ask your hosting provider to set\nthe reverse DNS (PTR) of each address back to {h}",
                [.. r.PublicIPs.Select(ip => new PlannedRecord(h, ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "AAAA" : "A", ip.ToString(), RecordPurpose.HostAddress))]));
        }
        else
        {
            groups.Add(new($"No public address was found on this machine: add A and AAAA records for {h} with the\naddresses other servers reach it at, and a PTR record for each pointing back to it.", []));
        }
        if (r.SmtpMx)
            groups.Add(new("Incoming mail for the domain goes to this server (RFC 5321 §5.1).", [new(d, "MX", "10 " + h, RecordPurpose.Mx)]));
        groups.Add(new("SPF (RFC 7208): only the domain's MX hosts send its mail; others soft-fail. Exactly one SPF record.",
            [Txt(d, "v=spf1 mx ~all", RecordPurpose.DomainSpf)]));
        groups.Add(new("SPF for the host name itself, checked on the HELO name of outgoing connections.", [Txt(h, "v=spf1 a -all", RecordPurpose.HostSpf)]));
        if (r.DkimKeys.Count > 0)
        {
            groups.Add(new("DKIM (RFC 6376, RFC 8463): the public keys that verify the domain's signatures (`postern config dkim list`).\nLong records are split into strings of 255.",
                [.. r.DkimKeys.Select(k => Txt(k.Selector + "._domainkey." + d, k.Record, RecordPurpose.Dkim))]));
        }
        else
        {
            groups.Add(new($"DKIM: the domain has no key, so its mail is not signed; add one with `postern config dkim add {r.Domain}`.", []));
        }
        groups.Add(new($"DMARC (RFC 7489): reject mail that fails SPF and DKIM alignment, and send aggregate\nreports to {r.DmarcReportAddress}.",
            [Txt("_dmarc." + d, "v=DMARC1; p=reject; rua=mailto:" + r.DmarcReportAddress, RecordPurpose.Dmarc)]));
        groups.Add(new($"TLS reporting (RFC 8460): other servers report failed TLS connections to {r.TlsReportAddress}.",
            [Txt("_smtp._tls." + d, "v=TLSRPTv1; rua=mailto:" + r.TlsReportAddress, RecordPurpose.TlsRpt)]));
        if (r.SmtpMx)
        {
            string policy = MtaStsPolicyFile.Text(r.Policy).Replace("\r\n", "\n    ", StringComparison.Ordinal).TrimEnd();
            string mode = r.Policy.Mode switch
            {
                MtaStsMode.Enforce => $"senders that support it deliver only over TLS with a valid certificate\nfor {string.Join(", ", r.Policy.Mx)}",
                MtaStsMode.Testing => "mode testing: senders report TLS failures but deliver anyway",
                _ => "mode none: the policy is withdrawn",
            };
            groups.Add(new(
                r.WebServices
                    ? $"MTA-STS (RFC 8461): {mode}. This server serves the policy at\nhttps://mta-sts.{r.Domain}/.well-known/mta-sts.txt (mta-sts.{r.Domain} must reach it):\n    {policy}\nThe id is a digest of the policy: when the mta-sts settings change, publish the new id."
                    : $"MTA-STS (RFC 8461): not served: no listener has `https` enabled with a certificate. Enable the web\nlistener (docs/web.md), or serve this file at https://mta-sts.{r.Domain}/.well-known/mta-sts.txt from a web\nserver with a valid certificate, point mta-sts.{r.Domain} at it, and publish the _mta-sts record:\n    {policy}",
                [Txt("_mta-sts." + d, MtaStsPolicyFile.Record(r.Policy), RecordPurpose.MtaSts), new("mta-sts." + d, "CNAME", h, RecordPurpose.Cname)],
                r.WebServices));
        }
        if (r.Caa is { } caa)
        {
            if (caa.IssuerDomains.Count > 0)
            {
                string account = caa.AccountUri is null ? "" : "; accounturi=" + caa.AccountUri;
                groups.Add(new(
                    $"CAA (RFC 8659): only the configured ACME CA may issue certificates for the host name{(caa.AccountUri is null ? "" : ",\nand only to this server's ACME account (RFC 8657)")}. Set on the host name, not the domain, so\nthat certificates of other names of the domain (a web site) are not affected.{(caa.AccountUri is null ? "\nRun this command again after the first certificate is issued to limit it to the account too." : "")}",
                    [.. caa.IssuerDomains.Select(i => new PlannedRecord(h, "CAA", $"0 issue \"{i}{account}\"", RecordPurpose.Caa, i + account))]));
            }
            else
            {
                groups.Add(new($"CAA: not printed: the CAA identity of {caa.DirectoryUrl} is not known (its directory lists no caaIdentities).", []));
            }
        }
        if (r.SmtpMx && r.TlsaSha256.Count > 0)
        {
            groups.Add(new("DANE (RFC 7672): TLSA records of the server's stable host keys (3 1 1: the key's SHA-256),\nvalid across certificate renewals. Publish them only if the zone is DNSSEC-signed.",
                [.. r.TlsaSha256.Select(t => new PlannedRecord("_25._tcp." + h, "TLSA", "3 1 1 " + t, RecordPurpose.Tlsa))]));
        }
        var srv = new List<PlannedRecord>();
        foreach (var s in r.ClientServices)
        {
            srv.Add(s.Port is { } port
                ? new(s.Service + "." + d, "SRV", string.Create(CultureInfo.InvariantCulture, $"{s.Priority} 1 {port} {h}"), RecordPurpose.Srv)
                : new(s.Service + "." + d, "SRV", "0 0 0 .", RecordPurpose.Srv));
        }
        srv.Add(new("_pop3._tcp." + d, "SRV", "0 0 0 .", RecordPurpose.Srv));
        srv.Add(new("_pop3s._tcp." + d, "SRV", "0 0 0 .", RecordPurpose.Srv));
        groups.Add(new("Where mail clients find the server (RFC 6186, RFC 8314 §5.1): implicit TLS preferred; a target of \".\"\nsays the service is not offered (there is no POP3).", srv));
        groups.Add(new(
            r.WebServices
                ? $"Client autoconfiguration is served by this server: Thunderbird at https://autoconfig.{r.Domain}/mail/config-v1.1.xml,\nOutlook at https://autodiscover.{r.Domain}/autodiscover/autodiscover.xml, and an Apple profile at\nhttps://autoconfig.{r.Domain}/apple.mobileconfig?emailaddress=you@{r.Domain}."
                : "Client autoconfiguration (autoconfig, autodiscover): not served: no listener has `https` enabled with a\ncertificate (docs/web.md); mail clients use the SRV records above.",
            [new("autoconfig." + d, "CNAME", h, RecordPurpose.Cname), new("autodiscover." + d, "CNAME", h, RecordPurpose.Cname)],
            r.WebServices));
        return groups;
    }

    public static string Build(DnsRecordInputs r)
    {
        var sb = new StringBuilder();
        sb.Append(";; DNS records for ").Append(r.Domain).Append(" (zone-file syntax; a name ending in a dot is absolute).\n");
        foreach (var g in Plan(r))
        {
            sb.Append('\n');
            foreach (var line in g.Comment.Split('\n')) sb.Append(";; ").Append(line).Append('\n');
            foreach (var rec in g.Records)
            {
                if (!g.Published) sb.Append("; ");
                sb.Append(rec.Name).Append(" IN ").Append(rec.Type).Append(' ').Append(rec.Data).Append('\n');
            }
        }
        return sb.ToString();
    }

    private static PlannedRecord Txt(string name, string text, RecordPurpose purpose) => new(name, "TXT", TxtStrings(text), purpose, text);

    /// <summary>TXT data as quoted strings of at most 255 octets each (RFC 1035 §3.3.14).</summary>
    internal static string TxtStrings(string text)
    {
        var parts = new List<string>();
        for (int i = 0; i < text.Length; i += 255)
            parts.Add("\"" + text.Substring(i, Math.Min(255, text.Length - i)) + "\"");
        return string.Join(" ", parts);
    }
}
