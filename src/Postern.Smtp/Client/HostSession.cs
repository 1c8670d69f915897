// One host's part of an attempt, shared by direct delivery and smarthosts: connect, greeting,
// EHLO, the TLS decision of the policy step (with the RFC 3207/7435 plain-text retry when an
// opportunistic handshake fails), AUTH, and the transactions. Whatever goes wrong is written to
// the attempt log and leaves the affected recipients pending for the next host.
using System.Globalization;
using System.Text;

namespace Postern.Smtp.Client;

/// <summary>Where and how to talk to one host.</summary>
/// <param name="ConnectTo">What the dialer connects to: an IP address, or a name when the dialer resolves names.</param>
/// <param name="HostName">The host's name: SNI (unless the TLS decision names another: DANE's TLSA base domain, RFC 7672 §8.1; MTA-STS uses the MX host name, RFC 8461 §7.1), certificate name check, logs.</param>
/// <param name="Port">TCP port.</param>
/// <param name="ImplicitTls">TLS from the first byte (submissions, port 465, RFC 8314).</param>
/// <param name="Tls">The policy's decision for this host.</param>
/// <param name="UserName">AUTH user name, or null for no AUTH.</param>
/// <param name="Password">AUTH password.</param>
/// <param name="RequireTlsExtension">The message has REQUIRETLS (RFC 8689 §4.2.1): the host must offer REQUIRETLS over TLS, or it is not used.</param>
public sealed record HostTarget(string ConnectTo, string HostName, int Port, bool ImplicitTls, OutboundTlsDecision Tls, string? UserName = null, string? Password = null,
    bool RequireTlsExtension = false);

/// <summary>How talking to one host ended.</summary>
/// <param name="Connected">A connection was made and the peer greeted.</param>
/// <param name="Tls">TLS of the last connection.</param>
/// <param name="LastError">The last error, if any: code (0 without reply), enhanced code, text.</param>
/// <param name="StartTlsOffered">The peer offered STARTTLS in its first EHLO (null: no EHLO seen).</param>
/// <param name="RequireTlsOffered">The peer offered REQUIRETLS in its EHLO after TLS (null: no EHLO seen).</param>
/// <param name="PeerName">The name the peer gave in its greeting, if seen.</param>
/// <param name="LocalAddress">Our address on the last connection, if one was made.</param>
/// <param name="RequireTlsRefused">The host was not used because it does not offer REQUIRETLS (or STARTTLS) for a REQUIRETLS message.</param>
/// <param name="TlsAttempted">A TLS handshake was started on some connection.</param>
public sealed record HostOutcome(bool Connected, TlsOutcome Tls, (int Code, string Enhanced, string Text)? LastError,
    bool? StartTlsOffered = null, bool? RequireTlsOffered = null, string? PeerName = null, string? LocalAddress = null,
    bool RequireTlsRefused = false, bool TlsAttempted = false);

/// <summary>Runs the part of an attempt that happens with one host.</summary>
public static class HostSession
{
    /// <summary>Most connections to one host in one attempt (a peer with a small MAILMAX).</summary>
    public const int MaxConnectionsPerHost = 10;

    /// <summary>Longest attempt log kept.</summary>
    public const int MaxLogLength = 8 * 1024;

