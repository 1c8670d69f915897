// SOCKS5 (RFC 1928) CONNECT through a proxy, with no authentication or user name and
// password (RFC 1929). Used by direct delivery and smarthosts when port 25 (or 587/465) is only
// reachable through a proxy.
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Postern.Smtp.Client;

/// <summary>Connects through a SOCKS5 proxy.</summary>
/// <param name="proxyHost">The proxy's host name or IP.</param>
/// <param name="proxyPort">The proxy's port (1080 usually).</param>
/// <param name="userName">User name for RFC 1929 authentication, or null for none.</param>
/// <param name="password">Password for RFC 1929 authentication.</param>
/// <param name="inner">How the proxy itself is reached (directly by default).</param>
public sealed class Socks5Dialer(string proxyHost, int proxyPort, string? userName = null, string? password = null, IConnectionDialer? inner = null) : IConnectionDialer
{
    private readonly IConnectionDialer _inner = inner ?? DirectDialer.Instance;

    /// <inheritdoc/>
    public bool ResolvesNames => true;

    /// <inheritdoc/>
    public async Task<Stream> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Stream stream = await _inner.ConnectAsync(proxyHost, proxyPort, timeout, cancellationToken).ConfigureAwait(false);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await HandshakeAsync(stream, host, port, cts.Token).ConfigureAwait(false);
            return stream;
        }
        catch (Exception e) when (e is OperationCanceledException && !cancellationToken.IsCancellationRequested || e is IOException or SocketException or SmtpClientException)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            string why = e is OperationCanceledException ? "timeout" : e.Message;
            throw new SmtpClientException($"connect to {host} port {port} through SOCKS5 proxy {proxyHost}:{proxyPort}: {why}", SmtpClientStage.Connect, inner: e);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task HandshakeAsync(Stream s, string host, int port, CancellationToken ct)
    {
        bool withPassword = userName is not null;
        // RFC 1928 §3: VER, NMETHODS, METHODS (0 = none, 2 = user name/password).
        await s.WriteAsync(withPassword ? new byte[] { 5, 2, 0, 2 } : new byte[] { 5, 1, 0 }, ct).ConfigureAwait(false);
        byte[] choice = await ReadExactAsync(s, 2, ct).ConfigureAwait(false);
        if (choice[0] != 5) throw Error("not a SOCKS5 proxy");
        if (choice[1] == 2 && withPassword)
        {
            // RFC 1929 §2: VER 1, ULEN, UNAME, PLEN, PASSWD.
            byte[] u = Encoding.UTF8.GetBytes(userName!), p = Encoding.UTF8.GetBytes(password ?? "");
            if (u.Length > 255 || p.Length > 255) throw Error("user name or password longer than 255 bytes");
            await s.WriteAsync((byte[])[1, (byte)u.Length, .. u, (byte)p.Length, .. p], ct).ConfigureAwait(false);
            byte[] status = await ReadExactAsync(s, 2, ct).ConfigureAwait(false);
            if (status[1] != 0) throw Error("proxy refused the user name and password");
        }
        else if (choice[1] != 0)
            throw Error(choice[1] == 0xff ? "proxy accepts none of our authentication methods" : "proxy chose an authentication method we did not offer");
        // RFC 1928 §4: VER, CMD=CONNECT, RSV, ATYP, DST.ADDR, DST.PORT.
        byte[] address;
        if (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? ip))
            address = [ip.AddressFamily == AddressFamily.InterNetwork ? (byte)1 : (byte)4, .. ip.GetAddressBytes()];
        else
        {
            byte[] name = Encoding.ASCII.GetBytes(host);
            if (name.Length > 255) throw Error("host name too long");
            address = [3, (byte)name.Length, .. name];
        }
        await s.WriteAsync((byte[])[5, 1, 0, .. address, (byte)(port >> 8), (byte)port], ct).ConfigureAwait(false);
        byte[] head = await ReadExactAsync(s, 4, ct).ConfigureAwait(false);
        if (head[0] != 5) throw Error("malformed proxy reply");
        if (head[1] != 0) throw Error(ReplyText(head[1]));
        int rest = head[3] switch
        {
            1 => 4,
            4 => 16,
            3 => (await ReadExactAsync(s, 1, ct).ConfigureAwait(false))[0],
            _ => throw Error("malformed proxy reply"),
        };
        await ReadExactAsync(s, rest + 2, ct).ConfigureAwait(false); // BND.ADDR, BND.PORT
    }

    private static string ReplyText(byte code) => code switch
    {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "proxy error " + code,
    };

    private static SmtpClientException Error(string message) => new(message, SmtpClientStage.Connect);

    private static async Task<byte[]> ReadExactAsync(Stream s, int count, CancellationToken ct)
    {
        byte[] b = new byte[count];
        try
        {
            await s.ReadExactlyAsync(b, ct).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            throw Error("proxy closed the connection");
        }
        return b;
    }
}
