using Microsoft.Data.Sqlite;
using Postern.Mail.Reports;
using Postern.Store.Reports;

namespace Postern.Store.Tests.Reports;

/// <summary>Received DMARC aggregate and TLS reports in DATA/reports.db: stored once per organisation and id, listed and summed.</summary>
public sealed class IncomingReportStoreTests : IDisposable
{
    private readonly TempReportsFolder _tmp = new();

    public void Dispose() => _tmp.Dispose();

    internal static readonly DateTimeOffset Day = new(2026, 11, 28, 0, 0, 0, TimeSpan.Zero);

    internal static DmarcAggregateReport Dmarc(string org, string id, string domain, params (string Ip, long Count, string Dis, string Dkim, string Spf)[] rows) => new()
    {
        OrgName = org,
        Email = "reports@" + org,
        ReportId = id,
        Begin = Day,
        End = Day.AddDays(1).AddSeconds(-1),
        Policy = new DmarcPublishedPolicy { Domain = domain, P = "reject", Adkim = "r", Aspf = "r", Pct = 100 },
        Records = [.. rows.Select(r => new DmarcReportRecord
        {
            SourceIp = r.Ip, Count = r.Count, Disposition = r.Dis, Dkim = r.Dkim, Spf = r.Spf, HeaderFrom = domain.ToLowerInvariant().TrimEnd('.'),
            DkimResults = [new DmarcDkimAuthResult(domain.ToLowerInvariant().TrimEnd('.'), "sel", r.Dkim, null)],
            SpfResults = [new DmarcSpfAuthResult(domain.ToLowerInvariant().TrimEnd('.'), "mfrom", r.Spf)],
            Reasons = r.Dis == "none" && r.Dkim == "fail" && r.Spf == "fail" ? [new DmarcPolicyOverride("mailing_list", "list")] : [],
        })],
    };

    internal static TlsReport Tls(string org, string id, string domain) => new()
    {
        OrganizationName = org,
        ReportId = id,
        ContactInfo = "tlsrpt@" + org,
        DateRange = new TlsReportDateRange { Start = Day, End = Day.AddDays(1).AddSeconds(-1) },
        Policies =
        [
            new TlsReportPolicyResult
            {
                Policy = new TlsReportPolicy { PolicyType = TlsReportPolicy.Tlsa, PolicyDomain = domain, PolicyString = ["3 1 1 AA"] },
                Summary = new TlsReportSummary { TotalSuccessfulSessionCount = 7, TotalFailureSessionCount = 1 },
                FailureDetails = [new TlsReportFailure { ResultType = "validation-failure", ReceivingMxHostname = "mx." + domain, FailedSessionCount = 1, FailureReasonCode = "X509_V_ERR" }],
            },
            new TlsReportPolicyResult
            {
                Policy = new TlsReportPolicy { PolicyType = TlsReportPolicy.NoPolicyFound, PolicyDomain = "other.example" },
                Summary = new TlsReportSummary { TotalSuccessfulSessionCount = 3 },
            },
        ],
    };

    [Fact]
    public async Task Dmarc_reports_are_stored_once_per_org_and_id_and_summarised()
    {
        await using (var store = SqliteIncomingReportStore.Open(_tmp.Dir))
        {
            Assert.True(await store.AddDmarcReportAsync(Dmarc("google.com", "1", "Example.ORG.", ("192.0.2.1", 10, "none", "pass", "pass"), ("192.0.2.9", 2, "reject", "fail", "fail")), "dmarc-reports@example.org", Day.AddDays(1)));
            Assert.False(await store.AddDmarcReportAsync(Dmarc("google.com", "1", "example.org", ("192.0.2.1", 99, "none", "pass", "pass")), "dmarc-reports@example.org", Day.AddDays(1)));
            // The same id from another organisation is another report.
            Assert.True(await store.AddDmarcReportAsync(Dmarc("yahoo.com", "1", "example.org", ("192.0.2.1", 5, "none", "fail", "pass"), ("198.51.100.1", 1, "none", "fail", "fail")), "dmarc-reports@example.org", Day.AddDays(1)));
            Assert.True(await store.AddDmarcReportAsync(Dmarc("google.com", "2", "other.example", ("203.0.113.1", 4, "quarantine", "fail", "fail")), "postmaster@other.example", Day.AddDays(1)));
        }
        IReadOnlyList<StoredDmarcReport> all = IncomingReportQueries.DmarcReports(_tmp.Dir, null, Day, 100);
        Assert.Equal(3, all.Count);
        StoredDmarcReport g = Assert.Single(IncomingReportQueries.DmarcReports(_tmp.Dir, "EXAMPLE.org", Day, 100), r => r.OrgName == "google.com");
        Assert.Equal(("example.org", 2L, 12L, "reject"), (g.PolicyDomain, g.Rows, g.Messages, g.Policy));
        Assert.Empty(IncomingReportQueries.DmarcReports(_tmp.Dir, null, Day.AddDays(2), 100)); // ended before "since"

        IReadOnlyList<DmarcReportRecord> rows = IncomingReportQueries.DmarcRows(_tmp.Dir, g.Key);
        Assert.Equal(["192.0.2.1", "192.0.2.9"], rows.Select(r => r.SourceIp));
        Assert.Equal(new DmarcDkimAuthResult("example.org", "sel", "pass", null), Assert.Single(rows[0].DkimResults));
        Assert.Equal(new DmarcSpfAuthResult("example.org", "mfrom", "fail"), Assert.Single(rows[1].SpfResults));

        DmarcReportSummary s = IncomingReportQueries.SummariseDmarc(_tmp.Dir, "example.org", Day, 10);
        Assert.Equal((2L, 18L), (s.Reports, s.Messages));
        Assert.Equal(16, s.ByDisposition["none"]);
        Assert.Equal(2, s.ByDisposition["reject"]);
        Assert.Equal((10L, 15L, 15L), (s.DkimPass, s.SpfPass, s.DmarcPass));
        Assert.Equal(new[] { ("192.0.2.1", 15L, 15L), ("192.0.2.9", 2L, 0L), ("198.51.100.1", 1L, 0L) }, s.TopSources.Select(t => (t.SourceIp, t.Messages, t.DmarcPass)));
        Assert.Single(IncomingReportQueries.SummariseDmarc(_tmp.Dir, null, Day, 1).TopSources);
    }

