// `postern config domain add|rm|list`: the local domains. Mail for a local domain is delivered
// here (or refused when no address matches); mail for any other domain is relayed (submission) or
// refused (MX). The global database holds them, so a running server sees a change at its next message.
using System.CommandLine;
using System.Globalization;
using Postern.Mail;
using Postern.Store;

namespace Postern.Cli;

/// <summary>Local domain administration.</summary>
internal static class DomainCommands
{
    public static Command Create()
    {
        var cmd = new Command("domain", "Local domains: the domains whose mail this server receives.");

        var addName = new Argument<string>("DOMAIN") { Description = "Domain name, e.g. example.com (internationalized names are stored as A-labels)." };
        var addDir = CliCommon.DataDirectoryOption();
        var add = new Command("add", "Make a domain local. Then add its addresses (`config address add`), DKIM keys (`config dkim add`) and DNS records (`config dnsrecords`).")
        {
            addName, addDir,
        };
        add.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            if (NormalizeDomain(parse.GetValue(addName)!, out string? error) is not { } d) return CliCommon.Fail(error!);
            await using var store = CliCommon.OpenExisting(parse.GetValue(addDir)!);
            if (store is null) return CliCommon.ExitError;
            if (!await store.Directory.AddDomainAsync(d, ct).ConfigureAwait(false))
                return CliCommon.Fail($"domain {d} is already local");
            Console.Out.WriteLine($"domain {d} added");
            return CliCommon.ExitOk;
        }));

        var rmName = new Argument<string>("DOMAIN");
        var rmDir = CliCommon.DataDirectoryOption();
        var withAddresses = new Option<bool>("--with-addresses") { Description = "Also remove the domain's addresses and aliases (without it, a domain in use is not removed)." };
        var rm = new Command("rm", "Stop receiving mail for a domain. Its DKIM keys stay in DATA/dkim/DOMAIN.") { rmName, withAddresses, rmDir };
        rm.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            if (NormalizeDomain(parse.GetValue(rmName)!, out string? error) is not { } d) return CliCommon.Fail(error!);
            await using var store = CliCommon.OpenExisting(parse.GetValue(rmDir)!);
            if (store is null) return CliCommon.ExitError;
            DomainRemoval removal;
            try
            {
                removal = await store.Directory.RemoveDomainAsync(d, parse.GetValue(withAddresses), ct).ConfigureAwait(false);
            }
            catch (DomainInUseException e)
            {
                return CliCommon.Fail($"{e.Message}; remove them first (`config address rm`, `config alias rm`) or give --with-addresses");
            }
            if (!removal.Removed) return CliCommon.Fail($"domain {d} is not a local domain");
            Console.Out.WriteLine(removal.Addresses + removal.Aliases == 0
                ? $"domain {d} removed"
                : $"domain {d} removed with {removal.Addresses} address(es) and {removal.Aliases} alias(es)");
            return CliCommon.ExitOk;
        }));

        var listDir = CliCommon.DataDirectoryOption();
        var list = new Command("list", "The local domains: name, addresses, aliases, date added (tab-separated).") { listDir };
        list.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            await using var store = CliCommon.OpenExisting(parse.GetValue(listDir)!);
            if (store is null) return CliCommon.ExitError;
            foreach (var d in await store.Directory.ListDomainsAsync(ct).ConfigureAwait(false))
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{d.Name}\t{d.Addresses} addresses\t{d.Aliases} aliases\t{d.Created:yyyy-MM-dd}"));
            return CliCommon.ExitOk;
        }));

        cmd.Subcommands.Add(add);
        cmd.Subcommands.Add(rm);
        cmd.Subcommands.Add(list);
        return cmd;
    }

    /// <summary>Lower-case A-labels of a host-name-like domain; null with an error message otherwise.</summary>
    internal static string? NormalizeDomain(string text, out string? error)
    {
        error = null;
        try
        {
            string d = MailAddress.ToAsciiDomain(text.Trim().TrimEnd('.')).ToLowerInvariant();
            if (Config.ConfigLoader.IsHostName(d)) return d;
        }
        catch (ArgumentException)
        {
        }
        error = $"\"{text}\" is not a domain name like example.com";
        return null;
    }
}
