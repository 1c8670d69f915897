// One IMAP connection: the command loop, the transport (plain, TLS after STARTTLS or from the
// start, deflate after COMPRESS), the state machine of RFC 9051 §3 and the dispatch to the
// command handlers in the other ImapSession.*.cs files. A failing command answers NO/BAD and the
// session goes on; only transport failures, BYE cases and LOGOUT end it.
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using Microsoft.Extensions.Logging;
using Postern.Imap.Protocol;
using Postern.Store;

namespace Postern.Imap.Server;

internal enum SessionState
{
    NotAuthenticated,
    Authenticated,
    Selected,
    Logout,
}

internal sealed partial class ImapSession
{
    private readonly ImapServer _server;
    private readonly Stream _network;
    private readonly IPAddress _remote;
    private readonly bool _implicitTls;
    private readonly long _id;
    private readonly ImapResponseWriter _w = new();
    private Stream _input;
    private Stream _output;
    private SslStream? _tls;
    private PipeReader _pipe = null!;
    private ImapCommandReader _reader = null!;
    private SessionState _state = SessionState.NotAuthenticated;
    private bool _compressed;

    private IAccountStore? _account;
    private IChangeSubscription? _feed;
    private string? _loginName;
    private SelectedMailbox? _selected;

    // RFC 5161 ENABLE state.
    private bool _utf8;
    private bool _rev2;
    private bool _condStoreEnabled;
    private bool _qresyncEnabled;

    // RFC 5182 SEARCHRES: saved UIDs.
    private List<uint> _savedResult = [];

    public ImapSession(ImapServer server, Stream network, IPAddress remote, bool implicitTls, long id)
    {
        _server = server;
        _network = network;
        _input = _output = network;
        _remote = remote;
        _implicitTls = implicitTls;
        _id = id;
    }

    private ImapLimits Limits => _server.Options.Limits;
    private bool IsSecure => _tls is not null;
    private bool IsLoopback => IPAddress.IsLoopback(_remote);
    private bool PasswordsAllowed => IsSecure || (IsLoopback && _server.Options.AllowPlaintextAuthOnLoopback);
    private bool Utf8Names => _utf8 || _rev2;

