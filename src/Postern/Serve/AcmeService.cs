// ACME in `postern serve`: one managed certificate per distinct set of names of the listeners with
// `tls.acme: true`, on a stable host key (DATA/hostkeys), written to DATA/acme/certs where the
// listeners' CertificateSelectors watch it. A listener that also runs the web listener (https)
// gets one more certificate per mail domain, for mta-sts.DOMAIN, autoconfig.DOMAIN and
// autodiscover.DOMAIN: separate from the host name's, so that a domain whose web names are not
// in DNS yet does not keep the mail host's certificate from being issued. Challenges are
// answered by small listeners on the acme ports (tls-alpn-01, http-01) at those listeners' IPs,
// except where the web listener has those ports: it answers them itself. Issuance runs in the background:
// the server starts with what it has (a self-signed placeholder on the same key at first) and
// keeps retrying with backoff while the authority is down or refuses.
//
// Mail domains come and go while the server runs (`postern config domain add` from another
// process): every DomainCheckInterval the domain list is read again (when the directory database
// changed, see DirectoryChangeCheck), and a change gives the new domains their web-name
// certificates (a placeholder at once, then issued) and takes those of removed domains out of
// the listeners and of renewal (FilesChanged tells the listeners).
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Postern.Config;
using Postern.Security.Acme;
using Postern.Security.Tls;
using Postern.Setup;

namespace Postern.Serve;

/// <summary>The ACME part of a running server.</summary>
internal sealed class AcmeService : IAsyncDisposable
{
    public const string Folder = "acme";

    private readonly LoadedConfig _config;
    private readonly ILogger _logger;
    private readonly HostKeys _keys;
    private readonly AcmeCertificateManager _manager;
    private readonly Http01ChallengeResponder _http01;
    private readonly TlsAlpn01ChallengeResponder _tlsAlpn01;
    private readonly List<AcmeChallengeListener> _listeners = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly CertificateLayout _layout;
    private readonly Lock _domainsLock = new();
    private string[] _domains;
    private Dictionary<string, AcmeManagedCertificate> _webCertificates;
    private volatile IReadOnlyDictionary<string, List<CertificateFiles>> _files;
    private Task? _run;
    private Task? _domainWatch;
    private bool _domainCheckFailed;

    /// <summary>Where and on which key the certificates are, and which listeners have which.</summary>
    /// <param name="Hosts">The host-name certificates of each ACME listener, by listener name (fixed for the run).</param>
    /// <param name="WebListeners">The ACME listeners that serve the web names of the domains.</param>
    private sealed record CertificateLayout(Dictionary<string, List<AcmeManagedCertificate>> Hosts, HashSet<string> WebListeners, AsymmetricAlgorithm Key,
        string KeyPath, string Suffix, string CertFolder);

    private AcmeService(LoadedConfig config, ILogger logger, HostKeys keys, AcmeCertificateManager manager, CertificateLayout layout, string[] domains,
        Dictionary<string, AcmeManagedCertificate> webCertificates, Http01ChallengeResponder http01, TlsAlpn01ChallengeResponder tlsAlpn01)
    {
        _http01 = http01;
        _tlsAlpn01 = tlsAlpn01;
        _config = config;
        _logger = logger;
        _keys = keys;
        _manager = manager;
        _layout = layout;
        _domains = domains;
        _webCertificates = webCertificates;
        _files = FilesOf(layout, domains, webCertificates);
    }

    /// <summary>How often the domain list is read for domains added or removed while the server runs.</summary>
    public static readonly TimeSpan DomainCheckInterval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The ACME certificate files of each listener using ACME, by listener name: the host name's
    /// first, then one per mail domain (web listeners only), in domain order. Changes with the domains.
    /// </summary>
    public IReadOnlyDictionary<string, List<CertificateFiles>> Files => _files;

    /// <summary>Called with the new <see cref="Files"/> after domains were added or removed (from the domain check's thread).</summary>
    public Action<IReadOnlyDictionary<string, List<CertificateFiles>>>? FilesChanged { get; set; }

    /// <summary>The mail domains whose web names are certified now (normalized, sorted); empty without a web listener.</summary>
    public IReadOnlyList<string> Domains
    {
        get { lock (_domainsLock) return _domains; }
    }

    /// <summary>http-01 answers, for a web listener on the http-01 port.</summary>
    public Http01ChallengeResponder Http01 => _http01;

