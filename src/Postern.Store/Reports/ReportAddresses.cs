// The addresses a domain publishes for reports about it: the rua of its _dmarc record (RFC 7489
// §6.3) and of its _smtp._tls record (RFC 8460 §3). `quickstart` creates dmarc-reports@DOMAIN
// and tls-reports@DOMAIN; an operator who removed them gets postmaster@DOMAIN (DMARC) and the
// DMARC address (TLS) instead. `config dnsrecords` prints these, and incoming mail to exactly
// these addresses is looked at for reports, so both must come from this one rule.
namespace Postern.Store.Reports;

/// <summary>The DMARC and TLS reporting addresses of a domain.</summary>
/// <param name="Dmarc">Where aggregate DMARC reports go (published as rua=mailto: in _dmarc.DOMAIN).</param>
/// <param name="Tls">Where TLS reports go (published as rua=mailto: in _smtp._tls.DOMAIN).</param>
public sealed record ReportAddresses(string Dmarc, string Tls)
{
    /// <summary>Local part of the DMARC reporting address quickstart creates.</summary>
    public const string DmarcLocalPart = "dmarc-reports";

    /// <summary>Local part of the TLS reporting address quickstart creates.</summary>
    public const string TlsLocalPart = "tls-reports";

    /// <summary>The local parts a reporting address can have (the DMARC fallback is postmaster).</summary>
    public static IReadOnlyList<string> PossibleLocalParts { get; } = [DmarcLocalPart, TlsLocalPart, "postmaster"];

    /// <summary>The reporting addresses of <paramref name="domain"/> (lower-case, as the directory holds it).</summary>
    public static async Task<ReportAddresses> ForDomainAsync(IAccountDirectory directory, string domain, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(domain);
        string dmarc = await ExistingOrAsync(directory, DmarcLocalPart + "@" + domain, "postmaster@" + domain, cancellationToken).ConfigureAwait(false);
        string tls = await ExistingOrAsync(directory, TlsLocalPart + "@" + domain, dmarc, cancellationToken).ConfigureAwait(false);
        return new ReportAddresses(dmarc, tls);
    }

    private static async Task<string> ExistingOrAsync(IAccountDirectory directory, string address, string fallback, CancellationToken ct)
    {
        if (await directory.LookupAddressTargetAsync(address, ct).ConfigureAwait(false) is not null) return address;
        if (await directory.GetAliasAsync(address, ct).ConfigureAwait(false) is not null) return address;
        return fallback;
    }
}
