// The web listener: Kestrel from the shared framework, configured small and strict. An empty
// WebApplication builder (no configuration files, environment variables or default middleware)
// with one request delegate (MailWebSite), limits on everything a client sends, no Server header,
// TLS 1.2+ with the certificate chosen by SNI from the same CertificateSelector as the mail
// listeners. In front of Kestrel's TLS on the HTTPS endpoints sits AcmeTlsAlpnConnection, which
// answers ACME tls-alpn-01 validation handshakes itself (RFC 8737).
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Postern.Web;

/// <summary>The HTTPS/HTTP listener for MTA-STS, autoconfiguration and ACME.</summary>
public sealed class WebServer : IAsyncDisposable
{
    /// <summary>Largest request body (autodiscover requests are a few hundred bytes).</summary>
    public const int MaxRequestBodyBytes = 16 * 1024;
    /// <summary>Largest request line (method, path and query).</summary>
    public const int MaxRequestLineBytes = 4 * 1024;
    /// <summary>Largest total size of a request's header fields.</summary>
    public const int MaxRequestHeadersBytes = 16 * 1024;
    /// <summary>Most header fields in a request.</summary>
    public const int MaxRequestHeaderCount = 64;

    private readonly WebServerOptions _options;
    private readonly ILogger _logger;
    private WebApplication? _app;

    /// <summary>Creates the server; <see cref="StartAsync"/> binds and starts it.</summary>
    public WebServer(WebServerOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.HttpsEndPoints.Count > 0 && options.CertificateSelector is null)
            throw new ArgumentException("HTTPS endpoints need a certificate selector", nameof(options));
        _options = options;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The bound endpoints with the protocol (https or http), with actual ports when 0 was asked.</summary>
    public IReadOnlyList<(string Scheme, IPEndPoint EndPoint)> BoundEndPoints { get; private set; } = [];

    /// <summary>Binds every endpoint and starts serving. Throws <see cref="IOException"/> naming an endpoint that cannot be bound.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddLogging();
        builder.Services.AddSingleton<ILoggerFactory>(new SingleLoggerFactory(_logger));
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseSockets(s => s.CreateBoundListenSocket = Bind);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.AllowSynchronousIO = false;
            var limits = k.Limits;
            limits.MaxConcurrentConnections = _options.MaxConnections;
            limits.MaxConcurrentUpgradedConnections = 0;
            limits.MaxRequestBodySize = MaxRequestBodyBytes;
            limits.MaxRequestLineSize = MaxRequestLineBytes;
            limits.MaxRequestHeadersTotalSize = MaxRequestHeadersBytes;
            limits.MaxRequestHeaderCount = MaxRequestHeaderCount;
            limits.MaxRequestBufferSize = 64 * 1024;
            limits.MaxResponseBufferSize = 64 * 1024;
            limits.RequestHeadersTimeout = _options.RequestHeadersTimeout;
            limits.KeepAliveTimeout = TimeSpan.FromSeconds(30);
            // Slow senders of a body (slowloris on POST) are cut off below 240 bytes/s after 5 s.
            limits.MinRequestBodyDataRate = new MinDataRate(240, TimeSpan.FromSeconds(5));
            limits.MinResponseDataRate = new MinDataRate(240, TimeSpan.FromSeconds(5));
            limits.Http2.MaxStreamsPerConnection = 16;
            limits.Http2.MaxRequestHeaderFieldSize = 8 * 1024;
            limits.Http2.HeaderTableSize = 4096;
            foreach (var ep in _options.HttpsEndPoints)
            {
                k.Listen(ep, l =>
                {
                    l.Protocols = HttpProtocols.Http1AndHttp2;
                    if (_options.TlsAlpn01 is { } tlsAlpn01)
                        l.Use(next => new AcmeTlsAlpnConnection(next, tlsAlpn01, _options.RequestHeadersTimeout, _logger).OnConnectionAsync);
                    // The handshake callback (not a certificate selector) so that the chain the
                    // client needs goes with the leaf: Kestrel's selector sends only what it finds
                    // in the machine's stores.
                    l.UseHttps(new TlsHandshakeCallbackOptions
                    {
                        HandshakeTimeout = _options.RequestHeadersTimeout,
                        OnConnection = context => ValueTask.FromResult(new SslServerAuthenticationOptions
                        {
                            ServerCertificateContext = SelectCertificate(context.ClientHelloInfo.ServerName),
                            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                            ClientCertificateRequired = false,
                            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
                        }),
                    });
                });
            }
            foreach (var ep in _options.HttpEndPoints)
                k.Listen(ep, l => l.Protocols = HttpProtocols.Http1);
            foreach (var ep in _options.MetricsEndPoints)
                k.Listen(ep, l => l.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        var site = new MailWebSite(_options, _logger);
        app.Run(site.HandleAsync);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException || e.InnerException is SocketException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw e as IOException ?? new IOException(e.Message, e);
        }
        _app = app;
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var bound = new List<(string, IPEndPoint)>();
        foreach (string a in addresses)
        {
            var uri = new Uri(a.Replace("[::]", "[0::0]", StringComparison.Ordinal));
            if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip)) bound.Add((uri.Scheme, new IPEndPoint(ip, uri.Port)));
        }
        BoundEndPoints = bound;
    }

    /// <summary>A bound socket like the mail listeners' (ListenSockets): IPv6 sockets take only IPv6, restart-safe SO_REUSEADDR.</summary>
    private static Socket Bind(EndPoint endPoint)
    {
        var ep = (IPEndPoint)endPoint;
        try
        {
            return Security.Net.ListenSockets.Bind(ep);
        }
        catch (IOException e)
        {
            throw new IOException(e.Message + (e.InnerException is SocketException { SocketErrorCode: SocketError.AccessDenied }
                ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : ""), e.InnerException);
        }
    }

    /// <summary>Stops accepting; requests running get <paramref name="grace"/> to finish.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_app is null) return;
        using var cts = new CancellationTokenSource(grace);
        try
        {
            await _app.StopAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_app is null) return;
        await StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _app = null;
    }

    /// <summary>Kestrel's own log lines go to the server's logger, below information level (connection resets, bad requests).</summary>
    private sealed class SingleLoggerFactory(ILogger logger) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new QuietLogger(logger);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }

    private sealed class QuietLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(Demote(logLevel));

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(Demote(logLevel), eventId, state, null, (s, _) => "web: " + formatter(s, exception) + (exception is null ? "" : " (" + exception.Message + ")"));

        // Kestrel logs client mistakes at debug and its own failures at error; start-up chatter at information is demoted.
        private static LogLevel Demote(LogLevel level) => level <= LogLevel.Information ? LogLevel.Debug : level;
    }

    private SslStreamCertificateContext SelectCertificate(string? serverName)
    {
        string? name = string.IsNullOrEmpty(serverName) ? null : serverName;
        return _options.CertificateContextSelector is { } contexts
            ? contexts(name)
            : SslStreamCertificateContext.Create(_options.CertificateSelector!(name), additionalCertificates: null, offline: true);
    }
}
