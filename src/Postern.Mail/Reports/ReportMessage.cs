// The messages that carry reports Postern sends: a TLS report (RFC 8460 §5.3: multipart/report
// with report-type="tlsrpt", TLS-Report-Domain and TLS-Report-Submitter header fields, the gzip
// JSON as application/tlsrpt+gzip named sender!policy-domain!begin!end.json.gz) and a DMARC
// aggregate report (RFC 7489 §7.2.1.1: the gzip XML as application/gzip named
// receiver!policy-domain!begin!end.xml.gz, Subject "Report Domain: ... Submitter: ...
// Report-ID: ..."). Both are 7-bit: a short text part and the attachment in base64.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Postern.Mail.Reports;

/// <summary>Builds the messages that carry outgoing TLS and DMARC aggregate reports.</summary>
public static class ReportMessage
{
    /// <summary>The TLS report message of RFC 8460 §5.3 (CRLF lines, 7-bit).</summary>
    /// <param name="report">The report.</param>
    /// <param name="from">The From address (the report's contact).</param>
    /// <param name="to">The rua mail address.</param>
    /// <param name="submitter">Our host name (TLS-Report-Submitter, first part of the file name).</param>
    /// <param name="policyDomain">The domain reported about.</param>
    /// <param name="date">The Date of the message.</param>
    public static byte[] BuildTlsReport(TlsReport report, string from, string to, string submitter, string policyDomain, DateTimeOffset date)
    {
        ArgumentNullException.ThrowIfNull(report);
        string begin = report.DateRange.Start.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        string end = report.DateRange.End.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        // RFC 8460 §5.3: filename = sender "!" policy-domain "!" begin-timestamp "!" end-timestamp [ "!" unique-id ] "." extension
        string fileName = $"{submitter}!{policyDomain}!{begin}!{end}.json.gz";
        var headers = new List<(string, string)>
        {
            ("TLS-Report-Domain", policyDomain),
            ("TLS-Report-Submitter", submitter),
            // RFC 8460 §5.3.1: reports are delivered despite TLS failures; RFC 8689 §5 is how the
            // queue is told to ignore MTA-STS/DANE verification failures for this message.
            ("TLS-Required", "No"),
        };
        string text = $"This is an aggregate TLS report (RFC 8460) from {submitter} about {policyDomain}\r\n"
            + $"for {report.DateRange.Start.UtcDateTime:yyyy-MM-dd HH:mm:ss} to {report.DateRange.End.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC.\r\n";
        return Build(from, to, Subject(policyDomain, submitter, report.ReportId), date, submitter, headers,
            "multipart/report; report-type=\"tlsrpt\"", text, "application/tlsrpt+gzip", fileName, report.ToGzip());
    }

    /// <summary>The DMARC aggregate report message of RFC 7489 §7.2.1.1 (CRLF lines, 7-bit).</summary>
    /// <param name="gzippedXml">The report as <see cref="DmarcAggregateReport.ToGzip"/> gives it.</param>
    /// <param name="report">The report (for its names and dates).</param>
    /// <param name="from">The From address.</param>
    /// <param name="to">The rua mail address.</param>
    /// <param name="receiverDomain">Our domain (Submitter, first part of the file name).</param>
    /// <param name="date">The Date of the message.</param>
    /// <param name="uniqueId">A part of the file name that tells split reports of one period apart, or null.</param>
    public static byte[] BuildDmarcReport(byte[] gzippedXml, DmarcAggregateReport report, string from, string to, string receiverDomain, DateTimeOffset date,
        string? uniqueId = null)
    {
        ArgumentNullException.ThrowIfNull(gzippedXml);
        ArgumentNullException.ThrowIfNull(report);
        string fileName = uniqueId is null ? report.FileName(receiverDomain)
            : $"{receiverDomain}!{report.Policy.Domain}!{report.Begin.ToUnixTimeSeconds()}!{report.End.ToUnixTimeSeconds()}!{uniqueId}.xml.gz";
        string text = $"This is a DMARC aggregate report (RFC 7489) from {report.OrgName} about {report.Policy.Domain}\r\n"
            + $"for {report.Begin.UtcDateTime:yyyy-MM-dd HH:mm:ss} to {report.End.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC.\r\n";
        return Build(from, to, Subject(report.Policy.Domain, receiverDomain, report.ReportId), date, receiverDomain, [],
            "multipart/mixed", text, "application/gzip", fileName, gzippedXml);
    }

    /// <summary>RFC 7489 §7.2.1.1 and RFC 8460 §5.3: "Report Domain: D Submitter: S Report-ID: &lt;ID&gt;", folded.</summary>
    private static string Subject(string domain, string submitter, string reportId) =>
        $"Report Domain: {domain}\r\n Submitter: {submitter}\r\n Report-ID: <{Token(reportId)}>";

    /// <summary>Keeps report ids and names to printable ASCII without spaces, so header fields stay well formed.</summary>
    private static string Token(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
            sb.Append(c is > ' ' and < (char)0x7f and not ('<' or '>' or '"' or '\\') ? c : '_');
        return sb.ToString();
    }

    private static byte[] Build(string from, string to, string subject, DateTimeOffset date, string host, List<(string, string)> extra,
        string contentType, string text, string attachmentType, string fileName, byte[] attachment)
    {
        foreach (string s in new[] { from, to, host })
        {
            if (s.Any(c => c < 0x21 || c >= 0x7f))
                throw new ArgumentException($"\"{s}\" cannot appear in a report message header", nameof(from));
        }
        string boundary = "=_report_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var sb = new StringBuilder(attachment.Length * 4 / 3 + 2048);
        sb.Append("From: <").Append(from).Append(">\r\n");
        sb.Append("To: <").Append(to).Append(">\r\n");
        sb.Append("Date: ").Append(MailDate.Format(date)).Append("\r\n");
        sb.Append("Subject: ").Append(subject).Append("\r\n");
        sb.Append("Message-ID: <").Append(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12))).Append("@").Append(host).Append(">\r\n");
        foreach (var (name, value) in extra) sb.Append(name).Append(": ").Append(Token(value)).Append("\r\n");
        sb.Append("MIME-Version: 1.0\r\n");
        sb.Append("Content-Type: ").Append(contentType).Append(";\r\n boundary=\"").Append(boundary).Append("\"\r\n");
        sb.Append("\r\n");
        sb.Append("This is a multipart message in MIME format.\r\n\r\n");
        sb.Append("--").Append(boundary).Append("\r\n");
        sb.Append("Content-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
        sb.Append(Ascii(text)).Append("\r\n");
        sb.Append("--").Append(boundary).Append("\r\n");
        sb.Append("Content-Type: ").Append(attachmentType).Append(";\r\n name=\"").Append(Token(fileName)).Append("\"\r\n");
        sb.Append("Content-Transfer-Encoding: base64\r\n");
        sb.Append("Content-Disposition: attachment;\r\n filename=\"").Append(Token(fileName)).Append("\"\r\n\r\n");
        string b64 = Convert.ToBase64String(attachment);
        for (int i = 0; i < b64.Length; i += 76)
            sb.Append(b64, i, Math.Min(76, b64.Length - i)).Append("\r\n");
        sb.Append("--").Append(boundary).Append("--\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    private static string Ascii(string s) => new([.. s.Select(c => c is '\r' or '\n' || (c >= ' ' && c < (char)0x7f) ? c : '?')]);
}
