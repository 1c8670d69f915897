using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Postern.Security.Tls;

namespace Postern.Smtp.Tests.Client;

/// <summary>
/// A scripted SMTP peer on a loopback address: each connection runs a handler, so tests can make
/// a server that misbehaves in precise ways (garbage, endless replies, silence, hang-ups).
/// </summary>
public sealed class FakeSmtpPeer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private readonly List<Task> _sessions = [];

    private FakeSmtpPeer(TcpListener listener, Func<FakePeerSession, Task> handler)
    {
        _listener = listener;
        _accept = AcceptAsync(handler);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public IPAddress Address => ((IPEndPoint)_listener.LocalEndpoint).Address;

    /// <summary>Every line received by any session, in order.</summary>
    public ConcurrentQueue<string> Transcript { get; } = new();

    /// <summary>Messages received (DATA content after un-stuffing, or the BDAT chunks joined).</summary>
    public ConcurrentQueue<byte[]> Messages { get; } = new();

    public int Connections;

    /// <summary>The SNI name each TLS handshake received ("" without SNI), in order.</summary>
    public ConcurrentQueue<string> ServerNames { get; } = new();

    public static FakeSmtpPeer Start(Func<FakePeerSession, Task> handler, IPAddress? address = null, int port = 0)
    {
        var l = new TcpListener(address ?? IPAddress.Loopback, port);
        l.Start();
        return new FakeSmtpPeer(l, handler);
    }

    /// <summary>A well-behaved peer with the given behaviour.</summary>
    public static FakeSmtpPeer StartStandard(PeerBehavior behavior, IPAddress? address = null, int port = 0) =>
        Start(s => StandardAsync(s, behavior), address, port);

    private async Task AcceptAsync(Func<FakePeerSession, Task> handler)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient c;
            try
            {
                c = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            Interlocked.Increment(ref Connections);
            var session = new FakePeerSession(this, c, _stop.Token);
            lock (_sessions)
                _sessions.Add(Task.Run(async () =>
                {
                    try
                    {
                        await handler(session);
                    }
                    catch (Exception)
                    {
                    }
                    finally
                    {
                        c.Dispose();
                    }
                }));
        }
    }

    public static async Task StandardAsync(FakePeerSession s, PeerBehavior b)
    {
        await s.WriteAsync(b.Greeting);
        var message = new MemoryStream();
        bool mailOk = false;
        int rcpts = 0;
        while (true)
        {
            string? line = await s.ReadLineAsync();
            if (line is null) return;
            string verb = line.Split(' ')[0].ToUpperInvariant();
            switch (verb)
            {
                case "EHLO":
                    if (b.RefuseEhlo) { await s.WriteAsync("502 5.5.1 EHLO not implemented"); break; }
                    var ext = b.Extensions.ToList();
                    if (b.Certificate is not null && !s.IsTls) ext.Add("STARTTLS");
                    await s.WriteAsync(string.Join("\r\n", new[] { "fake.test" }.Concat(ext).Select((e, i) => "250" + (i == ext.Count ? " " : "-") + e)));
                    break;
                case "HELO":
                    await s.WriteAsync("250 fake.test");
                    break;
                case "STARTTLS" when b.Certificate is not null:
                    await s.WriteAsync("220 2.0.0 go ahead");
                    await s.StartTlsAsync(b.Certificate);
                    break;
                case "MAIL":
                    mailOk = b.MailReply.StartsWith('2');
                    rcpts = 0;
                    await s.WriteAsync(b.MailReply);
                    break;
                case "RCPT":
                    string addr = line[(line.IndexOf('<') + 1)..line.IndexOf('>')];
                    string rr = mailOk ? b.RcptReply(addr) : "503 5.5.1 MAIL first";
                    if (rr.StartsWith('2')) rcpts++;
                    await s.WriteAsync(rr);
                    break;
                case "DATA" when !mailOk || rcpts == 0:
                    await s.WriteAsync("554 5.5.1 no valid recipients");
                    break;
                case "DATA":
                    mailOk = false;
                    await s.WriteAsync("354 go on");
                    byte[] data = await s.ReadDotDataAsync();
                    s.Peer.Messages.Enqueue(data);
                    await s.WriteAsync(b.DataReply);
                    break;
                case "BDAT":
                    string[] parts = line.Split(' ');
                    int n = int.Parse(parts[1]);
                    message.Write(await s.ReadExactAsync(n));
                    if (parts.Length > 2 && parts[2] == "LAST")
                    {
                        mailOk = false;
                        s.Peer.Messages.Enqueue(message.ToArray());
                        message.SetLength(0);
                        await s.WriteAsync(b.DataReply);
                    }
                    else
                        await s.WriteAsync("250 2.0.0 chunk ok");
                    break;
                case "RSET":
                    message.SetLength(0);
                    mailOk = false;
                    await s.WriteAsync("250 2.0.0 ok");
                    break;
                case "QUIT":
                    await s.WriteAsync("221 2.0.0 bye");
                    return;
                default:
                    await s.WriteAsync("502 5.5.1 unknown");
                    break;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accept;
        Task[] all;
        lock (_sessions)
            all = [.. _sessions];
        await Task.WhenAll(all).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}

/// <summary>How a standard fake peer answers.</summary>
public sealed record PeerBehavior
{
    public string Greeting { get; init; } = "220 fake.test ESMTP";
    public string[] Extensions { get; init; } = ["PIPELINING", "8BITMIME", "SIZE 10000000", "ENHANCEDSTATUSCODES"];
    public bool RefuseEhlo { get; init; }
    public X509Certificate2? Certificate { get; init; }
    public string MailReply { get; init; } = "250 2.1.0 ok";
    public Func<string, string> RcptReply { get; init; } = _ => "250 2.1.5 ok";
    public string DataReply { get; init; } = "250 2.0.0 queued";

    public static X509Certificate2 TestCertificate { get; } = TlsCertificates.CreateSelfSigned(new SelfSignedCertificateOptions { DnsNames = ["mx.fake.test"] });
}

/// <summary>One connection to a fake peer.</summary>
public sealed class FakePeerSession(FakeSmtpPeer peer, TcpClient client, CancellationToken stop)
{
    private Stream _stream = client.GetStream();
    private readonly byte[] _buf = new byte[64 * 1024];
    private int _start, _end;

    public FakeSmtpPeer Peer => peer;
    public bool IsTls { get; private set; }
    public CancellationToken Stop => stop;

    public async Task WriteAsync(string reply) => await WriteRawAsync(Encoding.UTF8.GetBytes(reply + "\r\n"));

    public async Task WriteRawAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes, stop);
        await _stream.FlushAsync(stop);
    }

    public async Task<string?> ReadLineAsync()
    {
        while (true)
        {
            int lf = Array.IndexOf(_buf, (byte)'\n', _start, _end - _start);
            if (lf >= 0)
            {
                string line = Encoding.UTF8.GetString(_buf, _start, lf - _start).TrimEnd('\r');
                _start = lf + 1;
                peer.Transcript.Enqueue(line);
                return line;
            }
            if (!await FillAsync()) return null;
        }
    }

    public async Task<byte[]> ReadExactAsync(int n)
    {
        var result = new byte[n];
        int got = 0;
        while (got < n)
        {
            if (_end == _start && !await FillAsync()) throw new EndOfStreamException();
            int take = Math.Min(n - got, _end - _start);
            Array.Copy(_buf, _start, result, got, take);
            _start += take;
            got += take;
        }
        return result;
    }

    /// <summary>Reads DATA content up to CRLF.CRLF and removes the dot-stuffing.</summary>
    public async Task<byte[]> ReadDotDataAsync()
    {
        var ms = new MemoryStream();
        while (true)
        {
            int lf;
            while ((lf = Array.IndexOf(_buf, (byte)'\n', _start, _end - _start)) < 0)
            {
                if (!await FillAsync()) throw new EndOfStreamException();
            }
            int len = lf + 1 - _start;
            if (len == 3 && _buf[_start] == '.' && _buf[_start + 1] == '\r')
            {
                _start = lf + 1;
                return ms.ToArray();
            }
            int from = _buf[_start] == '.' ? _start + 1 : _start;
            ms.Write(_buf, from, lf + 1 - from);
            _start = lf + 1;
        }
    }

    public async Task StartTlsAsync(X509Certificate2 certificate)
    {
        var ssl = new SslStream(_stream);
        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, stop);
        peer.ServerNames.Enqueue(ssl.TargetHostName ?? "");
        _stream = ssl;
        IsTls = true;
        _start = _end = 0;
    }

    private async Task<bool> FillAsync()
    {
        if (_start > 0)
        {
            Array.Copy(_buf, _start, _buf, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buf.Length) throw new InvalidOperationException("line too long");
        int n = await _stream.ReadAsync(_buf.AsMemory(_end), stop);
        if (n == 0) return false;
        _end += n;
        return true;
    }
}
