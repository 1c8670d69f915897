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
    private Task? _run;

    private AcmeService(LoadedConfig config, ILogger logger, HostKeys keys, AcmeCertificateManager manager, Dictionary<string, List<CertificateFiles>> files,
        Http01ChallengeResponder http01, TlsAlpn01ChallengeResponder tlsAlpn01)
    {
        _http01 = http01;
        _tlsAlpn01 = tlsAlpn01;
        _config = config;
        _logger = logger;
        _keys = keys;
        _manager = manager;
        Files = files;
    }

    /// <summary>The ACME certificate files of each listener using ACME, by listener name; the host name's first.</summary>
    public IReadOnlyDictionary<string, List<CertificateFiles>> Files { get; }

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

        var certificates = new Dictionary<string, AcmeManagedCertificate>(StringComparer.Ordinal);
        var files = new Dictionary<string, List<CertificateFiles>>();
        foreach (var (name, l) in c.Listeners.Where(x => x.Value.Tls.Acme))
        {
            var names = new List<string> { (l.Hostname.Length > 0 ? l.Hostname : c.Hostname).ToLowerInvariant() };
            foreach (var n in l.Tls.AcmeNames.Select(n => n.ToLowerInvariant())) if (!names.Contains(n)) names.Add(n);
            var listenerFiles = new List<CertificateFiles>();
            void Add(List<string> certNames)
            {
                string id = string.Join(",", certNames);
                if (!certificates.TryGetValue(id, out var cert))
                {
                    cert = new AcmeManagedCertificate(certNames[0], certNames, key, Path.Combine(data, Folder, "certs", $"{certNames[0]}.{suffix}.pem"));
                    certificates[id] = cert;
                }
                listenerFiles.Add(new CertificateFiles(cert.CertificatePath, keyPath));
            }
            Add(names);
            // issue 7 "Certificates": each domain's mta-sts. and autoconfig. names (and autodiscover.), when this listener serves them.
            if (l.Https.Enabled)
            {
                foreach (var d in domains.Select(d => d.TrimEnd('.').ToLowerInvariant()).Distinct().Order(StringComparer.Ordinal))
                    Add([.. WebServices.NamesOf(d)]);
            }
            files[name] = listenerFiles;
        }

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
        }, [.. certificates.Values], logger);
        var service = new AcmeService(config, logger, keys, manager, files, http01, tlsAlpn01);
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

    /// <summary>Binds the challenge listeners (throws <see cref="StartException"/>) and starts issuing and renewing in the background.</summary>
    public void Start()
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
    }

    /// <summary>Issues what is due now (for tests and `postern serve` start-up checks).</summary>
    public Task<bool> RenewDueAsync(CancellationToken cancellationToken) => _manager.RenewDueAsync(cancellationToken);

    /// <summary>The current errors of failing certificates.</summary>
    public IReadOnlyDictionary<string, string> Errors => _manager.Errors;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_run is not null)
        {
            try
            {
                await _run.ConfigureAwait(false);
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
