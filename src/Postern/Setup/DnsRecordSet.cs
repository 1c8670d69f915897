// The DNS records a domain needs to receive and send mail through this server, in zone-file
// syntax with a comment each. Only records for what the server does today are produced: a
// record that advertises a service the server does not run would mislead other servers.
using System.Net;
using System.Text;

namespace Postern.Setup;

/// <summary>Inputs of <see cref="DnsRecordSet.Build"/>.</summary>
/// <param name="Domain">The mail domain (A-labels).</param>
/// <param name="HostName">The server's host name (A-labels).</param>
/// <param name="PublicIPs">Public addresses of the host, for A/AAAA and SPF; may be empty.</param>
/// <param name="TlsaSha256">SHA-256 digests of the host keys' public keys (TLSA 3 1 1).</param>
/// <param name="DmarcReportAddress">Where aggregate DMARC reports go.</param>
/// <param name="ImapsPort">Port of IMAPS for the SRV record, or null when not served.</param>
/// <param name="SubmissionsPort">Port of SMTP submission over TLS for the SRV record, or null when not served.</param>
/// <param name="SmtpMx">Whether the server accepts incoming mail on port 25 (MX, TLSA on _25._tcp).</param>
/// <param name="DkimKeys">DKIM selectors with the TXT record text of their public keys.</param>
internal sealed record DnsRecordInputs(
    string Domain,
    string HostName,
    IReadOnlyList<IPAddress> PublicIPs,
    IReadOnlyList<string> TlsaSha256,
    string DmarcReportAddress,
    int? ImapsPort,
    int? SubmissionsPort,
    bool SmtpMx,
    IReadOnlyList<(string Selector, string Record)> DkimKeys);

/// <summary>Builds the zone-file text.</summary>
internal static class DnsRecordSet
{
    public static string Build(DnsRecordInputs r)
    {
        string d = r.Domain.TrimEnd('.') + ".";
        string h = r.HostName.TrimEnd('.') + ".";
        var sb = new StringBuilder();
        sb.Append(";; DNS records for ").Append(r.Domain).Append(" (zone-file syntax; a name ending in a dot is absolute).\n");
        if (r.PublicIPs.Count > 0)
        {
            sb.Append("\n;; The server's host name points to its public addresses; ask your hosting provider to set\n")
              .Append(";; the reverse DNS (PTR) of each address back to ").Append(h).Append('\n');
            foreach (var ip in r.PublicIPs)
                sb.Append(h).Append(" IN ").Append(ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "AAAA " : "A ").Append(ip).Append('\n');
        }
        else
        {
            sb.Append("\n;; No public address was found on this machine: add A and AAAA records for ").Append(h)
              .Append(" with the\n;; addresses other servers reach it at, and a PTR record for each pointing back to it.\n");
        }
        if (r.SmtpMx)
        {
            sb.Append("\n;; Incoming mail for the domain goes to this server (RFC 5321 §5.1).\n")
              .Append(d).Append(" IN MX 10 ").Append(h).Append('\n');
        }
        sb.Append("\n;; SPF (RFC 7208): only the domain's MX hosts send its mail; others soft-fail.\n")
          .Append(d).Append(" IN TXT \"v=spf1 mx ~all\"\n");
        sb.Append("\n;; SPF for the host name itself, checked on the HELO name of outgoing connections.\n")
          .Append(h).Append(" IN TXT \"v=spf1 a -all\"\n");
        if (r.DkimKeys.Count > 0)
        {
            sb.Append("\n;; DKIM (RFC 6376, RFC 8463): the public keys that verify the domain's signatures, one Ed25519\n")
              .Append(";; and one RSA for verifiers without Ed25519. Long records are split into strings of 255.\n");
            foreach (var (selector, record) in r.DkimKeys)
                sb.Append(selector).Append("._domainkey.").Append(d).Append(" IN TXT ").Append(TxtStrings(record)).Append('\n');
        }
        sb.Append("\n;; DMARC (RFC 7489): reject mail that fails SPF and DKIM alignment, and send aggregate\n")
          .Append(";; reports to ").Append(r.DmarcReportAddress).Append(".\n")
          .Append("_dmarc.").Append(d).Append(" IN TXT \"v=DMARC1; p=reject; rua=mailto:").Append(r.DmarcReportAddress).Append("\"\n");
        if (r.SmtpMx && r.TlsaSha256.Count > 0)
        {
            sb.Append("\n;; DANE (RFC 7672): TLSA records of the server's stable host keys (3 1 1: the key's SHA-256),\n")
              .Append(";; valid across certificate renewals. Publish them only if the zone is DNSSEC-signed.\n");
            foreach (var digest in r.TlsaSha256)
                sb.Append("_25._tcp.").Append(h).Append(" IN TLSA 3 1 1 ").Append(digest).Append('\n');
        }
        if (r.ImapsPort is not null || r.SubmissionsPort is not null)
        {
            sb.Append("\n;; Where mail clients find the server (RFC 6186, RFC 8314 §5.1).\n");
            if (r.SubmissionsPort is { } sp)
                sb.Append("_submissions._tcp.").Append(d).Append(" IN SRV 0 1 ").Append(sp).Append(' ').Append(h).Append('\n');
            if (r.ImapsPort is { } ip)
                sb.Append("_imaps._tcp.").Append(d).Append(" IN SRV 0 1 ").Append(ip).Append(' ').Append(h).Append('\n');
            sb.Append(";; No POP3 (RFC 6186 §3.4: a target of \".\" says the service is not available).\n");
            sb.Append("_pop3._tcp.").Append(d).Append(" IN SRV 0 0 0 .\n");
            sb.Append("_pop3s._tcp.").Append(d).Append(" IN SRV 0 0 0 .\n");
        }
        return sb.ToString();
    }

    /// <summary>TXT data as quoted strings of at most 255 octets each (RFC 1035 §3.3.14).</summary>
    internal static string TxtStrings(string text)
    {
        var parts = new List<string>();
        for (int i = 0; i < text.Length; i += 255)
            parts.Add("\"" + text.Substring(i, Math.Min(255, text.Length - i)) + "\"");
        return string.Join(" ", parts);
    }
}
