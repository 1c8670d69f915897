// Minimal listeners that answer only ACME validation requests, for a server that has no web
// listener of its own on ports 80/443. Each connection is bounded in bytes, time and number.
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Postern.Security.Acme;

/// <summary>Accept loop shared by the challenge listeners.</summary>
public abstract class AcmeChallengeListener : IAsyncDisposable
{
    /// <summary>Most connections handled at once; more are closed at once.</summary>
    public const int MaxConnections = 32;
    /// <summary>Time a connection may take in total.</summary>
    public static readonly TimeSpan ConnectionTimeout = TimeSpan.FromSeconds(10);

    private readonly List<Socket> _sockets = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private int _active;

    /// <summary>Logger for failures.</summary>
    protected ILogger Logger { get; }

    /// <summary>Binds the endpoints now; throws <see cref="IOException"/> naming the endpoint that cannot be bound.</summary>
    protected AcmeChallengeListener(IEnumerable<IPEndPoint> endPoints, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(endPoints);
        Logger = logger ?? NullLogger.Instance;
        try
        {
            foreach (var ep in endPoints)
            {
                var s = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                _sockets.Add(s);
                if (ep.AddressFamily == AddressFamily.InterNetworkV6) s.DualMode = ep.Address.Equals(IPAddress.IPv6Any);
                try
                {
                    s.Bind(ep);
                }
                catch (SocketException e)
                {
                    throw new IOException($"cannot listen on {ep}: {e.Message}", e);
                }
                s.Listen(64);
            }
        }
        catch
        {
            foreach (var s in _sockets) s.Dispose();
            throw;
        }
    }

    /// <summary>The bound endpoints (with the actual port when 0 was asked).</summary>
    public IReadOnlyList<IPEndPoint> BoundEndPoints => [.. _sockets.Select(s => (IPEndPoint)s.LocalEndPoint!)];

    /// <summary>Starts accepting.</summary>
    public void Start()
    {
        foreach (var s in _sockets) _loops.Add(AcceptLoopAsync(s));
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            if (Interlocked.Increment(ref _active) > MaxConnections)
            {
                Interlocked.Decrement(ref _active);
                client.Dispose();
                continue;
            }
            _ = HandleAsync(client);
        }
    }

    private async Task HandleAsync(Socket client)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(ConnectionTimeout);
        try
        {
            await using var stream = new NetworkStream(client, ownsSocket: true);
            await ServeAsync(stream, client.RemoteEndPoint, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
        {
            Logger.LogDebug("acme challenge connection from={Remote} ended: {Error}", client.RemoteEndPoint, e.Message);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>Answers one connection.</summary>
    protected abstract Task ServeAsync(NetworkStream stream, EndPoint? remote, CancellationToken cancellationToken);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var s in _sockets) s.Dispose();
        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>An HTTP/1.x listener that answers only GET /.well-known/acme-challenge/TOKEN (RFC 8555 §8.3); everything else is 404.</summary>
public sealed class Http01Listener : AcmeChallengeListener
{
    /// <summary>Longest request head read.</summary>
    public const int MaxRequestBytes = 8192;

    private readonly Http01ChallengeResponder _responder;

    /// <summary>Binds the endpoints; call <see cref="AcmeChallengeListener.Start"/> to serve.</summary>
    public Http01Listener(IEnumerable<IPEndPoint> endPoints, Http01ChallengeResponder responder, ILogger? logger = null) : base(endPoints, logger) => _responder = responder;

    /// <inheritdoc/>
    protected override async Task ServeAsync(NetworkStream stream, EndPoint? remote, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[MaxRequestBytes];
        int length = 0;
        int end;
        while ((end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (length == buffer.Length)
            {
                await WriteAsync(stream, "431 Request Header Fields Too Large", "", cancellationToken).ConfigureAwait(false);
                return;
            }
            int n = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (n == 0) return;
            length += n;
        }
        string head = Encoding.Latin1.GetString(buffer, 0, end);
        string requestLine = head.Split("\r\n", 2)[0];
        string[] parts = requestLine.Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            await WriteAsync(stream, "400 Bad Request", "", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (parts[0] is not ("GET" or "HEAD"))
        {
            await WriteAsync(stream, "405 Method Not Allowed", "", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (_responder.TryGetResponse(parts[1], out string keyAuthorization))
        {
            Logger.LogInformation("acme http-01 answered path={Path} from={Remote}", parts[1], remote);
            await WriteAsync(stream, "200 OK", parts[0] == "HEAD" ? null : keyAuthorization, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await WriteAsync(stream, "404 Not Found", "", cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task WriteAsync(NetworkStream stream, string status, string? body, CancellationToken cancellationToken)
    {
        body ??= "";
        string response = $"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {Encoding.ASCII.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(response), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// A TLS listener that answers only tls-alpn-01 validation handshakes (RFC 8737 §3): it offers
/// only ALPN "acme-tls/1" and the validation certificate of the SNI name; other handshakes fail.
/// </summary>
public sealed class TlsAlpn01Listener : AcmeChallengeListener
{
    private readonly TlsAlpn01ChallengeResponder _responder;

    /// <summary>Binds the endpoints; call <see cref="AcmeChallengeListener.Start"/> to serve.</summary>
    public TlsAlpn01Listener(IEnumerable<IPEndPoint> endPoints, TlsAlpn01ChallengeResponder responder, ILogger? logger = null) : base(endPoints, logger) => _responder = responder;

    /// <inheritdoc/>
    protected override async Task ServeAsync(NetworkStream stream, EndPoint? remote, CancellationToken cancellationToken)
    {
        await using var tls = new SslStream(stream, leaveInnerStreamOpen: false);
        string? name = null;
        await tls.AuthenticateAsServerAsync((_, hello, _, _) =>
        {
            name = hello.ServerName;
            var cert = _responder.Find(hello.ServerName)
                ?? throw new System.Security.Authentication.AuthenticationException($"no tls-alpn-01 challenge pending for \"{hello.ServerName}\"");
            // Logged before the handshake completes: the CA may close as soon as it has checked our certificate.
            Logger.LogInformation("acme tls-alpn-01 answering name={Name} from={Remote}", name, remote);
            return ValueTask.FromResult(new SslServerAuthenticationOptions
            {
                ServerCertificate = cert,
                ApplicationProtocols = [TlsAlpn01ChallengeResponder.AcmeTls1],
                ClientCertificateRequired = false,
            });
        }, null, cancellationToken).ConfigureAwait(false);
        if (tls.NegotiatedApplicationProtocol != TlsAlpn01ChallengeResponder.AcmeTls1)
        {
            Logger.LogDebug("tls-alpn-01 listener: handshake from={Remote} without acme-tls/1", remote);
            return;
        }
        Logger.LogDebug("acme tls-alpn-01 handshake done name={Name} from={Remote}", name, remote);
        // RFC 8737 §3: the validating client closes the connection after the handshake.
    }
}
