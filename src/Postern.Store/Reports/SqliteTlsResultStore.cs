// The embedded backend of the TLS result store: counters in DATA/reports.db (ReportsSchema step 2).
// Each batch from the recorder is first summed in memory (one increment per distinct key), then
// applied with UPDATE-else-INSERT. Text that comes from the peer or the policy is clipped, and
// the distinct policies and failure details per domain and day are capped, so a hostile MX that
// varies its greeting on every connection cannot grow the database: beyond the cap a failure is
// still counted in its policy's failure total, only its detail row is not kept.
using Microsoft.Data.Sqlite;
using Postern.Store.Sqlite;

namespace Postern.Store.Reports;

/// <summary>TLS session results aggregated in SQLite (DATA/reports.db).</summary>
public sealed class SqliteTlsResultStore : ITlsResultStore
{
    /// <summary>Most distinct policies kept per domain and day (a domain normally has one or two).</summary>
    public const int MaxPoliciesPerDomainDay = 20;

    /// <summary>Most distinct failure details kept per domain and day.</summary>
    public const int MaxFailureDetailsPerDomainDay = 200;

    /// <summary>Most policy strings or MX patterns kept per policy, and their longest length.</summary>
    public const int MaxPolicyStrings = 100, MaxPolicyStringLength = 1000;

    /// <summary>Longest host name, IP or result-type text kept; longest additional information.</summary>
    public const int MaxFieldLength = 255, MaxInformationLength = 500;

    private readonly ReportsConnection _db;

    private SqliteTlsResultStore(ReportsConnection db) => _db = db;

    /// <summary>Opens (creating when missing) DATA/reports.db.</summary>
    /// <exception cref="StoreException">The database has a newer schema than this version of Postern knows.</exception>
    public static SqliteTlsResultStore Open(string dataDirectory) => new(ReportsConnection.Open(dataDirectory));

    /// <summary>The UTC day number stored (days since 1970-01-01).</summary>
    public static long DayNumber(DateOnly day) => day.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    private readonly record struct PolicyKey(string Domain, string Type, string Strings, string Mx);

    private readonly record struct FailureKey(PolicyKey Policy, string ResultType, string SendingIp, string Mx, string Helo, string Ip, string Info, string Code);

    private static string Clip(string? s, int max)
    {
        if (string.IsNullOrEmpty(s)) return "";
        // Control characters never go into a report (JSON escapes them, but they help nobody).
        var t = new string([.. s.Where(c => !char.IsControl(c))]);
        return t.Length <= max ? t : t[..max];
    }

    private static string JoinList(IReadOnlyList<string> items) =>
        string.Join('\n', items.Take(MaxPolicyStrings).Select(x => Clip(x, MaxPolicyStringLength)));

    private static IReadOnlyList<string> SplitList(string s) => s.Length == 0 ? [] : s.Split('\n');

