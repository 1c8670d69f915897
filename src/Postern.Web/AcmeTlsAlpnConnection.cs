// ACME tls-alpn-01 (RFC 8737) on the HTTPS port. The validating CA connects with SNI = the name
// being validated and ALPN = only "acme-tls/1", and expects the validation certificate for that
// name; ordinary browsers and mail clients never offer acme-tls/1. Kestrel chooses certificates
// by SNI alone (its ClientHello information has no ALPN list), so this connection middleware runs
// before Kestrel's TLS: it reads the ClientHello without consuming it, and when acme-tls/1 is
// offered for a name with a pending challenge it completes the handshake itself with the
// validation certificate and closes (§3: the CA closes after the handshake; no HTTP follows).
// Any other connection is handed to Kestrel's HTTPS with the bytes untouched.
using System.IO.Pipelines;
using System.Net.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Postern.Security.Acme;

namespace Postern.Web;

/// <summary>Connection middleware answering tls-alpn-01 validations in front of Kestrel's TLS.</summary>
internal sealed class AcmeTlsAlpnConnection(ConnectionDelegate next, TlsAlpn01ChallengeResponder responder, TimeSpan timeout, ILogger logger)
{
    /// <summary>Least time given to a validation handshake once acme-tls/1 was seen.</summary>
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    public async Task OnConnectionAsync(ConnectionContext context)
    {
        TlsClientHelloInfo? hello;
        using (var cts = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed))
        {
            cts.CancelAfter(timeout);
            try
            {
                hello = await PeekClientHelloAsync(context.Transport.Input, cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                logger.LogDebug("web connection from={Remote}: no TLS ClientHello within {Timeout}", context.RemoteEndPoint, timeout);
                context.Abort();
                return;
            }
        }
        string acmeTls1 = TlsAlpn01ChallengeResponder.AcmeTls1.ToString();
        if (hello is null || !hello.ApplicationProtocols.Contains(acmeTls1, StringComparer.Ordinal))
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        var certificate = responder.Find(hello.ServerName);
        if (certificate is null)
        {
            // acme-tls/1 without a pending challenge: never answer it with the ordinary certificate (RFC 8737 §3).
            logger.LogInformation("acme tls-alpn-01 refused name={Name} from={Remote}: no challenge pending", hello.ServerName, context.RemoteEndPoint);
            context.Abort();
            return;
        }
        // Logged before the handshake: the CA may close as soon as it has checked our certificate,
        // before our side of the TLS 1.3 handshake completes, so completion is not the evidence.
        logger.LogInformation("acme tls-alpn-01 answering name={Name} from={Remote}", hello.ServerName, context.RemoteEndPoint);
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed);
        // The CA is a legitimate client that got this far; give its handshake at least 10 s.
        handshake.CancelAfter(timeout > HandshakeTimeout ? timeout : HandshakeTimeout);
        try
        {
            await using var tls = new SslStream(new DuplexPipeStream(context.Transport), leaveInnerStreamOpen: true);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = certificate,
                ApplicationProtocols = [TlsAlpn01ChallengeResponder.AcmeTls1],
                ClientCertificateRequired = false,
            }, handshake.Token).ConfigureAwait(false);
            logger.LogDebug("acme tls-alpn-01 handshake done name={Name} from={Remote}", hello.ServerName, context.RemoteEndPoint);
            // Wait (bounded) for the CA to close, so that the handshake's last bytes are not cut off by our close.
            byte[] one = new byte[1];
            try
            {
                _ = await tls.ReadAsync(one, handshake.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
            logger.LogDebug("acme tls-alpn-01 handshake name={Name} from={Remote} failed: {Error}", hello.ServerName, context.RemoteEndPoint, e.Message);
        }
    }

    /// <summary>Buffers the ClientHello (bounded) and leaves every byte unconsumed for whoever reads next.</summary>
    private static async Task<TlsClientHelloInfo?> PeekClientHelloAsync(PipeReader input, CancellationToken ct)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = TlsClientHello.TryRead(buffer, out var hello);
            if (status == ClientHelloStatus.NeedMore && !result.IsCompleted && !result.IsCanceled)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }
            input.AdvanceTo(buffer.Start);
            return status == ClientHelloStatus.Complete ? hello : null;
        }
    }
}

/// <summary>A <see cref="Stream"/> over a connection's pipes, for an <see cref="SslStream"/> run outside Kestrel's TLS.</summary>
internal sealed class DuplexPipeStream(IDuplexPipe pipe) : Stream
{
    private readonly Stream _input = pipe.Input.AsStream(leaveOpen: true);
    private readonly Stream _output = pipe.Output.AsStream(leaveOpen: true);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous only");

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _input.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _input.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous only");

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _output.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _output.WriteAsync(buffer, offset, count, cancellationToken);

    public override Task FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken);

    public override void Flush() => throw new NotSupportedException("asynchronous only");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
