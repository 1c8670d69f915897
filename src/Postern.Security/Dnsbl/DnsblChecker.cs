// DNS blocklists, RFC 5782. An address is listed when ADDRESS-REVERSED.ZONE has an A record
// in 127.0.0.0/8. 127.0.0.1 (RFC 5782 §5: never a listing), 127.255.255.0/24 (error codes
// such as Spamhaus's "query refused" 127.255.255.254) and anything outside 127/8 (e.g. an
// ISP resolver's NXDOMAIN rewriting) are not listings: they are reported as errors so an
// operator notices a broken list instead of rejecting mail.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Postern.Dns;

namespace Postern.Security.Dnsbl;

/// <summary>Outcome of one DNSBL query.</summary>
public enum DnsblStatus
{
    /// <summary>Not on the list.</summary>
    NotListed,
    /// <summary>On the list.</summary>
    Listed,
    /// <summary>The lookup failed for now.</summary>
    TempError,
    /// <summary>The list answered with an error code or an address outside 127.0.0.0/8 (not a listing).</summary>
    Error,
}

/// <summary>The result of checking one address against one zone.</summary>
/// <param name="Zone">The DNSBL zone.</param>
/// <param name="Status">The outcome.</param>
/// <param name="Codes">The A records returned (for listings: the list's codes).</param>
/// <param name="Text">The TXT explanation of a listing, if the list gives one.</param>
/// <param name="Detail">For errors: what was wrong.</param>
public sealed record DnsblResult(string Zone, DnsblStatus Status, IReadOnlyList<IPAddress> Codes, string? Text, string? Detail);

/// <summary>Queries DNS blocklists (RFC 5782).</summary>
public sealed class DnsblChecker(IDnsResolver dns)
{
    /// <summary>The query name of <paramref name="address"/> in <paramref name="zone"/> (RFC 5782 §2.1, §2.4).</summary>
    public static string QueryName(IPAddress address, string zone)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(zone);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        byte[] b = address.GetAddressBytes();
        var sb = new StringBuilder(80);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            for (int i = 3; i >= 0; i--) sb.Append(b[i]).Append('.');
        }
        else
        {
            const string hex = "0123456789abcdef";
            for (int i = b.Length - 1; i >= 0; i--) sb.Append(hex[b[i] & 0xF]).Append('.').Append(hex[b[i] >> 4]).Append('.');
        }
        return sb.Append(zone.TrimEnd('.')).ToString();
    }

    /// <summary>Checks one address against one zone.</summary>
    public async Task<DnsblResult> CheckAsync(IPAddress address, string zone, CancellationToken cancellationToken = default)
    {
        string name = QueryName(address, zone);
        DnsResult<IPAddress> a = await dns.LookupAAsync(name, cancellationToken).ConfigureAwait(false);
        if (a.IsTemporaryFailure) return new DnsblResult(zone, DnsblStatus.TempError, [], null, a.Describe());
        if (a.Kind == DnsOutcomeKind.PermanentFailure) return new DnsblResult(zone, DnsblStatus.Error, [], null, a.Describe());
        if (a.Records.Count == 0) return new DnsblResult(zone, DnsblStatus.NotListed, [], null, null);
        foreach (IPAddress code in a.Records)
        {
            byte[] c = code.GetAddressBytes();
            if (c[0] != 127) return new DnsblResult(zone, DnsblStatus.Error, a.Records, null, $"answer {code} is outside 127.0.0.0/8");
            if (c[1] == 255 && c[2] == 255) return new DnsblResult(zone, DnsblStatus.Error, a.Records, null, $"the list returned error code {code}");
            if (c[1] == 0 && c[2] == 0 && c[3] == 1) return new DnsblResult(zone, DnsblStatus.Error, a.Records, null, "the list returned 127.0.0.1, which is never a listing (RFC 5782 §5)");
        }
        DnsResult<TxtRecord> txt = await dns.LookupTxtAsync(name, cancellationToken).ConfigureAwait(false);
        string? text = txt.Records.Count > 0 ? string.Join(" ", txt.Records.Select(t => t.Text)) : null;
        return new DnsblResult(zone, DnsblStatus.Listed, a.Records, text, null);
    }

    /// <summary>Checks an address against several zones concurrently.</summary>
    public async Task<IReadOnlyList<DnsblResult>> CheckAllAsync(IPAddress address, IEnumerable<string> zones, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(zones);
        return await Task.WhenAll(zones.Select(z => CheckAsync(address, z, cancellationToken))).ConfigureAwait(false);
    }

    /// <summary>
    /// RFC 5782 §5 health check of a zone: 127.0.0.2 must be listed and 127.0.0.1 must not.
    /// Returns null when healthy, else what is wrong.
    /// </summary>
    public async Task<string?> CheckHealthAsync(string zone, CancellationToken cancellationToken = default)
    {
        DnsblResult two = await CheckAsync(IPAddress.Parse("127.0.0.2"), zone, cancellationToken).ConfigureAwait(false);
        if (two.Status != DnsblStatus.Listed) return $"{zone}: test address 127.0.0.2 is not listed ({two.Status})";
        DnsblResult one = await CheckAsync(IPAddress.Loopback, zone, cancellationToken).ConfigureAwait(false);
        if (one.Status != DnsblStatus.NotListed) return $"{zone}: test address 127.0.0.1 is listed or gives errors ({one.Status})";
        return null;
    }
}
