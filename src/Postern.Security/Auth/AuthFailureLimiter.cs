using System.Net;
using System.Net.Sockets;

namespace Postern.Security.Auth;

// Counts failed authentications per remote IP, per network (IPv4 /24, IPv6 /64: one host often
// controls a whole /64, and botnets rent /24s) and per account name. Each counter forgets after
// a quiet period. The answer to a new attempt is the worst over the keys that apply:
//  - a delay before replying, doubling per failure beyond a free allowance, capped;
//  - "blocked until T" once a key crosses its threshold.
// Account blocking is the weakest threshold on purpose: anyone can fail logins for someone
// else's address, and a high, short account block limits guessing without a cheap lockout.
// Memory is bounded by MaxEntries; when full, stale entries go first, then the oldest.

/// <summary>Limits of <see cref="AuthFailureLimiter"/>.</summary>
public sealed record AuthFailureLimiterOptions
{
    /// <summary>Failures that cost no delay.</summary>
    public int FreeFailures { get; init; } = 3;
    /// <summary>Delay after the first failure beyond <see cref="FreeFailures"/>; doubles per further failure.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Largest delay.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Failures from one IP address that block it.</summary>
    public int BlockAfterAddressFailures { get; init; } = 10;
    /// <summary>Failures from one /24 or /64 network that block it.</summary>
    public int BlockAfterNetworkFailures { get; init; } = 30;
    /// <summary>Failures for one account name that block logins to it.</summary>
    public int BlockAfterAccountFailures { get; init; } = 50;
    /// <summary>How long a block lasts.</summary>
    public TimeSpan BlockDuration { get; init; } = TimeSpan.FromMinutes(15);
    /// <summary>A counter without failures for this long starts again from zero.</summary>
    public TimeSpan ForgetAfter { get; init; } = TimeSpan.FromHours(1);
    /// <summary>Most counters kept in memory.</summary>
    public int MaxEntries { get; init; } = 100_000;
}

/// <summary>What to do with an authentication attempt.</summary>
/// <param name="Delay">Delay to apply before answering.</param>
/// <param name="BlockedUntil">When blocked: the end of the block.</param>
public readonly record struct AuthThrottle(TimeSpan Delay, DateTimeOffset? BlockedUntil)
{
    /// <summary>Whether the attempt must be refused without checking credentials.</summary>
    public bool IsBlocked => BlockedUntil is not null;
}

/// <summary>Thread-safe, memory-bounded counter of failed logins; the clock is injectable for tests.</summary>
public sealed class AuthFailureLimiter
{
    private sealed class Entry
    {
        public int Failures;
        public DateTimeOffset LastFailure;
        public DateTimeOffset? BlockedUntil;
    }

    private readonly AuthFailureLimiterOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Creates a limiter.</summary>
    public AuthFailureLimiter(AuthFailureLimiterOptions? options = null, TimeProvider? timeProvider = null)
    {
        _options = options ?? new AuthFailureLimiterOptions();
        _time = timeProvider ?? TimeProvider.System;
        if (_options.MaxEntries < 3) throw new ArgumentException("MaxEntries must be at least 3.", nameof(options));
    }

    /// <summary>Number of counters held (for metrics and tests).</summary>
    public int Count
    {
        get { lock (_lock) return _entries.Count; }
    }

    /// <summary>Delay and block state to apply to an attempt from <paramref name="remote"/> for <paramref name="accountName"/> (null when not known yet).</summary>
    public AuthThrottle Check(IPAddress remote, string? accountName)
    {
        var now = _time.GetUtcNow();
        TimeSpan delay = TimeSpan.Zero;
        DateTimeOffset? blocked = null;
        lock (_lock)
        {
            foreach (var (key, _) in Keys(remote, accountName))
            {
                if (!_entries.TryGetValue(key, out var e)) continue;
                if (IsStale(e, now)) continue;
                if (e.BlockedUntil is { } until && until > now && (blocked is null || until > blocked)) blocked = until;
                var d = DelayFor(e.Failures);
                if (d > delay) delay = d;
            }
        }
        return new AuthThrottle(delay, blocked);
    }

    /// <summary>Records a failed authentication.</summary>
    public void RecordFailure(IPAddress remote, string? accountName)
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            foreach (var (key, threshold) in Keys(remote, accountName))
            {
                if (!_entries.TryGetValue(key, out var e))
                {
                    if (_entries.Count >= _options.MaxEntries) Evict(now);
                    e = new Entry();
                    _entries[key] = e;
                }
                else if (IsStale(e, now))
                {
                    e.Failures = 0;
                    e.BlockedUntil = null;
                }
                e.Failures++;
                e.LastFailure = now;
                if (e.Failures >= threshold) e.BlockedUntil = now + _options.BlockDuration;
            }
        }
    }

    /// <summary>Records a successful authentication: clears the address and account counters (not the network's).</summary>
    public void RecordSuccess(IPAddress remote, string? accountName)
    {
        lock (_lock)
        {
            _entries.Remove(AddressKey(remote));
            if (accountName is not null) _entries.Remove(AccountKey(accountName));
        }
    }

    private bool IsStale(Entry e, DateTimeOffset now) =>
        now - e.LastFailure > _options.ForgetAfter && (e.BlockedUntil is null || e.BlockedUntil <= now);

    private TimeSpan DelayFor(int failures)
    {
        int over = failures - _options.FreeFailures;
        if (over <= 0) return TimeSpan.Zero;
        double ticks = _options.BaseDelay.Ticks * Math.Pow(2, Math.Min(over - 1, 30));
        return ticks >= _options.MaxDelay.Ticks ? _options.MaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    private void Evict(DateTimeOffset now)
    {
        var stale = _entries.Where(kv => IsStale(kv.Value, now)).Select(kv => kv.Key).ToList();
        foreach (string k in stale) _entries.Remove(k);
        if (_entries.Count < _options.MaxEntries) return;
        // Still full of live entries: drop the oldest quarter, so eviction is amortised.
        int drop = Math.Max(1, _entries.Count / 4);
        foreach (string k in _entries.OrderBy(kv => kv.Value.LastFailure).Take(drop).Select(kv => kv.Key).ToList()) _entries.Remove(k);
    }

    private IEnumerable<(string Key, int Threshold)> Keys(IPAddress remote, string? accountName)
    {
        yield return (AddressKey(remote), _options.BlockAfterAddressFailures);
        yield return (NetworkKey(remote), _options.BlockAfterNetworkFailures);
        if (!string.IsNullOrEmpty(accountName)) yield return (AccountKey(accountName), _options.BlockAfterAccountFailures);
    }

    private static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;

    private static string AddressKey(IPAddress ip) => "a:" + Normalize(ip).ToString();

    /// <summary>The /24 (IPv4) or /64 (IPv6) network of an address, as text, e.g. "192.0.2.0/24".</summary>
    public static string NetworkOf(IPAddress address)
    {
        var ip = Normalize(address);
        byte[] b = ip.GetAddressBytes();
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            b[3] = 0;
            return new IPAddress(b) + "/24";
        }
        Array.Clear(b, 8, 8);
        return new IPAddress(b) + "/64";
    }

    private static string NetworkKey(IPAddress ip) => "n:" + NetworkOf(ip);

    // Names are bounded so a client cannot grow memory with huge login names.
    private static string AccountKey(string account) => "u:" + (account.Length > 256 ? account[..256] : account).Trim().ToLowerInvariant();
}
