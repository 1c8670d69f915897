using System.IO.Compression;
using System.Text.Json;
using Postern.Mail;
using Postern.Mail.Reports;
using Postern.Queue.Reports;
using Postern.Store.Reports;

namespace Postern.Queue.Tests.Reports;

/// <summary>A day's TLS results recorded, reported after midnight, delivered through the queue and parsed back.</summary>
public class TlsReportSendingTests
{
    private static TlsSessionResult Result(DateTimeOffset t, string domain, bool success, string? resultType = null, string mx = "mx1.remote.example",
        string? helo = "mx1.remote.example", string ip = "192.0.2.25") => new()
    {
        Time = t,
        PolicyDomain = domain,
        PolicyType = TlsSessionResult.Sts,
        PolicyStrings = ["version: STSv1", "mode: enforce", "mx: *.remote.example", "max_age: 86400"],
        MxHostPatterns = ["*.remote.example"],
        Success = success,
        ResultType = resultType,
        SendingMtaIp = "198.51.100.7",
        ReceivingMxHostname = mx,
        ReceivingMxHelo = helo,
        ReceivingIp = ip,
        AdditionalInformation = success ? null : "certificate name does not match",
    };

    private static async Task RecordDayAsync(ReportSetup s, string domain, int ok, int failed)
    {
        await using var recorder = new TlsResultRecorder(new NonDisposingStore(s.Tls));
        for (int i = 0; i < ok; i++) recorder.Record(Result(ReportSetup.Day1.AddMinutes(i), domain, true));
        for (int i = 0; i < failed; i++) recorder.Record(Result(ReportSetup.Day1.AddMinutes(i), domain, false, "certificate-host-mismatch"));
        await recorder.FlushAsync();
        Assert.Equal(0, recorder.Dropped);
    }

