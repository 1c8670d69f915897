using System.Net;
using System.Net.Sockets;

namespace Postern.Security.Net;

/// <summary>Listening sockets as every Postern server opens them (SMTP, IMAP).</summary>
public static class ListenSockets
{
    /// <summary>Pending connections the kernel queues per listener.</summary>
    public const int Backlog = 512;

    /// <summary>
    /// Binds and listens on <paramref name="endPoint"/>; an IPv6 socket takes only IPv6 (a separate
    /// listener serves IPv4). A failure is an <see cref="IOException"/> naming the endpoint, with the
    /// <see cref="SocketException"/> as inner exception.
    /// </summary>
    public static Socket Listen(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
            socket.DualMode = false;
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            socket.Bind(endPoint);
            socket.Listen(Backlog);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new IOException($"cannot listen on {endPoint}: {ex.Message}", ex);
        }
        return socket;
    }

    /// <summary>The client's address, with IPv4-mapped IPv6 turned back into IPv4 (for per-IP limits and logs).</summary>
    public static IPAddress RemoteAddress(Socket client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var remote = (IPEndPoint)client.RemoteEndPoint!;
        return remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
    }
}
