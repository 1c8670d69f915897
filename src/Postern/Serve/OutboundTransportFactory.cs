// Builds the outgoing transports and the route table from postern.conf (transports:, routes:).
// The queue (serve wiring) hands every delivery attempt to the TransportRouter returned here.
using System.Security.Cryptography.X509Certificates;
using Postern.Config;
using Postern.Dns;
using Postern.Security.Tls;
using Postern.Smtp.Client;

namespace Postern.Serve;

/// <summary>Creates the <see cref="TransportRouter"/> of a configuration.</summary>
internal static class OutboundTransportFactory
{
    /// <summary>Builds every configured transport and the routes; throws <see cref="StartException"/> for unreadable files.</summary>
    /// <param name="security">DANE, MTA-STS, REQUIRETLS and TLS reporting for direct transports; null: opportunistic TLS only.</param>
    public static TransportRouter Create(LoadedConfig loaded, IDnsResolver dns, SmtpClientOptions? client = null, DeliverySecurityOptions? security = null)
    {
        ServerConfig c = loaded.Config;
        client ??= new SmtpClientOptions { LocalHostName = c.Hostname };
        security = ApplyOutgoingTls(c.OutgoingTls, security);
        var resolver = new MxResolver(dns);
        var transports = new Dictionary<string, IOutboundTransport>(StringComparer.Ordinal);
        foreach (var (name, t) in c.Transports)
            transports[name] = Build(loaded, name, t, resolver, dns, client, security);
        if (!transports.TryGetValue("direct", out IOutboundTransport? direct))
        {
            direct = new DirectTransport(resolver, new DirectTransportOptions { Client = client, Security = security });
            transports["direct"] = direct;
        }
        var routes = c.Routes.Select(r => new OutboundRoute(transports[r.Transport], r.FromDomains, r.ToDomains, r.MinimumAttempt)).ToList();
        return new TransportRouter(routes, direct);
    }

    /// <summary>The <c>outgoing-tls</c> switches: DANE off means no TLSA lookups; MTA-STS off means no policy client (docs/transport-security.md).</summary>
    internal static DeliverySecurityOptions? ApplyOutgoingTls(OutgoingTlsConfig config, DeliverySecurityOptions? security) =>
        security is null ? null : security with
        {
            Dane = security.Dane && config.Dane,
            MtaSts = config.MtaSts ? security.MtaSts : null,
        };

    private static IOutboundTransport Build(LoadedConfig loaded, string name, TransportConfig t, MxResolver resolver, IDnsResolver dns, SmtpClientOptions client,
        DeliverySecurityOptions? security)
    {
        IConnectionDialer dialer = DirectDialer.Instance;
        if (t.Socks5.Length > 0)
        {
            ConfigLoader.TrySplitHostPort(t.Socks5, out string proxyHost, out int proxyPort);
            string? user = t.Socks5Username.Length > 0 ? t.Socks5Username : null;
            string? password = user is null ? null : ReadSecret(loaded, $"transports.{name}.socks5-password-file", t.Socks5PasswordFile);
            dialer = new Socks5Dialer(proxyHost, proxyPort, user, password);
        }
        if (t.Type == TransportType.Direct)
            return new DirectTransport(resolver, new DirectTransportOptions { Name = name, Port = t.Port == 0 ? 25 : t.Port, Client = client, Dialer = dialer, Security = security });
        SmarthostTlsMode tls = t.Tls switch
        {
            TransportTls.Starttls => SmarthostTlsMode.StartTls,
            TransportTls.Implicit => SmarthostTlsMode.Implicit,
            TransportTls.Opportunistic => SmarthostTlsMode.Opportunistic,
            TransportTls.None => SmarthostTlsMode.None,
            _ => t.Type == TransportType.Smarthost ? SmarthostTlsMode.StartTls : SmarthostTlsMode.Opportunistic,
        };
        int port = t.Port != 0 ? t.Port : tls == SmarthostTlsMode.Implicit ? 465 : t.Type == TransportType.Smarthost ? 587 : 25;
        IServerCertificateVerifier verifier = SystemCaVerifier.Instance;
        if (t.CaFile.Length > 0)
        {
            try
            {
                verifier = new SystemCaVerifier(TlsCertificates.LoadPemChain(loaded.Resolve(t.CaFile)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new StartException($"transports.{name}.ca-file: cannot read {t.CaFile}: {e.Message}");
            }
        }
        return new SmarthostTransport(new SmarthostOptions
        {
            Name = name,
            Host = t.Host,
            Port = port,
            Tls = tls,
            UserName = t.Username.Length > 0 ? t.Username : null,
            Password = t.Username.Length > 0 ? ReadSecret(loaded, $"transports.{name}.password-file", t.PasswordFile) : null,
            Verifier = verifier,
            Dialer = dialer,
            Client = client,
        }, dialer.ResolvesNames ? null : dns);
    }

    private static string ReadSecret(LoadedConfig loaded, string setting, string file)
    {
        string path = loaded.Resolve(file);
        try
        {
            using var reader = new StreamReader(path);
            string? line = reader.ReadLine();
            if (string.IsNullOrEmpty(line)) throw new StartException($"{setting}: {file} is empty");
            return line;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartException($"{setting}: cannot read {file}: {e.Message}");
        }
    }
}
