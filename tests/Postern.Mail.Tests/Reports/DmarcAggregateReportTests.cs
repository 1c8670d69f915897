using System.IO.Compression;
using System.Text;
using Postern.Mail.Reports;

namespace Postern.Mail.Tests.Reports;

public class DmarcAggregateReportTests
{
    // Shaped like the reports large receivers send (RFC 7489 Appendix C elements).
    internal const string Report = """
        <?xml version="1.0" encoding="UTF-8" ?>
        <feedback>
          <report_metadata>
            <org_name>receiver.example</org_name>
            <email>noreply-dmarc-support@receiver.example</email>
            <extra_contact_info>https://receiver.example/dmarc</extra_contact_info>
            <report_id>12598866915817748661</report_id>
            <date_range><begin>1700006400</begin><end>1700092799</end></date_range>
          </report_metadata>
          <policy_published>
            <domain>example.org</domain><adkim>r</adkim><aspf>r</aspf><p>reject</p><sp>reject</sp><pct>100</pct>
          </policy_published>
          <record>
            <row>
              <source_ip>192.0.2.10</source_ip><count>12</count>
              <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated>
            </row>
            <identifiers><header_from>example.org</header_from></identifiers>
            <auth_results>
              <dkim><domain>example.org</domain><selector>202611e</selector><result>pass</result></dkim>
              <dkim><domain>example.org</domain><selector>202611r</selector><result>pass</result></dkim>
              <spf><domain>example.org</domain><result>pass</result></spf>
            </auth_results>
          </record>
          <record>
            <row>
              <source_ip>2001:db8::66</source_ip><count>3</count>
              <policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf>
                <reason><type>local_policy</type><comment>arc=fail</comment></reason></policy_evaluated>
            </row>
            <identifiers><envelope_from>spammer.example</envelope_from><header_from>example.org</header_from></identifiers>
            <auth_results><spf><domain>spammer.example</domain><scope>mfrom</scope><result>softfail</result></spf></auth_results>
          </record>
        </feedback>
        """;

    [Fact]
    public void A_report_parses_and_round_trips()
    {
        DmarcAggregateReport? r = DmarcAggregateReport.Parse(Encoding.UTF8.GetBytes(Report), out string? error);
        Assert.Null(error);
        Assert.NotNull(r);
        Assert.Equal("receiver.example", r.OrgName);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700006400), r.Begin);
        Assert.Equal("reject", r.Policy.P);
        Assert.Equal(100, r.Policy.Pct);
        Assert.Equal(2, r.Records.Count);
        Assert.Equal(2, r.Records[0].DkimResults.Count);
        Assert.Equal("2001:db8::66", r.Records[1].SourceIp);
        Assert.Equal("local_policy", r.Records[1].Reasons.Single().Type);
        Assert.Equal("mfrom", r.Records[1].SpfResults.Single().Scope);

        DmarcAggregateReport? again = DmarcAggregateReport.Parse(r.ToGzip(), out error);
        Assert.Null(error);
        Assert.Equal(Encoding.UTF8.GetString(r.ToXml()), Encoding.UTF8.GetString(again!.ToXml()));
        Assert.Equal("postern.example!example.org!1700006400!1700092799.xml.gz", r.FileName("postern.example"));
    }

    [Fact]
    public void Namespaced_and_zipped_reports_parse()
    {
        string dmarcbis = Report.Replace("<feedback>", "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">", StringComparison.Ordinal);
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            using Stream s = zip.CreateEntry("receiver.example!example.org!1700006400!1700092799.xml").Open();
            s.Write(Encoding.UTF8.GetBytes(dmarcbis));
        }
        DmarcAggregateReport? r = DmarcAggregateReport.Parse(ms.ToArray(), out string? error);
        Assert.Null(error);
        Assert.Equal(2, r!.Records.Count);
    }

    [Theory]
    [InlineData("<!DOCTYPE feedback [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><feedback>&xxe;</feedback>", "invalid XML")]
    [InlineData("<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><feedback>&lol2;</feedback>", "invalid XML")]
    [InlineData("<report/>", "not <feedback>")]
    [InlineData("<feedback><report_metadata/></feedback>", "required")]
    [InlineData("<feedback><report_metadata><date_range><begin>x</begin><end>1</end></date_range></report_metadata><policy_published/></feedback>", "Unix times")]
    [InlineData("not xml at all", "invalid XML")]
    public void Hostile_and_invalid_reports_are_refused(string xml, string reason)
    {
        Assert.Null(DmarcAggregateReport.Parse(Encoding.UTF8.GetBytes(xml), out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_row_without_source_ip_is_refused()
    {
        string bad = Report.Replace("<source_ip>192.0.2.10</source_ip>", "<source_ip>not-an-ip</source_ip>", StringComparison.Ordinal);
        Assert.Null(DmarcAggregateReport.Parse(Encoding.UTF8.GetBytes(bad), out string? error));
        Assert.Contains("source_ip", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_is_found_in_a_message_attachment()
    {
        DmarcAggregateReport report = DmarcAggregateReport.Parse(Encoding.UTF8.GetBytes(Report), out _)!;
        string b64 = Convert.ToBase64String(report.ToGzip(), Base64FormattingOptions.InsertLineBreaks).Replace("\n", "\r\n", StringComparison.Ordinal);
        string message = "From: noreply-dmarc-support@receiver.example\r\nTo: dmarc-reports@example.org\r\nSubject: Report domain: example.org Submitter: receiver.example Report-ID: 12598866915817748661\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nReport attached.\r\n"
            + "--b\r\nContent-Type: application/octet-stream; name=\"r.xml.gz\"\r\nContent-Disposition: attachment; filename=\"receiver.example!example.org!1700006400!1700092799.xml.gz\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b64 + "\r\n--b--\r\n";
        byte[] raw = Encoding.ASCII.GetBytes(message);
        DmarcAggregateReport? found = ReportExtraction.ExtractDmarcReport(MessageStructure.Parse(raw), raw, out string? error);
        Assert.Null(error);
        Assert.Equal(report.ReportId, found!.ReportId);
    }
}
