// The control socket: a Unix domain socket in the data folder through which commands reach a
// running server (`postern stop`, `postern queue ...`, `postern import ...`).
// Only the file's owner may connect (mode 0600), so reaching it means being the server's user
// or root. One request line, one or more answer lines, then the server closes.
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Postern.Serve;

/// <summary>Server side of the control socket.</summary>
internal sealed class ControlSocket : IAsyncDisposable
{
    /// <summary>File name of the socket inside the data folder.</summary>
    public const string FileName = "postern.ctl";

    /// <summary>Longest request line.</summary>
    public const int MaxRequestBytes = 4096;

    private readonly Socket _socket;
    private readonly string _path;
    private readonly Func<string, Task<string>> _handle;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private ControlSocket(Socket socket, string path, Func<string, Task<string>> handle, ILogger logger)
    {
        _socket = socket;
        _path = path;
        _handle = handle;
        _logger = logger;
        _loop = AcceptLoopAsync();
    }

    /// <summary>Throws when a server already answers on DATA/postern.ctl: checked before any listener opens, so that is the error reported.</summary>
    public static async Task EnsureNoServerRunningAsync(string dataDirectory)
    {
        string path = Path.Combine(dataDirectory, FileName);
        if (File.Exists(path) && await TrySendAsync(dataDirectory, "ping", TimeSpan.FromSeconds(2)).ConfigureAwait(false) is not null)
            throw new IOException($"another postern server is running on {dataDirectory} (its control socket {path} answers)");
    }

    /// <summary>Listens on DATA/postern.ctl; a stale socket file of a dead server is replaced, a live one is an error.</summary>
    public static async Task<ControlSocket> StartAsync(string dataDirectory, Func<string, Task<string>> handle, ILogger logger)
    {
        string path = Path.Combine(dataDirectory, FileName);
        if (File.Exists(path))
        {
            if (await TrySendAsync(dataDirectory, "ping", TimeSpan.FromSeconds(2)).ConfigureAwait(false) is not null)
                throw new IOException($"another postern server is running on {dataDirectory} (its control socket {path} answers)");
            File.Delete(path);
        }
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            socket.Listen(16);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new ControlSocket(socket, path, handle, logger);
    }

    /// <summary>Whether a server answers on the control socket of <paramref name="dataDirectory"/>.</summary>
    public static async Task<bool> IsServerRunningAsync(string dataDirectory) =>
        File.Exists(Path.Combine(dataDirectory, FileName)) && await TrySendAsync(dataDirectory, "ping", TimeSpan.FromSeconds(10)).ConfigureAwait(false) is not null;

    /// <summary>
    /// Sends one request to a server known to be running and waits up to <paramref name="timeout"/>
    /// (infinite for work such as imports); throws <see cref="IOException"/> when the exchange fails,
    /// so that a caller never takes a failed request for "no server".
    /// </summary>
    public static async Task<string> SendAsync(string dataDirectory, string request, TimeSpan timeout) =>
        await TrySendAsync(dataDirectory, request, timeout).ConfigureAwait(false)
            ?? throw new IOException($"the server on {dataDirectory} did not answer through its control socket (stopped meanwhile, or timed out)");

    /// <summary>Sends one request to the server on <paramref name="dataDirectory"/>; null when no server answers.</summary>
    public static async Task<string?> TrySendAsync(string dataDirectory, string request, TimeSpan timeout)
    {
        string path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path)) return null;
        using var cts = timeout == Timeout.InfiniteTimeSpan ? new CancellationTokenSource() : new CancellationTokenSource(timeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cts.Token).ConfigureAwait(false);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(Encoding.UTF8.GetBytes(request + "\n"), cts.Token).ConfigureAwait(false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return await reader.ReadToEndAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                _logger.LogWarning("control accept failed error={Error}", e.SocketErrorCode);
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        try
        {
            // The request must arrive within 30 s, and the answer be taken within 30 s; the work in
            // between (an import) takes as long as it takes.
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            cts.CancelAfter(TimeSpan.FromSeconds(30));
            await using var stream = new NetworkStream(client, ownsSocket: false);
            var buffer = new byte[MaxRequestBytes];
            int length = 0;
            while (length < buffer.Length)
            {
                int n = await stream.ReadAsync(buffer.AsMemory(length), cts.Token).ConfigureAwait(false);
                if (n == 0) break;
                length += n;
                if (Array.IndexOf(buffer, (byte)'\n', 0, length) >= 0) break;
            }
            int nl = Array.IndexOf(buffer, (byte)'\n', 0, length);
            string answer = nl < 0
                ? "error: request line missing or too long\n"
                : await _handle(Encoding.UTF8.GetString(buffer, 0, nl).Trim()).ConfigureAwait(false);
            using var write = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await stream.WriteAsync(Encoding.UTF8.GetBytes(answer), write.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            _logger.LogDebug("control connection ended error={Error}", e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _loop.ConfigureAwait(false);
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
        _stop.Dispose();
    }
}
