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
        // An address as a v1 release wrote it (into the copy; the fixture stays as it is): its domain
        // must become a local domain when the v3 migration adds the domain table.
        using (var v1 = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(data, "postern.db")};Pooling=False"))
        {
            v1.Open();
            using var insert = v1.CreateCommand();
            insert.CommandText = "INSERT INTO address (address, account) VALUES ('alice@legacy.example', 'alice')";
            insert.ExecuteNonQuery();
        }

        var account = await Cli.ReadAccountAsync(data, "alice");
        Assert.Equal(2, account["INBOX"].Count);
        Assert.Contains("Subject: written by schema v1", account["INBOX"][0].Text, StringComparison.Ordinal);
        Assert.Equal(Postern.Store.SystemFlags.Seen, account["INBOX"][1].Flags & Postern.Store.SystemFlags.Seen);

        var verify = Cli.Run("verifydata", data);
        Assert.True(verify.ExitCode == 0, verify.Stdout);
        Assert.Contains("alice", Cli.Run("account", "list", "--dir", data).Stdout, StringComparison.Ordinal);
        Assert.Equal(3L, SchemaVersion(data));
        Assert.Contains("legacy.example\t1 addresses", Cli.Run("config", "domain", "list", "--dir", data).Stdout, StringComparison.Ordinal);
        await using (var store = Postern.Store.Sqlite.SqliteMailStore.Open(data))
            Assert.True(await store.Directory.IsLocalDomainAsync("legacy.example"));

        // The migrated folder is written to like a new one.
        var password = Cli.RunWithInput("new-password\n", "account", "password", "alice", "--password-stdin", "--dir", data);
        Assert.True(password.ExitCode == 0, password.Stderr);
        Cli.AddAccount(data, "bob");
        Assert.Equal(0, Cli.Run("verifydata", data).ExitCode);
    }

    private static long SchemaVersion(string data)
    {
        using var conn = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(data, "postern.db")};Mode=ReadOnly;Pooling=False");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT version FROM schema_version";
        return (long)cmd.ExecuteScalar()!;
    }
}
