using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace Postern.Mail.Reports;

// DMARC aggregate reports (RFC 7489 §7.2 and Appendix C): the XML a receiver sends to a
// domain's rua address, one <record> per source IP and result combination. Reports arrive
// from anyone, so parsing is bounded: no DTDs or external entities, a size limit before and
// after decompression (gzip or zip), and a cap on records.

/// <summary>An RFC 7489 aggregate report.</summary>
public sealed record DmarcAggregateReport
{
    /// <summary>The reporting organisation.</summary>
    public string OrgName { get; init; } = "";
    /// <summary>The reporter's contact address.</summary>
    public string Email { get; init; } = "";
    /// <summary>Extra contact details.</summary>
    public string? ExtraContactInfo { get; init; }
    /// <summary>The report's id, unique per reporter.</summary>
    public string ReportId { get; init; } = "";
    /// <summary>Start of the period.</summary>
    public DateTimeOffset Begin { get; init; }
    /// <summary>End of the period.</summary>
    public DateTimeOffset End { get; init; }
    /// <summary>Errors the reporter noted.</summary>
    public IReadOnlyList<string> Errors { get; init; } = [];
    /// <summary>The DMARC record the reporter found for the domain.</summary>
    public DmarcPublishedPolicy Policy { get; init; } = new();
    /// <summary>The rows.</summary>
    public IReadOnlyList<DmarcReportRecord> Records { get; init; } = [];

    /// <summary>Largest report XML accepted, after decompression.</summary>
    public const int MaxXmlSize = 32 * 1024 * 1024;
    /// <summary>Most records accepted in one report.</summary>
    public const int MaxRecords = 100_000;

    /// <summary>Parses report XML, or gzip/zip-compressed XML; null with an error when it is not a valid report.</summary>
    public static DmarcAggregateReport? Parse(ReadOnlySpan<byte> data, out string? error)
    {
        byte[]? xml = Decompress(data, out error);
        if (xml is null)
            return null;
        XDocument doc;
        try
        {
            var settings = new XmlReaderSettings
            {
                DtdProcessing = DtdProcessing.Prohibit,
                XmlResolver = null,
                MaxCharactersInDocument = MaxXmlSize,
                IgnoreComments = true,
                IgnoreProcessingInstructions = true,
            };
            using var reader = XmlReader.Create(new MemoryStream(xml), settings);
            doc = XDocument.Load(reader);
        }
        catch (XmlException ex)
        {
            error = "invalid XML: " + ex.Message;
            return null;
        }
        XElement? feedback = doc.Root;
        if (feedback is null || feedback.Name.LocalName != "feedback")
        {
            error = "the root element is not <feedback>";
            return null;
        }
        // DMARCbis reports put elements in a namespace; RFC 7489 ones do not: match local names.
        XElement? meta = Child(feedback, "report_metadata");
        XElement? published = Child(feedback, "policy_published");
        XElement? range = meta is null ? null : Child(meta, "date_range");
        if (meta is null || published is null || range is null)
        {
            error = "report_metadata, date_range and policy_published are required";
            return null;
        }
        if (!TryUnixTime(Text(range, "begin"), out DateTimeOffset begin) || !TryUnixTime(Text(range, "end"), out DateTimeOffset end) || end < begin)
        {
            error = "date_range begin/end must be Unix times, end not before begin";
            return null;
        }
        var records = new List<DmarcReportRecord>();
        foreach (XElement r in Children(feedback, "record"))
        {
            if (records.Count == MaxRecords)
            {
                error = $"more than {MaxRecords} records";
                return null;
            }
            DmarcReportRecord? record = ParseRecord(r, out error);
            if (record is null)
                return null;
            records.Add(record);
        }
        var report = new DmarcAggregateReport
        {
            OrgName = Text(meta, "org_name") ?? "",
            Email = Text(meta, "email") ?? "",
            ExtraContactInfo = Text(meta, "extra_contact_info"),
            ReportId = Text(meta, "report_id") ?? "",
            Begin = begin,
            End = end,
            Errors = [.. Children(meta, "error").Select(e => e.Value.Trim())],
            Policy = new DmarcPublishedPolicy
            {
                Domain = Text(published, "domain") ?? "",
                Adkim = Text(published, "adkim"),
                Aspf = Text(published, "aspf"),
                P = Text(published, "p") ?? "",
                Sp = Text(published, "sp"),
                Pct = int.TryParse(Text(published, "pct"), NumberStyles.None, CultureInfo.InvariantCulture, out int pct) ? pct : null,
                Fo = Text(published, "fo"),
            },
            Records = records,
        };
        if (report.OrgName.Length == 0 || report.ReportId.Length == 0 || report.Policy.Domain.Length == 0)
        {
            error = "org_name, report_id and policy_published/domain are required";
            return null;
        }
        error = null;
        return report;
    }

