// Direct delivery: to the recipient domain's MX hosts, in MX order, each host's addresses in
// turn (IPv6, then IPv4, or what worked last). A host that cannot be reached, greets with an
// error, fails TLS it must have, or fails MAIL temporarily, passes the still-pending
// recipients on to the next address or host (RFC 5321 §5.1). Recipients the last host could
// not decide are temporary failures, retried by the queue.
using System.Net;
using System.Text;

namespace Postern.Smtp.Client;

/// <summary>Options of <see cref="DirectTransport"/>.</summary>
public sealed record DirectTransportOptions
{
    /// <summary>The name recorded in results (the transport's configured name).</summary>
    public string Name { get; init; } = "direct";

    /// <summary>SMTP port of MX hosts: 25 (tests use others).</summary>
    public int Port { get; init; } = 25;

    /// <summary>Client options (EHLO name, timeouts, limits).</summary>
    public SmtpClientOptions Client { get; init; } = new();

    /// <summary>The TLS policy step (opportunistic with system CAs by default).</summary>
    public IOutboundTlsPolicy TlsPolicy { get; init; } = new OpportunisticTlsPolicy();

    /// <summary>How connections are made (directly, or through a SOCKS5 proxy).</summary>
    public IConnectionDialer Dialer { get; init; } = DirectDialer.Instance;

    /// <summary>DANE, MTA-STS, REQUIRETLS enforcement, TLS reporting (see DeliverySecurity.cs); null: only <see cref="TlsPolicy"/> decides.</summary>
    public DeliverySecurityOptions? Security { get; init; }
}

/// <summary>Delivers to the MX hosts of the recipient domain.</summary>
public sealed class DirectTransport(MxResolver resolver, DirectTransportOptions? options = null) : IOutboundTransport
{
    private readonly DirectTransportOptions _options = options ?? new DirectTransportOptions();
    private readonly DeliverySecurityPlanner _planner = new(
        (options ?? new DirectTransportOptions()).Security ?? new DeliverySecurityOptions { Dane = false },
        resolver.Dns, (options ?? new DirectTransportOptions()).TlsPolicy);

    /// <summary>The resolver (and its memory of working addresses).</summary>
    public MxResolver Resolver => resolver;

