using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Postern.Security.Tls;

namespace Postern.Security.Tests.Tls;

/// <summary>A real TLS connection over a loopback TCP socket pair.</summary>
internal sealed class LoopbackTls : IAsyncDisposable
{
    public required SslStream Server { get; init; }
    public required SslStream Client { get; init; }

    private static readonly Lazy<X509Certificate2> SharedCert = new(() => TlsCertificates.CreateSelfSigned());

    public static X509Certificate2 Certificate => SharedCert.Value;

    public static async Task<LoopbackTls> ConnectAsync(X509Certificate2? certificate = null, SslProtocols protocols = SslProtocols.None)
    {
        certificate ??= Certificate;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var clientSocket = new TcpClient();
        var connect = clientSocket.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var serverSocket = await listener.AcceptTcpClientAsync();
        await connect;
        var server = new SslStream(serverSocket.GetStream(), false);
        var client = new SslStream(clientSocket.GetStream(), false, (_, _, _, _) => true);
        var s = server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate, EnabledSslProtocols = protocols });
        await client.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = protocols });
        await s;
        return new LoopbackTls { Server = server, Client = client };
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Client.DisposeAsync();
    }
}
