// One SMTP client connection: bounded reply reading with a deadline per reply, buffered
// writes, greeting, EHLO (HELO fallback), STARTTLS and AUTH. Mail transactions are in
// SmtpClientTransaction.cs. Every failure surfaces as SmtpClientException; nothing a peer
// sends (garbage, endless replies, silence, hang-ups) can make it throw anything else or
// grow memory beyond SmtpClientLimits.
using System.Buffers;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Postern.Security.Sasl;

namespace Postern.Smtp.Client;

/// <summary>An SMTP client connection over an established stream (TCP, proxied, or implicit TLS).</summary>
public sealed partial class SmtpClientConnection : IAsyncDisposable
{
    private readonly SmtpClientOptions _options;
    private readonly byte[] _buffer;
    private readonly ArrayBufferWriter<byte> _out = new(4096);
    private Stream _stream;
    private int _start;
    private int _end;

    /// <summary>Wraps a connected stream. <paramref name="implicitTls"/> describes a stream that is already TLS (port 465).</summary>
    public SmtpClientConnection(Stream stream, SmtpClientOptions options, TlsOutcome? implicitTls = null)
    {
        _stream = stream;
        _options = options;
        _buffer = new byte[Math.Max(options.Limits.MaxReplyLineLength, 512) * 2];
        Tls = implicitTls ?? TlsOutcome.None;
    }

    /// <summary>The extensions announced by the last EHLO.</summary>
    public EhloCapabilities Capabilities { get; private set; } = EhloCapabilities.None;

    /// <summary>How TLS went on this connection.</summary>
    public TlsOutcome Tls { get; private set; }

    /// <summary>True once TLS protects the connection.</summary>
    public bool IsTls => Tls.Used;

    /// <summary>The greeting line(s).</summary>
    public SmtpReply? Greeting { get; private set; }

    internal SmtpClientTimeouts Timeouts => _options.Timeouts;
    internal SmtpClientLimits Limits => _options.Limits;