    /// <inheritdoc/>
    public async Task AddAsync(IReadOnlyList<TlsSessionResult> results, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (results.Count == 0) return;
        var days = new Dictionary<(long Day, PolicyKey Policy), (long Ok, long Failed)>();
        var failures = new Dictionary<(long Day, FailureKey Key), long>();
        foreach (TlsSessionResult r in results)
        {
            long day = DayNumber(DateOnly.FromDateTime(r.Time.UtcDateTime));
            var policy = new PolicyKey(Clip(r.PolicyDomain.Trim().TrimEnd('.').ToLowerInvariant(), MaxFieldLength), Clip(r.PolicyType, 32),
                JoinList(r.PolicyStrings), JoinList(r.MxHostPatterns));
            if (policy.Domain.Length == 0) continue;
            days.TryGetValue((day, policy), out var c);
            days[(day, policy)] = r.Success ? (c.Ok + 1, c.Failed) : (c.Ok, c.Failed + 1);
            if (r.Success) continue;
            var key = new FailureKey(policy, Clip(r.ResultType ?? "validation-failure", 64), Clip(r.SendingMtaIp, MaxFieldLength),
                Clip(r.ReceivingMxHostname, MaxFieldLength), Clip(r.ReceivingMxHelo, MaxFieldLength), Clip(r.ReceivingIp, MaxFieldLength),
                Clip(r.AdditionalInformation, MaxInformationLength), Clip(r.FailureReasonCode, MaxFieldLength));
            failures[(day, key)] = failures.GetValueOrDefault((day, key)) + 1;
        }
        await _db.WriteInTransactionAsync((c, tx) =>
        {
            foreach (var ((day, p), (ok, failed)) in days)
            {
                (string, object?)[] args = [("$day", day), ("$d", p.Domain), ("$t", p.Type), ("$s", p.Strings), ("$m", p.Mx), ("$ok", ok), ("$f", failed),
                    ("$cap", MaxPoliciesPerDomainDay)];
                if (Db.Exec(c, tx, """
                    UPDATE tls_result_day SET success_count = success_count + $ok, failure_count = failure_count + $f
                    WHERE day = $day AND policy_domain = $d AND policy_type = $t AND policy_strings = $s AND mx_hosts = $m
                    """, args) > 0)
                    continue;
                Db.Exec(c, tx, """
                    INSERT INTO tls_result_day(day, policy_domain, policy_type, policy_strings, mx_hosts, success_count, failure_count)
                    SELECT $day, $d, $t, $s, $m, $ok, $f
                    WHERE (SELECT COUNT(*) FROM tls_result_day WHERE day = $day AND policy_domain = $d) < $cap
                    """, args);
            }
            foreach (var ((day, k), n) in failures)
            {
                (string, object?)[] args = [("$day", day), ("$d", k.Policy.Domain), ("$t", k.Policy.Type), ("$s", k.Policy.Strings), ("$m", k.Policy.Mx),
                    ("$rt", k.ResultType), ("$sip", k.SendingIp), ("$mx", k.Mx), ("$helo", k.Helo), ("$rip", k.Ip), ("$info", k.Info), ("$code", k.Code),
                    ("$n", n), ("$cap", MaxFailureDetailsPerDomainDay)];
                const string where = """
                    day = $day AND policy_domain = $d AND policy_type = $t AND policy_strings = $s AND mx_hosts = $m AND result_type = $rt
                    AND sending_ip = $sip AND receiving_mx = $mx AND receiving_helo = $helo AND receiving_ip = $rip AND additional_info = $info AND reason_code = $code
                    """;
                if (Db.Exec(c, tx, $"UPDATE tls_failure_day SET failed_count = failed_count + $n WHERE {where}", args) > 0)
                    continue;
                Db.Exec(c, tx, """
                    INSERT INTO tls_failure_day(day, policy_domain, policy_type, policy_strings, mx_hosts, result_type, sending_ip, receiving_mx, receiving_helo,
                        receiving_ip, additional_info, reason_code, failed_count)
                    SELECT $day, $d, $t, $s, $m, $rt, $sip, $mx, $helo, $rip, $info, $code, $n
                    WHERE (SELECT COUNT(*) FROM tls_failure_day WHERE day = $day AND policy_domain = $d) < $cap
                    """, args);
            }
            return results.Count;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> ListPolicyDomainsAsync(DateOnly utcDay, CancellationToken cancellationToken = default)
    {
        using SqliteConnection conn = await _db.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        return ReadDomains(conn, utcDay);
    }

    /// <summary>The policy domains of a day, read without opening the database for writing (the CLI).</summary>
    public static IReadOnlyList<string> ReadOnlyPolicyDomains(string dataDirectory, DateOnly utcDay)
    {
        using SqliteConnection conn = ReportsSchema.OpenReader(dataDirectory);
        return ReadDomains(conn, utcDay);
    }

    /// <summary>A domain's summaries of a day, read without opening the database for writing (the CLI).</summary>
    public static IReadOnlyList<TlsPolicyDaySummary> ReadOnlyDay(string dataDirectory, DateOnly utcDay, string policyDomain)
    {
        using SqliteConnection conn = ReportsSchema.OpenReader(dataDirectory);
        return ReadDay(conn, utcDay, policyDomain);
    }

    private static List<string> ReadDomains(SqliteConnection conn, DateOnly utcDay)
    {
        var list = new List<string>();
        using SqliteCommand cmd = Db.Command(conn, null, "SELECT DISTINCT policy_domain FROM tls_result_day WHERE day = $day ORDER BY policy_domain", ("$day", DayNumber(utcDay)));
        using SqliteDataReader r = cmd.ExecuteReader();
        while (r.Read()) list.Add(r.GetString(0));
        return list;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<TlsPolicyDaySummary>> GetDayAsync(DateOnly utcDay, string policyDomain, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(policyDomain);
        using SqliteConnection conn = await _db.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        return ReadDay(conn, utcDay, policyDomain);
    }

    private static List<TlsPolicyDaySummary> ReadDay(SqliteConnection conn, DateOnly utcDay, string policyDomain)
    {
        long day = DayNumber(utcDay);
        string domain = policyDomain.Trim().TrimEnd('.').ToLowerInvariant();
        var failures = new Dictionary<PolicyKey, List<TlsFailureDetail>>();
        using (SqliteCommand cmd = Db.Command(conn, null, """
            SELECT policy_type, policy_strings, mx_hosts, result_type, sending_ip, receiving_mx, receiving_helo, receiving_ip, additional_info, reason_code, failed_count
            FROM tls_failure_day WHERE day = $day AND policy_domain = $d ORDER BY failed_count DESC, result_type
            """, ("$day", day), ("$d", domain)))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                var key = new PolicyKey(domain, r.GetString(0), r.GetString(1), r.GetString(2));
                if (!failures.TryGetValue(key, out var list)) failures[key] = list = [];
                list.Add(new TlsFailureDetail(r.GetString(3), Null(r.GetString(4)), Null(r.GetString(5)), Null(r.GetString(6)), Null(r.GetString(7)),
                    Null(r.GetString(8)), Null(r.GetString(9)), r.GetInt64(10)));
            }
        }
        var result = new List<TlsPolicyDaySummary>();
        using (SqliteCommand cmd = Db.Command(conn, null, """
            SELECT policy_type, policy_strings, mx_hosts, success_count, failure_count FROM tls_result_day
            WHERE day = $day AND policy_domain = $d ORDER BY policy_type, policy_strings, mx_hosts
            """, ("$day", day), ("$d", domain)))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                var key = new PolicyKey(domain, r.GetString(0), r.GetString(1), r.GetString(2));
                result.Add(new TlsPolicyDaySummary(domain, key.Type, SplitList(key.Strings), SplitList(key.Mx), r.GetInt64(3), r.GetInt64(4),
                    failures.TryGetValue(key, out var list) ? list : []));
            }
        }
        return result;
    }

    private static string? Null(string s) => s.Length == 0 ? null : s;

    /// <inheritdoc/>
    public Task<long> DeleteBeforeAsync(DateOnly utcDay, CancellationToken cancellationToken = default) =>
        _db.WriteInTransactionAsync<long>((c, tx) =>
        {
            long day = DayNumber(utcDay);
            long n = Db.Exec(c, tx, "DELETE FROM tls_failure_day WHERE day < $day", ("$day", day));
            return n + Db.Exec(c, tx, "DELETE FROM tls_result_day WHERE day < $day", ("$day", day));
        }, cancellationToken);

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => _db.DisposeAsync();
}
