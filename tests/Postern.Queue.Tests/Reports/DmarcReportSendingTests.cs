using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using System.Xml.Schema;
using Postern.Mail;
using Postern.Mail.Reports;
using Postern.Queue.Reports;
using Postern.Store.Reports;

namespace Postern.Queue.Tests.Reports;

/// <summary>DMARC aggregate reports from stored evaluations: per ri=, external destinations, size limits, schema, parsed back.</summary>
public class DmarcReportSendingTests
{
    private const string SenderRecord = "v=DMARC1; p=quarantine; sp=reject; adkim=s; pct=50; fo=1; rua=mailto:dmarc@example.org";

    private static DmarcEvaluationRecord Evaluation(DateTimeOffset t, string ip, bool pass, string record = SenderRecord, string domain = "sender.example") => new()
    {
        Time = t,
        PolicyDomain = domain,
        HeaderFrom = domain,
        SourceIp = ip,
        EnvelopeFrom = domain,
        EnvelopeTo = "example.org",
        Result = pass ? "pass" : "fail",
        Disposition = pass ? "none" : "quarantine",
        DkimAligned = pass,
        SpfAligned = pass,
        Override = pass ? "none" : "sampled_out",
        SpfDomain = domain,
        SpfResult = pass ? "pass" : "softfail",
        Dkim = pass ? [new DmarcDkimEntry(domain, "sel1", "pass", true)] : [new DmarcDkimEntry("other.example", "x", "fail", false)],
        HasRecord = true,
        Policy = "quarantine",
        SubdomainPolicy = "reject",
        Percent = 50,
        DkimAlignment = "s",
        SpfAlignment = "r",
        FailureOptions = "1",
        RecordText = record,
    };

