// STARTTLS (RFC 3207) and AUTH (RFC 4954) with the SASL mechanisms of Postern.Security, shared
// with IMAP. AUTH is offered on the submission listeners only, and only over TLS (or on
// loopback, as IMAP allows). Bytes a client pipelines after STARTTLS would be read as if they
// had come over TLS (CVE-2011-0411): when any are buffered, the connection is closed.
using System.Net.Security;
using System.Security.Authentication;
using System.Text;
using Microsoft.Extensions.Logging;
using Postern.Security.Passwords;
using Postern.Security.Sasl;
using Postern.Security.Tls;
using Postern.Smtp.Protocol;
using Postern.Store;

namespace Postern.Smtp.Server;

internal sealed partial class SmtpSession
{
    /// <summary>RFC 4954 §4: an AUTH response line may be up to 12,288 octets.</summary>
    private const int MaxAuthLineLength = 12288;

    private SaslServerOptions SaslOptions() => new()
    {
        Lookup = LookupCredentialsAsync,
        HostName = Options.HostName,
        ChannelBinding = _tls is null ? null : TlsChannelBinding.CreateProvider(_tls),
        AllowClearTextPasswords = PasswordsAllowed,
        OfferCramMd5 = true,
    };

    private async ValueTask<SaslCredentials?> LookupCredentialsAsync(string loginName, CancellationToken ct)
    {
        string? account;
        if (loginName.Contains('@', StringComparison.Ordinal))
            account = await _server.Store.Directory.LookupAddressAsync(loginName, ct).ConfigureAwait(false);
        else
            account = (await _server.Store.Directory.GetAccountAsync(loginName, ct).ConfigureAwait(false))?.Name;
        if (account is null)
            return null;
        string? creds = await _server.Store.Directory.GetCredentialsAsync(account, ct).ConfigureAwait(false);
        if (creds is null || !PasswordSecrets.TryParse(creds, out PasswordSecrets? secrets, out _))
            return null;
        return new SaslCredentials(account, secrets!);
    }

    private async Task StartTlsAsync()
    {
        _tls = new SslStream(_network, leaveInnerStreamOpen: true);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var options = Options;
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
        _stream = _tls;
    }

    private async Task StartTlsCommandAsync(string argument)
    {
        if (IsSecure || !Options.TlsAvailable)
            throw new SmtpCommandException(IsSecure ? 503 : 502, "5.5.1", IsSecure ? "TLS already active" : "STARTTLS not available");
        if (argument.Length > 0)
            throw new SmtpCommandException(501, "5.5.4", "STARTTLS takes no argument");
        // RFC 3207 §4: no pipelining past STARTTLS. Anything already buffered was sent before the
        // handshake and must not be taken as a command after it.
        if (_pipe.TryRead(out System.IO.Pipelines.ReadResult pending))
        {
            long injected = pending.Buffer.Length;
            _pipe.AdvanceTo(pending.Buffer.End);
            if (injected > 0)
            {
                _server.Logger.LogInformation("smtp starttls injection id={Id} remote={Remote} bytes={Bytes}", _id, _remote, injected);
                _w.Reply(554, "5.5.1", "Commands pipelined after STARTTLS are refused (command injection); closing");
                _quit = true;
                return;
            }
        }
        _w.Reply(220, "2.0.0", "Ready to start TLS");
        await FlushAsync(default).ConfigureAwait(false);
        await _pipe.CompleteAsync().ConfigureAwait(false);
        await StartTlsAsync().ConfigureAwait(false);
        NewReader();
        // RFC 3207 §4.2: forget everything learned before TLS; the client must EHLO again.
        await ResetTransactionAsync().ConfigureAwait(false);
        _helo = null;
        _esmtp = false;
    }

