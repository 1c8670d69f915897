// Capabilities, TLS, compression and authentication. Passwords (LOGIN, AUTHENTICATE) are only
// accepted over TLS or on loopback; elsewhere LOGINDISABLED is advertised (RFC 9051 §6.2.3) and
// every mechanism is refused with PRIVACYREQUIRED. Failed logins are delayed and counted per IP
// and per account through the AuthFailureLimiter of Postern.Security.
using System.IO.Compression;
using System.Net.Security;
using System.Security.Authentication;
using System.Text;
using Microsoft.Extensions.Logging;
using Postern.Imap.Protocol;
using Postern.Security.Passwords;
using Postern.Security.Sasl;
using Postern.Security.Tls;
using Postern.Store;

namespace Postern.Imap.Server;

internal sealed partial class ImapSession
{
    /// <summary>Capabilities after login, every one fully implemented.</summary>
    internal static readonly string[] AuthenticatedCapabilities =
    [
        "IMAP4rev2", "IMAP4rev1", "ENABLE", "LITERAL+", "IDLE", "SASL-IR", "UNSELECT", "UIDPLUS", "ESEARCH", "SEARCHRES",
        "MOVE", "UTF8=ACCEPT", "LIST-EXTENDED", "LIST-STATUS", "ID", "NAMESPACE", "MULTIAPPEND", "SPECIAL-USE", "CREATE-SPECIAL-USE", "BINARY",
        "STATUS=SIZE", "SAVEDATE", "WITHIN", "PREVIEW", "UNAUTHENTICATE", "QUOTA", "QUOTA=RES-STORAGE",
        "CONDSTORE", "QRESYNC", "SORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "COMPRESS=DEFLATE", "REPLACE",
    ];

    private IEnumerable<string> Capabilities()
    {
        if (_state == SessionState.NotAuthenticated)
        {
            yield return "IMAP4rev2";
            yield return "IMAP4rev1";
            yield return "ENABLE";
            yield return "LITERAL+";
            yield return "SASL-IR";
            yield return "ID";
            yield return "IDLE";
            if (!IsSecure && _server.Options.TlsAvailable)
                yield return "STARTTLS";
            if (!PasswordsAllowed)
            {
                yield return "LOGINDISABLED";
                yield break;
            }
            foreach (string mech in SaslServerMechanisms.Advertised(SaslOptions()))
                yield return "AUTH=" + mech;
            yield break;
        }
        foreach (string cap in AuthenticatedCapabilities)
        {
            if (cap == "COMPRESS=DEFLATE" && _compressed)
                continue;
            yield return cap;
        }
        yield return "APPENDLIMIT=" + ImapTokenizer.Num((ulong)Limits.AppendLimit);
    }

    private SaslServerOptions SaslOptions() => new()
    {
        Lookup = LookupCredentialsAsync,
        HostName = _server.Options.HostName,
        ChannelBinding = _tls is null ? null : TlsChannelBinding.CreateProvider(_tls),
        AllowClearTextPasswords = PasswordsAllowed,
        OfferCramMd5 = true,
    };

    private async ValueTask<SaslCredentials?> LookupCredentialsAsync(string loginName, CancellationToken ct)
    {
        string? account = await ResolveAccountAsync(loginName, ct).ConfigureAwait(false);
        if (account is null)
            return null;
        string? creds = await _server.Store.Directory.GetCredentialsAsync(account, ct).ConfigureAwait(false);
        if (creds is null || !PasswordSecrets.TryParse(creds, out PasswordSecrets? secrets, out _))
            return null;
        return new SaslCredentials(account, secrets!);
    }

    private async Task<string?> ResolveAccountAsync(string loginName, CancellationToken ct)
    {
        if (loginName.Contains('@', StringComparison.Ordinal))
            return await _server.Store.Directory.LookupAddressAsync(loginName, ct).ConfigureAwait(false);
        AccountInfo? info = await _server.Store.Directory.GetAccountAsync(loginName, ct).ConfigureAwait(false);
        return info?.Name;
    }

    private async Task StartTlsAsync()
    {
        _tls = new SslStream(_network, leaveInnerStreamOpen: true);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var options = _server.Options;
        // The options are chosen per handshake from the client's SNI name, so that a certificate
        // context (leaf plus intermediates) can be picked per host name.
        await _tls.AuthenticateAsServerAsync((_, hello, _, _) => ValueTask.FromResult(new SslServerAuthenticationOptions
        {
            ServerCertificateContext = options.CertificateContextSelector?.Invoke(hello.ServerName),
            ServerCertificate = options.CertificateContextSelector is not null ? null
                : options.CertificateSelector is { } select ? select(hello.ServerName) : options.Certificate,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = false,
        }), null, cts.Token).ConfigureAwait(false);
        _input = _output = _tls;
    }

