using System.Text;
using Postern.Mail;
using Postern.Mail.Reports;
using Postern.Smtp.Delivery;
using Postern.Store.Reports;
using Postern.Store.Sqlite;

namespace Postern.Smtp.Tests.Server;

/// <summary>IncomingReportReceiver: which addresses count as reporting addresses, and the bounded queue.</summary>
public sealed class IncomingReportReceiverTests : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "postern-report-receiver-" + Guid.NewGuid().ToString("N"));
    private SqliteMailStore? _store;

    public async ValueTask DisposeAsync()
    {
        if (_store is not null) await _store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch (DirectoryNotFoundException) { }
    }

    /// <summary>Records what is stored; optionally blocks until released (a slow database).</summary>
    private sealed class FakeStore(TaskCompletionSource? gate = null) : IIncomingReportStore
    {
        public List<(string Kind, string Id, string Recipient)> Stored { get; } = [];

        public async Task<bool> AddDmarcReportAsync(DmarcAggregateReport report, string recipient, DateTimeOffset received, CancellationToken cancellationToken = default)
        {
            if (gate is not null) await gate.Task;
            lock (Stored) Stored.Add(("dmarc", report.ReportId, recipient));
            return true;
        }

        public Task<bool> AddTlsReportAsync(TlsReport report, string recipient, DateTimeOffset received, CancellationToken cancellationToken = default)
        {
            lock (Stored) Stored.Add(("tls", report.ReportId, recipient));
            return Task.FromResult(true);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private static byte[] DmarcMessage(string id)
    {
        var report = new DmarcAggregateReport
        {
            OrgName = "receiver.example", Email = "r@receiver.example", ReportId = id,
            Begin = DateTimeOffset.UnixEpoch, End = DateTimeOffset.UnixEpoch.AddDays(1),
            Policy = new DmarcPublishedPolicy { Domain = "example.org", P = "none" },
            Records = [new DmarcReportRecord { SourceIp = "192.0.2.1", Count = 1, Disposition = "none", Dkim = "pass", Spf = "pass", HeaderFrom = "example.org" }],
        };
        string b64 = Convert.ToBase64String(report.ToGzip(), Base64FormattingOptions.InsertLineBreaks).Replace("\n", "\r\n", StringComparison.Ordinal);
        return Encoding.ASCII.GetBytes("From: r@receiver.example\r\nSubject: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
            + "--b\r\nContent-Type: application/gzip; name=\"r.xml.gz\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n--b--\r\n");
    }

    private static byte[] TlsMessage(string id)
    {
        var report = new TlsReport
        {
            OrganizationName = "sender.example", ReportId = id,
            DateRange = new TlsReportDateRange { Start = DateTimeOffset.UnixEpoch, End = DateTimeOffset.UnixEpoch.AddDays(1) },
            Policies = [new TlsReportPolicyResult { Policy = new TlsReportPolicy { PolicyDomain = "example.org" }, Summary = new TlsReportSummary { TotalSuccessfulSessionCount = 1 } }],
        };
        string b64 = Convert.ToBase64String(report.ToGzip());
        return Encoding.ASCII.GetBytes("From: t@sender.example\r\nSubject: tls\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=tlsrpt; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
            + "--b\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n--b--\r\n");
    }

    private static DeliveredMessage Delivered(byte[] raw, params string[] recipients) =>
        new(recipients, "sender@elsewhere.example", new DeliveryContent(MessageStructure.Parse(raw), HeaderList.Empty, raw, null, raw.Length));

    private async Task<SqliteMailStore> DirectoryAsync(params string[] addresses)
    {
        _store = SqliteMailStore.Open(_dir);
        await _store.Directory.AddDomainAsync("example.org");
        await _store.Directory.CreateAccountAsync("alice");
        foreach (string a in addresses) await _store.Directory.AddAddressAsync(a, "alice");
        return _store;
    }

    [Fact]
    public async Task Only_the_addresses_the_domain_publishes_take_reports()
    {
        // No dmarc-reports@ or tls-reports@: the records publish postmaster@ for both (as `config dnsrecords` prints).
        SqliteMailStore store = await DirectoryAsync("alice@example.org", "postmaster@example.org");
        var fake = new FakeStore();
        await using (var receiver = new IncomingReportReceiver(fake, store.Directory))
        {
            Assert.False(receiver.Wants(["alice@example.org", "dmarc@example.org"]));
            Assert.True(receiver.Wants(["alice@example.org", "Postmaster@example.org"]));
            await receiver.DeliveredAsync(Delivered(DmarcMessage("d1"), "postmaster@example.org"), default);
            await receiver.DeliveredAsync(Delivered(TlsMessage("t1"), "POSTMASTER@example.org"), default);
            // Not local, not published: ignored.
            await receiver.DeliveredAsync(Delivered(DmarcMessage("d2"), "dmarc-reports@example.org"), default);
            await receiver.DeliveredAsync(Delivered(DmarcMessage("d3"), "postmaster@elsewhere.example"), default);
            await receiver.FlushAsync();
        }
        Assert.Equal([("dmarc", "d1", "postmaster@example.org"), ("tls", "t1", "postmaster@example.org")], fake.Stored);

        // Once dmarc-reports@ exists, postmaster@ no longer takes reports.
        await store.Directory.AddAddressAsync("dmarc-reports@example.org", "alice");
        var fake2 = new FakeStore();
        await using (var receiver = new IncomingReportReceiver(fake2, store.Directory))
        {
            await receiver.DeliveredAsync(Delivered(DmarcMessage("d4"), "postmaster@example.org"), default);
            await receiver.DeliveredAsync(Delivered(DmarcMessage("d5"), "dmarc-reports@example.org"), default);
            await receiver.DeliveredAsync(Delivered(TlsMessage("t2"), "dmarc-reports@example.org"), default);
            await receiver.FlushAsync();
        }
        Assert.Equal([("dmarc", "d5", "dmarc-reports@example.org"), ("tls", "t2", "dmarc-reports@example.org")], fake2.Stored);
    }

    [Fact]
    public async Task Localserve_takes_reports_at_dmarc_reports_and_tls_reports_of_any_domain()
    {
        var fake = new FakeStore();
        await using (var receiver = new IncomingReportReceiver(fake, directory: null))
        {
            Assert.False(receiver.Wants(["postmaster@any.example"]));
            await receiver.DeliveredAsync(Delivered(DmarcMessage("d1"), "dmarc-reports@any.example"), default);
            await receiver.DeliveredAsync(Delivered(TlsMessage("t1"), "tls-reports@other.example"), default);
            // A TLS report at the DMARC address (and the reverse) is not taken.
            await receiver.DeliveredAsync(Delivered(TlsMessage("t2"), "dmarc-reports@any.example"), default);
            await receiver.DeliveredAsync(Delivered(DmarcMessage("d2"), "tls-reports@any.example"), default);
            await receiver.FlushAsync();
        }
        Assert.Equal([("dmarc", "d1", "dmarc-reports@any.example"), ("tls", "t1", "tls-reports@other.example")], fake.Stored);
    }

    [Fact]
    public async Task A_full_queue_and_a_too_large_message_drop_the_report_without_waiting()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fake = new FakeStore(gate);
        byte[] raw = DmarcMessage("x");
        await using (var receiver = new IncomingReportReceiver(fake, directory: null, options: new IncomingReportReceiverOptions { QueueCapacity = 2, MaxMessageBytes = raw.Length + 1000 }))
        {
            // The store hangs: one message is being stored, two wait, the rest are dropped, and no call waits.
            for (int i = 0; i < 6; i++)
            {
                byte[] m = DmarcMessage("q" + i);
                ValueTask call = receiver.DeliveredAsync(Delivered(m, "dmarc-reports@a.example"), default);
                Assert.True(call.IsCompleted);
                await call;
            }
            // 3 when the worker had already taken the first message off the queue, else 4.
            Assert.InRange(receiver.Dropped, 3, 4);
            byte[] big = Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(raw) + new string('x', 2000));
            long before = receiver.Dropped;
            await receiver.DeliveredAsync(Delivered(big, "dmarc-reports@a.example"), default);
            Assert.Equal(before + 1, receiver.Dropped);
            gate.SetResult();
            await receiver.FlushAsync();
            Assert.Equal(6 - before, receiver.Stored);
        }
    }
}
