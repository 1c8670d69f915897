namespace Postern.Tests;

/// <summary>`postern config address|alias` as an administrator uses them.</summary>
public class AddressCommandTests
{
    [Fact]
    public async Task Addresses_and_aliases_are_added_listed_and_removed()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Cli.AddAccount(data, "alice");
        Cli.AddAccount(data, "bob");

        // An address of a domain that is not local is refused, with the command that adds the domain.
        var unknown = Cli.Run("config", "address", "add", "alice@example.org", "alice", "--dir", data);
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("postern config domain add example.org", unknown.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, Cli.Run("config", "domain", "add", "example.org", "--dir", data).ExitCode);
        Assert.Equal(0, Cli.Run("config", "domain", "add", "EXAMPLE.net.", "--dir", data).ExitCode);

        Assert.Equal(0, Cli.Run("config", "address", "add", "Alice@Example.ORG", "alice", "--dir", data).ExitCode);
        Assert.Equal(0, Cli.Run("config", "address", "add", "bob@example.org", "bob", "--mailbox", "Archive", "--dir", data).ExitCode);
        Assert.Equal(0, Cli.Run("config", "address", "add", "@example.net", "bob", "--dir", data).ExitCode);
        var dup = Cli.Run("config", "address", "add", "alice@example.org", "bob", "--dir", data);
        Assert.NotEqual(0, dup.ExitCode);
        Assert.Contains("already exists", dup.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(0, Cli.Run("config", "address", "add", "not an address", "bob", "--dir", data).ExitCode);
        Assert.NotEqual(0, Cli.Run("config", "address", "add", "x@example.org", "nobody", "--dir", data).ExitCode);

        string list = Cli.Run("config", "address", "list", "--dir", data).Stdout;
        Assert.Contains("alice@example.org\talice", list, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("bob@example.org\tbob\tArchive", list, StringComparison.Ordinal);
        Assert.Contains("@example.net\tbob", list, StringComparison.Ordinal);

        var alias = Cli.Run("config", "alias", "add", "team@example.org", "alice@example.org", "bob@example.org", "--dir", data);
        Assert.True(alias.ExitCode == 0, alias.Stderr);
        Assert.NotEqual(0, Cli.Run("config", "alias", "add", "ghosts@example.org", "nobody@example.org", "--dir", data).ExitCode);
        Assert.Contains("team@example.org\talice@example.org,bob@example.org", Cli.Run("config", "alias", "list", "--dir", data).Stdout, StringComparison.Ordinal);

        await using (var store = Postern.Store.Sqlite.SqliteMailStore.Open(data))
        {
            Assert.Equal("bob", (await store.Directory.LookupAddressTargetAsync("@example.net"))?.Account);
            Assert.NotNull(await store.Directory.GetAliasAsync("team@example.org"));
        }

        Assert.Equal(0, Cli.Run("config", "alias", "rm", "team@example.org", "--dir", data).ExitCode);
        Assert.NotEqual(0, Cli.Run("config", "alias", "rm", "team@example.org", "--dir", data).ExitCode);
        Assert.Equal(0, Cli.Run("config", "address", "rm", "@example.net", "--dir", data).ExitCode);
        Assert.DoesNotContain("@example.net", Cli.Run("config", "address", "list", "--dir", data).Stdout, StringComparison.Ordinal);
    }
}