    private async Task StartTlsCommandAsync(string tag)
    {
        if (IsSecure || !_server.Options.TlsAvailable)
        {
            Tagged(tag, "BAD", IsSecure ? "TLS already active" : "STARTTLS not available");
            return;
        }
        Tagged(tag, "OK", "Begin TLS negotiation now");
        await FlushAsync(default).ConfigureAwait(false);
        // RFC 9051 §6.2.1: bytes the client sent before the handshake are discarded (STARTTLS
        // command injection); the old reader and its buffer are dropped.
        await _pipe.CompleteAsync().ConfigureAwait(false);
        await StartTlsAsync().ConfigureAwait(false);
        NewReader();
    }

    private async Task CompressAsync(string tag, CompressCommand z)
    {
        if (z.Mechanism != "DEFLATE")
        {
            Tagged(tag, "NO", "Only DEFLATE is supported");
            return;
        }
        if (_compressed)
        {
            // RFC 4978 §3: COMPRESSIONACTIVE
            Tagged(tag, "NO", "[COMPRESSIONACTIVE] Compression already active");
            return;
        }
        Tagged(tag, "OK", "DEFLATE active");
        await FlushAsync(default).ConfigureAwait(false);
        await _pipe.CompleteAsync().ConfigureAwait(false);
        // RFC 4978 §4: raw deflate (RFC 1951) both ways; FlushAsync after each response is a sync flush.
        _input = new DeflateStream(_input, CompressionMode.Decompress, leaveOpen: true);
        _output = new DeflateStream(_output, CompressionLevel.Fastest, leaveOpen: true);
        _compressed = true;
        NewReader();
    }

    private async Task LoginAsync(string tag, LoginCommand login)
    {
        if (!PasswordsAllowed)
        {
            Tagged(tag, "NO", "[PRIVACYREQUIRED] Use TLS (STARTTLS) before logging in");
            return;
        }
        byte[] plain = Encoding.UTF8.GetBytes("\0" + login.User + "\0" + login.Password);
        ISaslServerMechanism mech = SaslServerMechanisms.Create("PLAIN", SaslOptions())!;
        await RunSaslAsync(tag, mech, plain, "LOGIN", login.User).ConfigureAwait(false);
    }

    private async Task AuthenticateAsync(string tag, AuthenticateCommand auth)
    {
        if (!PasswordsAllowed)
        {
            Tagged(tag, "NO", "[PRIVACYREQUIRED] Use TLS (STARTTLS) before authenticating");
            return;
        }
        ISaslServerMechanism? mech = SaslServerMechanisms.Create(auth.Mechanism, SaslOptions());
        if (mech is null)
        {
            Tagged(tag, "NO", $"Mechanism {auth.Mechanism} not available");
            return;
        }
        await RunSaslAsync(tag, mech, auth.InitialResponse, auth.Mechanism, null).ConfigureAwait(false);
    }

