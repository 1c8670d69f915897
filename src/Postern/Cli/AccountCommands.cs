using System.CommandLine;
using Postern.Security.Passwords;

namespace Postern.Cli;

/// <summary>`postern account add|list|password`: accounts of a data folder.</summary>
internal static class AccountCommands
{
    public static Command Create()
    {
        var account = new Command("account", "Manage the accounts of a data folder.");
        account.Subcommands.Add(Add());
        account.Subcommands.Add(List());
        account.Subcommands.Add(Password());
        return account;
    }

    private static (Option<string?> File, Option<bool> Stdin) PasswordOptions() => (
        new Option<string?>("--password-file") { Description = "Read the password from the first line of this file.", HelpName = "FILE" },
        new Option<bool>("--password-stdin") { Description = "Read the password from the first line of standard input." });

    private static Command Add()
    {
        var name = new Argument<string>("NAME") { Description = "Account name (also the login name)." };
        var dir = CliCommon.DataDirectoryOption();
        var (file, stdin) = PasswordOptions();
        var cmd = new Command("add", "Create an account with the default mailboxes. Without a password option, a strong password is generated and printed.")
        {
            name, dir, file, stdin,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            var (password, generated, error) = CliCommon.ReadPassword(parse.GetValue(file), parse.GetValue(stdin));
            if (error is not null)
                return CliCommon.Fail(error);
            var accountName = parse.GetValue(name)!;
            await using var store = Store.Sqlite.SqliteMailStore.Open(parse.GetValue(dir)!);
            await store.Directory.CreateAccountAsync(accountName, cancellationToken: ct).ConfigureAwait(false);
            await store.Directory.SetCredentialsAsync(accountName, PasswordSecrets.Derive(password!), ct).ConfigureAwait(false);
            Console.Out.WriteLine($"account {accountName} created");
            if (generated)
                Console.Out.WriteLine($"password: {password}");
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    private static Command List()
    {
        var dir = CliCommon.DataDirectoryOption();
        var cmd = new Command("list", "List the accounts, one name per line.") { dir };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            await using var store = CliCommon.OpenExisting(parse.GetValue(dir)!);
            if (store is null)
                return CliCommon.ExitError;
            foreach (var a in await store.Directory.ListAccountsAsync(ct).ConfigureAwait(false))
                Console.Out.WriteLine(a.Name);
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    private static Command Password()
    {
        var name = new Argument<string>("NAME") { Description = "Account name." };
        var dir = CliCommon.DataDirectoryOption();
        var (file, stdin) = PasswordOptions();
        var cmd = new Command("password", "Set an account's password. Without a password option, a strong password is generated and printed.")
        {
            name, dir, file, stdin,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            var (password, generated, error) = CliCommon.ReadPassword(parse.GetValue(file), parse.GetValue(stdin));
            if (error is not null)
                return CliCommon.Fail(error);
            var accountName = parse.GetValue(name)!;
            await using var store = CliCommon.OpenExisting(parse.GetValue(dir)!);
            if (store is null)
                return CliCommon.ExitError;
            if (await store.Directory.GetAccountAsync(accountName, ct).ConfigureAwait(false) is null)
                return CliCommon.Fail($"account {accountName} not found");
            await store.Directory.SetCredentialsAsync(accountName, PasswordSecrets.Derive(password!), ct).ConfigureAwait(false);
            Console.Out.WriteLine($"password of {accountName} changed");
            if (generated)
                Console.Out.WriteLine($"password: {password}");
            return CliCommon.ExitOk;
        }));
        return cmd;
    }
}
