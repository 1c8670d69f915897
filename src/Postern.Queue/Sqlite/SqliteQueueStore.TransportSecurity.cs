// The queue database's transport-security tables (schema version 2): the MTA-STS policy cache
// (RFC 8461 §5.1) and what each recipient domain's servers offered (STARTTLS, REQUIRETLS).
// Writes go through the queue's group-commit writer like everything else in queue.db.
using System.Text;
using Microsoft.Data.Sqlite;
using Postern.Security.MtaSts;
using Postern.Smtp.Client;

namespace Postern.Queue.Sqlite;

/// <summary>A cached MTA-STS policy with when a delivery last used it.</summary>
/// <param name="Policy">The cached policy.</param>
/// <param name="LastUsed">When a delivery last asked for it (updated at most daily).</param>
public sealed record StoredMtaStsPolicy(CachedMtaStsPolicy Policy, DateTimeOffset LastUsed);

public sealed partial class SqliteQueueStore : IMtaStsPolicyCache, IRecipientDomainTlsMemory
{
    private static readonly TimeSpan LastUsedResolution = TimeSpan.FromDays(1);

    /// <summary>The clock for last-used times (tests move it).</summary>
    public TimeProvider PolicyClock { get; set; } = TimeProvider.System;

    /// <inheritdoc/>
    public async ValueTask<CachedMtaStsPolicy?> GetAsync(string domain, CancellationToken cancellationToken)
    {
        StoredMtaStsPolicy? stored = await GetStoredPolicyAsync(domain, cancellationToken).ConfigureAwait(false);
        if (stored is null) return null;
        DateTimeOffset now = PolicyClock.GetUtcNow();
        if (now - stored.LastUsed >= LastUsedResolution)
        {
            // Remembered so the refresher keeps refreshing policies of domains mail still goes to.
            await _writer.RunAsync(w => w.Exec("UPDATE mtasts_policy SET last_used = $u WHERE domain = $d", ("$u", Ms(now)), ("$d", domain)), cancellationToken).ConfigureAwait(false);
        }
        return stored.Policy;
    }

    /// <inheritdoc/>
    public async ValueTask PutAsync(CachedMtaStsPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        long now = Ms(PolicyClock.GetUtcNow());
        await _writer.RunAsync(w => w.Exec("""
            INSERT INTO mtasts_policy(domain, id, policy, fetched, expires, last_used) VALUES ($d, $i, $p, $f, $e, $u)
            ON CONFLICT(domain) DO UPDATE SET id = $i, policy = $p, fetched = $f, expires = $e, last_used = max(last_used, $u)
            """, ("$d", policy.Domain), ("$i", policy.Id), ("$p", policy.Policy.Format()), ("$f", Ms(policy.Fetched)), ("$e", Ms(policy.Expires)), ("$u", now)),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The cached policy of a domain with its last use, or null.</summary>
    public async Task<StoredMtaStsPolicy?> GetStoredPolicyAsync(string domain, CancellationToken cancellationToken = default)
    {
        await using SqliteConnection c = OpenReader();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT domain, id, policy, fetched, last_used FROM mtasts_policy WHERE domain = $d";
        cmd.Parameters.AddWithValue("$d", domain);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await r.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadPolicy(r) : null;
    }

    /// <summary>
    /// Cached policies to refresh (RFC 8461 §5.1): unexpired, fetched before <paramref name="fetchedBefore"/>,
    /// used since <paramref name="usedSince"/>; oldest fetch first, at most <paramref name="limit"/>.
    /// </summary>
    public async Task<IReadOnlyList<StoredMtaStsPolicy>> ListPoliciesToRefreshAsync(DateTimeOffset now, DateTimeOffset fetchedBefore, DateTimeOffset usedSince, int limit,
        CancellationToken cancellationToken = default)
    {
        await using SqliteConnection c = OpenReader();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT domain, id, policy, fetched, last_used FROM mtasts_policy
            WHERE expires > $now AND fetched < $fb AND last_used >= $us ORDER BY fetched LIMIT $l
            """;
        cmd.Parameters.AddWithValue("$now", Ms(now));
        cmd.Parameters.AddWithValue("$fb", Ms(fetchedBefore));
        cmd.Parameters.AddWithValue("$us", Ms(usedSince));
        cmd.Parameters.AddWithValue("$l", limit);
        var list = new List<StoredMtaStsPolicy>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (ReadPolicy(r) is { } p) list.Add(p);
        }
        return list;
    }

    /// <summary>Every cached policy, by domain (for `queue tls`).</summary>
    public async Task<IReadOnlyList<StoredMtaStsPolicy>> ListPoliciesAsync(int limit = 10_000, CancellationToken cancellationToken = default)
    {
        await using SqliteConnection c = OpenReader();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT domain, id, policy, fetched, last_used FROM mtasts_policy ORDER BY domain LIMIT $l";
        cmd.Parameters.AddWithValue("$l", limit);
        var list = new List<StoredMtaStsPolicy>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (ReadPolicy(r) is { } p) list.Add(p);
        }
        return list;
    }

    /// <summary>Removes policies that expired before <paramref name="before"/>.</summary>
    public Task<int> PurgeExpiredPoliciesAsync(DateTimeOffset before, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w => w.Exec("DELETE FROM mtasts_policy WHERE expires < $b", ("$b", Ms(before))), cancellationToken);

    private static StoredMtaStsPolicy? ReadPolicy(SqliteDataReader r)
    {
        // A row that no longer parses (written by a newer or broken program) is treated as absent.
        MtaStsPolicy? policy = MtaStsPolicy.Parse(Encoding.UTF8.GetBytes(r.GetString(2)), out _);
        return policy is null ? null : new StoredMtaStsPolicy(new CachedMtaStsPolicy(r.GetString(0), r.GetString(1), policy, FromMs(r.GetInt64(3))), FromMs(r.GetInt64(4)));
    }

    /// <inheritdoc/>
    public async ValueTask RecordAsync(RecipientDomainTls entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        try
        {
            await _writer.RunAsync(w => w.Exec("""
                INSERT INTO recipient_domain_tls(domain, starttls, requiretls, host, updated) VALUES ($d, $s, $r, $h, $u)
                ON CONFLICT(domain) DO UPDATE SET starttls = $s, requiretls = $r, host = $h, updated = $u
                """, ("$d", entry.Domain), ("$s", entry.StartTls ? 1 : 0), ("$r", entry.RequireTls ? 1 : 0), ("$h", entry.Host), ("$u", Ms(entry.Time))),
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SqliteException or ObjectDisposedException)
        {
            // Memory for the webmail, not mail: a failed write must not fail the delivery attempt.
        }
    }

    /// <summary>What recipient domains' servers offered, by domain; <paramref name="domain"/> limits it to one.</summary>
    public async Task<IReadOnlyList<RecipientDomainTls>> ListRecipientDomainTlsAsync(string? domain = null, int limit = 10_000, CancellationToken cancellationToken = default)
    {
        await using SqliteConnection c = OpenReader();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT domain, starttls, requiretls, host, updated FROM recipient_domain_tls"
            + (domain is null ? "" : " WHERE domain = $d") + " ORDER BY domain LIMIT $l";
        if (domain is not null) cmd.Parameters.AddWithValue("$d", domain.TrimEnd('.').ToLowerInvariant());
        cmd.Parameters.AddWithValue("$l", limit);
        var list = new List<RecipientDomainTls>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            list.Add(new RecipientDomainTls(r.GetString(0), r.GetInt32(1) != 0, r.GetInt32(2) != 0, r.GetString(3), FromMs(r.GetInt64(4))));
        return list;
    }
}