    private static DmarcReportRecord? ParseRecord(XElement r, out string? error)
    {
        error = null;
        XElement? row = Child(r, "row");
        XElement? ids = Child(r, "identifiers");
        XElement? evaluated = row is null ? null : Child(row, "policy_evaluated");
        if (row is null || ids is null || evaluated is null)
        {
            error = "each record needs row, policy_evaluated and identifiers";
            return null;
        }
        if (!long.TryParse(Text(row, "count"), NumberStyles.None, CultureInfo.InvariantCulture, out long count)
            || !System.Net.IPAddress.TryParse(Text(row, "source_ip"), out System.Net.IPAddress? ip))
        {
            error = "each row needs a source_ip and a count";
            return null;
        }
        XElement? auth = Child(r, "auth_results");
        return new DmarcReportRecord
        {
            SourceIp = ip.ToString(),
            Count = count,
            Disposition = Text(evaluated, "disposition") ?? "",
            Dkim = Text(evaluated, "dkim") ?? "",
            Spf = Text(evaluated, "spf") ?? "",
            Reasons = [.. Children(evaluated, "reason").Select(x => new DmarcPolicyOverride(Text(x, "type") ?? "", Text(x, "comment")))],
            EnvelopeTo = Text(ids, "envelope_to"),
            EnvelopeFrom = Text(ids, "envelope_from"),
            HeaderFrom = Text(ids, "header_from") ?? "",
            DkimResults = auth is null ? [] : [.. Children(auth, "dkim").Select(d => new DmarcDkimAuthResult(Text(d, "domain") ?? "", Text(d, "selector"), Text(d, "result") ?? "", Text(d, "human_result")))],
            SpfResults = auth is null ? [] : [.. Children(auth, "spf").Select(s => new DmarcSpfAuthResult(Text(s, "domain") ?? "", Text(s, "scope"), Text(s, "result") ?? ""))],
        };
    }

    /// <summary>The report as XML (RFC 7489 Appendix C element names, no namespace).</summary>
    public byte[] ToXml()
    {
        static XElement? Opt(string name, string? value) => value is null ? null : new XElement(name, value);
        var doc = new XDocument(new XDeclaration("1.0", "UTF-8", null),
            new XElement("feedback",
                new XElement("version", "1.0"),
                new XElement("report_metadata",
                    new XElement("org_name", OrgName),
                    new XElement("email", Email),
                    Opt("extra_contact_info", ExtraContactInfo),
                    new XElement("report_id", ReportId),
                    new XElement("date_range",
                        new XElement("begin", Begin.ToUnixTimeSeconds()),
                        new XElement("end", End.ToUnixTimeSeconds())),
                    Errors.Select(e => new XElement("error", e))),
                new XElement("policy_published",
                    new XElement("domain", Policy.Domain),
                    Opt("adkim", Policy.Adkim),
                    Opt("aspf", Policy.Aspf),
                    new XElement("p", Policy.P),
                    Opt("sp", Policy.Sp),
                    Policy.Pct is { } pct ? new XElement("pct", pct) : null,
                    Opt("fo", Policy.Fo)),
                Records.Select(r => new XElement("record",
                    new XElement("row",
                        new XElement("source_ip", r.SourceIp),
                        new XElement("count", r.Count),
                        new XElement("policy_evaluated",
                            new XElement("disposition", r.Disposition),
                            new XElement("dkim", r.Dkim),
                            new XElement("spf", r.Spf),
                            r.Reasons.Select(x => new XElement("reason", new XElement("type", x.Type), Opt("comment", x.Comment))))),
                    new XElement("identifiers",
                        Opt("envelope_to", r.EnvelopeTo),
                        Opt("envelope_from", r.EnvelopeFrom),
                        new XElement("header_from", r.HeaderFrom)),
                    new XElement("auth_results",
                        r.DkimResults.Select(d => new XElement("dkim", new XElement("domain", d.Domain), Opt("selector", d.Selector), new XElement("result", d.Result), Opt("human_result", d.HumanResult))),
                        r.SpfResults.Select(s => new XElement("spf", new XElement("domain", s.Domain), Opt("scope", s.Scope), new XElement("result", s.Result))))))));
        using var ms = new MemoryStream();
        using (var writer = XmlWriter.Create(ms, new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = true }))
            doc.Save(writer);
        return ms.ToArray();
    }

    /// <summary>The report as gzip-compressed XML, as attached to report messages (RFC 7489 §7.2.1.1).</summary>
    public byte[] ToGzip()
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
            gz.Write(ToXml());
        return output.ToArray();
    }

    /// <summary>The attachment file name RFC 7489 §7.2.1.1 asks for: receiver!policy-domain!begin!end.xml.gz.</summary>
    public string FileName(string receiverDomain) =>
        $"{receiverDomain}!{Policy.Domain}!{Begin.ToUnixTimeSeconds()}!{End.ToUnixTimeSeconds()}.xml.gz";

    private static byte[]? Decompress(ReadOnlySpan<byte> data, out string? error)
    {
        error = null;
        if (data.Length >= 2 && data[0] == 0x1f && data[1] == 0x8b)
            return BoundedDecompression.Gunzip(data.ToArray(), MaxXmlSize, out error);
        if (data.Length >= 4 && data[0] == (byte)'P' && data[1] == (byte)'K' && data[2] == 3 && data[3] == 4)
            return BoundedDecompression.UnzipFirstXml(data.ToArray(), MaxXmlSize, out error);
        if (data.Length > MaxXmlSize)
        {
            error = $"report larger than {MaxXmlSize} bytes";
            return null;
        }
        return data.ToArray();
    }

    private static XElement? Child(XElement e, string name) => e.Elements().FirstOrDefault(c => c.Name.LocalName == name);

    private static IEnumerable<XElement> Children(XElement e, string name) => e.Elements().Where(c => c.Name.LocalName == name);

    private static string? Text(XElement e, string name) => Child(e, name)?.Value.Trim() is { Length: > 0 } v ? v : null;

    private static bool TryUnixTime(string? text, out DateTimeOffset time)
    {
        time = default;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) || seconds > 253402300799)
            return false;
        time = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }
}

