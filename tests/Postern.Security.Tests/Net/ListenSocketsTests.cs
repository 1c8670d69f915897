using System.Net;
using System.Net.Sockets;
using Postern.Security.Net;

namespace Postern.Security.Tests.Net;

public class ListenSocketsTests
{
    [Fact]
    public void A_second_listener_on_the_same_port_fails_instead_of_sharing_it()
    {
        using Socket first = ListenSockets.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var taken = (IPEndPoint)first.LocalEndPoint!;
        var ex = Assert.Throws<IOException>(() => ListenSockets.Listen(taken));
        Assert.Contains(taken.ToString(), ex.Message, StringComparison.Ordinal);
        Assert.IsType<SocketException>(ex.InnerException);
    }

    [Fact]
    public async Task The_port_can_be_bound_again_while_old_connections_linger()
    {
        IPEndPoint endPoint;
        using (Socket listener = ListenSockets.Listen(new IPEndPoint(IPAddress.Loopback, 0)))
        {
            endPoint = (IPEndPoint)listener.LocalEndPoint!;
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(endPoint);
            using Socket accepted = await listener.AcceptAsync();
            // The server side closes first, so its end of the connection goes to TIME_WAIT.
            accepted.Shutdown(SocketShutdown.Both);
            accepted.Close();
            await Task.Delay(100);
        }
        using Socket again = ListenSockets.Listen(endPoint);
        Assert.True(again.IsBound);
    }
}
