using System.Net;

namespace Postern.Dns;

/// <summary>
/// Looks up DNS records. Every result says how the lookup ended (success, no data, NXDOMAIN,
/// temporary failure...) and whether the answer was DNSSEC-authentic.
/// </summary>
/// <remarks>Names may be given in Unicode (converted to A-labels) and with or without trailing dot.
/// Implementations never throw for DNS failures; they return them as <see cref="DnsOutcome"/>s.
/// Only cancellation by the caller throws.</remarks>
public interface IDnsResolver
{
    /// <summary>Looks up records of any type, following CNAMEs.</summary>
    ValueTask<DnsResult<DnsRecord>> QueryAsync(string name, DnsRecordType type, CancellationToken cancellationToken = default);

    /// <summary>Mail exchangers, sorted by preference.</summary>
    ValueTask<DnsResult<MxRecord>> LookupMxAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Text records.</summary>
    ValueTask<DnsResult<TxtRecord>> LookupTxtAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>IPv4 addresses (A records).</summary>
    ValueTask<DnsResult<IPAddress>> LookupAAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>IPv6 addresses (AAAA records).</summary>
    ValueTask<DnsResult<IPAddress>> LookupAaaaAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>IPv4 and IPv6 addresses, looked up in parallel; authentic only if both answers are.</summary>
    ValueTask<DnsResult<IPAddress>> LookupIPAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Reverse lookup of an address (PTR in in-addr.arpa / ip6.arpa).</summary>
    ValueTask<DnsResult<PtrRecord>> LookupPtrAsync(IPAddress address, CancellationToken cancellationToken = default);

    /// <summary>DANE TLSA records at a full TLSA name such as "_25._tcp.mx.example.com".</summary>
    ValueTask<DnsResult<TlsaRecord>> LookupTlsaAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Service records at a full name such as "_submissions._tcp.example.com".</summary>
    ValueTask<DnsResult<SrvRecord>> LookupSrvAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>CAA records at exactly this name (the tree climb of RFC 8659 §3 is the caller's).</summary>
    ValueTask<DnsResult<CaaRecord>> LookupCaaAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Name server records.</summary>
    ValueTask<DnsResult<NsRecord>> LookupNsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The SOA record of a zone apex.</summary>
    ValueTask<DnsResult<SoaRecord>> LookupSoaAsync(string name, CancellationToken cancellationToken = default);
}
