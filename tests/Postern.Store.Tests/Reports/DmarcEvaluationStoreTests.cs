using System.Net;
using System.Text;
using Microsoft.Data.Sqlite;
using Postern.Dns;
using Postern.Security.AuthResults;
using Postern.Store.Reports;

namespace Postern.Store.Tests.Reports;

/// <summary>DATA/reports.db: stored DMARC evaluations, the report queries, and the batching recorder.</summary>
public sealed class DmarcEvaluationStoreTests : IDisposable
{
    private readonly TempReportsFolder _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static DmarcEvaluationRecord Evaluation(string domain, DateTimeOffset time, string ip = "192.0.2.1") => new()
    {
        Time = time,
        PolicyDomain = domain,
        HeaderFrom = domain,
        SourceIp = ip,
        EnvelopeFrom = "bounce." + domain,
        Result = "fail",
        Disposition = "quarantine",
        SpfDomain = "bounce." + domain,
        SpfResult = "pass",
        Dkim = [new DmarcDkimEntry(domain, "sel1", "pass", false), new DmarcDkimEntry("esp.example", "s2", "fail", false)],
        HasRecord = true,
        Policy = "reject",
        SubdomainPolicy = "quarantine",
        Percent = 50,
        DkimAlignment = "s",
        Override = "sampled_out",
        Reason = "no aligned pass",
        RecordText = "v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s; rua=mailto:r@" + domain,
    };

    [Fact]
    public async Task Evaluations_round_trip_grouped_per_policy_domain_for_a_utc_day()
    {
        var day = new DateOnly(2026, 11, 29);
        DateTimeOffset noon = DmarcReportDay.Start(day).AddHours(12);
        await using (var store = SqliteDmarcEvaluationStore.Open(_tmp.Dir))
        {
            await store.AddAsync([
                Evaluation("b.example", noon),
                Evaluation("a.example", noon.AddMinutes(1)),
                Evaluation("b.example", noon.AddMinutes(2), "2001:db8::1"),
                Evaluation("a.example", DmarcReportDay.Start(day).AddSeconds(-1)), // the day before
                Evaluation("a.example", DmarcReportDay.End(day)),                  // the day after
            ]);
            IReadOnlyList<DmarcDomainEvaluations> groups = await store.ListByPolicyDomainAsync(day);
            Assert.Equal(["a.example", "b.example"], groups.Select(g => g.PolicyDomain));
            Assert.Single(groups[0].Evaluations);
            Assert.Equal(["192.0.2.1", "2001:db8::1"], groups[1].Evaluations.Select(e => e.SourceIp));
            DmarcEvaluationRecord e = groups[0].Evaluations[0];
            DmarcEvaluationRecord expected = Evaluation("a.example", noon.AddMinutes(1));
            Assert.Equal(expected with { Dkim = [] }, e with { Dkim = [] });
            Assert.Equal(expected.Dkim, e.Dkim);
        }
        // Reopened, and read without the writer (as the CLI does).
        await using (var store = SqliteDmarcEvaluationStore.Open(_tmp.Dir))
        {
            Assert.Equal(5, (await store.ListAsync(DateTimeOffset.MinValue.AddYears(2000), DateTimeOffset.MaxValue.AddYears(-2000))).Count);
            Assert.Equal(2, SqliteDmarcEvaluationStore.ReadOnlyList(_tmp.Dir, DmarcReportDay.Start(day), DmarcReportDay.End(day), "B.Example.", 10).Count);
        }
    }

    [Fact]
    public async Task Delete_before_removes_old_evaluations_and_their_signatures()
    {
        var t = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        await using var store = SqliteDmarcEvaluationStore.Open(_tmp.Dir);
        await store.AddAsync([Evaluation("a.example", t), Evaluation("a.example", t.AddDays(1)), Evaluation("a.example", t.AddDays(2))]);
        Assert.Equal(2, await store.DeleteBeforeAsync(t.AddDays(2)));
        IReadOnlyList<DmarcEvaluationRecord> left = await store.ListAsync(t, t.AddDays(10));
        Assert.Equal(t.AddDays(2), Assert.Single(left).Time);
        Assert.Equal(2, left[0].Dkim.Count);
        using var conn = new SqliteConnection($"Data Source={Path.Combine(_tmp.Dir, SqliteDmarcEvaluationStore.FileName)}");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM dmarc_dkim";
        Assert.Equal(2L, (long)cmd.ExecuteScalar()!);
    }