    public async Task RunAsync()
    {
        try
        {
            if (_implicitTls)
            {
                if (!_server.Options.TlsAvailable)
                    return;
                await StartTlsAsync().ConfigureAwait(false);
            }
            NewReader();
            _w.Raw("* OK [CAPABILITY ").Raw(string.Join(' ', Capabilities())).Raw("] Postern IMAP4rev2 ready").Crlf();
            await FlushAsync(default).ConfigureAwait(false);
            await CommandLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            _feed?.Dispose();
            if (_account is not null)
                await _account.DisposeAsync().ConfigureAwait(false);
            if (_tls is not null)
                await _tls.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void NewReader()
    {
        // Zero-byte reads: an idle connection waits for data without holding a rented buffer (10,000 IDLE
        // sessions would otherwise pin 16 KiB each).
        _pipe = PipeReader.Create(_input, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true, useZeroByteReads: true));
        _reader = new ImapCommandReader(_pipe, Limits, _server.Options.TempDirectory)
        {
            SendContinuation = async ct =>
            {
                _w.Raw("+ Ready for literal data").Crlf();
                await FlushAsync(ct).ConfigureAwait(false);
                AckLiteralPromptly();
            },
            LiteralCheck = CheckLiteral,
        };
    }

    /// <summary>
    /// Linux: acknowledge the literal's segments at once instead of delaying the ACK. Many clients (Python's
    /// imaplib among them) send the literal and its closing CRLF in two writes without TCP_NODELAY; Nagle's
    /// algorithm then holds the CRLF until the literal is acknowledged, and a delayed ACK (about 40 ms) would
    /// stall every APPEND. Quick-ACK mode is not sticky, so it is asked for after each continuation.
    /// </summary>
    private void AckLiteralPromptly()
    {
        if (!OperatingSystem.IsLinux() || _network is not System.Net.Sockets.NetworkStream ns)
            return;
        try
        {
            const int IpProtoTcp = 6, TcpQuickAck = 12; // <netinet/tcp.h>
            ns.Socket.SetRawSocketOption(IpProtoTcp, TcpQuickAck, BitConverter.GetBytes(1));
        }
        catch (System.Net.Sockets.SocketException)
        {
            // Only a latency hint.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private string? CheckLiteral(LiteralAnnouncement a)
    {
        // Unauthenticated clients only get literals for the commands they can use: no memory or
        // disk is spent on anything else before login.
        if (_state == SessionState.NotAuthenticated && a.CommandName is not ("LOGIN" or "ID"))
            return "NO Log in first";
        if (_state == SessionState.NotAuthenticated && a.AcceptedBefore + a.Size > 8192)
            return "BAD Literals too large before login";
        return null;
    }

    private async Task CommandLoopAsync()
    {
        while (_state != SessionState.Logout && !_server.Stopping.IsCancellationRequested)
        {
            ReadOutcome outcome;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_server.Stopping))
            {
                timeout.CancelAfter(_state == SessionState.NotAuthenticated ? _server.Options.UnauthenticatedTimeout : _server.Options.AuthenticatedTimeout);
                try
                {
                    outcome = await _reader.ReadCommandAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // RFC 9051 §7.1.5: BYE before closing for inactivity or shutdown.
                    _w.Raw(_server.Stopping.IsCancellationRequested ? "* BYE Server shutting down" : "* BYE Autologout; idle for too long").Crlf();
                    await TryFlushAsync().ConfigureAwait(false);
                    return;
                }
            }
            switch (outcome.Kind)
            {
                case ReadOutcomeKind.EndOfStream:
                    return;
                case ReadOutcomeKind.Fatal:
                    _w.Raw("* BYE ").Raw(outcome.Response ?? "Protocol error").Crlf();
                    await TryFlushAsync().ConfigureAwait(false);
                    return;
                case ReadOutcomeKind.Rejected:
                    TaggedRaw(ValidTagOr(outcome.Tag), outcome.Response ?? "BAD Invalid command");
                    await FlushAsync(default).ConfigureAwait(false);
                    continue;
            }
            using RawCommand raw = outcome.Command!;
            TaggedCommand command;
            try
            {
                command = ImapCommandParser.Parse(raw, Utf8Names, Limits);
            }
            catch (ImapParseException ex)
            {
                TaggedRaw(ImapCommandParser.TryGetTag(raw) ?? "*", "BAD " + ex.Message);
                await FlushAsync(default).ConfigureAwait(false);
                continue;
            }
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            _lastTaggedStatus = "";
            try
            {
                await ExecuteAsync(command).ConfigureAwait(false);
            }
            catch (IOException)
            {
                return;
            }
            catch (ImapParseException ex)
            {
                EndStartedLine();
                Tagged(command.Tag, "BAD", ex.Message);
            }
            catch (UnknownCteException)
            {
                // RFC 3516 §4.3
                EndStartedLine();
                Tagged(command.Tag, "NO", "[UNKNOWN-CTE] Unknown content transfer encoding");
            }
            catch (StoreException ex)
            {
                EndStartedLine();
                Tagged(command.Tag, "NO", StoreErrorText(ex));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _server.Logger.LogError(ex, "imap command failed id={Id} command={Command}", _id, command.Name);
                EndStartedLine();
                Tagged(command.Tag, "NO", "[SERVERBUG] Internal error");
            }
            var commandLabel = new KeyValuePair<string, object?>("command", ImapMetrics.CommandLabel(command.Name));
            string result = _lastTaggedStatus.ToLowerInvariant();
            ImapMetrics.Commands.Add(1, commandLabel, new KeyValuePair<string, object?>("result", result is "ok" or "no" or "bad" ? result : "none"));
            ImapMetrics.CommandSeconds.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, commandLabel);
            await FlushAsync(default).ConfigureAwait(false);
        }
        if (_server.Stopping.IsCancellationRequested && _state != SessionState.Logout)
        {
            _w.Raw("* BYE Server shutting down").Crlf();
            await TryFlushAsync().ConfigureAwait(false);
        }
    }

