// The IMAP listener: accepts connections on each configured endpoint, enforces the
// per-IP and total connection limits, and runs one ImapSession task per connection.
// Stopping closes the listeners, tells sessions to say BYE and waits for them.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Postern.Security.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Postern.Security.Auth;
using Postern.Store;

namespace Postern.Imap.Server;

/// <summary>An IMAP4rev2/IMAP4rev1 server over a mail store.</summary>
public sealed class ImapServer : IAsyncDisposable
{
    private readonly List<Socket> _sockets = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly ConcurrentDictionary<IPAddress, int> _perIp = new();
    private readonly ConcurrentDictionary<long, Task> _sessions = new();
    private readonly CancellationTokenSource _stop = new();
    private long _nextId;
    private int _total;

    /// <summary>Creates a server; call <see cref="Start"/> to listen.</summary>
    public ImapServer(ImapServerOptions options, IMailStore store, AuthFailureLimiter? authLimiter = null, ILogger? logger = null)
    {
        Options = options;
        Store = store;
        AuthLimiter = authLimiter ?? new AuthFailureLimiter();
        Logger = logger ?? NullLogger.Instance;
    }

    internal ImapServerOptions Options { get; }
    internal IMailStore Store { get; }

    /// <summary>Mailbox listings shared by the sessions that select an unchanged mailbox.</summary>
    internal MailboxSnapshotCache Snapshots { get; } = new();
    internal AuthFailureLimiter AuthLimiter { get; }
    internal ILogger Logger { get; }
    internal CancellationToken Stopping => _stop.Token;

    /// <summary>The endpoints actually bound (port 0 resolved), in listener order.</summary>
    public IReadOnlyList<IPEndPoint> BoundEndPoints => _sockets.Select(s => (IPEndPoint)s.LocalEndPoint!).ToList();

    /// <summary>Binds every listener and starts accepting; an <see cref="IOException"/> names an endpoint that cannot be bound.</summary>
    public void Start()
    {
        foreach (ImapListener listener in Options.Listeners)
        {
            Socket socket = ListenSockets.Listen(listener.EndPoint);
            _sockets.Add(socket);
            _acceptLoops.Add(AcceptLoopAsync(socket, listener.ImplicitTls));
        }
    }

    private async Task AcceptLoopAsync(Socket listenSocket, bool implicitTls)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listenSocket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex)
            {
                Logger.LogWarning("imap accept failed error={Error}", ex.SocketErrorCode);
                continue;
            }
            client.NoDelay = true;
            IPAddress ip = ListenSockets.RemoteAddress(client);
            int count = _perIp.AddOrUpdate(ip, 1, (_, c) => c + 1);
            int total = Interlocked.Increment(ref _total);
            long id = Interlocked.Increment(ref _nextId);
            string? refusal = count > Options.MaxConnectionsPerIp ? "Too many connections from your address"
                : total > Options.MaxConnections ? "Too many connections" : null;
            Task session = RunSessionAsync(client, ip, implicitTls, id, refusal);
            _sessions[id] = session;
            if (session.IsCompleted)
                _sessions.TryRemove(id, out _);
        }
    }

    private async Task RunSessionAsync(Socket client, IPAddress ip, bool implicitTls, long id, string? refusal)
    {
        await Task.Yield();
        ImapMetrics.Connections.Add(1);
        ImapMetrics.Sessions.Add(1);
        try
        {
            var stream = new NetworkStream(client, ownsSocket: true);
            await using (stream.ConfigureAwait(false))
            {
                if (refusal is not null)
                {
                    // RFC 9051 §7.1.5: BYE as greeting when the server refuses the connection.
                    byte[] bye = System.Text.Encoding.ASCII.GetBytes($"* BYE {refusal}\r\n");
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await stream.WriteAsync(bye, cts.Token).ConfigureAwait(false);
                    Logger.LogInformation("imap connection refused id={Id} remote={Remote} reason={Reason}", id, ip, refusal);
                    return;
                }
                var session = new ImapSession(this, stream, ip, implicitTls, id);
                await session.RunAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            Logger.LogInformation("imap connection ended id={Id} remote={Remote} error={Error}", id, ip, ex.Message);
        }
        finally
        {
            _perIp.AddOrUpdate(ip, 0, (_, c) => c - 1);
            if (_perIp.TryGetValue(ip, out int left) && left <= 0)
                _perIp.TryRemove(new KeyValuePair<IPAddress, int>(ip, left));
            Interlocked.Decrement(ref _total);
            _sessions.TryRemove(id, out _);
            ImapMetrics.Sessions.Add(-1);
        }
    }

    /// <summary>Stops listening, asks sessions to end (BYE) and waits for them, up to <paramref name="timeout"/>.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (!_stop.IsCancellationRequested)
            await _stop.CancelAsync().ConfigureAwait(false);
        foreach (Socket s in _sockets)
            s.Dispose();
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll(_sessions.Values), Task.Delay(timeout)).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _stop.Dispose();
    }
}
