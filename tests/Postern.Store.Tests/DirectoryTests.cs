using Postern.Store.Sqlite;
using Postern.Store;

namespace Postern.Store.Tests;

public class DirectoryTests
{
    [Fact]
    public async Task Accounts_credentials_quota_and_addresses()
    {
        await using var t = await TestStore.CreateAsync();
        var dir = t.Store.Directory;
        await Assert.ThrowsAsync<AccountExistsException>(() => dir.CreateAccountAsync("alice"));
        await Assert.ThrowsAsync<StoreException>(() => dir.CreateAccountAsync("../evil"));
        await dir.CreateAccountAsync("bob", 1000);
        Assert.Equal(["alice", "bob"], (await dir.ListAccountsAsync()).Select(a => a.Name).ToArray());
        Assert.Equal(1000, (await dir.GetAccountAsync("bob"))!.QuotaBytes);
        Assert.Null(await dir.GetCredentialsAsync("bob"));
        await dir.SetCredentialsAsync("bob", "scram-sha-256:...opaque...");
        Assert.Equal("scram-sha-256:...opaque...", await dir.GetCredentialsAsync("bob"));
        await Assert.ThrowsAsync<AccountNotFoundException>(() => dir.SetCredentialsAsync("carol", "x"));

        await dir.AddAddressAsync("Bob@Example.ORG", "bob");
        await dir.AddAddressAsync("b@example.org", "bob");
        Assert.Equal("bob", await dir.LookupAddressAsync("bob@example.org"));
        Assert.Equal("bob", await dir.LookupAddressAsync("BOB@EXAMPLE.ORG"));
        Assert.Null(await dir.LookupAddressAsync("nobody@example.org"));
        await Assert.ThrowsAsync<AddressExistsException>(() => dir.AddAddressAsync("bob@example.org", "alice"));
        Assert.Equal(["b@example.org", "bob@example.org"], await dir.ListAddressesAsync("bob"));
        Assert.True(await dir.RemoveAddressAsync("b@example.org"));
        Assert.False(await dir.RemoveAddressAsync("b@example.org"));
    }

    [Fact]
    public async Task Cached_lookups_see_changes_made_here_and_by_another_process_at_once()
    {
        await using var t = await TestStore.CreateAsync();
        var dir = t.Store.Directory;
        // Negative answers are cached too: each must be forgotten as soon as the database changes.
        Assert.Null(await dir.LookupAddressTargetAsync("new@example.org"));
        Assert.Null(await dir.GetAliasAsync("team@example.org"));
        Assert.False(await dir.IsLocalDomainAsync("example.org"));
        Assert.Empty(await dir.ListDeliveryRulesAsync("alice"));

        // A second store on the same folder plays the CLI changing the database while the server runs.
        await using (var other = SqliteMailStore.Open(t.Dir))
        {
            await other.Directory.AddAddressAsync("new@example.org", "alice");
            await other.Directory.AddAliasAsync("team@example.org", ["new@example.org"]);
            await other.Directory.AddDeliveryRuleAsync(new DeliveryRule(0, "alice", DeliveryRuleField.EnvelopeFrom, null, "x", "Archive"));
        }
        Assert.Equal("alice", (await dir.LookupAddressTargetAsync("new@example.org"))!.Account);
        Assert.Equal(["new@example.org"], (await dir.GetAliasAsync("team@example.org"))!.Members);
        Assert.True(await dir.IsLocalDomainAsync("example.org"));
        Assert.Single(await dir.ListDeliveryRulesAsync("alice"));

        // And changes made through this store.
        await dir.SetAddressMailboxAsync("new@example.org", "Archive");
        Assert.Equal("Archive", (await dir.LookupAddressTargetAsync("new@example.org"))!.Mailbox);
        Assert.True(await dir.RemoveAddressAsync("new@example.org"));
        Assert.Null(await dir.LookupAddressTargetAsync("new@example.org"));
        await dir.SetQuotaAsync("alice", 5000);
        Assert.Equal(5000, (await dir.GetAccountAsync("alice"))!.QuotaBytes);
    }

    [Fact]
    public async Task Login_attempts_are_logged_newest_first()
    {
        await using var t = await TestStore.CreateAsync();
        var dir = t.Store.Directory;
        var now = DateTimeOffset.UtcNow;
        for (int i = 0; i < 5; i++)
            await dir.RecordLoginAttemptAsync(new LoginAttempt(now.AddSeconds(i), "127.0.0.1", i % 2 == 0 ? "alice" : "mallory", "PLAIN", i == 4 ? "ok" : "badcreds", "imap"));
        var all = await dir.ListLoginAttemptsAsync();
        Assert.Equal(5, all.Count);
        Assert.Equal("ok", all[0].Result);
        var alice = await dir.ListLoginAttemptsAsync("alice", limit: 2);
        Assert.Equal(2, alice.Count);
        Assert.All(alice, a => Assert.Equal("alice", a.LoginName));
    }
}
