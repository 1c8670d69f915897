// `postern dmarc evaluations`: the DMARC evaluations of incoming mail kept for aggregate
// reports (DATA/reports.db), one line per message. Reads the database read-only, so it works
// while the server runs; evaluations still in the server's write buffer (under a second) are
// not shown yet.
using System.CommandLine;
using System.Globalization;
using System.Text;
using Postern.Store.Reports;

namespace Postern.Cli;

/// <summary><c>postern dmarc ...</c>.</summary>
internal static class DmarcCommands
{
    public static Command Create()
    {
        var dmarc = new Command("dmarc", "DMARC data of incoming mail, and aggregate reports received.");
        dmarc.Subcommands.Add(EvaluationsCommand());
        dmarc.Subcommands.Add(IncomingReportCommands.DmarcReportsCommand());
        return dmarc;
    }

    private static Command EvaluationsCommand()
    {
        var dir = CliCommon.DataDirectoryOption();
        var domain = new Option<string?>("--domain") { Description = "Only evaluations under this policy domain (the domain whose _dmarc record applied).", HelpName = "DOMAIN" };
        var day = new Option<string?>("--day") { Description = "UTC day, YYYY-MM-DD (default: today).", HelpName = "YYYY-MM-DD" };
        var limit = new Option<int>("--limit") { Description = "Print at most this many.", DefaultValueFactory = _ => 1000, HelpName = "N" };
        var cmd = new Command("evaluations", "List the DMARC evaluations stored for aggregate reports, one line per message, oldest first.")
        {
            dir, domain, day, limit,
        };
        cmd.SetAction(parse =>
        {
            string data = parse.GetValue(dir)!;
            DateOnly utcDay = DateOnly.FromDateTime(DateTime.UtcNow);
            string? dayText = parse.GetValue(day);
            if (dayText is not null && !DateOnly.TryParseExact(dayText, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out utcDay))
            {
                Console.Error.WriteLine($"postern: --day \"{dayText}\" is not a date (YYYY-MM-DD)");
                return CliCommon.ExitError;
            }
            int max = parse.GetValue(limit);
            if (max < 1)
            {
                Console.Error.WriteLine("postern: --limit must be at least 1");
                return CliCommon.ExitError;
            }
            if (!SqliteDmarcEvaluationStore.Exists(data))
            {
                Console.Error.WriteLine($"postern: no DMARC evaluations in {data} ({SqliteDmarcEvaluationStore.FileName} is created by `postern serve`; use --dir with the server's data folder)");
                return CliCommon.ExitError;
            }
            IReadOnlyList<DmarcEvaluationRecord> list;
            try
            {
                list = SqliteDmarcEvaluationStore.ReadOnlyList(data, DmarcReportDay.Start(utcDay), DmarcReportDay.End(utcDay), parse.GetValue(domain), max);
            }
            catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or Store.StoreException)
            {
                Console.Error.WriteLine($"postern: cannot read {SqliteDmarcEvaluationStore.FileName}: {e.Message}");
                return CliCommon.ExitError;
            }
            foreach (DmarcEvaluationRecord e in list)
                Console.Out.WriteLine(Format(e));
            return CliCommon.ExitOk;
        });
        return cmd;
    }

    /// <summary>One line: time, policy domain, source IP, then key=value fields.</summary>
    internal static string Format(DmarcEvaluationRecord e)
    {
        var sb = new StringBuilder();
        sb.Append(e.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))
          .Append(' ').Append(e.PolicyDomain.Length > 0 ? e.PolicyDomain : "-")
          .Append(' ').Append(e.SourceIp)
          .Append(" dmarc=").Append(e.Result)
          .Append(" dis=").Append(e.Disposition);
        if (e.HasRecord)
        {
            sb.Append(" p=").Append(e.Policy);
            if (e.SubdomainPolicy is not null) sb.Append(" sp=").Append(e.SubdomainPolicy);
            sb.Append(" pct=").Append(e.Percent.ToString(CultureInfo.InvariantCulture))
              .Append(" adkim=").Append(e.DkimAlignment).Append(" aspf=").Append(e.SpfAlignment);
        }
        else
        {
            sb.Append(" p=-");
        }
        sb.Append(" header-from=").Append(e.HeaderFrom.Length > 0 ? e.HeaderFrom : "-")
          .Append(" envelope-from=").Append(e.EnvelopeFrom.Length > 0 ? e.EnvelopeFrom : "-")
          .Append(" spf=").Append(e.SpfResult).Append('(').Append(e.SpfDomain.Length > 0 ? e.SpfDomain : "-").Append(e.SpfAligned ? ",aligned" : "").Append(')');
        if (e.Dkim.Count == 0) sb.Append(" dkim=none");
        foreach (DmarcDkimEntry k in e.Dkim)
            sb.Append(" dkim=").Append(k.Result).Append('(').Append(k.Domain).Append('/').Append(k.Selector).Append(k.Aligned ? ",aligned" : "").Append(')');
        if (e.Override != "none") sb.Append(" override=").Append(e.Override);
        if (e.Reason is { Length: > 0 } reason) sb.Append(" reason=\"").Append(reason.Replace("\"", "'", StringComparison.Ordinal)).Append('"');
        return sb.ToString();
    }
}
