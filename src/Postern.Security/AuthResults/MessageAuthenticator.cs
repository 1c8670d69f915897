// What the SMTP acceptance pipeline calls. Two phases, so that an SMTP server can act early:
// CheckSenderAsync at MAIL FROM (iprev, SPF for HELO and MAIL FROM, DNSBLs, concurrently),
// then CheckMessageAsync at the end of DATA (DKIM, DMARC) which also renders the
// Authentication-Results and Received-SPF header fields to prepend to the stored message.
using System.Net;
using Postern.Dns;
using Postern.Security.Dkim;
using Postern.Security.Dmarc;
using Postern.Security.Dnsbl;
using Postern.Security.Iprev;
using Postern.Security.Spf;

namespace Postern.Security.AuthResults;

/// <summary>Settings of <see cref="MessageAuthenticator"/>.</summary>
public sealed class MessageAuthenticatorOptions
{
    /// <summary>This server's host name: the authserv-id of Authentication-Results and the receiver of Received-SPF.</summary>
    public required string HostName { get; init; }

    /// <summary>Whether to check reverse DNS (iprev).</summary>
    public bool CheckIprev { get; init; } = true;

    /// <summary>DNS blocklist zones to query (empty: none).</summary>
    public IReadOnlyList<string> DnsblZones { get; init; } = [];

    /// <summary>SPF settings.</summary>
    public SpfOptions? Spf { get; init; }

    /// <summary>DKIM verification settings.</summary>
    public DkimVerifierOptions? Dkim { get; init; }

    /// <summary>DMARC settings.</summary>
    public DmarcOptions? Dmarc { get; init; }
}

/// <summary>Results known at MAIL FROM time.</summary>
/// <param name="ClientIp">The SMTP client's address.</param>
/// <param name="Helo">The EHLO/HELO name.</param>
/// <param name="MailFrom">The MAIL FROM address (empty for the null sender).</param>
/// <param name="Spf">SPF results of the HELO and MAIL FROM identities.</param>
/// <param name="Iprev">The iprev result, or null when not checked.</param>
/// <param name="Dnsbl">DNSBL results, one per configured zone.</param>
public sealed record SenderAuthentication(IPAddress ClientIp, string Helo, string MailFrom, SpfVerification Spf, IprevCheckResult? Iprev, IReadOnlyList<DnsblResult> Dnsbl)
{
    /// <summary>Whether any configured DNSBL lists the client.</summary>
    public bool Listed => Dnsbl.Any(d => d.Status == DnsblStatus.Listed);

    /// <summary>Whether the sender's domain answered SPF from DNSSEC-signed data (for the Received header).</summary>
    public bool SenderDnssecSigned => Spf.MailFrom.DnssecAuthentic;
}

/// <summary>Everything known about a received message.</summary>
public sealed class MessageAuthentication
{
    /// <summary>The sender checks.</summary>
    public required SenderAuthentication Sender { get; init; }

    /// <summary>One result per DKIM-Signature field (empty when unsigned).</summary>
    public required IReadOnlyList<DkimSignatureResult> Dkim { get; init; }

    /// <summary>The DMARC evaluation (with what aggregate reports need).</summary>
    public required DmarcEvaluation Dmarc { get; init; }

    /// <summary>The Authentication-Results header field, without final CRLF.</summary>
    public required string AuthenticationResults { get; init; }

    /// <summary>The Received-SPF header field of the MAIL FROM identity, without final CRLF.</summary>
    public required string ReceivedSpf { get; init; }

    /// <summary>The DMARC disposition: reject → 550 5.7.1 at DATA; quarantine → Junk; none → deliver.</summary>
    public DmarcPolicy Disposition => Dmarc.Disposition;
}

/// <summary>Runs SPF, DKIM, DMARC, iprev and DNSBL checks for incoming mail.</summary>
public sealed class MessageAuthenticator
{
    private readonly MessageAuthenticatorOptions _options;
    private readonly SpfVerifier _spf;
    private readonly DkimVerifier _dkim;
    private readonly DmarcVerifier _dmarc;
    private readonly IprevVerifier _iprev;
    private readonly DnsblChecker _dnsbl;

