// What the DNS records of a domain depend on, gathered from the configuration and the data
// folder: the host name and services (postern.conf), DKIM keys (DATA/dkim), host keys for TLSA
// (DATA/hostkeys), the ACME account for CAA (DATA/acme/account.json), report addresses (the DB).
using System.Net;
using Postern.Config;
using Postern.Security.Acme;
using Postern.Store;
using Postern.Store.Reports;

namespace Postern.Setup;

/// <summary>Builds <see cref="DnsRecordInputs"/> for a domain of a configured server.</summary>
internal static class DomainDnsInputs
{
    /// <summary>CAA identities of well-known ACME CAs, for when the server has not registered yet (no account.json).</summary>
    private static readonly Dictionary<string, string> KnownCaaIdentities = new(StringComparer.OrdinalIgnoreCase)
    {
        ["acme-v02.api.letsencrypt.org"] = "letsencrypt.org",
        ["acme-staging-v02.api.letsencrypt.org"] = "letsencrypt.org",
        ["acme.zerossl.com"] = "sectigo.com",
        ["dv.acme-v02.api.pki.goog"] = "pki.goog",
        ["api.buypass.com"] = "buypass.com",
    };

    public static async Task<DnsRecordInputs> BuildAsync(LoadedConfig loaded, IMailStore store, string domain, IReadOnlyList<IPAddress> publicIPs, CancellationToken ct)
    {
        ServerConfig c = loaded.Config;
        string data = loaded.DataDirectory;
        string host = c.Hostname.TrimEnd('.').ToLowerInvariant();

        var tlsa = new List<string>();
        string hostKeys = Path.Combine(data, HostKeys.Folder);
        if (File.Exists(Path.Combine(hostKeys, HostKeys.EcdsaFile)) && File.Exists(Path.Combine(hostKeys, HostKeys.RsaFile)))
        {
            using var keys = HostKeys.LoadOrCreate(data);
            tlsa.AddRange(keys.TlsaDigests().Select(t => t.Sha256));
        }

        // The same rule decides which incoming mail is looked at for reports (IncomingReportReceiver).
        ReportAddresses reportAddresses = await ReportAddresses.ForDomainAsync(store.Directory, domain, ct).ConfigureAwait(false);
        string dmarc = reportAddresses.Dmarc, tlsrpt = reportAddresses.Tls;

        int? Port(Func<ListenerConfig, ServiceConfig> service) =>
            c.Listeners.Values.Select(service).FirstOrDefault(s => s.Enabled)?.Port;
        bool tls = c.Listeners.Values.Any(l => l.Tls.KeyCerts.Count > 0 || l.Tls.Acme);
        var services = DnsRecordSet.ClientServicesOf(tls ? Port(l => l.Submissions) : null, tls ? Port(l => l.Imaps) : null, Port(l => l.Submission), Port(l => l.Imap));

        var dkim = DkimKeyFolder.List(data, domain).Select(k => (k.Selector, k.Record)).ToList();

        CaaIssuer? caa = null;
        if (c.Acme.DirectoryUrl.Length > 0)
        {
            var account = AcmeAccountRecord.TryLoad(Path.Combine(data, "acme"));
            if (account is not null && account.DirectoryUrl.TrimEnd('/') == c.Acme.DirectoryUrl.TrimEnd('/'))
            {
                var ids = account.CaaIdentities.Count > 0 ? account.CaaIdentities : Known(c.Acme.DirectoryUrl);
                caa = new CaaIssuer(c.Acme.DirectoryUrl, ids, account.AccountUrl);
            }
            else
            {
                caa = new CaaIssuer(c.Acme.DirectoryUrl, Known(c.Acme.DirectoryUrl), null);
            }
        }

        return new DnsRecordInputs(domain, host, publicIPs, tlsa, dmarc, tlsrpt,
            SmtpMx: Port(l => l.Smtp) is not null, services, dkim, caa, WebServices: WebServices.Served(c), MtaSts: WebServices.MtaStsPolicy(c));
    }

    private static IReadOnlyList<string> Known(string directoryUrl) =>
        Uri.TryCreate(directoryUrl, UriKind.Absolute, out var u) && KnownCaaIdentities.TryGetValue(u.Host, out var id) ? [id] : [];
}
