// The SMTP listener: accepts connections on each configured endpoint (MX, submission with
// STARTTLS, submission over implicit TLS), enforces the per-IP/per-network and total connection
// limits, and runs one SmtpSession task per connection. Stopping closes the listeners, tells
// sessions to answer 421 and waits for them.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Postern.Security.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Postern.Security.Auth;
using Postern.Smtp.Delivery;
using Postern.Store;

namespace Postern.Smtp.Server;

/// <summary>An SMTP server (RFC 5321) for incoming mail and submission, delivering into a mail store.</summary>
public sealed class SmtpServer : IAsyncDisposable
{
    private readonly List<Socket> _sockets = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly ConcurrentDictionary<long, Task> _sessions = new();
    private readonly ConcurrentDictionary<long, SmtpSession> _live = new();
    private Timer? _heartbeat;
    private readonly CancellationTokenSource _stop = new();
    private long _nextId;
    private int _total;

    /// <summary>Creates a server; call <see cref="Start"/> to listen.</summary>
    public SmtpServer(SmtpServerOptions options, IMailStore store, AuthFailureLimiter? authLimiter = null, ILogger? logger = null)
    {
        Options = options;
        Store = store;
        AuthLimiter = authLimiter ?? new AuthFailureLimiter();
        Logger = logger ?? NullLogger.Instance;
        Resolver = options.RecipientResolver ?? new DirectoryRecipientResolver(store.Directory, options.LocalPartSeparators);
        Delivery = new MessageDelivery(store) { JunkFilter = options.JunkFilter };
        RateLimiter = new SmtpRateLimiter(options.RateLimits);
        ConnectionIds = new ConnectionIdCipher(options.ConnectionIdKey ?? ConnectionIdCipher.NewKey());
        // Ids stay unique across restarts (logs of several runs are kept together): they start at
        // the current time in milliseconds, shifted to leave room for connections.
        _nextId = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() << 10;
    }

    internal SmtpServerOptions Options { get; }
    internal IMailStore Store { get; }
    internal AuthFailureLimiter AuthLimiter { get; }
    internal ILogger Logger { get; }
    internal IRecipientResolver Resolver { get; }
    internal MessageDelivery Delivery { get; }
    internal SmtpRateLimiter RateLimiter { get; }
    internal ConnectionIdCipher ConnectionIds { get; }
    internal PartialDeliveryMemory PartialDeliveries { get; } = new();
    internal CancellationToken Stopping => _stop.Token;

    /// <summary>The endpoints actually bound (port 0 resolved), in listener order.</summary>
    public IReadOnlyList<IPEndPoint> BoundEndPoints => _sockets.Select(s => (IPEndPoint)s.LocalEndPoint!).ToList();

    /// <summary>Number of open connections.</summary>
    public int ConnectionCount => Volatile.Read(ref _total);

    /// <summary>Binds every listener and starts accepting.</summary>
    public void Start()
    {
        foreach (SmtpListener listener in Options.Listeners)
        {
            Socket socket = ListenSockets.Listen(listener.EndPoint);
            _sockets.Add(socket);
            _acceptLoops.Add(AcceptLoopAsync(socket, listener.Kind));
        }
        // One timer for every session's command and data timeouts (as Kestrel does), instead of a
        // timer and a linked token per read: with a new connection per message those were a
        // noticeable part of the per-connection cost. Timeouts are minutes long; a second of slack is fine.
        _heartbeat ??= new Timer(_ => CheckTimeouts(), null, TimeoutCheckInterval, TimeoutCheckInterval);
    }

    /// <summary>How often waiting sessions are checked against their deadlines.</summary>
    internal static readonly TimeSpan TimeoutCheckInterval = TimeSpan.FromSeconds(1);

    private void CheckTimeouts()
    {
        long now = Environment.TickCount64;
        foreach (SmtpSession session in _live.Values)
            session.CheckDeadline(now);
    }

    private async Task AcceptLoopAsync(Socket listenSocket, SmtpListenerKind kind)
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
                Logger.LogWarning("smtp accept failed error={Error}", ex.SocketErrorCode);
                continue;
            }
            client.NoDelay = true;
            IPAddress ip = ListenSockets.RemoteAddress(client);
            long id = Interlocked.Increment(ref _nextId);
            int total = Interlocked.Increment(ref _total);
            string? refusal = total > Options.MaxConnections ? "Too many connections" : RateLimiter.TryConnect(ip);
            // Only a connection that TryConnect admitted is counted there (and released at the end).
            bool counted = total <= Options.MaxConnections && refusal is null;
            Task session = RunSessionAsync(client, ip, kind, id, refusal, counted);
            _sessions[id] = session;
            if (session.IsCompleted)
                _sessions.TryRemove(id, out _);
        }
    }

    // Runs on the accept loop's thread until the session first waits for the client (the greeting
    // is sent by then, which a non-blocking socket does at once), so a connection costs no extra
    // thread-pool hop; StartTlsAsync and every read are asynchronous.
    private async Task RunSessionAsync(Socket client, IPAddress ip, SmtpListenerKind kind, long id, string? refusal, bool counted)
    {
        SmtpSession? live = null;
        var service = new KeyValuePair<string, object?>("service", SmtpMetrics.Service(kind));
        SmtpMetrics.Connections.Add(1, service);
        SmtpMetrics.Sessions.Add(1, service);
        try
        {
            var stream = new NetworkStream(client, ownsSocket: true);
            await using (stream.ConfigureAwait(false))
            {
                if (refusal is not null)
                {
                    // RFC 5321 §3.1: a server may refuse a connection with 421 as its greeting (for
                    // implicit TLS the client would not read it in clear text; closing is enough there).
                    if (kind != SmtpListenerKind.Submissions)
                    {
                        byte[] bye = System.Text.Encoding.ASCII.GetBytes($"421 4.7.0 {Options.HostName} {refusal}\r\n");
                        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                        await stream.WriteAsync(bye, cts.Token).ConfigureAwait(false);
                    }
                    Logger.LogInformation("smtp connection refused id={Id} remote={Remote} reason={Reason}", id, ip, refusal);
                    return;
                }
                live = new SmtpSession(this, stream, ip, kind, id);
                _live[id] = live;
                await live.RunAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            Logger.LogInformation("smtp connection ended id={Id} remote={Remote} error={Error}", id, ip, ex.Message);
        }
        catch (Exception ex)
        {
            Logger.LogError(ex, "smtp connection failed id={Id} remote={Remote}", id, ip);
        }
        finally
        {
            if (live is not null)
            {
                _live.TryRemove(id, out _);
                live.Dispose();
            }
            if (counted)
                RateLimiter.Disconnected(ip);
            Interlocked.Decrement(ref _total);
            _sessions.TryRemove(id, out _);
            SmtpMetrics.Sessions.Add(-1, service);
        }
    }

    /// <summary>Stops listening, asks sessions to end (421) and waits for them, up to <paramref name="timeout"/>.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (!_stop.IsCancellationRequested)
            await _stop.CancelAsync().ConfigureAwait(false);
        foreach (Socket s in _sockets)
            s.Dispose();
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll(_sessions.Values), Task.Delay(timeout)).ConfigureAwait(false);
        if (_heartbeat is not null)
            await _heartbeat.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _stop.Dispose();
        ConnectionIds.Dispose();
    }
}
