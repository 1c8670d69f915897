// Delivery through one configured host instead of the recipient's MX: a smarthost (a
// provider's submission service on 587 with STARTTLS or 465 with implicit TLS, with AUTH),
// or a plain relay (host:port, no AUTH, TLS if offered). This is how a server whose outgoing
// port 25 is blocked sends mail (docs/outgoing.md).
using System.Net;
using System.Text;
using Postern.Dns;

namespace Postern.Smtp.Client;

/// <summary>How TLS is used with a smarthost or relay.</summary>
public enum SmarthostTlsMode
{
    /// <summary>STARTTLS, required and verified (submission, port 587, RFC 6409).</summary>
    StartTls,
    /// <summary>TLS from the first byte, verified (submissions, port 465, RFC 8314).</summary>
    Implicit,
    /// <summary>STARTTLS when offered, unverified accepted (a relay on a trusted network).</summary>
    Opportunistic,
    /// <summary>No TLS (a relay on loopback or a trusted network).</summary>
    None,
}

/// <summary>Settings of a smarthost or relay.</summary>
public sealed record SmarthostOptions
{
    /// <summary>Name recorded in results (the configured transport name).</summary>
    public string Name { get; init; } = "smarthost";

    /// <summary>Host name or IP address.</summary>
    public required string Host { get; init; }

    /// <summary>TCP port (587 for STARTTLS, 465 for implicit TLS, 25 for a relay).</summary>
    public int Port { get; init; } = 587;

    /// <summary>TLS mode.</summary>
    public SmarthostTlsMode Tls { get; init; } = SmarthostTlsMode.StartTls;

    /// <summary>AUTH user name; null for no AUTH (a relay).</summary>
    public string? UserName { get; init; }

    /// <summary>AUTH password.</summary>
    public string? Password { get; init; }

    /// <summary>How the certificate is verified (system CAs and host name by default).</summary>
    public IServerCertificateVerifier Verifier { get; init; } = SystemCaVerifier.Instance;

    /// <summary>How connections are made (directly or through SOCKS5).</summary>
    public IConnectionDialer Dialer { get; init; } = DirectDialer.Instance;

    /// <summary>Client options.</summary>
    public SmtpClientOptions Client { get; init; } = new();
}

/// <summary>Delivers every message to one smarthost or relay.</summary>
/// <param name="options">The host and how to talk to it.</param>
/// <param name="dns">Resolver for the host name; null lets the dialer (proxy or system) resolve it.</param>
public sealed class SmarthostTransport(SmarthostOptions options, IDnsResolver? dns = null) : IOutboundTransport
{
    /// <summary>The settings.</summary>
    public SmarthostOptions Options => options;

    /// <inheritdoc/>
    public async Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken)
    {
        var ledger = new RecipientLedger(request.Recipients);
        var log = new StringBuilder();
        TlsOutcome tls = TlsOutcome.None;
        string? remoteIp = null;
        var decision = new OutboundTlsDecision(options.Tls switch
        {
            SmarthostTlsMode.StartTls or SmarthostTlsMode.Implicit => OutboundTlsMode.Required,
            SmarthostTlsMode.Opportunistic => OutboundTlsMode.Opportunistic,
            _ => OutboundTlsMode.None,
        }, options.Name, options.Verifier);
        try
        {
            List<string> addresses;
            if (IPAddress.TryParse(options.Host, out _) || dns is null || options.Dialer.ResolvesNames)
                addresses = [options.Host];
            else
            {
                var (ips, error, temporary, _) = await new MxResolver(dns).ResolveHostAsync(new MxHost(options.Host, 0, false), cancellationToken).ConfigureAwait(false);
                if (error is not null)
                {
                    HostSession.Log(log, options.Host + ": " + error);
                    ledger.SetPending(0, temporary ? "4.4.3" : "4.4.4", error, permanent: false);
                    return new OutboundResult(ledger.Results(), options.Host, null, tls, options.Name, log.ToString());
                }
                addresses = ips.Select(a => a.ToString()).ToList();
            }
            (int Code, string Enhanced, string Text)? lastError = null;
            foreach (string address in addresses)
            {
                if (!ledger.HasPending) break;
                var target = new HostTarget(address, options.Host, options.Port, options.Tls == SmarthostTlsMode.Implicit, decision, options.UserName, options.Password);
                HostOutcome outcome = await HostSession.RunAsync(options.Dialer, target, request, ledger, options.Client, log, cancellationToken).ConfigureAwait(false);
                if (outcome.Connected)
                {
                    remoteIp = address;
                    tls = outcome.Tls;
                }
                if (outcome.LastError is { } e) lastError = e;
            }
            if (ledger.HasPending)
            {
                var (code, enhanced, text) = lastError ?? (0, "4.4.1", "smarthost could not be reached");
                ledger.SetPending(code is >= 400 and < 500 ? code : 0, enhanced.StartsWith('4') ? enhanced : "4.4.2", text, permanent: false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            HostSession.Log(log, "internal error: " + e.GetType().Name + ": " + e.Message);
            ledger.SetPending(0, "4.3.0", "internal error: " + e.Message, permanent: false);
        }
        return new OutboundResult(ledger.Results(), options.Host, remoteIp, tls, options.Name, log.ToString());
    }
}
