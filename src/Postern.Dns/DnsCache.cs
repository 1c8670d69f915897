// Positive and negative answer cache keyed by (normalised name, type). Lookups are a
// single ConcurrentDictionary read plus a timestamp compare, so warm-cache SPF checks stay
// cheap. Size is bounded: at the limit, expired entries are swept, then arbitrary ones
// dropped. Failures (SERVFAIL, timeouts) are not cached: the local resolver already holds
// them briefly, and a fresh try is what a temperror retry wants.
using System.Collections.Concurrent;

namespace Postern.Dns;

internal sealed class DnsCache
{
    private readonly ConcurrentDictionary<(string Name, DnsRecordType Type), Entry> _entries = new();
    private readonly int _maxEntries;
    private readonly TimeSpan _maxTtl;
    private readonly TimeSpan _maxNegativeTtl;
    private readonly TimeProvider _time;
    private int _count;

    public DnsCache(int maxEntries, TimeSpan maxTtl, TimeSpan maxNegativeTtl, TimeProvider time)
    {
        _maxEntries = maxEntries;
        _maxTtl = maxTtl;
        _maxNegativeTtl = maxNegativeTtl;
        _time = time;
    }

    public int Count => Volatile.Read(ref _count);

    public bool TryGet(string name, DnsRecordType type, out DnsExchange exchange)
    {
        if (_maxEntries > 0 && _entries.TryGetValue((name, type), out Entry? e))
        {
            if (_time.GetUtcNow().UtcTicks < e.ExpiresTicks)
            {
                exchange = e.Exchange;
                return true;
            }
            if (((ICollection<KeyValuePair<(string, DnsRecordType), Entry>>)_entries).Remove(new((name, type), e)))
                Interlocked.Decrement(ref _count);
        }
        exchange = null!;
        return false;
    }

    public void Store(string name, DnsRecordType type, DnsExchange exchange)
    {
        if (_maxEntries <= 0) return;
        TimeSpan? ttl = CacheLifetime(exchange);
        if (ttl is not { } lifetime || lifetime <= TimeSpan.Zero) return;
        if (Count >= _maxEntries) MakeRoom();
        var entry = new Entry(exchange, _time.GetUtcNow().UtcTicks + lifetime.Ticks);
        bool added = false;
        _entries.AddOrUpdate((name, type), _ => { added = true; return entry; }, (_, _) => entry);
        if (added) Interlocked.Increment(ref _count);
    }

    private TimeSpan? CacheLifetime(DnsExchange ex)
    {
        switch (ex.Outcome)
        {
            case DnsOutcome.Success:
            {
                // RFC 2181 §5.2: an RRset has one TTL; across the records of a chain the smallest governs.
                uint min = uint.MaxValue;
                foreach (DnsRecord r in ex.Answers) min = Math.Min(min, r.Ttl);
                // RFC 2181 §8: TTLs with the top bit set are treated as zero.
                if (min > int.MaxValue) min = 0;
                TimeSpan lifetime = Min(TimeSpan.FromSeconds(min), _maxTtl);
                // A chain of CNAMEs ending in "no data" carries an SOA: its end is negative (RFC 2308 §5).
                return NegativeLifetime(ex) is { } negative ? Min(lifetime, negative) : lifetime;
            }
            case DnsOutcome.NoData or DnsOutcome.NxDomain:
            {
                // RFC 2308 §5: negative answers live min(SOA TTL, SOA MINIMUM); without SOA, not cached.
                TimeSpan? negative = NegativeLifetime(ex);
                if (negative is null) return null;
                TimeSpan positive = TimeSpan.MaxValue;
                foreach (DnsRecord a in ex.Answers) positive = Min(positive, TimeSpan.FromSeconds(Math.Min(a.Ttl, int.MaxValue)));
                return Min(negative.Value, positive);
            }
            default:
                return null;
        }
    }

    private TimeSpan? NegativeLifetime(DnsExchange ex)
    {
        foreach (DnsRecord r in ex.Authorities)
            if (r is SoaRecord soa)
            {
                uint ttl = Math.Min(soa.Ttl, soa.Minimum);
                if (ttl > int.MaxValue) ttl = 0;
                return Min(TimeSpan.FromSeconds(ttl), _maxNegativeTtl);
            }
        return null;
    }

    private void MakeRoom()
    {
        long now = _time.GetUtcNow().UtcTicks;
        foreach (KeyValuePair<(string, DnsRecordType), Entry> kv in _entries)
            if (kv.Value.ExpiresTicks <= now && ((ICollection<KeyValuePair<(string, DnsRecordType), Entry>>)_entries).Remove(kv))
                Interlocked.Decrement(ref _count);
        if (Count < _maxEntries) return;
        // Still full of live entries: drop a tenth, in the dictionary's (arbitrary) order.
        int toDrop = Math.Max(1, _maxEntries / 10);
        foreach (KeyValuePair<(string, DnsRecordType), Entry> kv in _entries)
        {
            if (toDrop-- <= 0) break;
            if (_entries.TryRemove(kv.Key, out _)) Interlocked.Decrement(ref _count);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private sealed record Entry(DnsExchange Exchange, long ExpiresTicks);
}
