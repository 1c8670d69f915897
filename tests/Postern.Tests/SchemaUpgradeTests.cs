namespace Postern.Tests;

/// <summary>Data written by an older release opens, migrates forward and verifies clean.</summary>
public class SchemaUpgradeTests
{
    private static void CopyTree(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }

    [Fact]
    public async Task Schema_v1_data_opens_migrates_and_keeps_everything()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        CopyTree(Path.Combine(AppContext.BaseDirectory, "Fixtures", "schema-v1", "data"), data);

        var account = await Cli.ReadAccountAsync(data, "alice");
        Assert.Equal(2, account["INBOX"].Count);
        Assert.Contains("Subject: written by schema v1", account["INBOX"][0].Text, StringComparison.Ordinal);
        Assert.Equal(Postern.Store.SystemFlags.Seen, account["INBOX"][1].Flags & Postern.Store.SystemFlags.Seen);

        var verify = Cli.Run("verifydata", data);
        Assert.True(verify.ExitCode == 0, verify.Stdout);
        Assert.Contains("alice", Cli.Run("account", "list", "--dir", data).Stdout, StringComparison.Ordinal);

        // The migrated folder is written to like a new one.
        var password = Cli.RunWithInput("new-password\n", "account", "password", "alice", "--password-stdin", "--dir", data);
        Assert.True(password.ExitCode == 0, password.Stderr);
        Cli.AddAccount(data, "bob");
        Assert.Equal(0, Cli.Run("verifydata", data).ExitCode);
    }
}