    [Fact]
    public async Task DayOfResultsIsReportedOnceAfterMidnightSignedAndParsesBack()
    {
        await using var s = await ReportSetup.CreateAsync();
        s.Dns.Zone.AddTxt("_smtp._tls.remote.example", "v=TLSRPTv1; rua=mailto:tlsrpt@example.org");
        await RecordDayAsync(s, "remote.example", ok: 40, failed: 3);

        // Before midnight nothing is due.
        Assert.DoesNotContain(await s.Sender.RunAsync(), d => d.Kind == "tls");
        s.Clock.Now = new DateTimeOffset(2026, 3, 2, 0, 5, 0, TimeSpan.Zero);
        IReadOnlyList<ReportDispatch> dry = await s.Sender.RunAsync(dryRun: true);
        Assert.Equal("would mail", Assert.Single(dry, d => d.Kind == "tls").Status);

        IReadOnlyList<ReportDispatch> sent = await s.Sender.RunAsync();
        ReportDispatch d = Assert.Single(sent, x => x.Kind == "tls");
        Assert.StartsWith("queued as ", d.Status);
        await s.F.Queue.RunDueAsync();
        byte[] raw = Assert.Single(await s.InboxAsync());
        string text = ReportSetup.Text(raw);

        // RFC 8460 §5.3 message format.
        Assert.Contains("TLS-Report-Domain: remote.example\r\n", text);
        Assert.Contains("TLS-Report-Submitter: mail.example.org\r\n", text);
        Assert.Contains("TLS-Required: No\r\n", text);
        Assert.Contains("Subject: Report Domain: remote.example\r\n Submitter: mail.example.org\r\n Report-ID: <", text);
        Assert.Contains("multipart/report; report-type=\"tlsrpt\"", text);
        Assert.Contains("Content-Type: application/tlsrpt+gzip", text);
        long begin = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        Assert.Contains($"filename=\"mail.example.org!remote.example!{begin}!{begin + 86399}.json.gz\"", text);
        // Signed for the From domain by the queue.
        Assert.Contains("DKIM-Signature:", text);
        Assert.Contains("d=example.org", text);

        // Parsed back by Postern's own incoming parser.
        TlsReport? report = ReportExtraction.ExtractTlsReport(MessageStructure.Parse(raw), raw, out string? error);
        Assert.True(report is not null, error);
        Assert.Equal("Example Org", report.OrganizationName);
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), report.DateRange.Start);
        TlsReportPolicyResult policy = Assert.Single(report.Policies);
        Assert.Equal("sts", policy.Policy.PolicyType);
        Assert.Equal("remote.example", policy.Policy.PolicyDomain);
        Assert.Equal(["*.remote.example"], policy.Policy.MxHost);
        Assert.Equal(40, policy.Summary.TotalSuccessfulSessionCount);
        Assert.Equal(3, policy.Summary.TotalFailureSessionCount);
        TlsReportFailure failure = Assert.Single(policy.FailureDetails!);
        Assert.Equal("certificate-host-mismatch", failure.ResultType);
        Assert.Equal(3, failure.FailedSessionCount);
        Assert.Equal("192.0.2.25", failure.ReceivingIp);

        // The JSON itself against the structure of RFC 8460 §4.4.
        TlsRptJsonStructure.Check(report.ToJson());

        // The day is done: the next run sends nothing again.
        Assert.DoesNotContain(await s.Sender.RunAsync(), x => x.Kind == "tls");
        Assert.Equal("queued", Assert.Single(await s.Log.ListSentAsync(10)).Status);
    }

    [Fact]
    public async Task OnlyDomainsWithFailuresAreReportedUnlessConfigured()
    {
        await using (var s = await ReportSetup.CreateAsync())
        {
            s.Dns.Zone.AddTxt("_smtp._tls.fine.example", "v=TLSRPTv1; rua=mailto:tlsrpt@example.org");
            await RecordDayAsync(s, "fine.example", ok: 10, failed: 0);
            s.Clock.Now = ReportSetup.Day1.AddDays(1);
            ReportDispatch d = Assert.Single(await s.Sender.RunAsync(), x => x.Kind == "tls");
            Assert.StartsWith("skipped: no failures", d.Status);
            await s.F.Queue.RunDueAsync();
            Assert.Empty(await s.InboxAsync());
        }
        await using (var s = await ReportSetup.CreateAsync(o => o with { TlsOnlyFailures = false }))
        {
            s.Dns.Zone.AddTxt("_smtp._tls.fine.example", "v=TLSRPTv1; rua=mailto:tlsrpt@example.org");
            await RecordDayAsync(s, "fine.example", ok: 10, failed: 0);
            s.Clock.Now = ReportSetup.Day1.AddDays(1);
            Assert.StartsWith("queued", Assert.Single(await s.Sender.RunAsync(), x => x.Kind == "tls").Status);
            await s.F.Queue.RunDueAsync();
            byte[] raw = Assert.Single(await s.InboxAsync());
            TlsReport? r = ReportExtraction.ExtractTlsReport(MessageStructure.Parse(raw), raw, out _);
            Assert.Equal(10, Assert.Single(r!.Policies).Summary.TotalSuccessfulSessionCount);
            Assert.Null(r.Policies[0].FailureDetails);
            TlsRptJsonStructure.Check(r.ToJson());
        }
        await using (var s = await ReportSetup.CreateAsync(o => o with { TlsEnabled = false }))
        {
            s.Dns.Zone.AddTxt("_smtp._tls.remote.example", "v=TLSRPTv1; rua=mailto:tlsrpt@example.org");
            await RecordDayAsync(s, "remote.example", ok: 1, failed: 1);
            s.Clock.Now = ReportSetup.Day1.AddDays(1);
            Assert.Empty(await s.Sender.RunAsync());
        }
    }

    [Fact]
    public async Task HttpsDestinationGetsGzipPostAndBadRecordsAreSkipped()
    {
        await using var s = await ReportSetup.CreateAsync();
        s.Dns.Zone.AddTxt("_smtp._tls.remote.example", "v=TLSRPTv1; rua=https://reports.remote.example/tlsrpt,mailto:tlsrpt@example.org");
        s.Dns.Zone.AddTxt("_smtp._tls.two.example", "v=TLSRPTv1; rua=mailto:a@two.example");
        s.Dns.Zone.AddTxt("_smtp._tls.two.example", "v=TLSRPTv1; rua=mailto:b@two.example");
        s.Dns.Zone.AddTxt("_smtp._tls.bad.example", "v=TLSRPTv1; rua=ftp://x.example/");
        foreach (string domain in new[] { "remote.example", "two.example", "bad.example", "none.example" })
            await RecordDayAsync(s, domain, ok: 1, failed: 2);
        s.Clock.Now = ReportSetup.Day1.AddDays(1).AddHours(1);
        IReadOnlyList<ReportDispatch> sent = await s.Sender.RunAsync();
        Assert.Equal("posted (200)", Assert.Single(sent, d => d.Destination.StartsWith("https:", StringComparison.Ordinal)).Status);
        Assert.StartsWith("queued", Assert.Single(sent, d => d.Destination.StartsWith("mailto:", StringComparison.Ordinal)).Status);
        Assert.Equal("skipped: more than one TLSRPT record", Assert.Single(sent, d => d.PolicyDomain == "two.example").Status);
        Assert.StartsWith("skipped: invalid TLSRPT record", Assert.Single(sent, d => d.PolicyDomain == "bad.example").Status);
        Assert.Equal("skipped: no TLSRPT record", Assert.Single(sent, d => d.PolicyDomain == "none.example").Status);

        var (uri, type, body) = Assert.Single(s.Http.Posts);
        Assert.Equal("https://reports.remote.example/tlsrpt", uri.ToString());
        Assert.Equal("application/tlsrpt+gzip", type);
        TlsReport? posted = TlsReport.ParseMaybeGzip(body, out string? error);
        Assert.True(posted is not null, error);
        Assert.Equal(2, posted.Policies[0].Summary.TotalFailureSessionCount);
        using (var gz = new GZipStream(new MemoryStream(body), CompressionMode.Decompress))
        using (var ms = new MemoryStream())
        {
            gz.CopyTo(ms);
            TlsRptJsonStructure.Check(ms.ToArray());
        }
    }

    [Fact]
    public async Task FailingHttpsDestinationIsLoggedAndTemporaryDnsFailureIsRetried()
    {
        await using var s = await ReportSetup.CreateAsync();
        s.Http.Status = System.Net.HttpStatusCode.InternalServerError;
        s.Dns.Zone.AddTxt("_smtp._tls.remote.example", "v=TLSRPTv1; rua=https://reports.remote.example/tlsrpt");
        await RecordDayAsync(s, "remote.example", ok: 0, failed: 1);
        await RecordDayAsync(s, "later.example", ok: 0, failed: 1);
        s.Dns.SetFailure("_smtp._tls.later.example", Postern.Dns.DnsOutcome.ServFail);
        s.Clock.Now = ReportSetup.Day1.AddDays(1);
        IReadOnlyList<ReportDispatch> first = await s.Sender.RunAsync();
        Assert.Equal("failed: HTTP 500", Assert.Single(first, d => d.PolicyDomain == "remote.example").Status);
        Assert.StartsWith("deferred:", Assert.Single(first, d => d.PolicyDomain == "later.example").Status);

        s.Dns.ClearFailures();
        s.Dns.Zone.AddTxt("_smtp._tls.later.example", "v=TLSRPTv1; rua=mailto:tlsrpt@example.org");
        s.Clock.Advance(TimeSpan.FromHours(1));
        IReadOnlyList<ReportDispatch> second = await s.Sender.RunAsync();
        ReportDispatch d = Assert.Single(second);
        Assert.Equal("later.example", d.PolicyDomain);
        Assert.StartsWith("queued", d.Status);
    }

    [Fact]
    public async Task ReportAddressThatBouncesIsSuppressedAndCanBeRemoved()
    {
        await using var s = await ReportSetup.CreateAsync();
        s.Remote.Answer = r => new Postern.Smtp.Client.OutboundRecipientResult(r.Address, 550, "5.1.1", "no such user", true);
        s.Dns.Zone.AddTxt("_smtp._tls.remote.example", "v=TLSRPTv1; rua=mailto:tls-reports@remote.example");
        await RecordDayAsync(s, "remote.example", ok: 0, failed: 1);
        s.Clock.Now = ReportSetup.Day1.AddDays(1);
        Assert.StartsWith("queued", Assert.Single(await s.Sender.RunAsync()).Status);
        await s.F.Queue.RunDueAsync(); // the remote MX refuses the address: 550 5.1.1
        Assert.Single(s.Remote.Requests);

        // The next run notices the hard bounce.
        s.Clock.Advance(TimeSpan.FromHours(1));
        await s.Sender.RunAsync();
        SuppressedReportAddress entry = Assert.Single(await s.Log.ListSuppressionsAsync());
        Assert.Equal("tls-reports@remote.example", entry.Address);
        Assert.Contains("5.1.1", entry.Reason);
        Assert.StartsWith("bounced:", Assert.Single(await s.Log.ListSentAsync(10)).Status);

        // The next day's report is not sent there.
        s.Clock.Now = ReportSetup.Day1.AddDays(1).AddHours(3);
        await using (var recorder = new TlsResultRecorder(new NonDisposingStore(s.Tls)))
        {
            recorder.Record(Result(s.Clock.Now, "remote.example", false, "starttls-not-supported"));
            await recorder.FlushAsync();
        }
        s.Clock.Now = ReportSetup.Day1.AddDays(2).AddMinutes(5);
        Assert.StartsWith("suppressed until", Assert.Single(await s.Sender.RunAsync()).Status);

        // Removed: reports go there again (a day later, for that day's results).
        Assert.True(await s.Log.RemoveSuppressionAsync("TLS-Reports@remote.example"));
        Assert.Empty(await s.Log.ListSuppressionsAsync());
        Assert.Null(await s.Log.GetSuppressionAsync("tls-reports@remote.example", s.Clock.Now));
    }
}

