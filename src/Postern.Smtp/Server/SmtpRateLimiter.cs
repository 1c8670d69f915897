// Rate limits per client IP and per network (IPv4 /24, IPv6 /64 and /48): concurrent
// connections, connections per minute, messages per minute and message bytes per minute.
// Counters use fixed one-minute windows; the table is bounded (oldest windows dropped first).
// Failed AUTH is limited by Postern.Security's AuthFailureLimiter, shared with IMAP.
using System.Net;
using System.Net.Sockets;

namespace Postern.Smtp.Server;

/// <summary>Limits per IP address and per network. Zero or less disables a limit.</summary>
public sealed record SmtpRateLimits
{
    /// <summary>Simultaneous connections from one IP.</summary>
    public int MaxConcurrentPerIp { get; init; } = 20;
    /// <summary>Simultaneous connections from one network (/24, /64).</summary>
    public int MaxConcurrentPerNetwork { get; init; } = 60;
    /// <summary>Simultaneous connections from one IPv6 /48.</summary>
    public int MaxConcurrentPerWideNetwork { get; init; } = 200;
    /// <summary>New connections per minute from one IP.</summary>
    public int ConnectionsPerMinutePerIp { get; init; } = 300;
    /// <summary>New connections per minute from one network (/24, /64; /48 counts 4 times this).</summary>
    public int ConnectionsPerMinutePerNetwork { get; init; } = 1000;
    /// <summary>Messages (MAIL commands) per minute from one IP.</summary>
    public int MessagesPerMinutePerIp { get; init; } = 1000;
    /// <summary>Messages per minute from one network.</summary>
    public int MessagesPerMinutePerNetwork { get; init; } = 3000;
    /// <summary>Message bytes per minute from one IP.</summary>
    public long BytesPerMinutePerIp { get; init; } = 2L * 1024 * 1024 * 1024;
    /// <summary>Message bytes per minute from one network.</summary>
    public long BytesPerMinutePerNetwork { get; init; } = 8L * 1024 * 1024 * 1024;
    /// <summary>Unknown recipients a session may try before each further one is answered after <see cref="UnknownRecipientDelay"/>.</summary>
    public int FreeUnknownRecipients { get; init; } = 3;
    /// <summary>Delay before answering an unknown recipient past the free ones (slows address harvesting).</summary>
    public TimeSpan UnknownRecipientDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Most counter entries kept.</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>No limits (local test servers, benchmarks).</summary>
    public static SmtpRateLimits Unlimited { get; } = new()
    {
        MaxConcurrentPerIp = 0, MaxConcurrentPerNetwork = 0, MaxConcurrentPerWideNetwork = 0, ConnectionsPerMinutePerIp = 0, ConnectionsPerMinutePerNetwork = 0,
        MessagesPerMinutePerIp = 0, MessagesPerMinutePerNetwork = 0, BytesPerMinutePerIp = 0, BytesPerMinutePerNetwork = 0, UnknownRecipientDelay = TimeSpan.Zero,
    };
}

/// <summary>Counts connections, messages and bytes per IP and network.</summary>
internal sealed class SmtpRateLimiter(SmtpRateLimits limits, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<string, int> _concurrent = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Window, long Count)> _counters = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>The keys an address is counted under: itself, its /24 or /64, and its /48 for IPv6.</summary>
    internal static (string Ip, string Network, string? WideNetwork) Keys(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6)
            ip = ip.MapToIPv4();
        byte[] b = ip.GetAddressBytes();
        if (ip.AddressFamily == AddressFamily.InterNetwork)
            return (ip.ToString(), $"{b[0]}.{b[1]}.{b[2]}.0/24", null);
        byte[] n64 = new byte[16], n48 = new byte[16];
        Array.Copy(b, n64, 8);
        Array.Copy(b, n48, 6);
        return (ip.ToString(), new IPAddress(n64) + "/64", new IPAddress(n48) + "/48");
    }

    /// <summary>Registers a new connection; returns a refusal text, or null when allowed (then call <see cref="Disconnected"/> at the end).</summary>
    public string? TryConnect(IPAddress ip)
    {
        var (k, n, w) = Keys(ip);
        lock (_lock)
        {
            if (Over(_concurrent, k, limits.MaxConcurrentPerIp) || Over(_concurrent, n, limits.MaxConcurrentPerNetwork)
                || (w is not null && Over(_concurrent, w, limits.MaxConcurrentPerWideNetwork)))
                return "Too many connections from your address";
            if (!Take("c:" + k, 1, limits.ConnectionsPerMinutePerIp) || !Take("c:" + n, 1, limits.ConnectionsPerMinutePerNetwork)
                || (w is not null && !Take("c:" + w, 1, limits.ConnectionsPerMinutePerNetwork * 4L)))
                return "Too many connections per minute from your address";
            Inc(k);
            Inc(n);
            if (w is not null)
                Inc(w);
            return null;
        }
    }

    /// <summary>Ends a connection counted by <see cref="TryConnect"/>.</summary>
    public void Disconnected(IPAddress ip)
    {
        var (k, n, w) = Keys(ip);
        lock (_lock)
        {
            Dec(k);
            Dec(n);
            if (w is not null)
                Dec(w);
        }
    }

    /// <summary>Counts a new message (MAIL); false when over the rate.</summary>
    public bool TryStartMessage(IPAddress ip)
    {
        var (k, n, _) = Keys(ip);
        lock (_lock)
            return Take("m:" + k, 1, limits.MessagesPerMinutePerIp) && Take("m:" + n, 1, limits.MessagesPerMinutePerNetwork)
                && Peek("b:" + k, limits.BytesPerMinutePerIp) && Peek("b:" + n, limits.BytesPerMinutePerNetwork);
    }

    /// <summary>Counts received message bytes (checked at the next MAIL).</summary>
    public void AddBytes(IPAddress ip, long bytes)
    {
        var (k, n, _) = Keys(ip);
        lock (_lock)
        {
            Take("b:" + k, bytes, 0);
            Take("b:" + n, bytes, 0);
        }
    }

    private static bool Over(Dictionary<string, int> d, string key, int limit) => limit > 0 && d.TryGetValue(key, out int c) && c >= limit;

    private void Inc(string key) => _concurrent[key] = _concurrent.GetValueOrDefault(key) + 1;

    private void Dec(string key)
    {
        if (!_concurrent.TryGetValue(key, out int c))
            return;
        if (c <= 1)
            _concurrent.Remove(key);
        else
            _concurrent[key] = c - 1;
    }

    private long Window => _time.GetUtcNow().ToUnixTimeSeconds() / 60;

    private bool Peek(string key, long limit) =>
        limit <= 0 || !_counters.TryGetValue(key, out var e) || e.Window != Window || e.Count < limit;

    /// <summary>Adds <paramref name="amount"/> to a counter; false (nothing added) when it would pass a positive limit.</summary>
    private bool Take(string key, long amount, long limit)
    {
        long window = Window;
        if (_counters.TryGetValue(key, out var e) && e.Window == window)
        {
            if (limit > 0 && e.Count + amount > limit)
                return false;
            _counters[key] = (window, e.Count + amount);
            return true;
        }
        if (_counters.Count >= limits.MaxEntries)
        {
            foreach (var old in _counters.Where(x => x.Value.Window != window).Select(x => x.Key).ToList())
                _counters.Remove(old);
            if (_counters.Count >= limits.MaxEntries)
                _counters.Clear();
        }
        if (limit > 0 && amount > limit)
            return false;
        _counters[key] = (window, amount);
        return true;
    }
}