/// <summary>The DMARC record as the reporter saw it.</summary>
public sealed record DmarcPublishedPolicy
{
    /// <summary>The domain.</summary>
    public string Domain { get; init; } = "";
    /// <summary>DKIM alignment, r or s.</summary>
    public string? Adkim { get; init; }
    /// <summary>SPF alignment, r or s.</summary>
    public string? Aspf { get; init; }
    /// <summary>The policy: none, quarantine or reject.</summary>
    public string P { get; init; } = "";
    /// <summary>The subdomain policy.</summary>
    public string? Sp { get; init; }
    /// <summary>The percentage the policy applies to.</summary>
    public int? Pct { get; init; }
    /// <summary>Failure reporting options.</summary>
    public string? Fo { get; init; }
}

/// <summary>One row: messages from one IP with the same results.</summary>
public sealed record DmarcReportRecord
{
    /// <summary>The sending IP.</summary>
    public string SourceIp { get; init; } = "";
    /// <summary>How many messages.</summary>
    public long Count { get; init; }
    /// <summary>What the receiver did: none, quarantine, reject.</summary>
    public string Disposition { get; init; } = "";
    /// <summary>DMARC's DKIM verdict: pass or fail (aligned pass or not).</summary>
    public string Dkim { get; init; } = "";
    /// <summary>DMARC's SPF verdict: pass or fail.</summary>
    public string Spf { get; init; } = "";
    /// <summary>Why the policy was not applied as published.</summary>
    public IReadOnlyList<DmarcPolicyOverride> Reasons { get; init; } = [];
    /// <summary>The envelope recipient domain.</summary>
    public string? EnvelopeTo { get; init; }
    /// <summary>The envelope sender domain.</summary>
    public string? EnvelopeFrom { get; init; }
    /// <summary>The From header domain.</summary>
    public string HeaderFrom { get; init; } = "";
    /// <summary>DKIM signatures checked.</summary>
    public IReadOnlyList<DmarcDkimAuthResult> DkimResults { get; init; } = [];
    /// <summary>SPF checks made.</summary>
    public IReadOnlyList<DmarcSpfAuthResult> SpfResults { get; init; } = [];
}

/// <summary>A policy override reason (forwarded, local_policy, mailing_list…) with a comment.</summary>
public sealed record DmarcPolicyOverride(string Type, string? Comment);

/// <summary>One DKIM signature's result.</summary>
public sealed record DmarcDkimAuthResult(string Domain, string? Selector, string Result, string? HumanResult);

/// <summary>One SPF check's result.</summary>
public sealed record DmarcSpfAuthResult(string Domain, string? Scope, string Result);