    private static string ValidTagOr(string? tag)
    {
        if (string.IsNullOrEmpty(tag) || tag.Any(c => c > 0x7e || c <= 0x20 || c is '(' or ')' or '{' or '%' or '*' or '"' or '\\' or '+'))
            return "*";
        return tag;
    }

    private static string StoreErrorText(StoreException ex) => ex switch
    {
        // RFC 5530 response codes.
        MailboxNotFoundException m => $"[NONEXISTENT] Mailbox {m.Name} does not exist",
        MailboxExistsException m => $"[ALREADYEXISTS] Mailbox {m.Name} already exists",
        MailboxNotSelectableException m => $"[CANNOT] Mailbox {m.Name} is not selectable",
        InvalidMailboxNameException m => $"[CANNOT] {m.Message}",
        OverQuotaException => "[OVERQUOTA] Storage quota exceeded",
        MessageNotFoundException => "[EXPUNGEISSUED] Message was expunged",
        MailboxOperationException m => "[CANNOT] " + m.Message,
        _ => "[SERVERBUG] " + ex.Message,
    };

    private async Task ExecuteAsync(TaggedCommand c)
    {
        string name = c.Name;
        // RFC 9051 §6: commands valid in any state, then per state.
        switch (name)
        {
            case "CAPABILITY":
                _w.Raw("* CAPABILITY ").Raw(string.Join(' ', Capabilities())).Crlf();
                Tagged(c.Tag, "OK", "CAPABILITY completed");
                return;
            case "NOOP":
            case "CHECK" when _state == SessionState.Selected:
                await ProcessChangesAsync(allowExpunge: true).ConfigureAwait(false);
                Tagged(c.Tag, "OK", name + " completed");
                return;
            case "LOGOUT":
                _w.Raw("* BYE Logging out").Crlf();
                Tagged(c.Tag, "OK", "LOGOUT completed");
                _state = SessionState.Logout;
                return;
            case "ID":
                // RFC 2971 §3.3
                _w.Raw("* ID (\"name\" \"Postern\" \"vendor\" \"Postern\")").Crlf();
                Tagged(c.Tag, "OK", "ID completed");
                return;
        }

        if (_state == SessionState.NotAuthenticated)
        {
            switch (c.Command)
            {
                case SimpleCommand { Name: "STARTTLS" }:
                    await StartTlsCommandAsync(c.Tag).ConfigureAwait(false);
                    return;
                case LoginCommand login:
                    await LoginAsync(c.Tag, login).ConfigureAwait(false);
                    return;
                case AuthenticateCommand auth:
                    await AuthenticateAsync(c.Tag, auth).ConfigureAwait(false);
                    return;
                case SimpleCommand { Name: "UNAUTHENTICATE" } or EnableCommand:
                    break;
                default:
                    if (name is "LOGIN" or "AUTHENTICATE")
                        break;
                    Tagged(c.Tag, "BAD", $"{name} needs authentication; log in first");
                    return;
            }
        }
        else if (c.Command is LoginCommand or AuthenticateCommand or SimpleCommand { Name: "STARTTLS" })
        {
            Tagged(c.Tag, "BAD", "Already authenticated");
            return;
        }

        if (_state == SessionState.NotAuthenticated)
        {
            Tagged(c.Tag, "BAD", $"{name} needs authentication; log in first");
            return;
        }

        bool needsSelected = c.Command is FetchCommand or StoreCommand or CopyCommand or ExpungeCommand or SearchCommand
            or SortCommand or ThreadCommand or SimpleCommand { Name: "CLOSE" or "UNSELECT" or "EXPUNGE" or "CHECK" }
            || (c.Command is ReplaceCommand);
        if (needsSelected && _state != SessionState.Selected)
        {
            Tagged(c.Tag, "BAD", $"{name} needs a selected mailbox");
            return;
        }

        switch (c.Command)
        {
            case EnableCommand e: Enable(c.Tag, e); break;
            case SimpleCommand { Name: "UNAUTHENTICATE" }: await UnauthenticateAsync(c.Tag).ConfigureAwait(false); break;
            case SimpleCommand { Name: "NAMESPACE" }: Namespace(c.Tag); break;
            case SimpleCommand { Name: "IDLE" }: await IdleAsync(c.Tag).ConfigureAwait(false); break;
            case SimpleCommand { Name: "CLOSE" }: await CloseAsync(c.Tag, expunge: true).ConfigureAwait(false); break;
            case SimpleCommand { Name: "UNSELECT" }: await CloseAsync(c.Tag, expunge: false).ConfigureAwait(false); break;
            case ExpungeCommand x: await ExpungeAsync(c.Tag, x).ConfigureAwait(false); break;
            case CompressCommand z: await CompressAsync(c.Tag, z).ConfigureAwait(false); break;
            case SelectCommand s: await SelectAsync(c.Tag, s).ConfigureAwait(false); break;
            case CreateCommand cr: await CreateAsync(c.Tag, cr).ConfigureAwait(false); break;
            case MailboxCommand { Name: "DELETE" } d: await DeleteAsync(c.Tag, d.Mailbox).ConfigureAwait(false); break;
            case MailboxCommand { Name: "SUBSCRIBE" or "UNSUBSCRIBE" } sub: await SubscribeAsync(c.Tag, sub).ConfigureAwait(false); break;
            case MailboxCommand { Name: "GETQUOTAROOT" } q: await GetQuotaRootAsync(c.Tag, q.Mailbox).ConfigureAwait(false); break;
            case GetQuotaCommand gq: await GetQuotaAsync(c.Tag, gq).ConfigureAwait(false); break;
            case RenameCommand r: await RenameAsync(c.Tag, r).ConfigureAwait(false); break;
            case ListCommand l: await ListAsync(c.Tag, l).ConfigureAwait(false); break;
            case StatusCommand st: await StatusAsync(c.Tag, st).ConfigureAwait(false); break;
            case AppendCommand a: await AppendAsync(c.Tag, a).ConfigureAwait(false); break;
            case ReplaceCommand rp: await ReplaceAsync(c.Tag, rp).ConfigureAwait(false); break;
            case FetchCommand f: await FetchAsync(c.Tag, f).ConfigureAwait(false); break;
            case StoreCommand so: await StoreAsync(c.Tag, so).ConfigureAwait(false); break;
            case CopyCommand cp: await CopyAsync(c.Tag, cp).ConfigureAwait(false); break;
            case SearchCommand se: await SearchAsync(c.Tag, se).ConfigureAwait(false); break;
            case SortCommand so2: await SortAsync(c.Tag, so2).ConfigureAwait(false); break;
            case ThreadCommand th: await ThreadAsync(c.Tag, th).ConfigureAwait(false); break;
            default:
                Tagged(c.Tag, "BAD", $"{name} is not supported");
                break;
        }
    }

