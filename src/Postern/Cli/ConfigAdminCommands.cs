using System.CommandLine;

namespace Postern.Cli;

/// <summary>The administration commands under <c>postern config</c> besides test, describe, address and alias.</summary>
internal static class ConfigAdminCommands
{
    public static void AddTo(Command config)
    {
        config.Subcommands.Add(DomainCommands.Create());
        config.Subcommands.Add(AccountCommands.Create());
        config.Subcommands.Add(DkimKeyCommands.Create());
        config.Subcommands.Add(DnsRecordCommands.CreateRecords());
        config.Subcommands.Add(DnsRecordCommands.CreateCheck());
        config.Subcommands.Add(DnsRecordCommands.CreateAdminPassword());
    }
}
