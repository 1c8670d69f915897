using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Postern.Security.Passwords;
using Postern.Security.Tls;
using Postern.Smtp.Server;
using Postern.Store;
using Postern.Store.Sqlite;

namespace Postern.Smtp.Tests.Server;

/// <summary>
/// An SMTP server on loopback ports (MX, submission with STARTTLS, submission with implicit TLS) over a store
/// in a temporary folder, with account "alice" (alice@example.org, password "secret") and "bob" (bob@example.org).
/// </summary>
public sealed class SmtpTestServer : IAsyncDisposable
{
    public const string Password = "secret";

    private SmtpTestServer(string dir, SqliteMailStore store, SmtpServer server)
    {
        Dir = dir;
        Store = store;
        Server = server;
    }

    public string Dir { get; }
    public SqliteMailStore Store { get; }
    public SmtpServer Server { get; }
    public int MxPort => Server.BoundEndPoints[0].Port;
    public int SubmissionPort => Server.BoundEndPoints[1].Port;
    public int SubmissionsPort => Server.BoundEndPoints[2].Port;

    public static async Task<SmtpTestServer> StartAsync(Func<SmtpServerOptions, SmtpServerOptions>? configure = null, Postern.Security.Auth.AuthFailureLimiter? authLimiter = null,
        Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-smtp-test-" + Guid.NewGuid().ToString("N"));
        var store = SqliteMailStore.Open(dir);
        foreach (string name in new[] { "alice", "bob" })
        {
            await store.Directory.CreateAccountAsync(name);
            await store.Directory.AddAddressAsync(name + "@example.org", name);
            await store.Directory.SetCredentialsAsync(name, PasswordSecrets.Derive(Password, new PasswordSecretsOptions { PlainIterations = 1000, ScramIterations = 4096, IncludeCramMd5 = true }));
        }
        var options = new SmtpServerOptions
        {
            Listeners =
            [
                new SmtpListener(new IPEndPoint(IPAddress.Loopback, 0), SmtpListenerKind.Mx),
                new SmtpListener(new IPEndPoint(IPAddress.Loopback, 0), SmtpListenerKind.Submission),
                new SmtpListener(new IPEndPoint(IPAddress.Loopback, 0), SmtpListenerKind.Submissions),
            ],
            Certificate = TlsCertificates.CreateSelfSigned(),
            HostName = "mx.example.org",
            TempDirectory = Path.Combine(dir, "smtp-tmp"),
            RateLimits = SmtpRateLimits.Unlimited,
        };
        if (configure is not null)
            options = configure(options);
        var server = new SmtpServer(options, store, authLimiter, logger ?? new FileLogger());
        server.Start();
        return new SmtpTestServer(dir, store, server);
    }

    public Task<SmtpTestClient> ConnectAsync(int? port = null, bool tls = false) => SmtpTestClient.ConnectAsync(port ?? MxPort, tls);

    /// <summary>The messages in an account's mailbox, as text (prefix included).</summary>
    public async Task<List<string>> MessagesAsync(string account, string mailbox = "INBOX")
    {
        IAccountStore a = await Store.OpenAccountAsync(account);
        await using (a)
        {
            MailboxInfo box = (await a.GetMailboxAsync(mailbox))!;
            var list = new List<string>();
            foreach (MessageRecord r in await a.ListMessagesAsync(box.Id))
            {
                using Stream s = await a.OpenContentAsync(box.Id, r.Uid);
                using var reader = new StreamReader(s, Encoding.UTF8);
                list.Add(await reader.ReadToEndAsync());
            }
            return list;
        }
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

/// <summary>A raw-socket SMTP client: writes bytes as given, reads replies.</summary>
public sealed class SmtpTestClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private Stream _stream;
    private byte[] _buf = new byte[64 * 1024];
    private int _start;
    private int _end;

    private SmtpTestClient(TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
    }

    public string Greeting { get; private set; } = "";

    public static async Task<SmtpTestClient> ConnectAsync(int port, bool tls, IPAddress? address = null)
    {
        address ??= IPAddress.Loopback;
        var tcp = new TcpClient(address.AddressFamily);
        await tcp.ConnectAsync(address, port);
        Stream stream = tcp.GetStream();
        if (tls)
        {
            var ssl = new SslStream(stream, false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync("localhost");
            stream = ssl;
        }
        var c = new SmtpTestClient(tcp, stream);
        c.Greeting = await c.ReadReplyAsync();
        return c;
    }

    public SslStream? Tls => _stream as SslStream;

    public async Task StartTlsAsync()
    {
        Assert.StartsWith("220", await CommandAsync("STARTTLS"));
        Assert.Equal(_start, _end);
        var ssl = new SslStream(_stream, false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync("localhost");
        _stream = ssl;
    }

    public async Task WriteAsync(string text) => await WriteAsync(Encoding.UTF8.GetBytes(text));

    public async Task WriteAsync(byte[] b)
    {
        await _stream.WriteAsync(b);
        await _stream.FlushAsync();
    }

    /// <summary>Sends a command line (CRLF added) and returns the whole reply (lines joined with \n).</summary>
    public async Task<string> CommandAsync(string line)
    {
        await WriteAsync(line + "\r\n");
        return await ReadReplyAsync();
    }

    /// <summary>Sends a command and asserts the reply starts with <paramref name="code"/>.</summary>
    public async Task<string> ExpectAsync(string line, string code)
    {
        string reply = await CommandAsync(line);
        Assert.True(reply.StartsWith(code, StringComparison.Ordinal), $"{line} -> {reply} (expected {code})");
        return reply;
    }

    /// <summary>Reads one reply (multi-line aware); throws IOException when the connection closed first.</summary>
    public async Task<string> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            string line = await ReadLineAsync();
            lines.Add(line);
            if (line.Length < 4 || line[3] != '-')
                return string.Join("\n", lines);
        }
    }

    /// <summary>True when the server closed the connection (reads return 0) within a few seconds.</summary>
    public async Task<bool> IsClosedAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (true)
            {
                if (_start < _end)
                {
                    _start = _end;
                    continue;
                }
                int n = await _stream.ReadAsync(_buf, cts.Token);
                if (n == 0)
                    return true;
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task<string> ReadLineAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            int lf = Array.IndexOf(_buf, (byte)'\n', _start, _end - _start);
            if (lf >= 0)
            {
                string line = Encoding.UTF8.GetString(_buf, _start, lf - _start).TrimEnd('\r');
                _start = lf + 1;
                return line;
            }
            if (_start > 0)
            {
                Array.Copy(_buf, _start, _buf, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            int n = await _stream.ReadAsync(_buf.AsMemory(_end), cts.Token);
            if (n == 0)
                throw new IOException("connection closed");
            _end += n;
        }
    }

    /// <summary>EHLO, MAIL, RCPT for one message on the MX port.</summary>
    public async Task EnvelopeAsync(string from, params string[] to)
    {
        await ExpectAsync("EHLO client.example", "250");
        await ExpectAsync($"MAIL FROM:<{from}>", "250");
        foreach (string t in to)
            await ExpectAsync($"RCPT TO:<{t}>", "250");
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
