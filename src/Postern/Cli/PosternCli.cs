using System.CommandLine;
using System.Reflection;

namespace Postern.Cli;

/// <summary>The command tree of the <c>postern</c> executable.</summary>
internal static class PosternCli
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == "sendmail" && !args.Skip(1).Any(a => a is "--help" or "-h" or "-?"))
            return await SendmailCommand.RunAsync(args[1..], Console.OpenStandardInput(), CancellationToken.None).ConfigureAwait(false);
        var root = new RootCommand("Postern: a complete, secure mail server (SMTP, IMAP, DKIM/SPF/DMARC, ...).");
        root.Subcommands.Add(VersionCommand());
        root.Subcommands.Add(DnsCommands.Create());
        root.Subcommands.Add(DkimCommands.Create());
        root.Subcommands.Add(DaneCommands.Create());
        root.Subcommands.Add(LocalServeCommand.Create());
        root.Subcommands.Add(QuickstartCommand.Create());
        root.Subcommands.Add(ServeCommand.CreateServe());
        root.Subcommands.Add(ServeCommand.CreateStop());
        root.Subcommands.Add(ServeCommand.CreateConfig());
        root.Subcommands.Add(AccountCommands.Create());
        root.Subcommands.Add(ImportCommands.Create());
        root.Subcommands.Add(ExportCommands.Create());
        root.Subcommands.Add(VerifyDataCommand.Create());
        root.Subcommands.Add(BackupCommand.Create());
        root.Subcommands.Add(CidCommand.Create());
        root.Subcommands.Add(DmarcCommands.Create());
        root.Subcommands.Add(JunkCommands.Create());
        root.Subcommands.Add(IncomingReportCommands.CreateTlsRpt());
        root.Subcommands.Add(QueueCommands.Create());
        root.Subcommands.Add(ReportsCommands.Create());
        root.Subcommands.Add(SendmailCommand.Create());
        // No @response-file expansion: "@example.com" is a catch-all address argument, not a file.
        ParseResult parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        return await parsed.InvokeAsync().ConfigureAwait(false);
    }

    public static string Version =>
        typeof(PosternCli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(PosternCli).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    private static Command VersionCommand()
    {
        var cmd = new Command("version", "Print the version of Postern.");
        cmd.SetAction(_ =>
        {
            Console.Out.WriteLine($"postern {Version}");
            return 0;
        });
        return cmd;
    }
}
