using Microsoft.Data.Sqlite;
using Postern.Mail.Reports;
using Postern.Store.Reports;
using static Postern.Store.Tests.Reports.IncomingReportStoreTests;

namespace Postern.Store.Tests.Reports;

/// <summary>Received reports older than the retention period are deleted in bounded batches, at start and once a day.</summary>
public sealed class IncomingReportRetentionTests : IDisposable
{
    private readonly TempReportsFolder _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static readonly (string, long, string, string, string) Row = ("192.0.2.1", 1, "none", "pass", "pass");

    private long Count(string table)
    {
        using SqliteConnection conn = ReportsSchema.OpenReader(_tmp.Dir);
        using SqliteCommand cmd = conn.CreateCommand();
        cmd.CommandText = $"SELECT count(*) FROM {table}";
        return (long)cmd.ExecuteScalar()!;
    }

    private List<string> DmarcIds() => [.. IncomingReportQueries.DmarcReports(_tmp.Dir, null, DateTimeOffset.UnixEpoch, 10_000).Select(r => r.ReportId).Order(StringComparer.Ordinal)];

    private List<string> TlsIds() => [.. IncomingReportQueries.TlsReports(_tmp.Dir, null, DateTimeOffset.UnixEpoch, 10_000).Select(r => r.ReportId).Order(StringComparer.Ordinal)];

    private List<string> Indexes()
    {
        using SqliteConnection conn = ReportsSchema.OpenReader(_tmp.Dir);
        using SqliteCommand cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%_received' ORDER BY name";
        using SqliteDataReader r = cmd.ExecuteReader();
        var names = new List<string>();
        while (r.Read()) names.Add(r.GetString(0));
        return names;
    }

