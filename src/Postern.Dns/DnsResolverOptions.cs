using System.Globalization;
using System.Net;

namespace Postern.Dns;

/// <summary>Settings of <see cref="DnsResolver"/>. The defaults suit a validating resolver on the same machine.</summary>
public sealed class DnsResolverOptions
{
    /// <summary>Default DNS port.</summary>
    public const int DnsPort = 53;

    /// <summary>Resolvers to ask, in order. Empty: the nameservers of <see cref="ResolvConfPath"/>.</summary>
    public IReadOnlyList<IPEndPoint> Servers { get; init; } = [];

    /// <summary>
    /// Resolvers whose AD bit is believed. Null (the default): loopback addresses only, because
    /// only there is the path from the validating resolver to us safe from tampering (RFC 6840 §5.8),
    /// except systemd-resolved's stub addresses 127.0.0.53 and 127.0.0.54. List them here to trust them anyway.
    /// </summary>
    public IReadOnlyList<IPAddress>? TrustedServers { get; init; }

    /// <summary>Time to wait for one response before trying the next server or attempt.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Rounds over all servers for a query that times out.</summary>
    public int Attempts { get; init; } = 2;

    /// <summary>Advertised EDNS0 UDP payload size; 1232 avoids IP fragmentation (DNS flag day 2020).</summary>
    public ushort EdnsBufferSize { get; init; } = 1232;

    /// <summary>Most (name, type) answers kept in the cache; 0 disables caching.</summary>
    public int CacheMaxEntries { get; init; } = 10_000;

    /// <summary>Upper bound of a cached positive answer's lifetime, whatever its TTL.</summary>
    public TimeSpan MaxCacheTtl { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Upper bound of a cached negative answer's lifetime (RFC 2308 §5 suggests 1-3 hours).</summary>
    public TimeSpan MaxNegativeCacheTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Longest CNAME chain followed.</summary>
    public int MaxCnameChain { get; init; } = DnsResolverBase.DefaultMaxCnameChain;

    /// <summary>Where nameservers come from when <see cref="Servers"/> is empty.</summary>
    public string ResolvConfPath { get; init; } = "/etc/resolv.conf";

    /// <summary>Clock for cache expiry (tests pass a fake one).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Whether the AD bit from <paramref name="server"/> is believed.</summary>
    public bool IsTrusted(IPAddress server)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (server.IsIPv4MappedToIPv6) server = server.MapToIPv4();
        if (TrustedServers is null) return IPAddress.IsLoopback(server) && !IsSystemdResolvedStub(server);
        foreach (IPAddress t in TrustedServers)
            if (t.Equals(server)) return true;
        return false;
    }

    /// <summary>
    /// 127.0.0.53 and 127.0.0.54 are systemd-resolved's stub listeners. resolved does not validate
    /// DNSSEC by default, and in its "allow-downgrade" mode accepts unsigned answers when an
    /// upstream strips signatures, so its AD bit is not a dependable signal even on loopback.
    /// </summary>
    private static bool IsSystemdResolvedStub(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        return address.TryWriteBytes(b, out int n) && n == 4 && b[0] == 127 && b[1] == 0 && b[2] == 0 && b[3] is 53 or 54;
    }

    /// <summary>Parses "IP", "IP:PORT", "[IPv6]:PORT" or "IPv6" into an endpoint.</summary>
    public static bool TryParseServer(string text, out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        if (IPAddress.TryParse(text, out IPAddress? bare) && !text.StartsWith('['))
        {
            endpoint = new IPEndPoint(bare, DnsPort);
            return true;
        }
        if (IPEndPoint.TryParse(text, out IPEndPoint? ep))
        {
            if (ep.Port == 0) ep.Port = DnsPort;
            endpoint = ep;
            return true;
        }
        return false;
    }

    /// <summary>Reads nameservers and the timeout/attempts options from resolv.conf text (resolv.conf(5)).</summary>
    public static ResolvConf ParseResolvConf(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var servers = new List<IPEndPoint>();
        TimeSpan? timeout = null;
        int? attempts = null;
        foreach (string rawLine in text.Split('\n'))
        {
            string line = rawLine.Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            string[] f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f[0] == "nameserver" && f.Length >= 2)
            {
                string addr = f[1];
                int scope = addr.IndexOf('%', StringComparison.Ordinal);
                if (IPAddress.TryParse(addr, out IPAddress? ip) || (scope > 0 && IPAddress.TryParse(addr[..scope], out ip)))
                    servers.Add(new IPEndPoint(ip, DnsPort));
            }
            else if (f[0] == "options")
            {
                foreach (string o in f.Skip(1))
                {
                    if (o.StartsWith("timeout:", StringComparison.Ordinal) && int.TryParse(o.AsSpan(8), NumberStyles.None, CultureInfo.InvariantCulture, out int t) && t > 0)
                        timeout = TimeSpan.FromSeconds(Math.Min(t, 30));
                    else if (o.StartsWith("attempts:", StringComparison.Ordinal) && int.TryParse(o.AsSpan(9), NumberStyles.None, CultureInfo.InvariantCulture, out int a) && a > 0)
                        attempts = Math.Min(a, 5);
                }
            }
        }
        return new ResolvConf(servers, timeout, attempts);
    }
}

/// <summary>What Postern uses from /etc/resolv.conf.</summary>
/// <param name="Servers">Nameservers, port 53.</param>
/// <param name="Timeout">options timeout:N, if present.</param>
/// <param name="Attempts">options attempts:N, if present.</param>
public sealed record ResolvConf(IReadOnlyList<IPEndPoint> Servers, TimeSpan? Timeout, int? Attempts);