    private static XmlSchemaSet Schema()
    {
        var set = new XmlSchemaSet();
        using var reader = XmlReader.Create(Path.Combine(AppContext.BaseDirectory, "Reports", "rfc7489-appendix-c.xsd"), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit });
        set.Add(null, reader);
        set.Compile();
        return set;
    }

    /// <summary>Validates report XML against RFC 7489 Appendix C; returns the problems.</summary>
    internal static List<string> Validate(byte[] xml)
    {
        var errors = new List<string>();
        var settings = new XmlReaderSettings { ValidationType = ValidationType.Schema, Schemas = Schema(), DtdProcessing = DtdProcessing.Prohibit };
        settings.ValidationFlags |= XmlSchemaValidationFlags.ReportValidationWarnings;
        settings.ValidationEventHandler += (_, e) => errors.Add($"{e.Severity}: {e.Message}");
        using var reader = XmlReader.Create(new MemoryStream(xml), settings);
        while (reader.Read())
        {
        }
        return errors;
    }

    private static byte[] GunzipAttachmentXml(byte[] raw)
    {
        DmarcAggregateReport? r = ReportExtraction.ExtractDmarcReport(MessageStructure.Parse(raw), raw, out string? error);
        Assert.True(r is not null, error);
        return r.ToXml();
    }

    [Fact]
    public async Task DayOfEvaluationsIsReportedValidAgainstTheRfcSchemaAndParsesBack()
    {
        await using var s = await ReportSetup.CreateAsync();
        // example.org (the rua) is not in sender.example's organisation: it must authorise the reports (RFC 7489 §7.1).
        s.Dns.Zone.AddTxt("sender.example._report._dmarc.example.org", "v=DMARC1");
        var list = new List<DmarcEvaluationRecord>();
        for (int i = 0; i < 30; i++) list.Add(Evaluation(ReportSetup.Day1.AddMinutes(i), "192.0.2.1", pass: true));
        for (int i = 0; i < 5; i++) list.Add(Evaluation(ReportSetup.Day1.AddMinutes(i), "203.0.113.9", pass: false));
        list.Add(Evaluation(ReportSetup.Day1, "2001:db8::1", pass: true));
        await s.Dmarc.AddAsync(list);

        Assert.Empty(await s.Sender.RunAsync()); // the day is not over
        s.Clock.Now = new DateTimeOffset(2026, 3, 2, 0, 3, 0, TimeSpan.Zero);
        ReportDispatch d = Assert.Single(await s.Sender.RunAsync());
        Assert.Equal("dmarc", d.Kind);
        Assert.StartsWith("queued", d.Status);
        await s.F.Queue.RunDueAsync();
        byte[] raw = Assert.Single(await s.InboxAsync());
        string text = ReportSetup.Text(raw);
        Assert.Contains("Subject: Report Domain: sender.example\r\n Submitter: example.org\r\n Report-ID: <", text);
        long begin = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        Assert.Contains($"filename=\"example.org!sender.example!{begin}!{begin + 86399}.xml.gz\"", text);
        Assert.Contains("Content-Type: application/gzip", text);
        Assert.Contains("DKIM-Signature:", text);

        DmarcAggregateReport? report = ReportExtraction.ExtractDmarcReport(MessageStructure.Parse(raw), raw, out string? error);
        Assert.True(report is not null, error);
        Assert.Equal("Example Org", report.OrgName);
        Assert.Equal("postmaster@example.org", report.Email);
        Assert.Equal(begin, report.Begin.ToUnixTimeSeconds());
        Assert.Equal(begin + 86399, report.End.ToUnixTimeSeconds());
        Assert.Equal("sender.example", report.Policy.Domain);
        Assert.Equal("quarantine", report.Policy.P);
        Assert.Equal("reject", report.Policy.Sp);
        Assert.Equal(50, report.Policy.Pct);
        Assert.Equal("s", report.Policy.Adkim);
        Assert.Equal(3, report.Records.Count);
        DmarcReportRecord passing = Assert.Single(report.Records, r => r.SourceIp == "192.0.2.1");
        Assert.Equal(30, passing.Count);
        Assert.Equal(("pass", "pass", "none"), (passing.Dkim, passing.Spf, passing.Disposition));
        Assert.Equal("sel1", Assert.Single(passing.DkimResults).Selector);
        DmarcReportRecord failing = Assert.Single(report.Records, r => r.SourceIp == "203.0.113.9");
        Assert.Equal(5, failing.Count);
        Assert.Equal("sampled_out", Assert.Single(failing.Reasons).Type);
        Assert.Equal("softfail", Assert.Single(failing.SpfResults).Result);
        Assert.Equal(36, report.Records.Sum(r => r.Count));

        // RFC 7489 Appendix C. Its IPAddress pattern only knows uncompressed IPv6, so the IPv6 row is checked without it.
        var ipv4Only = report with { Records = [.. report.Records.Where(r => !r.SourceIp.Contains(':', StringComparison.Ordinal))] };
        Assert.Empty(Validate(ipv4Only.ToXml()));
        List<string> ipv6Problems = Validate(report.ToXml());
        Assert.All(ipv6Problems, p => Assert.Contains("source_ip", p));

        // Reported evaluations are gone; nothing is sent twice.
        Assert.Empty(await s.Dmarc.ListAsync(DateTimeOffset.UnixEpoch, s.Clock.Now));
        Assert.Empty(await s.Sender.RunAsync());
    }

    [Fact]
    public void SchemaRejectsWhatTheRfcForbids()
    {
        // The fixture is a working schema: a report without auth_results/spf, or with an unknown disposition, is refused.
        var bad = XDocument.Parse("""
            <feedback><version>1.0</version>
              <report_metadata><org_name>x</org_name><email>a@b</email><report_id>1</report_id><date_range><begin>1</begin><end>2</end></date_range></report_metadata>
              <policy_published><domain>d</domain><p>none</p><sp>none</sp><pct>100</pct><fo>0</fo></policy_published>
              <record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated><disposition>drop</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
                <identifiers><envelope_from>d</envelope_from><header_from>d</header_from></identifiers><auth_results></auth_results></record>
            </feedback>
            """);
        using var ms = new MemoryStream();
        bad.Save(ms);
        List<string> problems = Validate(ms.ToArray());
        Assert.Contains(problems, p => p.Contains("disposition", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("auth_results", StringComparison.Ordinal) || p.Contains("spf", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ExternalDestinationWithoutAuthorisationGetsNothingAndEvaluationsAreStillPurged()
    {
        await using var s = await ReportSetup.CreateAsync();
        await s.Dmarc.AddAsync([Evaluation(ReportSetup.Day1, "192.0.2.1", pass: true),
            Evaluation(ReportSetup.Day1, "192.0.2.1", pass: true, record: "v=DMARC1; p=none", domain: "norua.example")]);
        s.Clock.Now = ReportSetup.Day1.AddDays(1);
        ReportDispatch d = Assert.Single(await s.Sender.RunAsync(dryRun: true));
        Assert.Contains("has not authorised reports for sender.example", d.Status);
        Assert.Equal(2, (await s.Dmarc.ListAsync(DateTimeOffset.UnixEpoch, s.Clock.Now)).Count); // a dry run deletes nothing
        await s.Sender.RunAsync();
        await s.F.Queue.RunDueAsync();
        Assert.Empty(await s.InboxAsync());
        Assert.Empty(await s.Dmarc.ListAsync(DateTimeOffset.UnixEpoch, s.Clock.Now));
    }

    [Fact]
    public async Task HourlyIntervalGivesOneReportPerFinishedHour()
    {
        await using var s = await ReportSetup.CreateAsync();
        // Same organisation as the policy domain: no authorisation record needed.
        const string record = "v=DMARC1; p=reject; ri=3600; rua=mailto:dmarc@example.org";
        DateTimeOffset day = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
        await s.Dmarc.AddAsync([
            Evaluation(day.AddHours(9).AddMinutes(10), "192.0.2.1", true, record, "sub.example.org"),
            Evaluation(day.AddHours(9).AddMinutes(50), "192.0.2.1", true, record, "sub.example.org"),
            Evaluation(day.AddHours(11).AddMinutes(5), "192.0.2.2", true, record, "sub.example.org"),
            Evaluation(day.AddHours(12).AddMinutes(1), "192.0.2.3", true, record, "sub.example.org"),
        ]);
        s.Clock.Now = day.AddHours(12).AddMinutes(2);
        IReadOnlyList<ReportDispatch> sent = await s.Sender.RunAsync();
        Assert.Equal(2, sent.Count); // 09:00-10:00 and 11:00-12:00; 12:00 is not over
        await s.F.Queue.RunDueAsync();
        var reports = (await s.InboxAsync()).Select(raw => ReportExtraction.ExtractDmarcReport(MessageStructure.Parse(raw), raw, out _)!).OrderBy(r => r.Begin).ToList();
        Assert.Equal([day.AddHours(9), day.AddHours(11)], reports.Select(r => r.Begin));
        Assert.All(reports, r => Assert.Equal(3599, (r.End - r.Begin).TotalSeconds));
        Assert.Equal(2, reports[0].Records.Single().Count);
        Assert.All(reports, r => Assert.Empty(Validate(r.ToXml())));
        Assert.Single(await s.Dmarc.ListAsync(DateTimeOffset.UnixEpoch, s.Clock.Now)); // the 12:01 evaluation waits
    }

    [Fact]
    public async Task ReportLargerThanTheDestinationLimitIsSplitIntoCompleteReports()
    {
        await using var s = await ReportSetup.CreateAsync();
        const string record = "v=DMARC1; p=none; rua=mailto:dmarc@example.org!4k";
        var list = new List<DmarcEvaluationRecord>();
        for (int i = 0; i < 1000; i++)
            list.Add(Evaluation(ReportSetup.Day1, $"198.51.{i / 250}.{i % 250}", true, record, "example.org") with { Dkim = [], EnvelopeFrom = $"b{i * 7919 % 10007}.example.net" });
        await s.Dmarc.AddAsync(list);
        s.Clock.Now = ReportSetup.Day1.AddDays(1);
        IReadOnlyList<ReportDispatch> sent = await s.Sender.RunAsync();
        Assert.True(sent.Count > 1, "the report should have been split");
        Assert.All(sent, d => Assert.True(d.Bytes <= 4 * 1024, $"{d.Bytes} bytes"));
        Assert.Equal(sent.Count, sent.Select(d => d.ReportId).Distinct().Count());
        await s.F.Queue.RunDueAsync();
        var reports = (await s.InboxAsync()).Select(raw => ReportExtraction.ExtractDmarcReport(MessageStructure.Parse(raw), raw, out _)!).ToList();
        Assert.Equal(sent.Count, reports.Count);
        Assert.Equal(1000, reports.Sum(r => r.Records.Sum(x => x.Count)));
        Assert.All(reports, r => Assert.Empty(Validate(r.ToXml())));

        // A limit that no single row can meet: nothing is sent, nothing breaks.
        await s.Dmarc.AddAsync([Evaluation(ReportSetup.Day1.AddDays(1), "192.0.2.1", true, "v=DMARC1; p=none; rua=mailto:dmarc@example.org!100", "example.org")]);
        s.Clock.Now = ReportSetup.Day1.AddDays(2);
        Assert.StartsWith("skipped: even one row", Assert.Single(await s.Sender.RunAsync()).Status);
    }

    [Fact]
    public async Task HugeVolumeIsCappedToTheLargestGroups()
    {
        await using var s = await ReportSetup.CreateAsync(o => o with { MaxDmarcRecords = 50 });
        const string record = "v=DMARC1; p=none; rua=mailto:dmarc@example.org";
        var list = new List<DmarcEvaluationRecord>();
        for (int i = 0; i < 2000; i++)
            list.Add(Evaluation(ReportSetup.Day1, i < 500 ? "192.0.2.200" : $"10.{i / 65000}.{i / 250 % 250}.{i % 250}", true, record, "example.org"));
        await s.Dmarc.AddAsync(list);
        s.Clock.Now = ReportSetup.Day1.AddDays(1);
        Assert.StartsWith("queued", Assert.Single(await s.Sender.RunAsync()).Status);
        await s.F.Queue.RunDueAsync();
        byte[] raw = Assert.Single(await s.InboxAsync());
        DmarcAggregateReport r = ReportExtraction.ExtractDmarcReport(MessageStructure.Parse(raw), raw, out _)!;
        Assert.Equal(50, r.Records.Count);
        Assert.Equal(500, r.Records[0].Count);
        Assert.Contains("2000 messages", Assert.Single(r.Errors));
        Assert.Empty(Validate(r.ToXml()));
    }

    [Fact]
    public async Task SwitchedOffKeepsEvaluationsOnlyForTheRetentionPeriod()
    {
        await using var s = await ReportSetup.CreateAsync(o => o with { DmarcEnabled = false });
        await s.Dmarc.AddAsync([Evaluation(ReportSetup.Day1, "192.0.2.1", true, "v=DMARC1; p=none; rua=mailto:dmarc@example.org", "example.org")]);
        s.Clock.Now = ReportSetup.Day1.AddDays(2);
        Assert.Empty(await s.Sender.RunAsync());
        Assert.Single(await s.Dmarc.ListAsync(DateTimeOffset.UnixEpoch, s.Clock.Now));
        s.Clock.Now = ReportSetup.Day1.AddDays(8);
        await s.Sender.RunAsync();
        Assert.Empty(await s.Dmarc.ListAsync(DateTimeOffset.UnixEpoch, s.Clock.Now));
    }

    [Theory]
    [InlineData(86400, 24)]
    [InlineData(3600, 1)]
    [InlineData(1, 1)]
    [InlineData(5 * 3600, 6)]
    [InlineData(7 * 3600 + 1, 8)]
    [InlineData(13 * 3600, 24)]
    [InlineData(604800, 24)]
    public void IntervalIsOneToTwentyFourHoursDividingTheDay(long ri, int hours) =>
        Assert.Equal(TimeSpan.FromHours(hours), ReportSender.DmarcInterval(ri));

    [Theory]
    [InlineData("mailto:dmarc@example.org", "dmarc@example.org", null)]
    [InlineData("mailto:dmarc@example.org!10m", "dmarc@example.org", 10L * 1024 * 1024)]
    [InlineData("mailto:d%40x@example.org!50k", "d@x@example.org", 50L * 1024)]
    [InlineData("mailto:dmarc@example.org!200", "dmarc@example.org", 200L)]
    public void RuaWithSizeLimit(string uri, string address, long? max)
    {
        ReportDestination? d = ReportDestination.Parse(uri, allowSizeLimit: true, out string? error);
        Assert.True(d is not null, error);
        Assert.Equal(address, d.MailAddress);
        Assert.Equal(max, d.MaxBytes);
        Assert.Equal("example.org", d.Domain);
    }

    [Theory]
    [InlineData("mailto:dmarc@example.org!10x")]
    [InlineData("mailto:dmarc@example.org!")]
    [InlineData("mailto:")]
    [InlineData("http://example.org/")]
    [InlineData("mailto:a b@example.org")]
    public void BadRuaIsRefused(string uri) => Assert.Null(ReportDestination.Parse(uri, allowSizeLimit: true, out _));

    [Fact]
    public void PeriodsAlignToUtcDays() =>
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 18, 0, 0, TimeSpan.Zero),
            ReportSender.Floor(DateTimeOffset.Parse("2026-03-01T23:59:00+02:00", CultureInfo.InvariantCulture), TimeSpan.FromHours(6)));
}
