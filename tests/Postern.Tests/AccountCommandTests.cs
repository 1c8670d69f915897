using Postern.Security.Passwords;
using Postern.Store.Sqlite;

namespace Postern.Tests;

public class AccountCommandTests
{
    [Fact]
    public async Task Add_generates_a_password_that_verifies_and_list_shows_the_account()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        var add = Cli.Run("account", "add", "alice", "--dir", dir);
        Assert.Equal(0, add.ExitCode);
        var line = add.Stdout.Split('\n').Single(l => l.StartsWith("password: ", StringComparison.Ordinal));
        var password = line["password: ".Length..].Trim();
        Assert.True(password.Length >= 16);

        Cli.Run("account", "add", "bob", "--dir", dir);
        var list = Cli.Run("account", "list", "--dir", dir);
        Assert.Equal(0, list.ExitCode);
        Assert.Equal(["alice", "bob"], list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        await using var store = SqliteMailStore.Open(dir);
        var secrets = PasswordSecrets.Parse((await store.Directory.GetCredentialsAsync("alice"))!);
        Assert.True(secrets.VerifyPassword(password));
        Assert.False(secrets.VerifyPassword("wrong"));
    }

    [Fact]
    public async Task Password_from_stdin_and_file_replace_the_credentials()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Assert.Equal(0, Cli.RunWithInput("correct horse\n", "account", "add", "alice", "--password-stdin", "--dir", dir).ExitCode);
        await AssertPasswordAsync(dir, "alice", "correct horse");

        var r = Cli.RunWithInput("battery staple\n", "account", "password", "alice", "--password-stdin", "--dir", dir);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("password:", r.Stdout, StringComparison.Ordinal);
        await AssertPasswordAsync(dir, "alice", "battery staple");

        File.WriteAllText(tmp.Sub("pw"), "from a file\r\n");
        Assert.Equal(0, Cli.Run("account", "password", "alice", "--password-file", tmp.Sub("pw"), "--dir", dir).ExitCode);
        await AssertPasswordAsync(dir, "alice", "from a file");
    }

    [Fact]
    public void Errors_are_clear_and_exit_non_zero()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "alice");
        var dup = Cli.Run("account", "add", "alice", "--dir", dir);
        Assert.Equal(1, dup.ExitCode);
        Assert.Contains("already exists", dup.Stderr, StringComparison.Ordinal);

        var missing = Cli.Run("account", "password", "nobody", "--dir", dir);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("not found", missing.Stderr, StringComparison.Ordinal);

        var noData = Cli.Run("account", "list", "--dir", tmp.Sub("nothing-here"));
        Assert.Equal(1, noData.ExitCode);
        Assert.Contains("no Postern data", noData.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(tmp.Sub("nothing-here")));

        var empty = Cli.RunWithInput("", "account", "add", "carol", "--password-stdin", "--dir", dir);
        Assert.Equal(1, empty.ExitCode);
    }

    private static async Task AssertPasswordAsync(string dir, string account, string password)
    {
        await using var store = SqliteMailStore.Open(dir);
        var secrets = PasswordSecrets.Parse((await store.Directory.GetCredentialsAsync(account))!);
        Assert.True(secrets.VerifyPassword(password), $"password {password} does not verify");
    }
}