    [Fact]
    public async Task Tls_reports_are_stored_once_with_policies_and_failures()
    {
        await using (var store = SqliteIncomingReportStore.Open(_tmp.Dir))
        {
            Assert.True(await store.AddTlsReportAsync(Tls("Google Inc.", "r1", "example.org"), "tls-reports@example.org", Day.AddDays(1)));
            Assert.False(await store.AddTlsReportAsync(Tls("Google Inc.", "r1", "example.org"), "tls-reports@example.org", Day.AddDays(1)));
            Assert.True(await store.AddTlsReportAsync(Tls("Microsoft", "r1", "second.example"), "tls-reports@second.example", Day.AddDays(1)));
        }
        Assert.Equal(2, IncomingReportQueries.TlsReports(_tmp.Dir, null, Day, 100).Count);
        StoredTlsReport r = Assert.Single(IncomingReportQueries.TlsReports(_tmp.Dir, "example.org", Day, 100));
        Assert.Equal(("Google Inc.", "r1", "tls-reports@example.org"), (r.OrgName, r.ReportId, r.Recipient));
        // With a domain, only that domain's policies.
        StoredTlsReportPolicy p = Assert.Single(r.Policies);
        Assert.Equal(("tlsa", 7L, 1L), (p.PolicyType, p.SuccessCount, p.FailureCount));
        Assert.Equal(["3 1 1 AA"], p.PolicyString);
        TlsReportFailure f = Assert.Single(p.Failures);
        Assert.Equal(("validation-failure", "mx.example.org", 1L, "X509_V_ERR"), (f.ResultType, f.ReceivingMxHostname, f.FailedSessionCount, f.FailureReasonCode));
        Assert.Equal(2, IncomingReportQueries.TlsReports(_tmp.Dir, null, Day, 1).Single().Policies.Count);
    }

    [Fact]
    public async Task A_reports_database_of_schema_1_gains_the_report_tables_and_keeps_its_evaluations()
    {
        // Schema 1 as released: only the DMARC evaluation tables.
        Directory.CreateDirectory(_tmp.Dir);
        using (var conn = new SqliteConnection($"Data Source={ReportsSchema.PathIn(_tmp.Dir)}"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1); CREATE TABLE dmarc_evaluation (id INTEGER PRIMARY KEY, time INTEGER NOT NULL); INSERT INTO dmarc_evaluation VALUES (7, 1);";
            cmd.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();
        await using (var store = SqliteIncomingReportStore.Open(_tmp.Dir))
            Assert.True(await store.AddTlsReportAsync(Tls("Google Inc.", "r1", "example.org"), "tls-reports@example.org", Day));
        using var reader = ReportsSchema.OpenReader(_tmp.Dir);
        using var q = reader.CreateCommand();
        q.CommandText = "SELECT (SELECT version FROM schema_version), (SELECT count(*) FROM dmarc_evaluation)";
        using var r = q.ExecuteReader();
        Assert.True(r.Read());
        Assert.Equal((ReportsSchema.Version, 1L), (r.GetInt32(0), r.GetInt64(1)));
    }
}
