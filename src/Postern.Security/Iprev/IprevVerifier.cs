// iprev, RFC 8601 §3: the client's address has a PTR name whose forward lookup gives the
// address back. At most MaxNames PTR names are tried (as SPF's ptr limit, RFC 7208 §4.6.4).
using System.Net;
using Postern.Dns;

namespace Postern.Security.Iprev;

/// <summary>iprev results (RFC 8601 §2.7.3).</summary>
public enum IprevResult
{
    /// <summary>A PTR name maps back to the address.</summary>
    Pass,
    /// <summary>No PTR name maps back (or there is no PTR record).</summary>
    Fail,
    /// <summary>A DNS lookup failed for now.</summary>
    TempError,
    /// <summary>A DNS lookup failed permanently (e.g. invalid names).</summary>
    PermError,
}

/// <summary>The outcome of an iprev check.</summary>
/// <param name="Result">The result.</param>
/// <param name="Address">The client address checked.</param>
/// <param name="Name">The verified name (pass), or null.</param>
/// <param name="Reason">Why it did not pass, or null.</param>
/// <param name="DnssecAuthentic">Whether the PTR and the forward answer used were DNSSEC-authentic.</param>
public sealed record IprevCheckResult(IprevResult Result, IPAddress Address, string? Name, string? Reason, bool DnssecAuthentic);

/// <summary>Checks reverse DNS of a client address (RFC 8601 §3).</summary>
public sealed class IprevVerifier(IDnsResolver dns)
{
    /// <summary>Most PTR names tried.</summary>
    public const int MaxNames = 10;

    /// <summary>Checks <paramref name="address"/>.</summary>
    public async Task<IprevCheckResult> CheckAsync(IPAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        DnsResult<PtrRecord> ptr = await dns.LookupPtrAsync(address, cancellationToken).ConfigureAwait(false);
        if (ptr.IsTemporaryFailure) return new IprevCheckResult(IprevResult.TempError, address, null, "PTR lookup failed: " + ptr.Describe(), false);
        if (ptr.Kind == DnsOutcomeKind.PermanentFailure) return new IprevCheckResult(IprevResult.PermError, address, null, "PTR lookup failed: " + ptr.Describe(), false);
        if (ptr.Records.Count == 0) return new IprevCheckResult(IprevResult.Fail, address, null, "no PTR record", ptr.Authentic);
        bool temp = false;
        foreach (PtrRecord p in ptr.Records.Take(MaxNames))
        {
            DnsResult<IPAddress> fwd = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                ? await dns.LookupAaaaAsync(p.Target, cancellationToken).ConfigureAwait(false)
                : await dns.LookupAAsync(p.Target, cancellationToken).ConfigureAwait(false);
            if (fwd.IsTemporaryFailure) { temp = true; continue; }
            if (fwd.Records.Any(a => a.Equals(address)))
                return new IprevCheckResult(IprevResult.Pass, address, p.Target, null, ptr.Authentic && fwd.Authentic);
        }
        return temp
            ? new IprevCheckResult(IprevResult.TempError, address, null, "forward lookup of the PTR name failed", false)
            : new IprevCheckResult(IprevResult.Fail, address, null, "no PTR name resolves back to the address", ptr.Authentic);
    }
}