    // ---- output ----

    private void Tagged(string tag, string status, string text)
    {
        _lastTaggedStatus = status;
        _w.Raw(tag).Sp().Raw(status).Sp().Raw(text).Crlf();
    }

    /// <summary>The status word (OK, NO, BAD) of the last tagged reply, for the metrics.</summary>
    private string _lastTaggedStatus = "";

    /// <summary>After a command failed part-way: ends a response line it had started, so the tagged reply is read as one.</summary>
    private void EndStartedLine()
    {
        if (_w.MidLine)
            _w.Crlf();
    }

    private void TaggedRaw(string tag, string statusAndText)
    {
        int sp = statusAndText.IndexOf(' ', StringComparison.Ordinal);
        _lastTaggedStatus = sp < 0 ? statusAndText : statusAndText[..sp];
        _w.Raw(tag).Sp().Raw(statusAndText).Crlf();
    }

    private async ValueTask FlushAsync(CancellationToken ct)
    {
        if (_w.Length == 0)
            return;
        await _output.WriteAsync(_w.WrittenMemory, ct).ConfigureAwait(false);
        _w.Clear();
        // RFC 4978 §4: a partial flush after each response so the client can decode it.
        await _output.FlushAsync(ct).ConfigureAwait(false);
    }

    private async ValueTask TryFlushAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await FlushAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
