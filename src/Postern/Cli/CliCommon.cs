using System.CommandLine;
using System.Security.Cryptography;
using Postern.Store;
using Postern.Store.Sqlite;

namespace Postern.Cli;

/// <summary>What the data-folder commands share: the --dir option, opening the store, passwords, exit codes.</summary>
internal static class CliCommon
{
    /// <summary>The data folder used when --dir is not given: the one `postern serve` uses by default.</summary>
    public const string DefaultDataDirectory = "./data";

    public const int ExitOk = 0;
    public const int ExitError = 1;

    /// <summary>Exit code of an import that finished but skipped malformed entries.</summary>
    public const int ExitSkipped = 2;

    private const string PasswordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    private const int GeneratedPasswordLength = 20;

    /// <summary>Longest password read from a file or standard input.</summary>
    public const int MaxPasswordLength = 1024;

    public static Option<string> DataDirectoryOption() => new("--dir", "-d")
    {
        Description = $"Data folder (default {DefaultDataDirectory}).",
        DefaultValueFactory = _ => DefaultDataDirectory,
        HelpName = "DIR",
    };

    /// <summary>Opens the store of an existing data folder; null (with a message) when there is none.</summary>
    public static SqliteMailStore? OpenExisting(string dir)
    {
        if (!File.Exists(Path.Combine(dir, "postern.db")))
        {
            Console.Error.WriteLine($"postern: no Postern data in {dir} (use --dir, or create an account first with `postern account add`)");
            return null;
        }
        return SqliteMailStore.Open(dir);
    }

    /// <summary>
    /// Opens an existing data folder and one of its accounts; null (with a message) when either is missing. Disposing
    /// the result closes both.
    /// </summary>
    public static async Task<OpenedAccount?> OpenAccountAsync(string dir, string name, CancellationToken ct)
    {
        var store = OpenExisting(dir);
        if (store is null) return null;
        if (await store.Directory.GetAccountAsync(name, ct).ConfigureAwait(false) is null)
        {
            await store.DisposeAsync().ConfigureAwait(false);
            Fail($"account {name} not found");
            return null;
        }
        return new OpenedAccount(store, await store.OpenAccountAsync(name, ct).ConfigureAwait(false));
    }

    /// <summary>An account opened from the command line, with its store.</summary>
    public sealed class OpenedAccount(SqliteMailStore store, IAccountStore account) : IAsyncDisposable
    {
        public IAccountStore Account => account;

        public async ValueTask DisposeAsync()
        {
            await account.DisposeAsync().ConfigureAwait(false);
            await store.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Reads the password from a file or standard input (first line), or generates one.</summary>
    /// <returns>The password, whether it was generated, or an error message.</returns>
    public static (string? Password, bool Generated, string? Error) ReadPassword(string? file, bool fromStdin)
    {
        if (file is not null && fromStdin)
            return (null, false, "give either --password-file or --password-stdin, not both");
        string? text = null;
        if (file is not null)
        {
            try
            {
                using var reader = new StreamReader(file);
                text = ReadBoundedLine(reader);
            }
            catch (IOException e)
            {
                return (null, false, $"cannot read {file}: {e.Message}");
            }
            catch (UnauthorizedAccessException e)
            {
                return (null, false, $"cannot read {file}: {e.Message}");
            }
        }
        else if (fromStdin)
        {
            text = ReadBoundedLine(Console.In);
        }
        if (text is null)
            return (file is null && !fromStdin) ? (GeneratePassword(), true, null) : (null, false, "no password given (empty input)");
        if (text.Length == 0)
            return (null, false, "empty password");
        if (text.Length > MaxPasswordLength)
            return (null, false, $"password longer than {MaxPasswordLength} characters");
        return (text, false, null);
    }

    private static string? ReadBoundedLine(TextReader reader)
    {
        var buffer = new char[MaxPasswordLength + 2];
        int n = 0;
        bool sawAny = false;
        int c;
        while (n < buffer.Length && (c = reader.Read()) >= 0)
        {
            sawAny = true;
            if (c == '\n')
                break;
            buffer[n++] = (char)c;
        }
        return sawAny ? new string(buffer, 0, n).TrimEnd('\r') : null;
    }

    public static string GeneratePassword() => new(RandomNumberGenerator.GetItems<char>(PasswordAlphabet, GeneratedPasswordLength));

    public static int Fail(string message)
    {
        Console.Error.WriteLine("postern: " + message);
        return ExitError;
    }

    /// <summary>Runs a command body, turning store and I/O errors into a message and exit code 1.</summary>
    public static async Task<int> GuardAsync(Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (StoreException e)
        {
            return Fail(e.Message);
        }
        catch (IOException e)
        {
            return Fail(e.Message);
        }
        catch (UnauthorizedAccessException e)
        {
            return Fail(e.Message);
        }
        catch (OperationCanceledException)
        {
            return Fail("interrupted");
        }
    }

    public static IReadOnlyList<string> FlagNames(SystemFlags flags, IEnumerable<string> keywords)
    {
        var list = new List<string>();
        if (flags.HasFlag(SystemFlags.Seen)) list.Add("\\Seen");
        if (flags.HasFlag(SystemFlags.Answered)) list.Add("\\Answered");
        if (flags.HasFlag(SystemFlags.Flagged)) list.Add("\\Flagged");
        if (flags.HasFlag(SystemFlags.Deleted)) list.Add("\\Deleted");
        if (flags.HasFlag(SystemFlags.Draft)) list.Add("\\Draft");
        list.AddRange(keywords);
        return list;
    }

    public static (SystemFlags Flags, List<string> Keywords) ParseFlagNames(IEnumerable<string> names)
    {
        var flags = SystemFlags.None;
        var keywords = new List<string>();
        foreach (var name in names)
        {
            switch (name.ToUpperInvariant())
            {
                case "\\SEEN": flags |= SystemFlags.Seen; break;
                case "\\ANSWERED": flags |= SystemFlags.Answered; break;
                case "\\FLAGGED": flags |= SystemFlags.Flagged; break;
                case "\\DELETED": flags |= SystemFlags.Deleted; break;
                case "\\DRAFT": flags |= SystemFlags.Draft; break;
                default:
                    if (!name.StartsWith('\\'))
                        keywords.Add(name);
                    break;
            }
        }
        return (flags, keywords);
    }
}
