// One SMTP connection: the command loop, line framing, the transport (plain, TLS after
// STARTTLS or from the start) and dispatch to the handlers in the other SmtpSession.*.cs files:
//   SmtpSession.Envelope.cs  EHLO/HELO, MAIL, RCPT, RSET, VRFY/EXPN, NOOP, HELP
//   SmtpSession.Data.cs      DATA and BDAT, then the acceptance pipeline and delivery
//   SmtpSession.Auth.cs      STARTTLS and AUTH
// Replies are buffered and sent when the client has nothing more pipelined (RFC 2920 §3.1:
// the server flushes before it would wait for input), so a pipelined batch gets one write.
using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Text;
using Microsoft.Extensions.Logging;
using Postern.Smtp.Delivery;
using Postern.Smtp.Protocol;

namespace Postern.Smtp.Server;

internal sealed partial class SmtpSession : IDisposable
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly SmtpServer _server;
    private readonly Stream _network;
    private readonly IPAddress _remote;
    private readonly SmtpListenerKind _kind;
    private readonly long _id;
    private string? _cid;
    private readonly SmtpReplyWriter _w = new();
    private Stream _stream;
    private SslStream? _tls;
    private PipeReader _pipe = null!;
    private bool _quit;

    // Timeouts: a wait for the client sets a deadline, which the server's heartbeat checks (see
    // SmtpServer.CheckTimeouts); past it, the token below is cancelled. Linked once to the server's
    // stop token, so shutdown cancels it too.
    private readonly CancellationTokenSource _waits;
    private long _deadline = long.MaxValue;

    // Greeting and authentication state.
    private string? _helo;
    private bool _esmtp;
    private string? _authAccount;

    // Counters against abuse.
    private int _messages;
    private int _delivered;
    private readonly long _started = Environment.TickCount64;
    private int _errors;
    private int _otherCommands;
    private int _unknownRecipients;

    public SmtpSession(SmtpServer server, Stream network, IPAddress remote, SmtpListenerKind kind, long id)
    {
        _server = server;
        _network = network;
        _stream = network;
        _remote = remote;
        _kind = kind;
        _id = id;
        _waits = CancellationTokenSource.CreateLinkedTokenSource(server.Stopping);
    }

    public void Dispose() => _waits.Dispose();

    /// <summary>Starts a wait for the client of at most <paramref name="timeout"/>; returns the token cancelled when it passes.</summary>
    private CancellationToken BeginWait(TimeSpan timeout)
    {
        long ms = (long)Math.Clamp(timeout.TotalMilliseconds, 0, TimeSpan.FromDays(365).TotalMilliseconds);
        Volatile.Write(ref _deadline, Environment.TickCount64 + ms);
        return _waits.Token;
    }

    private void EndWait() => Volatile.Write(ref _deadline, long.MaxValue);

    /// <summary>Called by the server's heartbeat: cancels the current wait once its deadline has passed.</summary>
    internal void CheckDeadline(long now)
    {
        if (now < Volatile.Read(ref _deadline) || _waits.IsCancellationRequested)
            return;
        try
        {
            // Callbacks (the pending read's cancellation) run on the thread pool, not on the heartbeat.
            _ = _waits.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The session ended meanwhile.
        }
    }

    /// <summary>The encrypted connection id of Received headers and 250 replies (computed when first needed).</summary>
    private string Cid => _cid ??= _server.ConnectionIds.Encrypt(_id);

    private SmtpServerOptions Options => _server.Options;
    private SmtpLimits Limits => _server.Options.Limits;
    private bool IsSecure => _tls is not null;
    private bool IsSubmission => _kind != SmtpListenerKind.Mx;
    private bool PasswordsAllowed => IsSecure || (IPAddress.IsLoopback(_remote) && Options.AllowPlaintextAuthOnLoopback);

    public async Task RunAsync()
    {
        try
        {
            if (_kind == SmtpListenerKind.Submissions)
            {
                if (!Options.TlsAvailable)
                    return;
                await StartTlsAsync().ConfigureAwait(false);
            }
            NewReader();
            // RFC 5321 §4.2: the greeting; ESMTP in it tells clients to try EHLO.
            _w.Reply(220, null, Options.HostName + " ESMTP Postern");
            await CommandLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            await ResetTransactionAsync().ConfigureAwait(false);
            // One line per connection: a connection that delivered is in the "smtp delivered" lines.
            if (_delivered == 0)
                SmtpLog.ConnectionWithoutDelivery(_server.Logger, _id, _remote, _kind, _helo ?? "", _messages, IsSecure,
                    Math.Round(Environment.TickCount64 / 1000.0 - _started / 1000.0, 3));
            if (_tls is not null)
                await _tls.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Zero-byte reads: an idle connection waits without holding a buffer (Kestrel does the same),
    // so 1,000 idle sessions cost little memory.
    private void NewReader() =>
        _pipe = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true, useZeroByteReads: true));

    private async Task CommandLoopAsync()
    {
        while (!_quit)
        {
            (LineStatus status, string? line) result;
            try
            {
                result = await ReadLineAsync(Limits.MaxCommandLineLength, BeginWait(Options.CommandTimeout)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // RFC 5321 §4.5.3.2: 421 before closing for a timeout or shutdown.
                if (_server.Stopping.IsCancellationRequested)
                    _w.Reply(421, "4.3.2", Options.HostName + " Server shutting down");
                else
                    _w.Reply(421, "4.4.2", Options.HostName + " Timeout waiting for a command; closing");
                await TryFlushAsync().ConfigureAwait(false);
                return;
            }
            finally
            {
                EndWait();
            }
            switch (result.status)
            {
                case LineStatus.EndOfStream:
                    return;
                case LineStatus.TooLong:
                    // RFC 5321 §4.5.3.1.4 and §4.2.2: 500 "line too long".
                    await ErrorAsync(500, "5.5.2", $"Command line too long (limit {Limits.MaxCommandLineLength} octets)").ConfigureAwait(false);
                    continue;
                case LineStatus.BareLineEnding:
                    await ErrorAsync(500, "5.5.2", "Command lines must end with CRLF; bare CR or LF refused").ConfigureAwait(false);
                    continue;
                case LineStatus.Invalid:
                    await ErrorAsync(500, "5.5.2", "Command line is not valid UTF-8 text").ConfigureAwait(false);
                    continue;
            }
            try
            {
                await ExecuteAsync(result.line!).ConfigureAwait(false);
            }
            catch (SmtpCommandException e)
            {
                await ErrorAsync(e.Code, e.Enhanced, e.Message).ConfigureAwait(false);
            }
            catch (IOException)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not ObjectDisposedException)
            {
                _server.Logger.LogError(ex, "smtp command failed id={Id}", _id);
                _w.Reply(451, "4.3.0", "Internal error; try again later");
                await ResetTransactionAsync().ConfigureAwait(false);
            }
        }
        await TryFlushAsync().ConfigureAwait(false);
    }

    private async Task ExecuteAsync(string line)
    {
        SmtpCommandLine cmd = SmtpCommandLine.Split(line);
        switch (cmd.Verb)
        {
            case "EHLO": await HelloAsync(cmd.Argument, esmtp: true).ConfigureAwait(false); break;
            case "HELO": await HelloAsync(cmd.Argument, esmtp: false).ConfigureAwait(false); break;
            case "MAIL": await MailAsync(cmd.Argument).ConfigureAwait(false); break;
            case "RCPT": await RcptAsync(cmd.Argument).ConfigureAwait(false); break;
            case "DATA": await DataAsync(cmd.Argument).ConfigureAwait(false); break;
            case "BDAT": await BdatAsync(cmd.Argument).ConfigureAwait(false); break;
            case "RSET": await RsetAsync(cmd.Argument).ConfigureAwait(false); break;
            case "STARTTLS": await StartTlsCommandAsync(cmd.Argument).ConfigureAwait(false); break;
            case "AUTH": await AuthAsync(cmd.Argument).ConfigureAwait(false); break;
            case "NOOP": await OtherCommandAsync(250, "2.0.0", "OK").ConfigureAwait(false); break;
            // RFC 5321 §3.5.3: 252 when the server will not verify, without revealing addresses.
            case "VRFY": await OtherCommandAsync(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery").ConfigureAwait(false); break;
            case "EXPN": await OtherCommandAsync(252, "2.5.0", "Cannot EXPN list, but will accept message and attempt delivery").ConfigureAwait(false); break;
            case "HELP": await OtherCommandAsync(214, "2.0.0", "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH").ConfigureAwait(false); break;
            case "QUIT":
                _w.Reply(221, "2.0.0", Options.HostName + " closing connection");
                _quit = true;
                break;
            // Another protocol talking to us (cross-protocol attacks, e.g. HTTP): close at once.
            case "GET" or "POST" or "PUT" or "HEAD" or "CONNECT" or "USER":
                _w.Reply(421, "4.7.0", "This is an SMTP server; closing");
                _quit = true;
                break;
            default:
                await ErrorAsync(500, "5.5.1", "Unknown command").ConfigureAwait(false);
                break;
        }
    }

    private async Task OtherCommandAsync(int code, string enhanced, string text)
    {
        if (++_otherCommands > Limits.MaxOtherCommands)
        {
            _w.Reply(421, "4.7.0", "Too many commands; closing");
            _quit = true;
            return;
        }
        _w.Reply(code, enhanced, text);
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>A failed command: the reply, and the connection closed after too many.</summary>
    private async Task ErrorAsync(int code, string enhanced, string text)
    {
        _w.Reply(code, enhanced, text);
        if (++_errors >= Limits.MaxErrors)
        {
            _w.Reply(421, "4.7.0", "Too many errors; closing connection");
            _quit = true;
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    // ---- line framing ----

    private enum LineStatus
    {
        Line,
        TooLong,
        BareLineEnding,
        Invalid,
        EndOfStream,
    }

    /// <summary>
    /// Reads one CRLF-terminated line of at most <paramref name="maxLength"/> octets (CRLF included).
    /// A longer line is dropped up to its LF as it arrives (memory stays bounded) and reported as TooLong.
    /// Replies are flushed before waiting for more input.
    /// </summary>
    private async ValueTask<(LineStatus, string?)> ReadLineAsync(int maxLength, CancellationToken ct)
    {
        bool discarding = false;
        bool mustWait = false;
        while (true)
        {
            if (mustWait || !_pipe.TryRead(out ReadResult r))
            {
                await FlushAsync(ct).ConfigureAwait(false);
                r = await _pipe.ReadAsync(ct).ConfigureAwait(false);
            }
            ReadOnlySequence<byte> buffer = r.Buffer;
            SequencePosition? lf = buffer.PositionOf((byte)'\n');
            if (lf is null)
            {
                if (r.IsCompleted)
                {
                    _pipe.AdvanceTo(buffer.End);
                    return (LineStatus.EndOfStream, null);
                }
                if (discarding || buffer.Length > maxLength)
                {
                    discarding = true;
                    _pipe.AdvanceTo(buffer.End);
                }
                else
                    _pipe.AdvanceTo(buffer.Start, buffer.End);
                mustWait = true;
                continue;
            }
            ReadOnlySequence<byte> line = buffer.Slice(0, lf.Value);
            // The line is examined before AdvanceTo, which releases the buffer's memory.
            (LineStatus, string?) result = discarding || line.Length + 1 > maxLength ? (LineStatus.TooLong, null) : ParseLine(line);
            _pipe.AdvanceTo(buffer.GetPosition(1, lf.Value));
            return result;
        }
    }

    private static (LineStatus, string?) ParseLine(ReadOnlySequence<byte> line)
    {
        // RFC 5321 §2.3.8: lines end with CRLF only.
        if (line.Length == 0 || line.Slice(line.Length - 1).FirstSpan[0] != '\r')
            return (LineStatus.BareLineEnding, null);
        line = line.Slice(0, line.Length - 1);
        if (line.PositionOf((byte)'\r') is not null)
            return (LineStatus.BareLineEnding, null);
        string text;
        try
        {
            text = StrictUtf8.GetString(line);
        }
        catch (DecoderFallbackException)
        {
            return (LineStatus.Invalid, null);
        }
        if (text.Any(c => c < 0x20 || c == 0x7f))
            return (LineStatus.Invalid, null);
        return (LineStatus.Line, text);
    }

    // ---- output ----

    private async ValueTask FlushAsync(CancellationToken ct)
    {
        if (_w.Length == 0)
            return;
        await _stream.WriteAsync(_w.WrittenMemory, ct).ConfigureAwait(false);
        _w.Clear();
        await _stream.FlushAsync(ct).ConfigureAwait(false);
    }

    private async ValueTask TryFlushAsync()
    {
        if (_w.Length == 0)
            return;
        CancellationTokenSource? own = null;
        try
        {
            // After a timeout or at shutdown the session's token is already cancelled: a token of its own then.
            CancellationToken ct;
            if (_waits.IsCancellationRequested)
            {
                own = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                ct = own.Token;
            }
            else
                ct = BeginWait(TimeSpan.FromSeconds(5));
            await FlushAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            EndWait();
            own?.Dispose();
        }
    }
}