    [Fact]
    public async Task A_newer_schema_is_refused()
    {
        await (SqliteDmarcEvaluationStore.Open(_tmp.Dir)).DisposeAsync();
        using (var conn = new SqliteConnection($"Data Source={Path.Combine(_tmp.Dir, SqliteDmarcEvaluationStore.FileName)};Pooling=False"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "UPDATE schema_version SET version = 99";
            cmd.ExecuteNonQuery();
        }
        var e = Assert.Throws<StoreException>(() => SqliteDmarcEvaluationStore.Open(_tmp.Dir));
        Assert.Contains("schema version 99", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_evaluation_of_a_message_is_recorded_with_what_reports_need()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("example.org", "v=spf1 ip4:192.0.2.25 -all");
        dns.Zone.AddTxt("_dmarc.example.org", "v=DMARC1; p=quarantine; aspf=s; rua=mailto:agg@example.org");
        dns.SetAuthentic("_dmarc.example.org");
        var auth = new MessageAuthenticator(dns, new MessageAuthenticatorOptions { HostName = "mx.example.net", CheckIprev = false });
        SenderAuthentication sender = await auth.CheckSenderAsync(IPAddress.Parse("::ffff:192.0.2.25"), "mx.example.org", "bounce@example.org");
        MessageAuthentication m = await auth.CheckMessageAsync(sender, Encoding.ASCII.GetBytes("From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"));

        DmarcEvaluationRecord r = DmarcEvaluationRecord.From(m, ["alice@Example.NET", "bob@example.net", "carol@other.example"], DateTimeOffset.UnixEpoch);
        Assert.Equal("example.org", r.PolicyDomain);
        Assert.Equal("example.org", r.HeaderFrom);
        Assert.Equal("192.0.2.25", r.SourceIp);
        Assert.Equal("example.org", r.EnvelopeFrom);
        Assert.Equal("example.net other.example", r.EnvelopeTo);
        Assert.Equal("pass", r.Result);
        Assert.Equal("none", r.Disposition);
        Assert.True(r.SpfAligned);
        Assert.Equal(("pass", "example.org"), (r.SpfResult, r.SpfDomain));
        Assert.Empty(r.Dkim);
        Assert.Equal(("quarantine", "s", "r", 100), (r.Policy, r.SpfAlignment, r.DkimAlignment, r.Percent));
        Assert.Contains("rua=mailto:agg@example.org", r.RecordText, StringComparison.Ordinal);
        Assert.True(r.RecordDnssecAuthentic);
    }

    [Fact]
    public async Task The_recorder_commits_in_batches_and_flushes_on_dispose()
    {
        var store = SqliteDmarcEvaluationStore.Open(_tmp.Dir);
        var recorder = new DmarcEvaluationRecorder(store);
        var t = new DateTimeOffset(2026, 11, 29, 8, 0, 0, TimeSpan.Zero);
        for (int i = 0; i < 1200; i++)
            Assert.True(recorder.Record(Evaluation("a.example", t.AddMilliseconds(i))));
        await recorder.FlushAsync();
        Assert.Equal(1200, recorder.Written);
        await recorder.DisposeAsync();
        Assert.Equal(0, recorder.Dropped);
        Assert.Equal(1200, SqliteDmarcEvaluationStore.ReadOnlyList(_tmp.Dir, t, t.AddDays(1), null, int.MaxValue).Count);
    }

    [Fact]
    public async Task A_full_buffer_drops_and_counts_instead_of_waiting()
    {
        var blocked = new BlockedStore();
        var recorder = new DmarcEvaluationRecorder(blocked, capacity: 3);
        var t = DateTimeOffset.UnixEpoch;
        Assert.True(recorder.Record(Evaluation("a.example", t)));
        await blocked.Entered.Task; // the writer holds the first one and waits on the store
        for (int i = 0; i < 3; i++) Assert.True(recorder.Record(Evaluation("a.example", t)));
        Assert.False(recorder.Record(Evaluation("a.example", t)));
        Assert.False(recorder.Record(Evaluation("a.example", t)));
        Assert.Equal(2, recorder.Dropped);
        blocked.Release.SetResult();
        await recorder.DisposeAsync();
        Assert.Equal(4, blocked.Stored);
        Assert.Equal(4, recorder.Written);
    }

    private sealed class BlockedStore : IDmarcEvaluationStore
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Stored { get; private set; }

        public async Task AddAsync(IReadOnlyList<DmarcEvaluationRecord> evaluations, CancellationToken cancellationToken = default)
        {
            Entered.TrySetResult();
            await Release.Task;
            Stored += evaluations.Count;
        }

        public Task<IReadOnlyList<DmarcEvaluationRecord>> ListAsync(DateTimeOffset from, DateTimeOffset to, string? policyDomain = null, int limit = int.MaxValue, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<DmarcEvaluationRecord>>([]);

        public Task<IReadOnlyList<DmarcDomainEvaluations>> ListByPolicyDomainAsync(DateOnly utcDay, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<DmarcDomainEvaluations>>([]);

        public Task<long> DeleteBeforeAsync(DateTimeOffset time, CancellationToken cancellationToken = default) => Task.FromResult(0L);

        public Task<IReadOnlyList<DmarcPendingDomain>> ListPendingDomainsAsync(DateTimeOffset before, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<DmarcPendingDomain>>([]);

        public Task<DmarcAggregate> AggregateAsync(string policyDomain, DateTimeOffset from, DateTimeOffset to, int maxRows, CancellationToken cancellationToken = default) =>
            Task.FromResult(new DmarcAggregate([], 0, false, null));

        public Task<long> DeleteDomainBeforeAsync(string policyDomain, DateTimeOffset before, CancellationToken cancellationToken = default) => Task.FromResult(0L);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