    /// <summary>Delivers the pending recipients of <paramref name="ledger"/> through <paramref name="target"/>.</summary>
    public static async Task<HostOutcome> RunAsync(IConnectionDialer dialer, HostTarget target, OutboundRequest request, RecipientLedger ledger,
        SmtpClientOptions options, StringBuilder log, CancellationToken cancellationToken)
    {
        TlsOutcome tls = TlsOutcome.None;
        (int, string, string)? lastError = null;
        bool connected = false;
        OutboundTlsDecision decision = target.Tls;
        string? tlsFailure = null;
        bool? startTlsOffered = null, requireTlsOffered = null;
        bool requireTlsRefused = false, tlsAttempted = false;
        string? peerName = null, localAddress = null;
        for (int connection = 0; connection < MaxConnectionsPerHost && ledger.HasPending; connection++)
        {
            SmtpClientConnection? c = null;
            try
            {
                Stream stream = await dialer.ConnectAsync(target.ConnectTo, target.Port, options.Timeouts.Connect, cancellationToken).ConfigureAwait(false);
                if (stream is System.Net.Sockets.NetworkStream ns && ns.Socket.LocalEndPoint is System.Net.IPEndPoint local)
                    localAddress = local.Address.ToString();
                TlsOutcome? implicitTls = null;
                if (target.ImplicitTls)
                {
                    tlsAttempted = true;
                    try
                    {
                        implicitTls = await SmtpClientConnection.NegotiateTlsAsync(stream, target.HostName, decision, options.Timeouts.Greeting, cancellationToken, s => stream = s).ConfigureAwait(false);
                    }
                    catch (TlsHandshakeException)
                    {
                        await stream.DisposeAsync().ConfigureAwait(false);
                        throw;
                    }
                }
                c = new SmtpClientConnection(stream, options, implicitTls);
                await c.HelloAsync(cancellationToken).ConfigureAwait(false);
                connected = true;
                peerName = c.Greeting is { Lines.Count: > 0 } g ? g.Lines[0].Split(' ', 2)[0] : null;
                startTlsOffered = target.ImplicitTls || c.Capabilities.StartTls;
                if (!target.ImplicitTls && decision.Mode != OutboundTlsMode.None)
                {
                    if (c.Capabilities.StartTls)
                    {
                        tlsAttempted = true;
                        await c.StartTlsAsync(target.HostName, decision, cancellationToken).ConfigureAwait(false);
                    }
                    else if (decision.Mode == OutboundTlsMode.Required || target.RequireTlsExtension)
                    {
                        requireTlsRefused = target.RequireTlsExtension;
                        throw new SmtpClientException($"TLS is required ({(target.RequireTlsExtension ? "REQUIRETLS" : decision.Policy)}) and {target.HostName} does not offer STARTTLS", SmtpClientStage.Setup);
                    }
                }
                requireTlsOffered = c.IsTls && c.Capabilities.RequireTls;
                if (target.RequireTlsExtension && requireTlsOffered != true)
                {
                    // RFC 8689 §4.2.1: the next hop must offer REQUIRETLS, else the message is not relayed to it.
                    requireTlsRefused = true;
                    throw new SmtpClientException($"the message requires TLS (REQUIRETLS, RFC 8689) and {target.HostName} does not offer REQUIRETLS{(c.IsTls ? "" : " (no TLS)")}", SmtpClientStage.Setup);
                }
                tls = tlsFailure is null ? c.Tls : c.Tls with { Policy = decision.Policy, Error = tlsFailure };
                if (target.UserName is not null)
                    await c.AuthenticateAsync(target.UserName, target.Password ?? "", cancellationToken).ConfigureAwait(false);
                bool usable = await c.SendAsync(request, ledger, cancellationToken).ConfigureAwait(false);
                Log(log, target, "delivered " + Describe(ledger) + (usable ? "" : "; peer's MAILMAX reached, reconnecting") + TlsNote(c.Tls));
                await c.QuitAsync().ConfigureAwait(false);
                if (usable) break;
            }
            catch (TlsHandshakeException e) when (decision.Mode == OutboundTlsMode.Opportunistic)
            {
                // RFC 7435 §4 / RFC 3207 §4.1: opportunistic TLS that fails is retried in plain text, and recorded.
                Log(log, target, e.Message + "; retrying without TLS");
                tlsFailure = e.Reason;
                tls = new TlsOutcome(false, null, null, false, decision.Policy, e.Reason);
                decision = decision with { Mode = OutboundTlsMode.None };
            }
            catch (TlsHandshakeException e)
            {
                Log(log, target, e.Message);
                tls = new TlsOutcome(false, null, null, false, decision.Policy, e.Reason);
                lastError = (0, "4.7.5", e.Message); // RFC 3463: cryptographic failure
                break;
            }
            catch (SmtpClientException e)
            {
                Log(log, target, e.Message);
                if (c is not null && tls == TlsOutcome.None) tls = c.Tls;
                lastError = e.Reply is { } r ? (r.Code, r.EnhancedOr(), e.Message) : (0, e.Stage == SmtpClientStage.Connect ? "4.4.1" : "4.4.2", e.Message);
                break;
            }
            finally
            {
                if (c is not null) await c.DisposeAsync().ConfigureAwait(false);
            }
        }
        return new HostOutcome(connected, tls, lastError, startTlsOffered, requireTlsOffered, peerName, localAddress, requireTlsRefused, tlsAttempted);
    }

    private static string Describe(RecipientLedger ledger)
    {
        int delivered = ledger.Results().Count(r => r.Delivered);
        return delivered.ToString(CultureInfo.InvariantCulture) + " recipient(s) accepted";
    }

    private static string TlsNote(TlsOutcome t) => t.Used ? $", {t.Version}{(t.CertificateVerified ? ", certificate verified" : ", certificate not verified: " + t.Error)}" : ", without TLS";

    /// <summary>Appends a line to an attempt log, bounded.</summary>
    public static void Log(StringBuilder log, HostTarget target, string text) =>
        Log(log, $"{target.HostName} [{target.ConnectTo}]:{target.Port.ToString(CultureInfo.InvariantCulture)}: {text}");

    /// <summary>Appends a line to an attempt log, bounded.</summary>
    public static void Log(StringBuilder log, string line)
    {
        if (log.Length >= MaxLogLength) return;
        if (log.Length > 0) log.Append('\n');
        log.Append(line.Length > 500 ? line[..500] : line);
    }
}
