// `postern dmarc reports` and `postern tlsrpt reports`: the DMARC aggregate and TLS reports other
// organisations sent to this server's reporting addresses (DATA/reports.db). They read the
// database read-only, so they work while the server runs; a report is stored a moment after its
// message is delivered.
using System.CommandLine;
using System.Globalization;
using System.Text;
using Postern.Mail.Reports;
using Postern.Store.Reports;

namespace Postern.Cli;

/// <summary>Commands listing received reports.</summary>
internal static class IncomingReportCommands
{
    /// <summary><c>postern dmarc reports</c>.</summary>
    public static Command DmarcReportsCommand()
    {
        var dir = CliCommon.DataDirectoryOption();
        var domain = new Option<string?>("--domain") { Description = "Only reports about this domain (the report's policy domain).", HelpName = "DOMAIN" };
        var days = DaysOption();
        var limit = LimitOption();
        var rows = new Option<bool>("--rows") { Description = "Also print each report's rows (source IP, count, disposition, DKIM/SPF results)." };
        var top = new Option<int>("--top") { Description = "Source IPs in the summary's top list.", DefaultValueFactory = _ => IncomingReportQueries.DefaultTopSources, HelpName = "N" };
        var cmd = new Command("reports", "List the DMARC aggregate reports received at the reporting addresses, newest first, and summarise them.")
        {
            dir, domain, days, limit, rows, top,
        };
        cmd.SetAction(parse =>
        {
            string data = parse.GetValue(dir)!;
            if (Check(data, parse.GetValue(days), parse.GetValue(limit)) is { } bad)
                return bad;
            if (parse.GetValue(top) < 0)
                return CliCommon.Fail("--top cannot be negative");
            DateTimeOffset since = Since(parse.GetValue(days));
            string? d = parse.GetValue(domain);
            IReadOnlyList<StoredDmarcReport> reports;
            DmarcReportSummary summary;
            var o = new StringBuilder();
            try
            {
                reports = IncomingReportQueries.DmarcReports(data, d, since, parse.GetValue(limit));
                summary = IncomingReportQueries.SummariseDmarc(data, d, since, parse.GetValue(top));
                foreach (StoredDmarcReport r in reports)
                {
                    o.Append(FormatDmarcReport(r)).Append('\n');
                    if (parse.GetValue(rows))
                    {
                        foreach (DmarcReportRecord row in IncomingReportQueries.DmarcRows(data, r.Key))
                            o.Append("    ").Append(FormatDmarcRow(row)).Append('\n');
                    }
                }
            }
            catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or Store.StoreException)
            {
                return CliCommon.Fail($"cannot read {ReportsSchema.FileName}: {e.Message}");
            }
            if (reports.Count == 0)
                o.Append(CultureInfo.InvariantCulture, $"No DMARC reports{(d is null ? "" : " about " + d)} in the last {parse.GetValue(days)} days.\n");
            else
                o.Append(FormatDmarcSummary(summary, parse.GetValue(days), d));
            Console.Out.Write(o.ToString());
            return CliCommon.ExitOk;
        });
        return cmd;
    }

    /// <summary><c>postern tlsrpt ...</c>.</summary>
    public static Command CreateTlsRpt()
    {
        var tlsrpt = new Command("tlsrpt", "SMTP TLS reporting (RFC 8460).");
        tlsrpt.Subcommands.Add(TlsReportsCommand());
        return tlsrpt;
    }

    private static Command TlsReportsCommand()
    {
        var dir = CliCommon.DataDirectoryOption();
        var domain = new Option<string?>("--domain") { Description = "Only policies of this domain.", HelpName = "DOMAIN" };
        var days = DaysOption();
        var limit = LimitOption();
        var cmd = new Command("reports", "List the TLS reports received at the reporting addresses, newest first: sessions per policy and the failures.")
        {
            dir, domain, days, limit,
        };
        cmd.SetAction(parse =>
        {
            string data = parse.GetValue(dir)!;
            if (Check(data, parse.GetValue(days), parse.GetValue(limit)) is { } bad)
                return bad;
            string? d = parse.GetValue(domain);
            IReadOnlyList<StoredTlsReport> reports;
            try
            {
                reports = IncomingReportQueries.TlsReports(data, d, Since(parse.GetValue(days)), parse.GetValue(limit));
            }
            catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or Store.StoreException)
            {
                return CliCommon.Fail($"cannot read {ReportsSchema.FileName}: {e.Message}");
            }
            var o = new StringBuilder();
            foreach (StoredTlsReport r in reports)
                o.Append(FormatTlsReport(r));
            if (reports.Count == 0)
                o.Append(CultureInfo.InvariantCulture, $"No TLS reports{(d is null ? "" : " about " + d)} in the last {parse.GetValue(days)} days.\n");
            else
                o.Append(CultureInfo.InvariantCulture, $"{reports.Count} reports: {reports.Sum(r => r.Policies.Sum(p => p.SuccessCount))} successful sessions, {reports.Sum(r => r.Policies.Sum(p => p.FailureCount))} failed\n");
            Console.Out.Write(o.ToString());
            return CliCommon.ExitOk;
        });
        return cmd;
    }

    private static Option<int> DaysOption() =>
        new("--days") { Description = "Reports whose period ended in the last N days.", DefaultValueFactory = _ => 30, HelpName = "N" };

    private static Option<int> LimitOption() =>
        new("--limit") { Description = "List at most this many reports.", DefaultValueFactory = _ => 100, HelpName = "N" };

    private static int? Check(string data, int days, int limit)
    {
        if (days < 1)
            return CliCommon.Fail("--days must be at least 1");
        if (limit < 1)
            return CliCommon.Fail("--limit must be at least 1");
        if (!ReportsSchema.Exists(data))
            return CliCommon.Fail($"no reports in {data} ({ReportsSchema.FileName} is created by `postern serve`; use --dir with the server's data folder)");
        return null;
    }

    private static DateTimeOffset Since(int days) => DateTimeOffset.UtcNow.AddDays(-days);

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>One line per report: period, reporter, id, domain, policy, counts, where it arrived.</summary>
    internal static string FormatDmarcReport(StoredDmarcReport r) => string.Create(CultureInfo.InvariantCulture,
        $"{Time(r.Begin)}..{Time(r.End)} {S(r.PolicyDomain)} org={S(r.OrgName)} id={S(r.ReportId)} p={S(r.Policy)} messages={r.Messages} rows={r.Rows} rcpt={S(r.Recipient)} received={Time(r.Received)}");

    internal static string FormatDmarcRow(DmarcReportRecord row)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{row.SourceIp} count={row.Count} dis={S(row.Disposition)} dkim={S(row.Dkim)} spf={S(row.Spf)} header-from={S(row.HeaderFrom)}");
        if (row.EnvelopeFrom is { } ef) sb.Append(" envelope-from=").Append(S(ef));
        foreach (DmarcDkimAuthResult k in row.DkimResults)
            sb.Append(" dkim-auth=").Append(S(k.Result)).Append('(').Append(S(k.Domain)).Append(k.Selector is null ? "" : "/" + S(k.Selector)).Append(')');
        foreach (DmarcSpfAuthResult s in row.SpfResults)
            sb.Append(" spf-auth=").Append(S(s.Result)).Append('(').Append(S(s.Domain)).Append(s.Scope is null ? "" : "," + S(s.Scope)).Append(')');
        foreach (DmarcPolicyOverride x in row.Reasons)
            sb.Append(" override=").Append(S(x.Type));
        return sb.ToString();
    }

    internal static string FormatDmarcSummary(DmarcReportSummary s, int days, string? domain)
    {
        static string Pct(long n, long total) => total == 0 ? "-" : (100.0 * n / total).ToString("0.0", CultureInfo.InvariantCulture) + "%";
        var o = new StringBuilder();
        o.Append(CultureInfo.InvariantCulture, $"\nSummary of {s.Reports} reports{(domain is null ? "" : " about " + domain)} (last {days} days): {s.Messages} messages\n");
        o.Append("  disposition: ").Append(string.Join(", ", s.ByDisposition.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{S(kv.Key)} {kv.Value}")))).Append('\n');
        o.Append(CultureInfo.InvariantCulture, $"  DMARC pass {s.DmarcPass} ({Pct(s.DmarcPass, s.Messages)}), fail {s.Messages - s.DmarcPass}\n");
        o.Append(CultureInfo.InvariantCulture, $"  DKIM aligned pass {s.DkimPass} ({Pct(s.DkimPass, s.Messages)}), fail {s.Messages - s.DkimPass}\n");
        o.Append(CultureInfo.InvariantCulture, $"  SPF aligned pass {s.SpfPass} ({Pct(s.SpfPass, s.Messages)}), fail {s.Messages - s.SpfPass}\n");
        if (s.TopSources.Count > 0)
        {
            o.Append("  top source IPs:\n");
            foreach (DmarcSourceSummary ip in s.TopSources)
                o.Append(CultureInfo.InvariantCulture, $"    {ip.SourceIp,-39} messages={ip.Messages} pass={ip.DmarcPass} fail={ip.Messages - ip.DmarcPass} header-from={S(string.Join(",", ip.HeaderFromDomains))}\n");
        }
        return o.ToString();
    }

    internal static string FormatTlsReport(StoredTlsReport r)
    {
        var o = new StringBuilder();
        o.Append(CultureInfo.InvariantCulture, $"{Time(r.Start)}..{Time(r.End)} org={S(r.OrgName)} id={S(r.ReportId)} successful={r.Policies.Sum(p => p.SuccessCount)} failed={r.Policies.Sum(p => p.FailureCount)} rcpt={S(r.Recipient)} received={Time(r.Received)}");
        if (r.ContactInfo.Length > 0) o.Append(" contact=").Append(S(r.ContactInfo));
        o.Append('\n');
        foreach (StoredTlsReportPolicy p in r.Policies)
        {
            o.Append(CultureInfo.InvariantCulture, $"  policy {S(p.PolicyType)} {S(p.PolicyDomain)} successful={p.SuccessCount} failed={p.FailureCount}");
            if (p.MxHost.Count > 0) o.Append(" mx=").Append(S(string.Join(",", p.MxHost)));
            o.Append('\n');
            foreach (TlsReportFailure f in p.Failures)
            {
                o.Append(CultureInfo.InvariantCulture, $"    failure {S(f.ResultType)} sessions={f.FailedSessionCount}");
                if (f.ReceivingMxHostname is { } mx) o.Append(" mx=").Append(S(mx));
                if (f.ReceivingIp is { } rip) o.Append(" receiving-ip=").Append(S(rip));
                if (f.SendingMtaIp is { } sip) o.Append(" sending-ip=").Append(S(sip));
                if (f.ReceivingMxHelo is { } helo) o.Append(" helo=").Append(S(helo));
                if (f.FailureReasonCode is { } code) o.Append(" code=\"").Append(Clean(code)).Append('"');
                if (f.AdditionalInformation is { } info) o.Append(" info=\"").Append(Clean(info)).Append('"');
                o.Append('\n');
            }
        }
        return o.ToString();
    }

    /// <summary>A value from a report (they come from anyone): control characters and spaces shown as '?', at most 200 characters.</summary>
    private static string S(string? s)
    {
        if (string.IsNullOrEmpty(s)) return "-";
        var sb = new StringBuilder(Math.Min(s.Length, 200));
        foreach (char c in s.Length > 200 ? s[..200] : s)
            sb.Append(char.IsControl(c) || char.IsWhiteSpace(c) ? '?' : c);
        return sb.ToString();
    }

    /// <summary>Free text from a report: no control characters or quotes reach the terminal.</summary>
    private static string Clean(string s)
    {
        var sb = new StringBuilder(Math.Min(s.Length, 300));
        foreach (char c in s.Length > 300 ? s[..300] : s)
            sb.Append(char.IsControl(c) || c == '"' ? ' ' : c);
        return sb.ToString();
    }
}