    private async Task AuthAsync(string argument)
    {
        if (!IsSubmission)
            throw new SmtpCommandException(502, "5.5.1", "AUTH is available on the submission ports only");
        if (_helo is null || !_esmtp)
            throw new SmtpCommandException(503, "5.5.1", "Send EHLO first");
        if (_authAccount is not null)
            throw new SmtpCommandException(503, "5.5.1", "Already authenticated");
        if (_mail is not null)
            throw new SmtpCommandException(503, "5.5.1", "AUTH not allowed during a mail transaction");
        if (!PasswordsAllowed)
            // RFC 4954 §4 / RFC 3207: TLS first.
            throw new SmtpCommandException(530, "5.7.0", "Must issue a STARTTLS command first");
        string[] parts = argument.Split(' ');
        if (parts.Length is < 1 or > 2 || parts[0].Length == 0)
            throw new SmtpCommandException(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
        ISaslServerMechanism? mech = SaslServerMechanisms.Create(parts[0], SaslOptions());
        if (mech is null)
            throw new SmtpCommandException(504, "5.5.4", "Unrecognized authentication type");
        byte[]? response = null;
        if (parts.Length == 2)
        {
            // RFC 4954 §4: "=" is an empty initial response.
            response = parts[1] == "=" ? [] : DecodeBase64(parts[1]);
            if (response is null)
                throw new SmtpCommandException(501, "5.5.2", "Initial response is not valid base64");
        }

        var throttle = _server.AuthLimiter.Check(_remote, null);
        if (throttle.IsBlocked)
        {
            _w.Reply(454, "4.7.0", "Too many failed authentications; try again later");
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_server.Stopping);
        timeout.CancelAfter(Options.CommandTimeout);
        while (true)
        {
            SaslStepResult step = await mech.StepAsync(response, default).ConfigureAwait(false);
            if (step.Kind == SaslStepKind.Challenge)
            {
                _w.Reply(334, null, Convert.ToBase64String(step.Data));
                (LineStatus status, string? line) = await ReadLineAsync(MaxAuthLineLength, timeout.Token).ConfigureAwait(false);
                if (status == LineStatus.EndOfStream)
                {
                    _quit = true;
                    return;
                }
                if (status != LineStatus.Line)
                    throw new SmtpCommandException(500, "5.5.6", "Authentication exchange line is too long or malformed");
                // RFC 4954 §4: "*" cancels.
                if (line == "*")
                    throw new SmtpCommandException(501, "5.0.0", "Authentication cancelled");
                response = DecodeBase64(line!);
                if (response is null)
                    throw new SmtpCommandException(501, "5.5.2", "Response is not valid base64");
                continue;
            }
            string login = step.LoginName ?? "";
            if (step.Kind == SaslStepKind.Failure)
            {
                SmtpMetrics.Auth.Add(1, new KeyValuePair<string, object?>("result", "failure"));
                _server.AuthLimiter.RecordFailure(_remote, login.Length > 0 ? login : null);
                await RecordAttemptAsync(login, mech.Name, step.FailureKind.ToString()).ConfigureAwait(false);
                TimeSpan delay = _server.AuthLimiter.Check(_remote, login).Delay;
                if (delay > TimeSpan.Zero)
                    await Task.Delay(delay, _server.Stopping).ConfigureAwait(false);
                if (step.FailureKind == SaslFailureKind.MalformedMessage)
                    throw new SmtpCommandException(501, "5.5.2", "Malformed authentication exchange");
                // RFC 4954 §6: 535 5.7.8
                throw new SmtpCommandException(535, "5.7.8", "Authentication credentials invalid");
            }
            if (step.Data.Length > 0)
            {
                // RFC 4954 §4: additional data with success goes in a last 334, answered empty.
                _w.Reply(334, null, Convert.ToBase64String(step.Data));
                (LineStatus status, string? ack) = await ReadLineAsync(MaxAuthLineLength, timeout.Token).ConfigureAwait(false);
                if (status != LineStatus.Line || ack!.Length != 0)
                    throw new SmtpCommandException(501, "5.5.2", "Expected an empty response");
            }
            SmtpMetrics.Auth.Add(1, new KeyValuePair<string, object?>("result", "success"));
            _server.AuthLimiter.RecordSuccess(_remote, login);
            await RecordAttemptAsync(login, mech.Name, "ok").ConfigureAwait(false);
            _authAccount = step.AccountId;
            _server.Logger.LogInformation("smtp login id={Id} remote={Remote} account={Account} method={Method}", _id, _remote, _authAccount, mech.Name);
            _w.Reply(235, "2.7.0", "Authentication successful");
            return;
        }
    }

    private static byte[]? DecodeBase64(string s)
    {
        try
        {
            return Convert.FromBase64String(s);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private async Task RecordAttemptAsync(string login, string method, string result)
    {
        try
        {
            await _server.Store.Directory.RecordLoginAttemptAsync(
                new LoginAttempt(DateTimeOffset.UtcNow, _remote.ToString(), login, method, result, "submission")).ConfigureAwait(false);
        }
        catch (StoreException)
        {
        }
    }
}
