// Where mail for a domain goes (RFC 5321 §5.1): its MX hosts by preference, shuffled among
// equal preferences (§5.1: "randomize"), the domain itself when it has no MX but addresses
// (implicit MX), nowhere when it publishes a null MX (RFC 7505), an address literal as is.
// Each host's addresses are IPv6 first, then IPv4, unless one of them worked last time
// (a small in-memory map, so a host with broken IPv6 does not cost a timeout on every message).
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Postern.Dns;

namespace Postern.Smtp.Client;

/// <summary>One host to try, with its addresses in the order to try them.</summary>
/// <param name="Name">The host name (or the address literal).</param>
/// <param name="Preference">MX preference (0 for implicit MX and literals).</param>
/// <param name="Authentic">The MX and address answers were DNSSEC-authentic.</param>
public sealed record MxHost(string Name, int Preference, bool Authentic);

/// <summary>The outcome of resolving a recipient domain.</summary>
/// <param name="Hosts">Hosts in the order to try them (empty on failure).</param>
/// <param name="Failure">Why there are none: null on success.</param>
/// <param name="Permanent">True when retrying cannot help (null MX, NXDOMAIN).</param>
/// <param name="Enhanced">The RFC 3463 code of the failure.</param>
/// <param name="Implicit">The domain has no MX records and is its own host (RFC 5321 §5.1).</param>
/// <param name="ExpandedDomain">The domain's CNAME expansion when the MX lookup followed aliases (a DANE-TA reference identifier, RFC 7672 §3.2.2); null without.</param>
public sealed record MxResolution(IReadOnlyList<MxHost> Hosts, string? Failure, bool Permanent, string Enhanced, bool Implicit = false, string? ExpandedDomain = null);

/// <summary>A host's addresses in the order to try them, or why there are none.</summary>
/// <param name="Addresses">The addresses (empty on failure).</param>
/// <param name="Error">The DNS failure, or null.</param>
/// <param name="Temporary">The failure may go away (SERVFAIL, timeout).</param>
/// <param name="NotFound">The host has no addresses.</param>
/// <param name="Authentic">Both address lookups were DNSSEC-authentic (RFC 7672 §2.2.2: without that, TLSA records are looked up only for an alias whose first CNAME is secure).</param>
/// <param name="CnameChain">The names the host name is an alias of, in order (the last is the name that has the addresses); empty without CNAMEs.</param>
public sealed record HostAddresses(List<IPAddress> Addresses, string? Error, bool Temporary, bool NotFound, bool Authentic, IReadOnlyList<string>? CnameChain = null)
{
    /// <summary>The fully CNAME-expanded host name, or null when the host name is not an alias.</summary>
    public string? ExpandedName => CnameChain is { Count: > 0 } c ? c[^1] : null;
}

/// <summary>Resolves recipient domains to hosts and hosts to addresses, remembering which address family worked.</summary>
public sealed class MxResolver(IDnsResolver dns)
{
    /// <summary>Most MX hosts tried for one domain.</summary>
    public const int MaxHosts = 10;

    /// <summary>Most addresses tried per host.</summary>
    public const int MaxAddressesPerHost = 6;

    private const int MaxRemembered = 10_000;
    private readonly ConcurrentDictionary<string, IPAddress> _lastWorked = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The DNS resolver (TLSA lookups of DANE use it too).</summary>
    public IDnsResolver Dns => dns;