    private async Task RunSaslAsync(string tag, ISaslServerMechanism mech, byte[]? response, string method, string? knownLogin)
    {
        var throttle = _server.AuthLimiter.Check(_remote, knownLogin);
        if (throttle.IsBlocked)
        {
            Tagged(tag, "NO", "[UNAVAILABLE] Too many failed logins; try again later");
            return;
        }
        while (true)
        {
            SaslStepResult step = await mech.StepAsync(response, default).ConfigureAwait(false);
            if (step.Kind == SaslStepKind.Challenge)
            {
                _w.Raw("+ ").Raw(Convert.ToBase64String(step.Data)).Crlf();
                await FlushAsync(default).ConfigureAwait(false);
                byte[]? line = await _reader.ReadRawLineAsync(SaslLimits.MaxClientResponseBytes * 2, default).ConfigureAwait(false);
                if (line is null)
                {
                    Tagged(tag, "BAD", "Response too long");
                    return;
                }
                // RFC 9051 §6.2.2: "*" cancels.
                if (line is [(byte)'*'])
                {
                    Tagged(tag, "BAD", "Authentication cancelled");
                    return;
                }
                try
                {
                    response = Convert.FromBase64String(Encoding.ASCII.GetString(line));
                }
                catch (FormatException)
                {
                    Tagged(tag, "BAD", "Response is not valid base64");
                    return;
                }
                continue;
            }
            string login = step.LoginName ?? knownLogin ?? "";
            if (step.Kind == SaslStepKind.Failure)
            {
                _server.AuthLimiter.RecordFailure(_remote, login.Length > 0 ? login : null);
                await RecordAttemptAsync(login, method, step.FailureKind.ToString()).ConfigureAwait(false);
                TimeSpan delay = _server.AuthLimiter.Check(_remote, login).Delay;
                if (delay > TimeSpan.Zero)
                    await Task.Delay(delay).ConfigureAwait(false);
                if (step.FailureKind == SaslFailureKind.MalformedMessage)
                    Tagged(tag, "BAD", "Malformed authentication exchange");
                else
                    Tagged(tag, "NO", "[AUTHENTICATIONFAILED] Invalid credentials");
                return;
            }
            if (step.Data.Length > 0)
            {
                // RFC 9051 §6.2.2: additional success data goes in a final challenge answered empty.
                _w.Raw("+ ").Raw(Convert.ToBase64String(step.Data)).Crlf();
                await FlushAsync(default).ConfigureAwait(false);
                byte[]? ack = await _reader.ReadRawLineAsync(1024, default).ConfigureAwait(false);
                if (ack is null || ack.Length != 0)
                {
                    Tagged(tag, "BAD", "Expected an empty response");
                    return;
                }
            }
            _server.AuthLimiter.RecordSuccess(_remote, login);
            await RecordAttemptAsync(login, method, "ok").ConfigureAwait(false);
            _account = await _server.Store.OpenAccountAsync(step.AccountId!).ConfigureAwait(false);
            _feed = _account.Subscribe();
            _loginName = login;
            _state = SessionState.Authenticated;
            _server.Logger.LogInformation("imap login id={Id} remote={Remote} account={Account} method={Method}", _id, _remote, step.AccountId, method);
            Tagged(tag, "OK", "[CAPABILITY " + string.Join(' ', Capabilities()) + "] Logged in");
            return;
        }
    }

    private async Task RecordAttemptAsync(string login, string method, string result)
    {
        ImapMetrics.Auth.Add(1, new KeyValuePair<string, object?>("result", result == "ok" ? "success" : "failure"));
        if (result != "ok")
            _server.Logger.LogInformation("imap login failed id={Id} remote={Remote} login={Login} method={Method} result={Result}", _id, _remote, login, method, result);
        try
        {
            await _server.Store.Directory.RecordLoginAttemptAsync(
                new LoginAttempt(DateTimeOffset.UtcNow, _remote.ToString(), login, method, result, "imap")).ConfigureAwait(false);
        }
        catch (StoreException)
        {
        }
    }

    private async Task UnauthenticateAsync(string tag)
    {
        // RFC 8437 §3: back to the not-authenticated state, enabled extensions reset.
        _selected = null;
        _feed?.Dispose();
        _feed = null;
        if (_account is not null)
            await _account.DisposeAsync().ConfigureAwait(false);
        _account = null;
        _loginName = null;
        _utf8 = _rev2 = _condStoreEnabled = _qresyncEnabled = false;
        _w.Utf8 = false;
        _state = SessionState.NotAuthenticated;
        Tagged(tag, "OK", "Unauthenticated");
    }

    private void Enable(string tag, EnableCommand e)
    {
        // RFC 5161 §3.1: ENABLE only in the authenticated state... before SELECT for UTF8=ACCEPT (RFC 6855 §3).
        var enabled = new List<string>();
        foreach (string cap in e.Capabilities)
        {
            switch (cap)
            {
                case "UTF8=ACCEPT" when !_utf8:
                    _utf8 = true;
                    enabled.Add(cap);
                    break;
                case "IMAP4REV2" when !_rev2:
                    _rev2 = true;
                    enabled.Add("IMAP4rev2");
                    break;
                case "CONDSTORE" when !_condStoreEnabled:
                    _condStoreEnabled = true;
                    enabled.Add(cap);
                    break;
                // RFC 7162 §3.2.3: enabling QRESYNC implies CONDSTORE.
                case "QRESYNC" when !_qresyncEnabled:
                    _qresyncEnabled = true;
                    _condStoreEnabled = true;
                    enabled.Add(cap);
                    break;
            }
        }
        _w.Utf8 = Utf8Names;
        _w.Raw("* ENABLED");
        foreach (string cap in enabled)
            _w.Sp().Raw(cap);
        _w.Crlf();
        Tagged(tag, "OK", "ENABLE completed");
    }

    private void Namespace(string tag)
    {
        // RFC 2342: one personal namespace, "/" separator.
        _w.Raw("* NAMESPACE ((\"\" \"/\")) NIL NIL").Crlf();
        Tagged(tag, "OK", "NAMESPACE completed");
    }
}
