using System.IO.Compression;
using System.Text;
using Postern.Mail.Reports;

namespace Postern.Mail.Tests.Reports;

public class TlsReportTests
{
    // Shaped like RFC 8460 §4.5's example: one STS policy with failures.
    internal const string Example = """
        {
          "organization-name": "Company-X",
          "date-range": { "start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z" },
          "contact-info": "sts-reporting@company-x.example",
          "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
          "policies": [{
            "policy": {
              "policy-type": "sts",
              "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"],
              "policy-domain": "company-y.example",
              "mx-host": ["*.mail.company-y.example"]
            },
            "summary": { "total-successful-session-count": 5326, "total-failure-session-count": 303 },
            "failure-details": [{
              "result-type": "certificate-expired",
              "sending-mta-ip": "2001:db8:abcd:0012::1",
              "receiving-mx-hostname": "mx1.mail.company-y.example",
              "failed-session-count": 100
            }, {
              "result-type": "starttls-not-supported",
              "sending-mta-ip": "2001:db8:abcd:0013::1",
              "receiving-mx-hostname": "mx2.mail.company-y.example",
              "receiving-ip": "203.0.113.56",
              "failed-session-count": 200,
              "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
            }, {
              "result-type": "validation-failure",
              "sending-mta-ip": "198.51.100.62",
              "receiving-ip": "203.0.113.58",
              "receiving-mx-hostname": "mx-backup.mail.company-y.example",
              "failed-session-count": 3,
              "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"
            }]
          }]
        }
        """;

    [Fact]
    public void Example_report_parses_and_round_trips()
    {
        TlsReport? r = TlsReport.Parse(Encoding.UTF8.GetBytes(Example), out string? error);
        Assert.Null(error);
        Assert.NotNull(r);
        Assert.Equal("Company-X", r.OrganizationName);
        Assert.Equal(new DateTimeOffset(2016, 4, 1, 0, 0, 0, TimeSpan.Zero), r.DateRange.Start);
        TlsReportPolicyResult p = Assert.Single(r.Policies);
        Assert.Equal(TlsReportPolicy.Sts, p.Policy.PolicyType);
        Assert.Equal(303, p.Summary.TotalFailureSessionCount);
        Assert.Equal(3, p.FailureDetails!.Count);
        Assert.All(p.FailureDetails, f => Assert.Contains(f.ResultType, TlsReportFailure.ResultTypes));
        Assert.Equal("X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED", p.FailureDetails[2].FailureReasonCode);

        TlsReport? again = TlsReport.ParseMaybeGzip(r.ToGzip(), out error);
        Assert.Null(error);
        Assert.Equal(Encoding.UTF8.GetString(r.ToJson()), Encoding.UTF8.GetString(again!.ToJson()));
        Assert.DoesNotContain("failure-reason-code\":null", Encoding.UTF8.GetString(r.ToJson()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json", "invalid JSON")]
    [InlineData("{}", "required")]
    [InlineData("""{"organization-name":"x","report-id":"1","date-range":{"start-datetime":"2020-01-02T00:00:00Z","end-datetime":"2020-01-01T00:00:00Z"},"contact-info":"","policies":[]}""", "inverted")]
    [InlineData("""{"organization-name":"x","report-id":"1","date-range":{"start-datetime":"2020-01-01T00:00:00Z","end-datetime":"2020-01-02T00:00:00Z"},"policies":[{}]}""", "required")]
    [InlineData("""{"organization-name":"x","report-id":"1","policies":[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]}""", "invalid JSON")]
    public void Invalid_reports_are_refused_with_a_reason(string json, string reason)
    {
        Assert.Null(TlsReport.Parse(Encoding.UTF8.GetBytes(json), out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_gzip_bomb_is_refused()
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            byte[] zeros = new byte[1024 * 1024];
            for (int i = 0; i < 20; i++) gz.Write(zeros);
        }
        Assert.Null(TlsReport.ParseMaybeGzip(ms.ToArray(), out string? error));
        Assert.Contains("larger than", error, StringComparison.Ordinal);
        Assert.Null(TlsReport.ParseMaybeGzip([0x1f, 0x8b, 1, 2, 3], out error));
        Assert.NotNull(error);
    }

    [Theory]
    [InlineData("v=TLSRPTv1; rua=mailto:tlsrpt@example.org", 1)]
    [InlineData("v=TLSRPTv1;rua=mailto:a@example.org,https://reports.example.org/v1/tlsrpt;", 2)]
    [InlineData("v=TLSRPTv1; ext=1; rua=mailto:a@example.org", 1)]
    public void Valid_tlsrpt_records(string text, int count) => Assert.Equal(count, TlsRptRecord.Parse(text, out _)!.ReportUris.Count);

    [Theory]
    [InlineData("v=TLSRPTv2; rua=mailto:a@example.org", "v=TLSRPTv1")]
    [InlineData("v=TLSRPTv1", "no rua")]
    [InlineData("v=TLSRPTv1; rua=http://example.org/", "mailto: or https:")]
    [InlineData("v=TLSRPTv1; rua=mailto:a@example.org; rua=mailto:b@example.org", "twice")]
    public void Invalid_tlsrpt_records(string text, string reason)
    {
        Assert.Null(TlsRptRecord.Parse(text, out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_is_found_in_a_report_message()
    {
        TlsReport report = TlsReport.Parse(Encoding.UTF8.GetBytes(Example), out _)!;
        string b64 = Convert.ToBase64String(report.ToGzip(), Base64FormattingOptions.InsertLineBreaks);
        string message = "From: reports@company-x.example\r\nTo: tlsrpt@company-y.example\r\nSubject: Report Domain: company-y.example Submitter: company-x.example Report-ID: <5065427c>\r\n"
            + "TLS-Report-Domain: company-y.example\r\nTLS-Report-Submitter: company-x.example\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"b\"\r\n\r\n"
            + "--b\r\nContent-Type: text/plain\r\n\r\nThis is a TLS report.\r\n"
            + "--b\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"company-x.example!company-y.example!1459468800!1459555199.json.gz\"\r\n\r\n"
            + b64.Replace("\n", "\r\n", StringComparison.Ordinal) + "\r\n--b--\r\n";
        byte[] raw = Encoding.ASCII.GetBytes(message);
        TlsReport? found = ReportExtraction.ExtractTlsReport(MessageStructure.Parse(raw), raw, out string? error);
        Assert.Null(error);
        Assert.Equal(report.ReportId, found!.ReportId);

        byte[] plain = Encoding.ASCII.GetBytes("Subject: hi\r\n\r\nno report\r\n");
        Assert.Null(ReportExtraction.ExtractTlsReport(MessageStructure.Parse(plain), plain, out error));
        Assert.Contains("no application/tlsrpt", error, StringComparison.Ordinal);
    }
}