    /// <summary>The hosts mail for <paramref name="domain"/> goes to.</summary>
    public async Task<MxResolution> ResolveDomainAsync(string domain, CancellationToken cancellationToken)
    {
        if (domain.StartsWith('[') && domain.EndsWith(']'))
        {
            // RFC 5321 §4.1.3 address literal.
            string inner = domain[1..^1];
            if (inner.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase)) inner = inner[5..];
            return IPAddress.TryParse(inner, out _)
                ? new MxResolution([new MxHost(domain, 0, false)], null, false, "2.0.0")
                : new MxResolution([], "invalid address literal " + domain, true, "5.1.2");
        }
        DnsResult<MxRecord> mx = await dns.LookupMxAsync(domain, cancellationToken).ConfigureAwait(false);
        if (mx.IsSuccess)
        {
            // RFC 7505 §3: a single MX with exchange "." (preference 0 by convention) means no mail.
            if (mx.Records.Count == 1 && mx.Records[0].Exchange == ".")
                return new MxResolution([], $"domain {domain} accepts no mail (null MX, RFC 7505)", true, "5.1.10");
            var hosts = new List<MxHost>();
            foreach (var group in mx.Records.Where(r => r.Exchange != ".").GroupBy(r => r.Preference).OrderBy(g => g.Key))
            {
                var shuffled = group.Select(r => r.Exchange).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
                Random.Shared.Shuffle(shuffled);
                foreach (string h in shuffled)
                {
                    if (!hosts.Exists(x => string.Equals(x.Name, h, StringComparison.OrdinalIgnoreCase)))
                        hosts.Add(new MxHost(h, group.Key, mx.Authentic));
                }
            }
            return new MxResolution(hosts.Take(MaxHosts).ToList(), null, false, "2.0.0",
                ExpandedDomain: mx.CnameChain.Count > 0 ? mx.CanonicalName.TrimEnd('.') : null);
        }
        if (mx.Outcome == DnsOutcome.NxDomain)
            return new MxResolution([], $"domain {domain} does not exist (NXDOMAIN)", true, "5.1.2");
        if (mx.Outcome == DnsOutcome.NoData)
        {
            // RFC 5321 §5.1: no MX records: the domain itself is the implicit MX, if it has an address.
            return new MxResolution([new MxHost(mx.CanonicalName, 0, mx.Authentic)], null, false, "2.0.0", Implicit: true);
        }
        return new MxResolution([], "MX lookup for " + domain + ": " + mx.Describe(), !mx.IsTemporaryFailure, mx.IsTemporaryFailure ? "4.4.3" : "5.1.2");
    }

    /// <summary>A host's addresses in the order to try them, or the DNS failure.</summary>
    public async Task<(List<IPAddress> Addresses, string? Error, bool Temporary, bool NotFound)> ResolveHostAsync(MxHost host, CancellationToken cancellationToken)
    {
        HostAddresses a = await ResolveAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        return (a.Addresses, a.Error, a.Temporary, a.NotFound);
    }

    /// <summary>A host's addresses in the order to try them, with whether the answers were DNSSEC-authentic.</summary>
    public async Task<HostAddresses> ResolveAddressesAsync(MxHost host, CancellationToken cancellationToken)
    {
        if (host.Name.StartsWith('['))
        {
            string inner = host.Name[1..^1];
            if (inner.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase)) inner = inner[5..];
            return new HostAddresses([IPAddress.Parse(inner)], null, false, false, false);
        }
        var v6Task = dns.LookupAaaaAsync(host.Name, cancellationToken).AsTask();
        var v4Task = dns.LookupAAsync(host.Name, cancellationToken).AsTask();
        DnsResult<IPAddress> v6 = await v6Task.ConfigureAwait(false), v4 = await v4Task.ConfigureAwait(false);
        var list = new List<IPAddress>();
        list.AddRange(v6.Records.Where(a => !a.Equals(IPAddress.IPv6Any)));
        list.AddRange(v4.Records.Where(a => !a.Equals(IPAddress.Any)));
        if (list.Count == 0)
        {
            bool temporary = v6.IsTemporaryFailure || v4.IsTemporaryFailure;
            string error = temporary ? (v4.IsTemporaryFailure ? v4 : v6).Describe() : $"{host.Name} has no IPv6 or IPv4 address";
            return new HostAddresses(list, error, temporary, !temporary, false);
        }
        if (_lastWorked.TryGetValue(host.Name, out IPAddress? worked))
        {
            // The address that worked last, then the rest of its family, then the other family.
            list = list.OrderBy(a => a.Equals(worked) ? 0 : a.AddressFamily == worked.AddressFamily ? 1 : 2).ToList();
        }
        IReadOnlyList<CnameRecord> chain = v4.CnameChain.Count >= v6.CnameChain.Count ? v4.CnameChain : v6.CnameChain;
        return new HostAddresses(list.Take(MaxAddressesPerHost).ToList(), null, false, false, v6.Authentic && v4.Authentic,
            chain.Count == 0 ? null : chain.Select(c => c.Target.TrimEnd('.')).ToList());
    }

    /// <summary>Remembers that <paramref name="address"/> of <paramref name="host"/> accepted a connection.</summary>
    public void RecordWorking(string host, IPAddress address)
    {
        if (_lastWorked.Count >= MaxRemembered && !_lastWorked.ContainsKey(host)) _lastWorked.Clear();
        _lastWorked[host] = address;
    }

    /// <summary>Forgets a failed address (the next attempt starts over with IPv6).</summary>
    public void RecordFailed(string host, IPAddress address)
    {
        if (_lastWorked.TryGetValue(host, out IPAddress? a) && a.Equals(address)) _lastWorked.TryRemove(host, out _);
    }

    /// <summary>The remembered working address of a host (tests, diagnostics).</summary>
    public IPAddress? LastWorking(string host) => _lastWorked.TryGetValue(host, out IPAddress? a) ? a : null;

    internal static bool IsV6(IPAddress a) => a.AddressFamily == AddressFamily.InterNetworkV6;
}
