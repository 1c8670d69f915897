using System.CommandLine;
using Postern.Security.Passwords;

namespace Postern.Cli;

/// <summary>
/// `postern config account add|rm|list|password` (and the same under `postern account`, its older name):
/// accounts of a data folder. One implementation serves both places.
/// </summary>
internal static class AccountCommands
{
    public static Command Create()
    {
        var account = new Command("account", "Manage the accounts of a data folder.");
        account.Subcommands.Add(Add());
        account.Subcommands.Add(Remove());
        account.Subcommands.Add(List());
        account.Subcommands.Add(Password());
        return account;
    }

    private static (Option<string?> File, Option<bool> Stdin, Option<bool> Prompt) PasswordOptions() => (
        new Option<string?>("--password-file") { Description = "Read the password from the first line of this file.", HelpName = "FILE" },
        new Option<bool>("--password-stdin") { Description = "Read the password from the first line of standard input." },
        new Option<bool>("--prompt") { Description = "Ask for the password on the terminal (twice, not echoed)." });

    /// <summary>The password from --prompt, --password-file or --password-stdin, or a generated one.</summary>
    private static (string? Password, bool Generated, string? Error) ReadPassword(ParseResult parse, Option<string?> file, Option<bool> stdin, Option<bool> prompt)
    {
        if (!parse.GetValue(prompt))
            return CliCommon.ReadPassword(parse.GetValue(file), parse.GetValue(stdin));
        if (parse.GetValue(file) is not null || parse.GetValue(stdin))
            return (null, false, "give only one of --prompt, --password-file and --password-stdin");
        if (Console.IsInputRedirected)
            return (null, false, "--prompt needs a terminal; use --password-stdin to read a password from a pipe");
        string first = PromptHidden("New password: ");
        string second = PromptHidden("Repeat it: ");
        if (first.Length == 0) return (null, false, "empty password");
        if (first != second) return (null, false, "the two passwords differ");
        return (first, false, null);
    }

    private static string PromptHidden(string label)
    {
        Console.Error.Write(label);
        var sb = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace) { if (sb.Length > 0) sb.Length--; continue; }
            if (sb.Length < CliCommon.MaxPasswordLength && !char.IsControl(key.KeyChar)) sb.Append(key.KeyChar);
        }
        Console.Error.WriteLine();
        return sb.ToString();
    }

    private static Command Remove()
    {
        var name = new Argument<string>("NAME") { Description = "Account name." };
        var dir = CliCommon.DataDirectoryOption();
        var cmd = new Command("rm", "Remove an account with its addresses and delivery rules. Its mail is moved to DATA/removed-accounts, never deleted.")
        {
            name, dir,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            var accountName = parse.GetValue(name)!;
            await using var store = CliCommon.OpenExisting(parse.GetValue(dir)!);
            if (store is null)
                return CliCommon.ExitError;
            string? kept = await store.Directory.RemoveAccountAsync(accountName, ct).ConfigureAwait(false);
            Console.Out.WriteLine($"account {accountName} removed");
            if (kept is not null)
                Console.Out.WriteLine($"its mail is kept in {kept}; delete that folder when you no longer need it");
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    private static Command Add()
    {
        var name = new Argument<string>("NAME") { Description = "Account name (also the login name)." };
        var dir = CliCommon.DataDirectoryOption();
        var (file, stdin, prompt) = PasswordOptions();
        var cmd = new Command("add", "Create an account with the default mailboxes. Without a password option, a strong password is generated and printed.")
        {
            name, dir, file, stdin, prompt,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            var (password, generated, error) = ReadPassword(parse, file, stdin, prompt);
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
        var (file, stdin, prompt) = PasswordOptions();
        var cmd = new Command("password", "Set an account's password. Without a password option, a strong password is generated and printed.")
        {
            name, dir, file, stdin, prompt,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            var (password, generated, error) = ReadPassword(parse, file, stdin, prompt);
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