    /// <summary>Creates the checks over one resolver.</summary>
    public MessageAuthenticator(IDnsResolver dns, MessageAuthenticatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(dns);
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _spf = new SpfVerifier(dns, options.Spf ?? new SpfOptions { ReceivingHost = options.HostName });
        _dkim = new DkimVerifier(dns, options.Dkim);
        _dmarc = new DmarcVerifier(dns, options.Dmarc);
        _iprev = new IprevVerifier(dns);
        _dnsbl = new DnsblChecker(dns);
    }

    /// <summary>Phase 1, at MAIL FROM: iprev, SPF (HELO and MAIL FROM) and DNSBLs, concurrently.</summary>
    public async Task<SenderAuthentication> CheckSenderAsync(IPAddress clientIp, string helo, string mailFrom, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clientIp);
        ArgumentNullException.ThrowIfNull(helo);
        mailFrom ??= "";
        Task<SpfVerification> spf = _spf.VerifyAsync(clientIp, helo, mailFrom, cancellationToken);
        Task<IprevCheckResult?> iprev = _options.CheckIprev ? IprevAsync(clientIp, cancellationToken) : Task.FromResult<IprevCheckResult?>(null);
        Task<IReadOnlyList<DnsblResult>> dnsbl = _options.DnsblZones.Count > 0
            ? _dnsbl.CheckAllAsync(clientIp, _options.DnsblZones, cancellationToken)
            : Task.FromResult<IReadOnlyList<DnsblResult>>([]);
        return new SenderAuthentication(clientIp, helo, mailFrom, await spf.ConfigureAwait(false), await iprev.ConfigureAwait(false), await dnsbl.ConfigureAwait(false));
    }

    private async Task<IprevCheckResult?> IprevAsync(IPAddress ip, CancellationToken ct) => await _iprev.CheckAsync(ip, ct).ConfigureAwait(false);

    /// <summary>Phase 2, at the end of DATA: DKIM and DMARC over the message, and the header fields.</summary>
    public async Task<MessageAuthentication> CheckMessageAsync(SenderAuthentication sender, ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sender);
        IReadOnlyList<DkimSignatureResult> dkim = await _dkim.VerifyAsync(message, cancellationToken).ConfigureAwait(false);
        return await FinishAsync(sender, dkim, message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Phase 2 over a seekable stream (a spooled message file): the body is streamed, not loaded.</summary>
    public async Task<MessageAuthentication> CheckMessageAsync(SenderAuthentication sender, Stream message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(message);
        if (!message.CanSeek) throw new ArgumentException("the message stream must be seekable", nameof(message));
        long start = message.Position;
        DkimHeaderBlock? header = await DkimHeaderBlock.ReadAsync(message, 1024 * 1024, cancellationToken).ConfigureAwait(false);
        message.Position = start;
        IReadOnlyList<DkimSignatureResult> dkim = await _dkim.VerifyAsync(message, cancellationToken).ConfigureAwait(false);
        ReadOnlyMemory<byte> headerBytes = header is null ? ReadOnlyMemory<byte>.Empty : header.Bytes[..header.BodyOffset];
        return await FinishAsync(sender, dkim, headerBytes, cancellationToken).ConfigureAwait(false);
    }

    private async Task<MessageAuthentication> FinishAsync(SenderAuthentication sender, IReadOnlyList<DkimSignatureResult> dkim, ReadOnlyMemory<byte> headers, CancellationToken cancellationToken)
    {
        DmarcEvaluation dmarc = DmarcFrom.TryGetDomain(headers, out string? fromDomain, out string? error)
            ? await _dmarc.EvaluateAsync(fromDomain, sender.Spf.MailFrom, dkim, cancellationToken).ConfigureAwait(false)
            : new DmarcEvaluation { Result = DmarcResult.PermError, FromDomain = "", Reason = error };
        var ar = new AuthenticationResultsBuilder(_options.HostName);
        if (sender.Iprev is { } iprev) ar.AddIprev(iprev);
        ar.AddSpf(sender.Spf.MailFrom);
        if (!string.IsNullOrEmpty(sender.MailFrom)) ar.AddSpf(sender.Spf.Helo);
        if (dkim.Count == 0) ar.Add("dkim", "none");
        foreach (DkimSignatureResult d in dkim) ar.AddDkim(d);
        ar.AddDmarc(dmarc);
        return new MessageAuthentication
        {
            Sender = sender, Dkim = dkim, Dmarc = dmarc, AuthenticationResults = ar.Build(),
            ReceivedSpf = sender.Spf.MailFrom.ReceivedSpfHeader(_options.HostName),
        };
    }
}