    /// <summary>tls-alpn-01 answers, for a web listener on the tls-alpn-01 port.</summary>
    public TlsAlpn01ChallengeResponder TlsAlpn01 => _tlsAlpn01;

    /// <summary>What listens where, for the start-up message.</summary>
    public List<string> Endpoints { get; } = [];

    /// <summary>
    /// Sets up ACME for the listeners that use it (null when none does) and writes self-signed
    /// placeholders where no certificate exists yet. <paramref name="domains"/> are the mail domains,
    /// whose web names are certified for listeners with the web listener. Throws <see cref="StartException"/>.
    /// </summary>
    public static AcmeService? Create(LoadedConfig config, ILogger logger, IReadOnlyList<string> domains)
    {
        ServerConfig c = config.Config;
        if (!c.Listeners.Values.Any(l => l.Tls.Acme)) return null;
        var a = c.Acme;
        var roots = new X509Certificate2Collection();
        if (a.TrustedCaFile.Length > 0)
        {
            string path = config.Resolve(a.TrustedCaFile);
            try
            {
                roots.ImportFromPemFile(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new StartException($"acme.trusted-ca-file: {path}: {e.Message}");
            }
            if (roots.Count == 0) throw new StartException($"acme.trusted-ca-file: {path} holds no PEM certificate");
        }

        string data = config.DataDirectory;
        HostKeys keys;
        try
        {
            keys = HostKeys.LoadOrCreate(data);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new StartException($"{Path.Combine(data, HostKeys.Folder)}: cannot read the host keys: {e.Message}");
        }
        AsymmetricAlgorithm key = a.Key == AcmeKeySetting.Rsa2048 ? keys.Rsa : keys.Ecdsa;
        string keyPath = a.Key == AcmeKeySetting.Rsa2048 ? keys.RsaPath : keys.EcdsaPath;
        string suffix = a.Key == AcmeKeySetting.Rsa2048 ? "rsa2048" : "ecdsa-p256";

        // One certificate per distinct set of names: listeners with the same host name share theirs.
        var hostCertificates = new Dictionary<string, AcmeManagedCertificate>(StringComparer.Ordinal);
        var layout = new CertificateLayout([], [], key, keyPath, suffix, Path.Combine(data, Folder, "certs"));
        foreach (var (name, l) in c.Listeners.Where(x => x.Value.Tls.Acme))
        {
            var names = new List<string> { (l.Hostname.Length > 0 ? l.Hostname : c.Hostname).ToLowerInvariant() };
            foreach (var n in l.Tls.AcmeNames.Select(n => n.ToLowerInvariant())) if (!names.Contains(n)) names.Add(n);
            string id = string.Join(",", names);
            if (!hostCertificates.TryGetValue(id, out var cert))
            {
                cert = Certificate(layout, names);
                hostCertificates[id] = cert;
            }
            layout.Hosts[name] = [cert];
            // issue 7 "Certificates": each domain's mta-sts. and autoconfig. names (and autodiscover.), when this listener serves them.
            if (l.Https.Enabled) layout.WebListeners.Add(name);
        }
        string[] webDomains = layout.WebListeners.Count == 0 ? [] : Normalize(domains);
        var webCertificates = webDomains.ToDictionary(d => d, d => Certificate(layout, [.. WebServices.NamesOf(d)]), StringComparer.Ordinal);

        ExternalAccountBinding? eab = null;
        if (a.EabKeyId.Length > 0) eab = new ExternalAccountBinding(a.EabKeyId, Base64Url.Decode(a.EabHmacKey));
        // RFC 8737 over RFC 8555 §8.3 when both are on: port 443 is open on more mail servers than 80.
        var http01 = new Http01ChallengeResponder();
        var tlsAlpn01 = new TlsAlpn01ChallengeResponder();
        var responders = new List<IAcmeChallengeResponder>();
        if (a.TlsAlpnPort > 0) responders.Add(tlsAlpn01);
        if (a.HttpPort > 0) responders.Add(http01);
        var manager = new AcmeCertificateManager(new AcmeManagerOptions
        {
            Client = new AcmeClientOptions { DirectoryUri = new Uri(a.DirectoryUrl), TrustedRoots = roots },
            StateDirectory = Path.Combine(data, Folder),
            ContactEmails = a.ContactEmail.Length > 0 ? [a.ContactEmail] : [],
            Binding = eab,
            Responders = responders,
            RenewBefore = TimeSpan.FromDays(a.RenewDays),
        }, AllCertificates(layout, webCertificates), logger);
        var service = new AcmeService(config, logger, keys, manager, layout, webDomains, webCertificates, http01, tlsAlpn01);
        try
        {
            foreach (var written in manager.WritePlaceholders())
                logger.LogWarning("acme certificate={Name} not issued yet: a self-signed certificate on the host key stands in until {Url} issues one", written, a.DirectoryUrl);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartException($"{Path.Combine(data, Folder)}: cannot write certificates: {e.Message}");
        }
        return service;
    }

    private static AcmeManagedCertificate Certificate(CertificateLayout layout, List<string> names) =>
        new(names[0], names, layout.Key, Path.Combine(layout.CertFolder, $"{names[0]}.{layout.Suffix}.pem"));

    private static string[] Normalize(IEnumerable<string> domains) =>
        [.. domains.Select(d => d.Trim().TrimEnd('.').ToLowerInvariant()).Where(d => d.Length > 0).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>The host certificates, then the domains' (a set of names already among the host certificates is not repeated).</summary>
    private static List<AcmeManagedCertificate> AllCertificates(CertificateLayout layout, Dictionary<string, AcmeManagedCertificate> web)
    {
        var all = layout.Hosts.Values.SelectMany(h => h).Distinct().ToList();
        var ids = all.Select(c => string.Join(",", c.DnsNames)).ToHashSet(StringComparer.Ordinal);
        foreach (var (_, cert) in web.OrderBy(w => w.Key, StringComparer.Ordinal))
        {
            if (ids.Add(string.Join(",", cert.DnsNames))) all.Add(cert);
        }
        return all;
    }

    private static Dictionary<string, List<CertificateFiles>> FilesOf(CertificateLayout layout, string[] domains, Dictionary<string, AcmeManagedCertificate> web)
    {
        var files = new Dictionary<string, List<CertificateFiles>>(StringComparer.Ordinal);
        foreach (var (name, hosts) in layout.Hosts)
        {
            var list = hosts.Select(h => new CertificateFiles(h.CertificatePath, layout.KeyPath)).ToList();
            if (layout.WebListeners.Contains(name))
                list.AddRange(domains.Select(d => new CertificateFiles(web[d].CertificatePath, layout.KeyPath)));
            files[name] = list;
        }
        return files;
    }

    /// <summary>
    /// Certifies the web names of exactly <paramref name="domains"/> from now on: a new domain gets a
    /// placeholder at once and is issued in the background; a removed one is no longer served or
    /// renewed (its file stays). Returns false when nothing changed (or no listener serves web names).
    /// Throws <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> when a placeholder cannot be written; nothing changes then.
    /// </summary>
    public bool UpdateDomains(IEnumerable<string> domains)
    {
        IReadOnlyDictionary<string, List<CertificateFiles>> files;
        lock (_domainsLock)
        {
            if (_layout.WebListeners.Count == 0) return false;
            string[] next = Normalize(domains);
            if (next.SequenceEqual(_domains, StringComparer.Ordinal)) return false;
            var added = next.Except(_domains, StringComparer.Ordinal).ToList();
            var removed = _domains.Except(next, StringComparer.Ordinal).ToList();
            var web = next.ToDictionary(d => d, d => _webCertificates.TryGetValue(d, out var known) ? known : Certificate(_layout, [.. WebServices.NamesOf(d)]), StringComparer.Ordinal);
            var all = AllCertificates(_layout, web);
            // The listeners are given only files that exist: placeholders first, then the new set.
            var placeholders = AcmeCertificateManager.WritePlaceholders(added.Select(a => web[a]), TimeProvider.System).ToHashSet(StringComparer.Ordinal);
            _manager.SetCertificates(all);
            _domains = next;
            _webCertificates = web;
            files = _files = FilesOf(_layout, next, web);
            foreach (var d in added)
            {
                _logger.LogInformation("acme domain added domain={Domain}: certificate={Name} names={Names} is served{Placeholder} and kept issued",
                    d, web[d].Name, string.Join(",", web[d].DnsNames), placeholders.Contains(web[d].Name) ? " (a self-signed placeholder until issued)" : "");
            }
            foreach (var d in removed)
                _logger.LogInformation("acme domain removed domain={Domain}: names={Names} are no longer served or renewed", d, string.Join(",", WebServices.NamesOf(d)));
        }
        FilesChanged?.Invoke(files);
        return true;
    }

    /// <summary>
    /// Reads the domain list (<paramref name="listDomains"/>) and applies it (<see cref="UpdateDomains"/>), when
    /// <paramref name="changed"/> (null: always) says the directory changed or the previous check failed.
    /// </summary>
    public async Task CheckDomainsAsync(Func<CancellationToken, Task<IReadOnlyList<string>>> listDomains, Func<bool>? changed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(listDomains);
        if (changed is not null && !changed() && !_domainCheckFailed) return;
        // Until this check has completed, the next one reads the list whatever changed() says.
        _domainCheckFailed = true;
        UpdateDomains(await listDomains(cancellationToken).ConfigureAwait(false));
        _domainCheckFailed = false;
    }

    /// <summary>Binds the challenge listeners (throws <see cref="StartException"/>) and starts issuing and renewing in the background.</summary>
    /// <param name="listDomains">The mail domains now, read every <see cref="DomainCheckInterval"/> while a listener serves web names.</param>
    /// <param name="domainsChanged">Whether the domains may have changed since it was last asked (null: read the list every time).</param>
    public void Start(Func<CancellationToken, Task<IReadOnlyList<string>>>? listDomains = null, Func<bool>? domainsChanged = null)
    {
        ServerConfig c = _config.Config;
        var ips = c.Listeners.Values.Where(l => l.Tls.Acme).SelectMany(l => l.Ips).Distinct().ToList();
        // Where a web listener has the port on an IP, it answers the validations there.
        bool Web(string ip, int port, Func<ListenerConfig, ServiceConfig> service) =>
            c.Listeners.Values.Any(l => l.Ips.Contains(ip) && service(l) is { Enabled: true } s && s.Port == port);
        var tlsAlpnIps = ips.Where(ip => !Web(ip, c.Acme.TlsAlpnPort, l => l.Https)).Select(IPAddress.Parse).ToList();
        var httpIps = ips.Where(ip => !Web(ip, c.Acme.HttpPort, l => l.Http)).Select(IPAddress.Parse).ToList();
        try
        {
            if (c.Acme.TlsAlpnPort > 0 && tlsAlpnIps.Count > 0)
                _listeners.Add(new TlsAlpn01Listener(tlsAlpnIps.Select(ip => new IPEndPoint(ip, c.Acme.TlsAlpnPort)), _tlsAlpn01, _logger));
            if (c.Acme.HttpPort > 0 && httpIps.Count > 0)
                _listeners.Add(new Http01Listener(httpIps.Select(ip => new IPEndPoint(ip, c.Acme.HttpPort)), _http01, _logger));
        }
        catch (IOException e)
        {
            string key = _listeners.Count == 0 && c.Acme.TlsAlpnPort > 0 && tlsAlpnIps.Count > 0 ? "acme.tls-alpn-port" : "acme.http-port";
            string hint = e.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AccessDenied }
                ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE; see docs/install.md)" : "";
            throw new StartException($"{key}: {e.Message}{hint}");
        }
        foreach (var l in _listeners)
        {
            l.Start();
            string kind = l is TlsAlpn01Listener ? "acme tls-alpn-01" : "acme http-01";
            Endpoints.AddRange(l.BoundEndPoints.Select(ep => $"{kind} {ep}"));
        }
        _run = Task.Run(() => _manager.RunAsync(_stop.Token));
        if (listDomains is not null && _layout.WebListeners.Count > 0)
        {
            _domainWatch = Task.Run(() => Postern.Store.PeriodicRun.LoopAsync(ct => CheckDomainsAsync(listDomains, domainsChanged, ct), () => DomainCheckInterval,
                TimeProvider.System, _logger, "acme domain check", _stop.Token));
        }
    }

    /// <summary>Issues what is due now (for tests and `postern serve` start-up checks).</summary>
    public Task<bool> RenewDueAsync(CancellationToken cancellationToken) => _manager.RenewDueAsync(cancellationToken);

    /// <summary>The current errors of failing certificates.</summary>
    public IReadOnlyDictionary<string, string> Errors => _manager.Errors;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var task in new[] { _run, _domainWatch })
        {
            if (task is null) continue;
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        foreach (var l in _listeners) await l.DisposeAsync().ConfigureAwait(false);
        _manager.Dispose();
        _keys.Dispose();
        _stop.Dispose();
    }
}