    /// <summary>Reads the 220 greeting (RFC 5321 §3.1) and sends EHLO, falling back to HELO when EHLO is refused (§4.1.4).</summary>
    public async Task HelloAsync(CancellationToken cancellationToken)
    {
        SmtpReply greeting = await ReadReplyAsync(Timeouts.Greeting, SmtpClientStage.Setup, cancellationToken).ConfigureAwait(false);
        Greeting = greeting;
        if (greeting.Code != 220)
            throw new SmtpClientException("greeting: " + greeting, SmtpClientStage.Setup, greeting);
        await EhloAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task EhloAsync(CancellationToken cancellationToken)
    {
        SmtpReply ehlo = await CommandAsync("EHLO " + _options.LocalHostName, Timeouts.Greeting, SmtpClientStage.Setup, cancellationToken).ConfigureAwait(false);
        if (ehlo.Code == 250)
        {
            Capabilities = EhloCapabilities.Parse(ehlo.Lines);
            return;
        }
        if (ehlo.Code is 421 || !ehlo.IsPermanent)
            throw new SmtpClientException("EHLO: " + ehlo, SmtpClientStage.Setup, ehlo);
        // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; HELO then, without extensions.
        SmtpReply helo = await CommandAsync("HELO " + _options.LocalHostName, Timeouts.Greeting, SmtpClientStage.Setup, cancellationToken).ConfigureAwait(false);
        if (helo.Code != 250)
            throw new SmtpClientException("HELO: " + helo, SmtpClientStage.Setup, helo);
        Capabilities = EhloCapabilities.None;
    }

    /// <summary>
    /// STARTTLS (RFC 3207): negotiates TLS with SNI <paramref name="host"/>, records the certificate
    /// verdict of <paramref name="decision"/>'s verifier and sends EHLO again. Under a Required
    /// decision an unverified certificate fails the handshake.
    /// </summary>
    public async Task StartTlsAsync(string host, OutboundTlsDecision decision, CancellationToken cancellationToken)
    {
        SmtpReply reply = await CommandAsync("STARTTLS", Timeouts.Greeting, SmtpClientStage.Setup, cancellationToken).ConfigureAwait(false);
        if (reply.Code != 220)
            throw new SmtpClientException("STARTTLS: " + reply, SmtpClientStage.Setup, reply);
        // RFC 3207 §5 / STARTTLS injection: bytes the peer sent after its 220 were not protected.
        if (_end > _start)
            throw new SmtpClientException("peer sent data after its STARTTLS reply (command injection)", SmtpClientStage.Setup);
        Tls = await NegotiateTlsAsync(_stream, host, decision, Timeouts.Greeting, cancellationToken, s => _stream = s).ConfigureAwait(false);
        _start = _end = 0;
        await EhloAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a TLS client handshake over <paramref name="inner"/>; <paramref name="onStream"/> receives the TLS stream before the handshake.</summary>
    internal static async Task<TlsOutcome> NegotiateTlsAsync(Stream inner, string host, OutboundTlsDecision decision, TimeSpan timeout,
        CancellationToken cancellationToken, Action<Stream> onStream)
    {
        string? verifyError = "not checked";
        bool required = decision.Mode == OutboundTlsMode.Required;
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false, (_, cert, chain, errors) =>
        {
            verifyError = decision.Verifier.Verify(host, cert, chain, errors);
            return verifyError is null || !required;
        });
        onStream(ssl);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = (decision.ServerName ?? host) is var sni && sni.StartsWith('[') ? null : sni, // RFC 7672 §8.1: DANE sends the TLSA base domain
                EnabledSslProtocols = SslProtocols.None, // the system's choice: TLS 1.2 and 1.3
                CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            }, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or SocketException or ObjectDisposedException && !cancellationToken.IsCancellationRequested)
        {
            string why = e is OperationCanceledException ? "timeout" : verifyError is not null && verifyError != "not checked" && required ? verifyError : e.Message;
            throw new TlsHandshakeException("TLS handshake with " + host + " failed: " + why, why);
        }
        return new TlsOutcome(true, FormatProtocol(ssl.SslProtocol), ssl.NegotiatedCipherSuite.ToString(), verifyError is null, decision.Policy, verifyError);
    }

    private static string FormatProtocol(SslProtocols p) => p switch
    {
#pragma warning disable SYSLIB0039 // naming only
        SslProtocols.Tls => "TLSv1.0",
        SslProtocols.Tls11 => "TLSv1.1",
#pragma warning restore SYSLIB0039
        SslProtocols.Tls12 => "TLSv1.2",
        SslProtocols.Tls13 => "TLSv1.3",
        _ => p.ToString(),
    };

    /// <summary>
    /// AUTH (RFC 4954) with the best mechanism both sides know: SCRAM-SHA-256, then PLAIN only
    /// when TLS protects the connection. A refusal is permanent (wrong credentials), a 4xx temporary.
    /// </summary>
    public async Task AuthenticateAsync(string userName, string password, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> offered = Capabilities.AuthMechanisms;
        ISaslClientMechanism mechanism;
        if (offered.Contains("SCRAM-SHA-256"))
            mechanism = new ScramClient(System.Security.Cryptography.HashAlgorithmName.SHA256, userName, password);
        else if (offered.Contains("PLAIN") && IsTls)
            mechanism = new PlainClient(userName, password);
        else
            throw new SmtpClientException(offered.Count == 0 ? "peer offers no AUTH" + (IsTls ? "" : " (without TLS)")
                : "no usable AUTH mechanism (offered: " + string.Join(" ", offered) + (IsTls ? ")" : "; PLAIN is used only over TLS)"), SmtpClientStage.Setup);
        try
        {
            byte[]? initial = mechanism.GetInitialResponse();
            // RFC 4954 §4: an empty initial response is "=".
            string command = "AUTH " + mechanism.Name + (initial is null ? "" : " " + (initial.Length == 0 ? "=" : Convert.ToBase64String(initial)));
            SmtpReply reply = await CommandAsync(command, Timeouts.Greeting, SmtpClientStage.Setup, cancellationToken).ConfigureAwait(false);
            for (int round = 0; reply.Code == 334 && round < 10; round++)
            {
                string challenge = reply.Lines.Count > 0 ? reply.Lines[0].Trim() : "";
                byte[] decoded;
                try
                {
                    decoded = Convert.FromBase64String(challenge);
                }
                catch (FormatException)
                {
                    await CommandAsync("*", Timeouts.Greeting, SmtpClientStage.Setup, cancellationToken).ConfigureAwait(false);
                    throw new SmtpClientException("AUTH: invalid base64 challenge", SmtpClientStage.Setup);
                }
                byte[] response = mechanism.Respond(decoded);
                reply = await CommandAsync(Convert.ToBase64String(response), Timeouts.Greeting, SmtpClientStage.Setup, cancellationToken).ConfigureAwait(false);
            }
            if (reply.Code == 235)
            {
                // RFC 5802 §5: the server's final message may come with the 235 (RFC 4954 §4 additional data).
                if (mechanism is ScramClient scram && !scram.ServerAuthenticated)
                {
                    string extra = reply.Lines.Count > 0 ? reply.Lines[0].Trim() : "";
                    int sp = extra.IndexOf(' ', StringComparison.Ordinal);
                    string b64 = sp >= 0 && extra.Length > 0 && char.IsAsciiDigit(extra[0]) ? extra[(sp + 1)..] : extra;
                    try
                    {
                        scram.VerifyServerFinal(Convert.FromBase64String(b64));
                    }
                    catch (FormatException)
                    {
                        throw new SmtpClientException("AUTH: the server did not prove it knows the password (SCRAM)", SmtpClientStage.Setup, reply, permanent: true);
                    }
                }
                return;
            }
            throw new SmtpClientException("AUTH " + mechanism.Name + ": " + reply, SmtpClientStage.Setup, reply, permanent: reply.IsPermanent);
        }
        catch (SaslClientException e)
        {
            throw new SmtpClientException("AUTH " + mechanism.Name + ": " + e.Message, SmtpClientStage.Setup, permanent: true);
        }
    }

    /// <summary>Sends QUIT and waits briefly for its reply; errors are ignored (RFC 5321 §4.1.1.10).</summary>
    public async Task QuitAsync()
    {
        try
        {
            await CommandAsync("QUIT", TimeSpan.FromSeconds(5), SmtpClientStage.Setup, CancellationToken.None).ConfigureAwait(false);
        }
        catch (SmtpClientException)
        {
        }
    }

    /// <summary>Sends one command and reads its reply.</summary>
    internal async Task<SmtpReply> CommandAsync(string command, TimeSpan timeout, SmtpClientStage stage, CancellationToken cancellationToken)
    {
        QueueCommand(command);
        await FlushAsync(timeout, stage, cancellationToken).ConfigureAwait(false);
        return await ReadReplyAsync(timeout, stage, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds a command line to the output buffer (sent by <see cref="FlushAsync"/>).</summary>
    internal void QueueCommand(string command)
    {
        if (command.AsSpan().IndexOfAny('\r', '\n') >= 0)
            throw new ArgumentException("command contains a line break", nameof(command));
        int max = Encoding.UTF8.GetMaxByteCount(command.Length) + 2;
        Span<byte> span = _out.GetSpan(max);
        int n = Encoding.UTF8.GetBytes(command, span);
        span[n] = (byte)'\r';
        span[n + 1] = (byte)'\n';
        _out.Advance(n + 2);
    }

    /// <summary>Adds raw bytes to the output buffer.</summary>
    internal void QueueBytes(ReadOnlySpan<byte> bytes) => _out.Write(bytes);

    internal int QueuedBytes => _out.WrittenCount;

    /// <summary>Sends what is buffered.</summary>
    internal async Task FlushAsync(TimeSpan timeout, SmtpClientStage stage, CancellationToken cancellationToken)
    {
        if (_out.WrittenCount == 0) return;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await _stream.WriteAsync(_out.WrittenMemory, cts.Token).ConfigureAwait(false);
            await _stream.FlushAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SmtpClientException("timeout sending to peer", stage);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or NotSupportedException)
        {
            throw new SmtpClientException("connection lost while sending: " + e.Message, stage, inner: e);
        }
        finally
        {
            _out.ResetWrittenCount();
        }
    }

    /// <summary>Reads one complete reply within <paramref name="timeout"/> (the whole reply, so a peer dripping bytes is bounded too).</summary>
    internal async Task<SmtpReply> ReadReplyAsync(TimeSpan timeout, SmtpClientStage stage, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var lines = new List<string>();
        int code = 0, total = 0;
        while (true)
        {
            int lineLength = await ReadLineAsync(stage, cts.Token, cancellationToken).ConfigureAwait(false);
            ReadOnlySpan<byte> line = _buffer.AsSpan(_start, lineLength);
            int consumed = lineLength + 1; // the LF
            if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
            total += consumed;
            if (total > Limits.MaxReplyBytes)
                throw new SmtpClientException($"reply longer than {Limits.MaxReplyBytes} bytes", stage);
            // RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF
            if (line.Length < 3 || !IsDigit(line[0], '2', '5') || !IsDigit(line[1], '0', '5') || !IsDigit(line[2], '0', '9') || (line.Length > 3 && line[3] != ' ' && line[3] != '-'))
                throw new SmtpClientException("malformed reply from peer: " + Printable(line), stage);
            int lineCode = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
            if (code != 0 && lineCode != code)
                throw new SmtpClientException("malformed multi-line reply (codes differ): " + Printable(line), stage);
            code = lineCode;
            bool more = line.Length > 3 && line[3] == '-';
            lines.Add(line.Length > 4 ? Encoding.UTF8.GetString(line[4..]) : "");
            _start += consumed;
            if (!more) break;
            if (lines.Count >= Limits.MaxReplyLines)
                throw new SmtpClientException($"reply of more than {Limits.MaxReplyLines} lines", stage);
        }
        return new SmtpReply(code, ParseEnhanced(code, lines[0]), lines);
    }

    /// <summary>Makes a complete line available at <see cref="_start"/>; returns its length up to (not including) the LF.</summary>
    private async Task<int> ReadLineAsync(SmtpClientStage stage, CancellationToken readToken, CancellationToken callerToken)
    {
        while (true)
        {
            int lf = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (lf >= 0)
            {
                if (lf + 1 > Limits.MaxReplyLineLength)
                    throw new SmtpClientException($"reply line longer than {Limits.MaxReplyLineLength} bytes", stage);
                return lf;
            }
            if (_end - _start >= Limits.MaxReplyLineLength)
                throw new SmtpClientException($"reply line longer than {Limits.MaxReplyLineLength} bytes", stage);
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            int n;
            try
            {
                n = await _stream.ReadAsync(_buffer.AsMemory(_end), readToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!callerToken.IsCancellationRequested)
            {
                throw new SmtpClientException("timeout waiting for the peer's reply", stage);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or NotSupportedException)
            {
                throw new SmtpClientException("connection lost: " + e.Message, stage, inner: e);
            }
            if (n == 0)
                throw new SmtpClientException("connection closed by peer", stage);
            _end += n;
        }
    }

    private static bool IsDigit(byte b, char lo, char hi) => b >= lo && b <= hi;

    private static string Printable(ReadOnlySpan<byte> line)
    {
        var sb = new StringBuilder();
        foreach (byte b in line[..Math.Min(line.Length, 80)])
            sb.Append(b is >= 0x20 and < 0x7f ? (char)b : '?');
        return sb.ToString();
    }

    /// <summary>RFC 3463 §2: class.subject.detail at the start of the text, class matching the reply code.</summary>
    private static string? ParseEnhanced(int code, string text)
    {
        int sp = text.IndexOf(' ', StringComparison.Ordinal);
        string word = sp < 0 ? text : text[..sp];
        string[] parts = word.Split('.');
        if (parts.Length != 3 || parts[0].Length != 1 || parts[0][0] - '0' != code / 100) return null;
        foreach (string p in parts)
        {
            if (p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit)) return null;
        }
        return word;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or AuthenticationException)
        {
        }
    }

    internal static string Format(long n) => n.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A failed TLS handshake; under opportunistic TLS the caller retries without TLS.</summary>
public sealed class TlsHandshakeException(string message, string reason) : Exception(message)
{
    /// <summary>Why it failed.</summary>
    public string Reason { get; } = reason;
}