    [Fact]
    public async Task A_database_of_schema_3_gets_the_index_on_received_and_the_clean_up_reads_through_it()
    {
        DateTimeOffset cutoff = Day.AddDays(1);
        await using (var store = SqliteIncomingReportStore.Open(_tmp.Dir))
        {
            Assert.True(await store.AddDmarcReportAsync(Dmarc("old.example", "old", "example.org", Row), "dmarc-reports@example.org", cutoff.AddDays(-2)));
            Assert.True(await store.AddDmarcReportAsync(Dmarc("new.example", "keep", "example.org", Row), "dmarc-reports@example.org", cutoff));
            Assert.True(await store.AddTlsReportAsync(Tls("Google Inc.", "old", "example.org"), "tls-reports@example.org", cutoff.AddDays(-2)));
        }
        // Back to schema 3 as released (step 4 only adds the two indexes).
        using (var conn = new SqliteConnection($"Data Source={ReportsSchema.PathIn(_tmp.Dir)}"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "DROP INDEX dmarc_report_received; DROP INDEX tls_report_received; UPDATE schema_version SET version = 3;";
            cmd.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();
        Assert.Empty(Indexes());

        await using (var store = SqliteIncomingReportStore.Open(_tmp.Dir))
            Assert.Equal((1, 1), await store.DeleteReceivedBatchAsync(cutoff));
        Assert.Equal(["dmarc_report_received", "tls_report_received"], Indexes());
        Assert.Equal(["keep"], DmarcIds());
        using (SqliteConnection conn = ReportsSchema.OpenReader(_tmp.Dir))
        {
            using SqliteCommand cmd = conn.CreateCommand();
            cmd.CommandText = "SELECT version FROM schema_version";
            Assert.Equal((long)ReportsSchema.Version, (long)cmd.ExecuteScalar()!);
            Assert.Equal(4, ReportsSchema.Version);
            // The clean-up's scan (SqliteIncomingReportStore.DeleteOldest) searches the index instead of scanning the table.
            cmd.CommandText = "EXPLAIN QUERY PLAN SELECT r.received, r.id FROM dmarc_report r WHERE r.received < 1 ORDER BY r.received, r.id LIMIT 200";
            using SqliteDataReader r = cmd.ExecuteReader();
            var plan = new List<string>();
            while (r.Read()) plan.Add(r.GetString(3));
            Assert.Contains(plan, p => p.Contains("USING COVERING INDEX dmarc_report_received", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Reports_go_in_order_of_arrival_time_even_when_stored_out_of_order()
    {
        // Two reports that each fill more than half a batch: one batch takes one of them, the one that arrived first.
        var rows = Enumerable.Repeat(Row, SqliteIncomingReportStore.DeleteBatchRows / 2 + 1).ToArray();
        await using var store = SqliteIncomingReportStore.Open(_tmp.Dir);
        Assert.True(await store.AddDmarcReportAsync(Dmarc("a.example", "later", "example.org", rows), "dmarc-reports@example.org", Day));
        Assert.True(await store.AddDmarcReportAsync(Dmarc("a.example", "earlier", "example.org", rows), "dmarc-reports@example.org", Day.AddHours(-1)));
        Assert.Equal((1, 0), await store.DeleteReceivedBatchAsync(Day.AddDays(1)));
        Assert.Equal(["later"], DmarcIds());
        Assert.Equal((1, 0), await store.DeleteReceivedBatchAsync(Day.AddDays(1)));
        Assert.Empty(DmarcIds());
    }

    [Fact]
    public async Task A_batch_deletes_at_most_200_reports_of_each_kind_with_their_rows_and_keeps_newer_ones()
    {
        DateTimeOffset cutoff = Day.AddDays(1);
        await using var store = SqliteIncomingReportStore.Open(_tmp.Dir);
        for (int i = 0; i < 250; i++)
            Assert.True(await store.AddDmarcReportAsync(Dmarc("old.example", "d" + i, "example.org", Row, Row), "dmarc-reports@example.org", cutoff.AddMinutes(-1000 + i)));
        Assert.True(await store.AddDmarcReportAsync(Dmarc("new.example", "keep", "example.org", Row), "dmarc-reports@example.org", cutoff));
        Assert.True(await store.AddTlsReportAsync(Tls("Google Inc.", "old", "example.org"), "tls-reports@example.org", cutoff.AddDays(-3)));
        Assert.True(await store.AddTlsReportAsync(Tls("Google Inc.", "keep", "example.org"), "tls-reports@example.org", cutoff.AddSeconds(1)));

        Assert.Equal((200, 1), await store.DeleteReceivedBatchAsync(cutoff));
        Assert.Equal((50, 0), await store.DeleteReceivedBatchAsync(cutoff));
        Assert.Equal((0, 0), await store.DeleteReceivedBatchAsync(cutoff));

        Assert.Equal(["keep"], DmarcIds());
        Assert.Equal(["keep"], TlsIds());
        // The rows went with their reports (ON DELETE CASCADE).
        Assert.Equal(1, Count("dmarc_report_row"));
        Assert.Equal(2, Count("tls_report_policy"));
        Assert.Equal(1, Count("tls_report_failure"));
    }

    [Fact]
    public async Task A_batch_stops_at_the_row_bound_but_always_takes_one_report()
    {
        var rows = Enumerable.Repeat(Row, SqliteIncomingReportStore.DeleteBatchRows / 2 + 1).ToArray();
        await using var store = SqliteIncomingReportStore.Open(_tmp.Dir);
        Assert.True(await store.AddDmarcReportAsync(Dmarc("a.example", "1", "example.org", rows), "dmarc-reports@example.org", Day));
        Assert.True(await store.AddDmarcReportAsync(Dmarc("a.example", "2", "example.org", rows), "dmarc-reports@example.org", Day));
        Assert.True(await store.AddDmarcReportAsync(Dmarc("a.example", "3", "example.org", Row), "dmarc-reports@example.org", Day));

        // Two reports together are over the bound: one goes, then the second with the small third.
        Assert.Equal((1, 0), await store.DeleteReceivedBatchAsync(Day.AddDays(1)));
        Assert.Equal(["2", "3"], DmarcIds());
        Assert.Equal((2, 0), await store.DeleteReceivedBatchAsync(Day.AddDays(1)));
        Assert.Equal(0, Count("dmarc_report_row"));
    }

    [Fact]
    public async Task The_worker_deletes_at_start_and_then_once_a_day_by_its_clock()
    {
        var clock = new ManualClock(Day.AddDays(30));
        DateTimeOffset now = clock.GetUtcNow();
        await using var store = SqliteIncomingReportStore.Open(_tmp.Dir);
        Assert.True(await store.AddDmarcReportAsync(Dmarc("a.example", "10-days", "example.org", Row), "dmarc-reports@example.org", now.AddDays(-10)));
        Assert.True(await store.AddDmarcReportAsync(Dmarc("a.example", "5-days", "example.org", Row), "dmarc-reports@example.org", now.AddDays(-5).AddHours(-1)));
        Assert.True(await store.AddTlsReportAsync(Tls("a.example", "8-days", "example.org"), "tls-reports@example.org", now.AddDays(-8)));
        Assert.True(await store.AddTlsReportAsync(Tls("a.example", "1-day", "example.org"), "tls-reports@example.org", now.AddDays(-1)));

        await using (var retention = new IncomingReportRetention(store, TimeSpan.FromDays(7), time: clock))
        {
            retention.Start();
            await WaitAsync(() => retention.Runs == 1 && clock.PendingTimers == 1);
            Assert.Equal(["5-days"], DmarcIds());
            Assert.Equal(["1-day"], TlsIds());

            // A day later: nothing is old enough yet (5 + 1 < 7).
            clock.Advance(IncomingReportRetention.Interval);
            await WaitAsync(() => retention.Runs == 2 && clock.PendingTimers == 1);
            Assert.Equal(["5-days"], DmarcIds());

            // The next day's run finds the 5-day report more than 7 days old.
            clock.Advance(IncomingReportRetention.Interval);
            await WaitAsync(() => retention.Runs == 3 && clock.PendingTimers == 1);
            Assert.Empty(DmarcIds());
            Assert.Equal(["1-day"], TlsIds());
        }
        // Stopping cancels the pending wait.
        Assert.Equal(0, clock.PendingTimers);
    }

    [Fact]
    public async Task The_run_returns_what_it_deleted_and_a_retention_must_be_positive()
    {
        var clock = new ManualClock(Day.AddDays(400));
        await using var store = SqliteIncomingReportStore.Open(_tmp.Dir);
        Assert.True(await store.AddDmarcReportAsync(Dmarc("a.example", "old", "example.org", Row), "dmarc-reports@example.org", Day));
        Assert.True(await store.AddTlsReportAsync(Tls("a.example", "old", "example.org"), "tls-reports@example.org", Day));
        Assert.Throws<ArgumentOutOfRangeException>(() => new IncomingReportRetention(store, TimeSpan.Zero, time: clock));
        await using var retention = new IncomingReportRetention(store, TimeSpan.FromDays(180), time: clock);
        Assert.Equal((1L, 1L), await retention.RunAsync());
        Assert.Equal((0L, 0L), await retention.RunAsync());
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        // A guard against a hang, not a timing assertion.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
            await Task.Delay(10, cts.Token);
    }

    /// <summary>A clock the test moves by hand; timers (Task.Delay with this provider) fire when it passes their due time.</summary>
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private readonly List<Timer> _timers = [];
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow()
        {
            lock (_timers) return _now;
        }

        public int PendingTimers
        {
            get
            {
                lock (_timers) return _timers.Count;
            }
        }

        public void Advance(TimeSpan by)
        {
            List<Timer> due;
            lock (_timers)
            {
                _now += by;
                due = [.. _timers.Where(t => t.Due <= _now)];
                foreach (Timer t in due) _timers.Remove(t);
            }
            foreach (Timer t in due) t.Fire();
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = new Timer(this, callback, state);
            timer.Change(dueTime, period);
            return timer;
        }

        private sealed class Timer(ManualClock clock, TimerCallback callback, object? state) : ITimer
        {
            public DateTimeOffset Due { get; private set; }

            public void Fire() => callback(state);

            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                lock (clock._timers)
                {
                    clock._timers.Remove(this);
                    if (dueTime == Timeout.InfiniteTimeSpan) return true;
                    Due = clock._now + dueTime;
                    clock._timers.Add(this);
                }
                return true;
            }

            public void Dispose()
            {
                lock (clock._timers) clock._timers.Remove(this);
            }

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}
