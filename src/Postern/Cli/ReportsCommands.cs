// `postern reports ...`: the TLS and DMARC reports Postern sends. `send` asks the running server
// to run its report round now (or, with --dry-run, to say what it would send); `sent` and
// `suppression` read and edit DATA/reports.db directly, so they work with or without a server.
using System.CommandLine;
using System.Globalization;
using System.Text;
using Postern.Queue.Reports;
using Postern.Store.Reports;

namespace Postern.Cli;

/// <summary>Formats a report run for the CLI.</summary>
internal static class ReportsFormat
{
    public static string Format(IReadOnlyList<ReportDispatch> list, bool dryRun)
    {
        if (list.Count == 0) return dryRun ? "nothing would be sent now\n" : "nothing to send now\n";
        var sb = new StringBuilder("KIND\tDOMAIN\tDESTINATION\tREPORT ID\tBYTES\tSTATUS\n");
        foreach (ReportDispatch d in list)
            sb.Append(CultureInfo.InvariantCulture, $"{d.Kind}\t{d.PolicyDomain}\t{d.Destination}\t{(d.ReportId.Length > 0 ? d.ReportId : "-")}\t{d.Bytes}\t{d.Status}\n");
        return sb.ToString();
    }
}

/// <summary><c>postern reports ...</c>.</summary>
internal static class ReportsCommands
{
    public static Command Create()
    {
        var reports = new Command("reports", "TLS reports (RFC 8460) and DMARC aggregate reports (RFC 7489) that Postern sends.");
        reports.Subcommands.Add(SendCommand());
        reports.Subcommands.Add(SentCommand());
        reports.Subcommands.Add(SuppressionCommand());
        return reports;
    }

    private static Command SendCommand()
    {
        var dir = CliCommon.DataDirectoryOption();
        var dry = new Option<bool>("--dry-run") { Description = "Only show what would be sent now; send, store and delete nothing." };
        var cmd = new Command("send", "Run the running server's report round now: reports of finished days/periods not sent yet (the server also does this every hour).") { dir, dry };
        cmd.SetAction(async (p, ct) =>
        {
            bool dryRun = p.GetValue(dry);
            string? answer = await Serve.ControlSocket.TrySendAsync(p.GetValue(dir)!, dryRun ? "reports dry-run" : "reports send", TimeSpan.FromMinutes(5)).ConfigureAwait(false);
            if (answer is null)
                return CliCommon.Fail($"no server is running on {p.GetValue(dir)} (reports are sent by `postern serve`; use --dir with its data folder)");
            if (answer.StartsWith("error: ", StringComparison.Ordinal))
                return CliCommon.Fail(answer[7..].TrimEnd());
            Console.Out.Write(answer);
            return CliCommon.ExitOk;
        });
        return cmd;
    }

    private static Command SentCommand()
    {
        var dir = CliCommon.DataDirectoryOption();
        var limit = new Option<int>("--limit") { Description = "Print at most this many, newest first.", DefaultValueFactory = _ => 100, HelpName = "N" };
        var cmd = new Command("sent", "List the reports sent, newest first, with what became of them (queued, delivered, bounced, posted, failed).") { dir, limit };
        cmd.SetAction(p =>
        {
            string data = p.GetValue(dir)!;
            if (!ReportsSchema.Exists(data)) return CliCommon.Fail($"no {ReportsSchema.FileName} in {data} (use --dir with the server's data folder)");
            try
            {
                IReadOnlyList<SentReport> list = SqliteReportLog.ReadOnlySent(data, Math.Max(1, p.GetValue(limit)));
                if (list.Count == 0) Console.Out.WriteLine("no reports sent yet");
                foreach (SentReport s in list)
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{s.Time.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}\t{s.Kind}\t{s.PolicyDomain}\t{s.Destination}\t{s.ReportId}\t{(s.QueueId is { } q ? "queue " + q : "-")}\t{s.Status}"));
                return CliCommon.ExitOk;
            }
            catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or Store.StoreException)
            {
                return CliCommon.Fail($"cannot read {ReportsSchema.FileName}: {e.Message}");
            }
        });
        return cmd;
    }

    private static Command SuppressionCommand()
    {
        var dir = CliCommon.DataDirectoryOption();
        var remove = new Option<string?>("--remove") { Description = "Remove this address from the list (reports go to it again).", HelpName = "ADDRESS" };
        var cmd = new Command("suppression", "List the report addresses not sent to because a report to them bounced, or remove one.") { dir, remove };
        cmd.SetAction(async (p, ct) =>
        {
            string data = p.GetValue(dir)!;
            if (!ReportsSchema.Exists(data)) return CliCommon.Fail($"no {ReportsSchema.FileName} in {data} (use --dir with the server's data folder)");
            return await CliCommon.GuardAsync(async () =>
            {
                await using SqliteReportLog log = SqliteReportLog.Open(data);
                if (p.GetValue(remove) is { } address)
                {
                    if (!await log.RemoveSuppressionAsync(address.Trim(), ct).ConfigureAwait(false))
                        return CliCommon.Fail($"{address} is not on the report suppression list");
                    Console.Out.WriteLine($"removed {address}");
                    return CliCommon.ExitOk;
                }
                IReadOnlyList<SuppressedReportAddress> list = await log.ListSuppressionsAsync(ct).ConfigureAwait(false);
                if (list.Count == 0) Console.Out.WriteLine("no suppressed report addresses");
                foreach (SuppressedReportAddress s in list)
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{s.Address}\tuntil {s.Until.UtcDateTime:yyyy-MM-dd}\tadded {s.Added.UtcDateTime:yyyy-MM-dd}\t{s.Reason}"));
                return CliCommon.ExitOk;
            }).ConfigureAwait(false);
        });
        return cmd;
    }
}
