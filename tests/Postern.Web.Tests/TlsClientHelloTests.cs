using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Postern.Web;

namespace Postern.Web.Tests;

/// <summary>The ClientHello reader on ClientHellos made by .NET's own TLS client (OpenSSL).</summary>
public class TlsClientHelloTests
{
    /// <summary>The first bytes a TLS client sends for <paramref name="sni"/> offering <paramref name="alpn"/>.</summary>
    internal static async Task<byte[]> CaptureClientHelloAsync(string sni, params string[] alpn)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptTcpClientAsync();
        var ssl = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
        var handshake = ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = sni,
            ApplicationProtocols = [.. alpn.Select(a => new SslApplicationProtocol(a))],
        });
        var buffer = new byte[64 * 1024];
        int length = 0;
        var stream = server.GetStream();
        while (TlsClientHello.TryRead(new ReadOnlySequence<byte>(buffer, 0, length), out _) == ClientHelloStatus.NeedMore)
            length += await stream.ReadAsync(buffer.AsMemory(length));
        server.Close(); // the handshake fails; only the ClientHello was wanted
        try { await handshake; } catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException) { }
        ssl.Dispose();
        return buffer[..length];
    }

    [Fact]
    public async Task Reads_the_server_name_and_the_offered_protocols()
    {
        byte[] hello = await CaptureClientHelloAsync("mail.example.org", "acme-tls/1");
        Assert.Equal(ClientHelloStatus.Complete, TlsClientHello.TryRead(new ReadOnlySequence<byte>(hello), out var info));
        Assert.Equal("mail.example.org", info!.ServerName);
        Assert.Equal(new[] { "acme-tls/1" }, info.ApplicationProtocols);

        hello = await CaptureClientHelloAsync("mta-sts.example.org", "h2", "http/1.1");
        Assert.Equal(ClientHelloStatus.Complete, TlsClientHello.TryRead(new ReadOnlySequence<byte>(hello), out info));
        Assert.Equal("mta-sts.example.org", info!.ServerName);
        Assert.Equal(new[] { "h2", "http/1.1" }, info.ApplicationProtocols);
    }

    [Fact]
    public async Task Every_prefix_needs_more_and_a_split_buffer_reads_the_same()
    {
        byte[] hello = await CaptureClientHelloAsync("autoconfig.example.org", "acme-tls/1");
        for (int i = 0; i < hello.Length; i++)
            Assert.Equal(ClientHelloStatus.NeedMore, TlsClientHello.TryRead(new ReadOnlySequence<byte>(hello, 0, i), out _));
        // The same bytes in many segments (as a pipe hands them over).
        for (int cut = 1; cut < hello.Length; cut += 97)
        {
            var first = new Segment(hello.AsMemory(0, cut));
            var last = first.Append(hello.AsMemory(cut));
            var seq = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
            Assert.Equal(ClientHelloStatus.Complete, TlsClientHello.TryRead(seq, out var info));
            Assert.Equal("autoconfig.example.org", info!.ServerName);
        }
    }

    [Fact]
    public void Plain_http_garbage_and_oversized_lengths_are_not_client_hellos()
    {
        Assert.Equal(ClientHelloStatus.NotClientHello, TlsClientHello.TryRead(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n")), out _));
        Assert.Equal(ClientHelloStatus.NotClientHello, TlsClientHello.TryRead(new ReadOnlySequence<byte>([22, 3, 1, 0xff, 0xff]), out _));
        // A handshake record that is not a ClientHello (ServerHello, type 2).
        Assert.Equal(ClientHelloStatus.NotClientHello, TlsClientHello.TryRead(new ReadOnlySequence<byte>([22, 3, 1, 0, 4, 2, 0, 0, 0]), out _));
        // A ClientHello claiming 16 MiB.
        Assert.Equal(ClientHelloStatus.NotClientHello, TlsClientHello.TryRead(new ReadOnlySequence<byte>([22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]), out _));
        // Extensions whose lengths run past the end.
        byte[] body = [3, 3, .. new byte[32], 0, 0, 2, 0x13, 0x01, 1, 0, 0, 10, 0, 0, 0, 50];
        byte[] message = [1, 0, 0, (byte)body.Length, .. body];
        byte[] record = [22, 3, 1, 0, (byte)message.Length, .. message];
        Assert.Equal(ClientHelloStatus.NotClientHello, TlsClientHello.TryRead(new ReadOnlySequence<byte>(record), out _));
        // Random bytes never throw.
        var random = new Random(8461);
        for (int i = 0; i < 2000; i++)
        {
            byte[] junk = new byte[random.Next(0, 300)];
            random.NextBytes(junk);
            if (junk.Length > 0 && i % 2 == 0) junk[0] = 22;
            _ = TlsClientHello.TryRead(new ReadOnlySequence<byte>(junk), out _);
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
