using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Postern.Imap.Server;
using Postern.Security.Passwords;
using Postern.Security.Tls;
using Postern.Store.Sqlite;

namespace Postern.Imap.Tests.Server;

/// <summary>An IMAP server on a loopback port over a store in a temporary folder, with account "alice" (password "secret").</summary>
public sealed class TestServer : IAsyncDisposable
{
    public const string Password = "secret";

    private TestServer(string dir, SqliteMailStore store, ImapServer server)
    {
        Dir = dir;
        Store = store;
        Server = server;
    }

    public string Dir { get; }
    public SqliteMailStore Store { get; }
    public ImapServer Server { get; }
    public int Port => Server.BoundEndPoints[0].Port;
    public int TlsPort => Server.BoundEndPoints[1].Port;

    public static async Task<TestServer> StartAsync(Func<ImapServerOptions, ImapServerOptions>? configure = null, Microsoft.Extensions.Logging.ILogger? logger = null,
        Postern.Security.Auth.AuthFailureLimiter? authLimiter = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-imap-test-" + Guid.NewGuid().ToString("N"));
        var store = SqliteMailStore.Open(dir);
        await store.Directory.CreateAccountAsync("alice");
        await store.Directory.AddAddressAsync("alice@example.org", "alice");
        await store.Directory.SetCredentialsAsync("alice", PasswordSecrets.Derive(Password, new PasswordSecretsOptions { PlainIterations = 1000, ScramIterations = 4096, IncludeCramMd5 = true }));
        var options = new ImapServerOptions
        {
            Listeners = [new ImapListener(new IPEndPoint(IPAddress.Loopback, 0), false), new ImapListener(new IPEndPoint(IPAddress.Loopback, 0), true)],
            Certificate = TlsCertificates.CreateSelfSigned(),
        };
        if (configure is not null)
            options = configure(options);
        var server = new ImapServer(options, store, authLimiter, logger);
        server.Start();
        return new TestServer(dir, store, server);
    }

    public async Task<TestClient> ConnectAsync(bool login = true, bool tls = false)
    {
        var client = await TestClient.ConnectAsync(tls ? TlsPort : Port, tls);
        if (login)
            await client.ExpectOkAsync("LOGIN alice \"" + Password + "\"");
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Store.DisposeAsync();
        try
        {
            Directory.Delete(Dir, true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A line-oriented IMAP test client.</summary>
public sealed class TestClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private Stream _stream;
    private BufferedStream? _buffered;
    private Stream? _bufferedOver;
    private int _tag;

    // Reads go through a buffer over the current stream (it changes after STARTTLS/COMPRESS).
    private Stream ReadStream
    {
        get
        {
            if (_bufferedOver != _stream)
            {
                _buffered = new BufferedStream(_stream, 64 * 1024);
                _bufferedOver = _stream;
            }
            return _buffered!;
        }
    }

    private TestClient(TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
    }

    public string Greeting { get; private set; } = "";

    /// <summary>The server certificate when connected with TLS.</summary>
    public SslStream? Tls => _stream as SslStream;

    public System.Security.Cryptography.X509Certificates.X509Certificate2? ServerCertificate =>
        _stream is SslStream ssl && ssl.RemoteCertificate is { } cert ? new System.Security.Cryptography.X509Certificates.X509Certificate2(cert) : null;

    public static async Task<TestClient> ConnectAsync(int port, bool tls)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        Stream stream = tcp.GetStream();
        if (tls)
        {
            var ssl = new SslStream(stream, false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync("localhost");
            stream = ssl;
        }
        var c = new TestClient(tcp, stream);
        c.Greeting = await c.ReadLineAsync();
        return c;
    }

    public async Task StartTlsAsync()
    {
        var ssl = new SslStream(_stream, false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync("localhost");
        _stream = ssl;
    }

    public Task EnableDeflateAsync()
    {
        _stream = new DeflateDuplex(_stream);
        return Task.CompletedTask;
    }

    private sealed class DeflateDuplex(Stream inner) : Stream
    {
        private readonly System.IO.Compression.DeflateStream _in = new(inner, System.IO.Compression.CompressionMode.Decompress, true);
        private readonly System.IO.Compression.DeflateStream _out = new(inner, System.IO.Compression.CompressionLevel.Fastest, true);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => _out.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => _out.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => _in.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _in.ReadAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => _out.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _out.WriteAsync(buffer, cancellationToken);
    }

    public async Task WriteAsync(string text)
    {
        byte[] b = Encoding.UTF8.GetBytes(text);
        await _stream.WriteAsync(b);
        await _stream.FlushAsync();
    }

    public async Task WriteAsync(byte[] b)
    {
        await _stream.WriteAsync(b);
        await _stream.FlushAsync();
    }

    /// <summary>Reads one line (without CRLF); literals are returned inline in the text.</summary>
    public async Task<string> ReadLineAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var sb = new StringBuilder();
        var one = new byte[1];
        var bytes = new List<byte>();
        while (true)
        {
            int n = await ReadStream.ReadAsync(one, cts.Token);
            if (n == 0)
                throw new IOException("connection closed; got so far: " + Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Add(one[0]);
            if (one[0] == (byte)'\n')
            {
                string line = Encoding.UTF8.GetString(bytes.ToArray()).TrimEnd('\r', '\n');
                // literal at end of line: read it and keep going
                var m = System.Text.RegularExpressions.Regex.Match(line, @"~?\{(\d+)\}$");
                if (m.Success)
                {
                    int len = int.Parse(m.Groups[1].Value);
                    byte[] lit = new byte[len];
                    await ReadStream.ReadExactlyAsync(lit, cts.Token);
                    bytes.RemoveRange(bytes.Count - 2, 2); // CRLF after the marker
                    bytes.Add((byte)'\n');
                    bytes.AddRange(lit);
                    continue;
                }
                return line;
            }
        }
    }

    public string NextTag() => "t" + (++_tag);

    /// <summary>Sends a command and returns all lines up to and including the tagged response.</summary>
    public async Task<List<string>> CommandAsync(string command)
    {
        string tag = NextTag();
        await WriteAsync(tag + " " + command + "\r\n");
        return await ReadUntilTaggedAsync(tag);
    }

    public async Task<List<string>> ReadUntilTaggedAsync(string tag)
    {
        var lines = new List<string>();
        while (true)
        {
            string line = await ReadLineAsync();
            lines.Add(line);
            if (line.StartsWith(tag + " ", StringComparison.Ordinal))
                return lines;
        }
    }

    public async Task<List<string>> ExpectOkAsync(string command)
    {
        var lines = await CommandAsync(command);
        Assert.True(lines[^1].Split(' ')[1] == "OK", $"{command} -> {string.Join(" | ", lines)}");
        return lines;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
