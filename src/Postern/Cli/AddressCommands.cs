// `postern config address ...` and `postern config alias ...`: who receives mail for which address.
// They write the global database directly; a running server reads it on each delivery, so
// changes apply at once without a restart.
using System.CommandLine;
using Postern.Mail;
using Postern.Store;

namespace Postern.Cli;

/// <summary>Address and alias administration.</summary>
internal static class AddressCommands
{
    public static Command CreateAddress()
    {
        var cmd = new Command("address", "Addresses of accounts: ADDRESS (user@domain) or a catch-all @domain.");

        var address = new Argument<string>("ADDRESS") { Description = "user@domain, or @domain for every other address of the domain." };
        var account = new Argument<string>("ACCOUNT") { Description = "The account that receives the mail." };
        var mailbox = new Option<string?>("--mailbox") { Description = "Deliver into this mailbox instead of INBOX." };
        var dir = CliCommon.DataDirectoryOption();
        var add = new Command("add", "Deliver mail for an address to an account.") { address, account, mailbox, dir };
        add.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            string a = Normalize(parse.GetValue(address)!, out string? error);
            if (error is not null) return CliCommon.Fail(error);
            await using var store = CliCommon.OpenExisting(parse.GetValue(dir)!);
            if (store is null) return CliCommon.ExitError;
            string name = parse.GetValue(account)!;
            if (await store.Directory.GetAccountAsync(name, ct).ConfigureAwait(false) is null)
                return CliCommon.Fail($"account {name} not found");
            if (await UnknownDomainAsync(store, a, ct).ConfigureAwait(false) is { } unknown) return CliCommon.Fail(unknown);
            await store.Directory.AddAddressAsync(a, name, ct).ConfigureAwait(false);
            if (parse.GetValue(mailbox) is { } mb)
                await store.Directory.SetAddressMailboxAsync(a, mb, ct).ConfigureAwait(false);
            Console.Out.WriteLine($"{a} -> {name}{(parse.GetValue(mailbox) is { } m ? " (" + m + ")" : "")}");
            return CliCommon.ExitOk;
        }));

        var rmAddress = new Argument<string>("ADDRESS");
        var rmDir = CliCommon.DataDirectoryOption();
        var rm = new Command("rm", "Stop delivering mail for an address.") { rmAddress, rmDir };
        rm.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            string a = Normalize(parse.GetValue(rmAddress)!, out string? error);
            if (error is not null) return CliCommon.Fail(error);
            await using var store = CliCommon.OpenExisting(parse.GetValue(rmDir)!);
            if (store is null) return CliCommon.ExitError;
            return await store.Directory.RemoveAddressAsync(a, ct).ConfigureAwait(false) ? CliCommon.ExitOk : CliCommon.Fail($"address {a} not found");
        }));

        var listDir = CliCommon.DataDirectoryOption();
        var list = new Command("list", "Every account's addresses.") { listDir };
        list.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            await using var store = CliCommon.OpenExisting(parse.GetValue(listDir)!);
            if (store is null) return CliCommon.ExitError;
            foreach (var acc in await store.Directory.ListAccountsAsync(ct).ConfigureAwait(false))
            {
                foreach (var a in await store.Directory.ListAddressesAsync(acc.Name, ct).ConfigureAwait(false))
                {
                    var target = await store.Directory.LookupAddressTargetAsync(a, ct).ConfigureAwait(false);
                    Console.Out.WriteLine($"{a}\t{acc.Name}{(target?.Mailbox is { } m ? "\t" + m : "")}");
                }
            }
            return CliCommon.ExitOk;
        }));
        cmd.Subcommands.Add(add);
        cmd.Subcommands.Add(rm);
        cmd.Subcommands.Add(list);
        return cmd;
    }

    public static Command CreateAlias()
    {
        var cmd = new Command("alias", "Aliases: an address whose mail goes to several local addresses.");

        var address = new Argument<string>("ADDRESS");
        var members = new Argument<string[]>("MEMBER") { Arity = ArgumentArity.OneOrMore, Description = "Local addresses that receive the alias's mail." };
        var maySend = new Option<bool>("--members-may-send") { Description = "Members may also send with the alias as From address." };
        var dir = CliCommon.DataDirectoryOption();
        var add = new Command("add", "Create an alias.") { address, members, maySend, dir };
        add.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            string a = Normalize(parse.GetValue(address)!, out string? error);
            if (error is not null || a.StartsWith('@')) return CliCommon.Fail(error ?? "an alias is a full address");
            var list = new List<string>();
            foreach (var m in parse.GetValue(members)!)
            {
                string n = Normalize(m, out string? e);
                if (e is not null || n.StartsWith('@')) return CliCommon.Fail(e ?? $"{m}: a member is a full address");
                list.Add(n);
            }
            await using var store = CliCommon.OpenExisting(parse.GetValue(dir)!);
            if (store is null) return CliCommon.ExitError;
            if (await UnknownDomainAsync(store, a, ct).ConfigureAwait(false) is { } unknown) return CliCommon.Fail(unknown);
            if (await NotLocalAsync(store, list, ct).ConfigureAwait(false) is { } notLocal) return CliCommon.Fail(notLocal);
            await store.Directory.AddAliasAsync(a, list, parse.GetValue(maySend), ct).ConfigureAwait(false);
            Console.Out.WriteLine($"{a} -> {string.Join(", ", list)}");
            return CliCommon.ExitOk;
        }));

        var rmAddress = new Argument<string>("ADDRESS");
        var rmDir = CliCommon.DataDirectoryOption();
        var rm = new Command("rm", "Remove an alias.") { rmAddress, rmDir };
        rm.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            string a = Normalize(parse.GetValue(rmAddress)!, out string? error);
            if (error is not null) return CliCommon.Fail(error);
            await using var store = CliCommon.OpenExisting(parse.GetValue(rmDir)!);
            if (store is null) return CliCommon.ExitError;
            return await store.Directory.RemoveAliasAsync(a, ct).ConfigureAwait(false) ? CliCommon.ExitOk : CliCommon.Fail($"alias {a} not found");
        }));

        var listDir = CliCommon.DataDirectoryOption();
        var list = new Command("list", "Every alias with its members.") { listDir };
        list.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            await using var store = CliCommon.OpenExisting(parse.GetValue(listDir)!);
            if (store is null) return CliCommon.ExitError;
            foreach (var alias in await store.Directory.ListAliasesAsync(ct).ConfigureAwait(false))
                Console.Out.WriteLine($"{alias.Address}\t{string.Join(",", alias.Members)}{(alias.MembersMaySend ? "\tmembers-may-send" : "")}");
            return CliCommon.ExitOk;
        }));
        cmd.Subcommands.Add(add);
        cmd.Subcommands.Add(rm);
        cmd.Subcommands.Add(list);
        cmd.Subcommands.Add(MemberCommand(adding: true));
        cmd.Subcommands.Add(MemberCommand(adding: false));
        return cmd;
    }

    /// <summary>`alias addmember|rmmember ALIAS MEMBER...`: one transaction each, so a delivery never sees half the change.</summary>
    private static Command MemberCommand(bool adding)
    {
        var address = new Argument<string>("ALIAS");
        var members = new Argument<string[]>("MEMBER") { Arity = ArgumentArity.OneOrMore, Description = adding ? "Local addresses to add." : "Members to remove." };
        var dir = CliCommon.DataDirectoryOption();
        var cmd = new Command(adding ? "addmember" : "rmmember", adding ? "Add members to an alias." : "Remove members from an alias (one must remain).")
        {
            address, members, dir,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            string a = Normalize(parse.GetValue(address)!, out string? error);
            if (error is not null || a.StartsWith('@')) return CliCommon.Fail(error ?? "an alias is a full address");
            var list = new List<string>();
            foreach (var m in parse.GetValue(members)!)
            {
                string n = Normalize(m, out string? e);
                if (e is not null || n.StartsWith('@')) return CliCommon.Fail(e ?? $"{m}: a member is a full address");
                list.Add(n);
            }
            await using var store = CliCommon.OpenExisting(parse.GetValue(dir)!);
            if (store is null) return CliCommon.ExitError;
            AliasInfo alias;
            if (adding)
            {
                if (await NotLocalAsync(store, list, ct).ConfigureAwait(false) is { } notLocal) return CliCommon.Fail(notLocal);
                alias = await store.Directory.AddAliasMembersAsync(a, list, ct).ConfigureAwait(false);
            }
            else
            {
                alias = await store.Directory.RemoveAliasMembersAsync(a, list, ct).ConfigureAwait(false);
            }
            Console.Out.WriteLine($"{alias.Address} -> {string.Join(", ", alias.Members)}");
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    /// <summary>An error when the address's domain is not local: adding it silently would turn a typo into a domain this server claims.</summary>
    private static async Task<string?> UnknownDomainAsync(IMailStore store, string address, CancellationToken ct)
    {
        string domain = address[(address.LastIndexOf('@') + 1)..];
        return await store.Directory.IsLocalDomainAsync(domain, ct).ConfigureAwait(false)
            ? null
            : $"{domain} is not a local domain; add it first with `postern config domain add {domain}`";
    }

    private static async Task<string?> NotLocalAsync(IMailStore store, IEnumerable<string> members, CancellationToken ct)
    {
        foreach (var m in members)
        {
            if (await store.Directory.LookupAddressTargetAsync(m, ct).ConfigureAwait(false) is null)
                return $"{m} is not a local address";
        }
        return null;
    }

    /// <summary>Lower-cases the domain (IDNA A-labels) and checks the syntax; "@domain" is kept as a catch-all.</summary>
    private static string Normalize(string text, out string? error)
    {
        error = null;
        if (text.StartsWith('@'))
        {
            try
            {
                string d = MailAddress.ToAsciiDomain(text[1..]).ToLowerInvariant();
                if (Config.ConfigLoader.IsHostName(d)) return "@" + d;
            }
            catch (ArgumentException)
            {
            }
            error = $"\"{text}\" is not @domain";
            return text;
        }
        var a = MailAddress.TryParse(text);
        if (a is null || a.Domain.Length == 0 || a.DisplayName is not null)
        {
            error = $"\"{text}\" is not an address like user@example.com";
            return text;
        }
        return MailAddress.QuoteLocalPart(a.LocalPart) + "@" + MailAddress.ToAsciiDomain(a.Domain).ToLowerInvariant();
    }
}