/// <summary>Checks report JSON against the structure of RFC 8460 §4.4 (required fields and their JSON types).</summary>
internal static class TlsRptJsonStructure
{
    public static void Check(byte[] json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        String(root, "organization-name");
        String(root, "contact-info");
        String(root, "report-id");
        JsonElement range = Member(root, "date-range", JsonValueKind.Object);
        foreach (string name in new[] { "start-datetime", "end-datetime" })
        {
            // RFC 3339 date-time (RFC 8460 §4.4 "date-time" per RFC 3339 §5.6).
            string value = String(range, name);
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", value);
        }
        JsonElement policies = Member(root, "policies", JsonValueKind.Array);
        Assert.True(policies.GetArrayLength() > 0);
        foreach (JsonElement p in policies.EnumerateArray())
        {
            JsonElement policy = Member(p, "policy", JsonValueKind.Object);
            Assert.Contains(String(policy, "policy-type"), new[] { "sts", "tlsa", "no-policy-found" });
            String(policy, "policy-domain");
            foreach (string optionalList in new[] { "policy-string", "mx-host" })
            {
                if (policy.TryGetProperty(optionalList, out JsonElement list))
                {
                    Assert.Equal(JsonValueKind.Array, list.ValueKind);
                    Assert.All(list.EnumerateArray(), e => Assert.Equal(JsonValueKind.String, e.ValueKind));
                }
            }
            JsonElement summary = Member(p, "summary", JsonValueKind.Object);
            Assert.True(Member(summary, "total-successful-session-count", JsonValueKind.Number).GetInt64() >= 0);
            Assert.True(Member(summary, "total-failure-session-count", JsonValueKind.Number).GetInt64() >= 0);
            if (p.TryGetProperty("failure-details", out JsonElement details))
            {
                Assert.Equal(JsonValueKind.Array, details.ValueKind);
                foreach (JsonElement f in details.EnumerateArray())
                {
                    Assert.Contains(String(f, "result-type"), TlsReportFailure.ResultTypes);
                    Assert.True(Member(f, "failed-session-count", JsonValueKind.Number).GetInt64() > 0);
                    foreach (string optional in new[] { "sending-mta-ip", "receiving-mx-hostname", "receiving-mx-helo", "receiving-ip", "additional-information", "failure-reason-code" })
                    {
                        if (f.TryGetProperty(optional, out JsonElement v)) Assert.Equal(JsonValueKind.String, v.ValueKind);
                    }
                    if (f.TryGetProperty("sending-mta-ip", out JsonElement sip)) Assert.True(System.Net.IPAddress.TryParse(sip.GetString(), out _));
                    if (f.TryGetProperty("receiving-ip", out JsonElement rip)) Assert.True(System.Net.IPAddress.TryParse(rip.GetString(), out _));
                }
            }
        }
    }

