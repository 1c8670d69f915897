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
        var socket = Bind(endPoint);
        try
        {
            socket.Listen(Backlog);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new IOException($"cannot listen on {endPoint}: {ex.Message}", ex);
        }
        return socket;
    }

    /// <summary>
    /// Binds (without listening, for servers such as Kestrel that call Listen themselves) with the
    /// same options as <see cref="Listen"/>. A failure is an <see cref="IOException"/> naming the endpoint.
    /// </summary>
    public static Socket Bind(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
            socket.DualMode = false;
        AllowRebindAfterRestart(socket);
        try
        {
            socket.Bind(endPoint);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new IOException($"cannot listen on {endPoint}: {ex.Message}", ex);
        }
        return socket;
    }

    /// <summary>
    /// Lets a restarted server bind its port while connections of the previous run linger in
    /// TIME_WAIT (SO_REUSEADDR), without letting a second server share the port: .NET's
    /// ReuseAddress option also sets SO_REUSEPORT on Linux, which would make the kernel split
    /// connections between two processes bound to the same port, so the raw option is set instead.
    /// </summary>
    private static void AllowRebindAfterRestart(Socket socket)
    {
        if (OperatingSystem.IsLinux())
            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
            socket.SetRawSocketOption(0xffff /* SOL_SOCKET */, 4 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        else if (OperatingSystem.IsWindows())
            socket.ExclusiveAddressUse = true;
    }

    /// <summary>The client's address, with IPv4-mapped IPv6 turned back into IPv4 (for per-IP limits and logs).</summary>
    public static IPAddress RemoteAddress(Socket client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var remote = (IPEndPoint)client.RemoteEndPoint!;
        return remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
    }
}