    /// <inheritdoc/>
    public async Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken)
    {
        var ledger = new RecipientLedger(request.Recipients);
        var log = new StringBuilder();
        string? remoteHost = null, remoteIp = null;
        TlsOutcome tls = TlsOutcome.None;
        try
        {
            MxResolution mx = await resolver.ResolveDomainAsync(request.RecipientDomain, cancellationToken).ConfigureAwait(false);
            if (mx.Failure is not null)
            {
                HostSession.Log(log, mx.Failure);
                ledger.SetPending(mx.Permanent ? 550 : 0, mx.Enhanced, mx.Failure, mx.Permanent);
                return Result(ledger, null, null, tls, log);
            }
            (int Code, string Enhanced, string Text)? lastError = null;
            bool anyAddress = false, anyTemporaryDns = false, requireTlsOnly = true, anyHostTried = false;
            DomainSecurity security = await _planner.ForDomainAsync(request, cancellationToken).ConfigureAwait(false);
            var reporter = new TlsResultReporter(_planner.Options, request.RecipientDomain, security, recording: !request.TlsReport);
            reporter.PolicyLookup();
            if (security.Sts.Error is { } stsError) HostSession.Log(log, "MTA-STS: " + stsError);
            RecipientDomainTls? memory = null;
            foreach (MxHost host in mx.Hosts)
            {
                if (!ledger.HasPending) break;
                HostAddresses resolved = await resolver.ResolveAddressesAsync(host, cancellationToken).ConfigureAwait(false);
                if (resolved.Error is { } error)
                {
                    HostSession.Log(log, $"{host.Name}: {error}");
                    anyTemporaryDns |= resolved.Temporary;
                    lastError = (0, resolved.Temporary ? "4.4.3" : "4.4.4", error);
                    requireTlsOnly = false;
                    continue;
                }
                anyAddress = true;
                HostPlan plan = await _planner.ForHostAsync(request, security, host, resolved, _options.Port, cancellationToken, mx.ExpandedDomain).ConfigureAwait(false);
                if (plan.Decision is null)
                {
                    // DANE or MTA-STS (or REQUIRETLS) rules this host out.
                    HostSession.Log(log, $"{host.Name}: {plan.SkipReason}");
                    reporter.Skipped(host.Name, plan);
                    lastError = (0, plan.SkipEnhanced, plan.SkipReason ?? "host not usable");
                    requireTlsOnly &= plan.SkipForRequireTls;
                    anyHostTried = true;
                    continue;
                }
                foreach (IPAddress ip in resolved.Addresses)
                {
                    if (!ledger.HasPending) break;
                    var target = new HostTarget(ip.ToString(), host.Name.StartsWith('[') ? ip.ToString() : host.Name, _options.Port, false, plan.Decision,
                        RequireTlsExtension: security.RequireTls);
                    HostOutcome outcome = await HostSession.RunAsync(_options.Dialer, target, request, ledger, _options.Client, log, cancellationToken).ConfigureAwait(false);
                    anyHostTried = true;
                    reporter.Session(host.Name, ip.ToString(), plan, outcome);
                    if (outcome.Connected)
                    {
                        resolver.RecordWorking(host.Name, ip);
                        remoteHost = host.Name;
                        remoteIp = ip.ToString();
                        tls = outcome.Tls;
                        if (outcome.StartTlsOffered is { } st)
                            memory = new RecipientDomainTls(request.RecipientDomain.ToLowerInvariant(), st, outcome.RequireTlsOffered == true, host.Name, _planner.Options.Time.GetUtcNow());
                    }
                    else
                        resolver.RecordFailed(host.Name, ip);
                    if (outcome.LastError is { } e)
                    {
                        lastError = outcome.RequireTlsRefused ? (0, "5.7.30", e.Text) : e;
                        requireTlsOnly &= outcome.RequireTlsRefused;
                    }
                }
            }
            if (memory is not null && _planner.Options.DomainMemory is { } domainMemory)
                await domainMemory.RecordAsync(memory, cancellationToken).ConfigureAwait(false);
            if (ledger.HasPending)
            {
                if (!anyAddress && !anyTemporaryDns && mx.Implicit)
                {
                    // RFC 5321 §5.1: no MX and no address: the domain cannot receive mail.
                    string text = $"domain {request.RecipientDomain} has no MX records and no address";
                    ledger.SetPending(550, "5.1.2", text, permanent: true);
                }
                else if (security.RequireTls && anyHostTried && requireTlsOnly && lastError is { } rt)
                {
                    // RFC 8689 §4.2.1, §5: no host can take the message with the TLS it requires: it fails (a DSN goes back).
                    ledger.SetPending(550, "5.7.30", rt.Text, permanent: true);
                }
                else
                {
                    var (code, enhanced, text) = lastError ?? (0, "4.4.1", "no host could be reached");
                    // A 5xx that ended a session (greeting, EHLO) does not decide for the recipients: another try may find another host.
                    ledger.SetPending(code is >= 400 and < 500 ? code : 0, enhanced.StartsWith('4') ? enhanced : "4.4.2", text, permanent: false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The contract: never throw for network or peer errors. Anything unexpected is a temporary failure too.
            HostSession.Log(log, "internal error: " + e.GetType().Name + ": " + e.Message);
            ledger.SetPending(0, "4.3.0", "internal error: " + e.Message, permanent: false);
        }
        return Result(ledger, remoteHost, remoteIp, tls, log);
    }

    private OutboundResult Result(RecipientLedger ledger, string? host, string? ip, TlsOutcome tls, StringBuilder log) =>
        new(ledger.Results(), host, ip, tls, _options.Name, log.ToString());
}
