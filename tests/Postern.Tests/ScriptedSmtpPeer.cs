using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Postern.Tests;

/// <summary>Where in a transaction a <see cref="ScriptedSmtpPeer"/> trap stops.</summary>
internal enum PeerTrapPhase
{
    /// <summary>At the DATA command, before 354: the peer has not accepted the message.</summary>
    BeforeData,
    /// <summary>After the message was received and recorded as accepted, before the 250 is sent (a peer that commits, then the sender dies).</summary>
    AcceptedBeforeReply,
    /// <summary>Right after the 250 was sent: the sender may or may not have recorded it yet.</summary>
    AfterReply,
}

/// <summary>
/// A slow scripted SMTP peer on loopback (no PIPELINING, DSN or CHUNKING; a few ms before each reply) that records
/// every message it accepts with the run it arrived in, and can stop at the n-th transaction of a run at a chosen
/// phase and signal the test: kills are placed by progress, not by timing guesses. Messages are told apart by
/// their "Subject: crash N" header.
/// </summary>
internal sealed partial class ScriptedSmtpPeer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly List<(int Message, int Run)> _accepted = [];
    private readonly Task _accepting;
    private int _run;
    private int _transactionsThisRun;
    private (PeerTrapPhase Phase, int Transaction)? _trap;
    private TaskCompletionSource<int> _triggered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ScriptedSmtpPeer()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = Task.Run(AcceptLoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Completes with the message number when the trap of the current run was reached.</summary>
    public Task<int> Triggered
    {
        get
        {
            lock (_lock) return _triggered.Task;
        }
    }

    /// <summary>Every acceptance so far: message number and run.</summary>
    public List<(int Message, int Run)> Accepted()
    {
        lock (_lock) return [.. _accepted];
    }

    /// <summary>Starts a new run: connections held by the last trap are let go, and the new trap (if any) armed.</summary>
    public void BeginRun(int run, PeerTrapPhase? phase = null, int transaction = 0)
    {
        lock (_lock)
        {
            _release.TrySetResult();
            _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _triggered = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _run = run;
            _transactionsThisRun = 0;
            _trap = phase is { } p ? (p, transaction) : null;
        }
    }

    /// <summary>Lets go of connections held by a trap (after the sender was killed).</summary>
    public void Release()
    {
        lock (_lock) _release.TrySetResult();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(() => SessionAsync(s));
        }
    }

    private async Task SessionAsync(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = new LineReader(stream);
        try
        {
            await ReplyAsync(stream, "220 peer.test ESMTP scripted\r\n");
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                string verb = line.Length >= 4 ? line[..4].ToUpperInvariant() : line.ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO":
                        await ReplyAsync(stream, "250-peer.test\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n");
                        break;
                    case "HELO":
                    case "RSET":
                    case "NOOP":
                        await ReplyAsync(stream, "250 2.0.0 Ok\r\n");
                        break;
                    case "MAIL":
                        await ReplyAsync(stream, "250 2.1.0 Ok\r\n");
                        break;
                    case "RCPT":
                        await ReplyAsync(stream, "250 2.1.5 Ok\r\n");
                        break;
                    case "DATA":
                        if (!await DataAsync(stream, reader)) return;
                        break;
                    case "QUIT":
                        await ReplyAsync(stream, "221 2.0.0 Bye\r\n");
                        return;
                    default:
                        await ReplyAsync(stream, "502 5.5.2 Not here\r\n");
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The sender went away (killed): the transaction is abandoned.
        }
    }

    /// <summary>One DATA transaction; false when the connection is to be dropped (trap).</summary>
    private async Task<bool> DataAsync(NetworkStream stream, LineReader reader)
    {
        int transaction;
        (PeerTrapPhase Phase, int Transaction)? trap;
        Task release;
        lock (_lock)
        {
            transaction = ++_transactionsThisRun;
            trap = _trap;
            release = _release.Task;
        }
        bool trapped = trap is { } t && t.Transaction == transaction;
        if (trapped && trap!.Value.Phase == PeerTrapPhase.BeforeData)
        {
            Trigger(-1);
            await release;
            return false;
        }
        await ReplyAsync(stream, "354 End with .\r\n");
        var message = new StringBuilder();
        while (true)
        {
            string? line = await reader.ReadLineAsync(_stop.Token) ?? throw new IOException("connection closed in DATA");
            if (line == ".") break;
            message.Append(line.StartsWith('.') ? line[1..] : line).Append("\r\n");
        }
        Match m = SubjectPattern().Match(message.ToString());
        int number = m.Success ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
        lock (_lock) _accepted.Add((number, _run));
        if (trapped && trap!.Value.Phase == PeerTrapPhase.AcceptedBeforeReply)
        {
            Trigger(number);
            await release;
            return false;
        }
        await ReplyAsync(stream, "250 2.0.0 Ok: queued\r\n");
        if (trapped) Trigger(number);
        return true;
    }

    private void Trigger(int number)
    {
        lock (_lock) _triggered.TrySetResult(number);
    }

    private static async Task ReplyAsync(NetworkStream stream, string reply)
    {
        // Slow: a few milliseconds before each reply, so kills find transactions in flight.
        await Task.Delay(Random.Shared.Next(1, 15));
        await stream.WriteAsync(Encoding.ASCII.GetBytes(reply));
        await stream.FlushAsync();
    }

    [GeneratedRegex(@"^Subject: crash (\d+)\r$", RegexOptions.Multiline)]
    private static partial Regex SubjectPattern();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Release();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }

    /// <summary>Reads CRLF lines (at most 64 KiB each) from a stream.</summary>
    private sealed class LineReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        public async Task<string?> ReadLineAsync(CancellationToken ct)
        {
            while (true)
            {
                int nl = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (nl >= 0)
                {
                    int len = nl - _start;
                    if (len > 0 && _buffer[nl - 1] == '\r') len--;
                    string line = Encoding.Latin1.GetString(_buffer, _start, len);
                    _start = nl + 1;
                    return line;
                }
                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                if (_end == _buffer.Length) throw new IOException("line too long");
                int n = await stream.ReadAsync(_buffer.AsMemory(_end), ct);
                if (n == 0) return null;
                _end += n;
            }
        }
    }
}
