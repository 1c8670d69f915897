using System.Net;
using System.Net.Sockets;

namespace Postern.Smtp.Client;

/// <summary>Opens TCP connections for the SMTP client: directly, or through a proxy (<see cref="Socks5Dialer"/>).</summary>
public interface IConnectionDialer
{
    /// <summary>Connects to <paramref name="host"/> (an IP address or, through a proxy, a name) and port; throws <see cref="SmtpClientException"/> on failure.</summary>
    Task<Stream> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>True when names can be given to <see cref="ConnectAsync"/> without resolving them first (a proxy resolves them).</summary>
    bool ResolvesNames { get; }
}

/// <summary>Plain TCP connections from this machine.</summary>
public sealed class DirectDialer : IConnectionDialer
{
    /// <summary>The shared instance.</summary>
    public static DirectDialer Instance { get; } = new();

    /// <summary>Local address to bind for IPv4 connections (the address whose PTR and SPF match), or null.</summary>
    public IPAddress? LocalIPv4 { get; init; }

    /// <summary>Local address to bind for IPv6 connections, or null.</summary>
    public IPAddress? LocalIPv6 { get; init; }

    /// <inheritdoc/>
    public bool ResolvesNames => false;

    /// <inheritdoc/>
    public async Task<Stream> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        IPAddress.TryParse(host, out IPAddress? ip);
        var socket = ip is null ? new Socket(SocketType.Stream, ProtocolType.Tcp) : new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.NoDelay = true;
        try
        {
            IPAddress? local = ip?.AddressFamily == AddressFamily.InterNetwork ? LocalIPv4 : ip?.AddressFamily == AddressFamily.InterNetworkV6 ? LocalIPv6 : null;
            if (local is not null) socket.Bind(new IPEndPoint(local, 0));
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            if (ip is not null) await socket.ConnectAsync(ip, port, cts.Token).ConfigureAwait(false);
            else await socket.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new SmtpClientException($"connect to {host} port {port}: timeout", SmtpClientStage.Connect);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new SmtpClientException($"connect to {host} port {port}: {e.Message}", SmtpClientStage.Connect, inner: e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