    private static JsonElement Member(JsonElement e, string name, JsonValueKind kind)
    {
        Assert.True(e.TryGetProperty(name, out JsonElement v), $"\"{name}\" is required (RFC 8460 §4.4)");
        Assert.Equal(kind, v.ValueKind);
        return v;
    }

    private static string String(JsonElement e, string name)
    {
        string s = Member(e, name, JsonValueKind.String).GetString()!;
        Assert.NotEmpty(s);
        return s;
    }
}

/// <summary>Lets a test recorder write to the shared store without closing it when the recorder is disposed.</summary>
internal sealed class NonDisposingStore(ITlsResultStore inner) : ITlsResultStore
{
    public Task AddAsync(IReadOnlyList<TlsSessionResult> results, CancellationToken cancellationToken = default) => inner.AddAsync(results, cancellationToken);
    public Task<IReadOnlyList<string>> ListPolicyDomainsAsync(DateOnly utcDay, CancellationToken cancellationToken = default) => inner.ListPolicyDomainsAsync(utcDay, cancellationToken);
    public Task<IReadOnlyList<TlsPolicyDaySummary>> GetDayAsync(DateOnly utcDay, string policyDomain, CancellationToken cancellationToken = default) => inner.GetDayAsync(utcDay, policyDomain, cancellationToken);
    public Task<long> DeleteBeforeAsync(DateOnly utcDay, CancellationToken cancellationToken = default) => inner.DeleteBeforeAsync(utcDay, cancellationToken);
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
