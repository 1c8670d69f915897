using Microsoft.Data.Sqlite;
using Postern.Store;
using Postern.Store.Sqlite;

namespace Postern.Store.Tests;

public class VerifierTests
{
    [Fact]
    public async Task Clean_store_verifies_clean()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.AppendAsync(inbox, 5);
        await t.Account.CopyAsync(inbox, UidSet.Range(1, 3), (await t.Account.GetMailboxAsync("Archive"))!.Id);
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(2), new FlagChange(FlagOperation.Add, SystemFlags.Deleted, []));
        await t.Account.ExpungeAsync(inbox);
        await t.Store.Directory.CreateAccountAsync("bob");
        await t.Account.DisposeAsync();
        await t.Store.DisposeAsync();
        Assert.Empty(await new StoreVerifier(t.Dir).VerifyAsync());
        await t.ReopenAsync();
    }

    [Fact]
    public async Task Finds_injected_corruption_and_fixes_what_is_safe()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.AppendAsync(inbox, 4);
        await t.Account.DisposeAsync();
        await t.Store.DisposeAsync();
        string acct = Path.Combine(t.Dir, "accounts", "alice");
        // Leftovers a crash can produce.
        await File.WriteAllTextAsync(Path.Combine(acct, "msg", "0", "4000"), "orphan");
        await File.WriteAllTextAsync(Path.Combine(acct, "tmp", "leftover"), "tmp");
        // Damage.
        File.Delete(Path.Combine(acct, "msg", "0", "1"));
        await File.WriteAllTextAsync(Path.Combine(acct, "msg", "0", "2"), "short");
        using (var conn = new SqliteConnection($"Data Source={Path.Combine(acct, "index.db")};Pooling=False"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "UPDATE mailbox SET messages = 99, unseen = 0 WHERE name = 'INBOX'; UPDATE account_state SET size = 1; UPDATE message SET uid = 50 WHERE uid = 4";
            cmd.ExecuteNonQuery();
        }
        var problems = await new StoreVerifier(t.Dir).VerifyAsync();
        Assert.Contains(problems, p => p.Description.Contains("orphan", StringComparison.Ordinal) && p.Explainable);
        Assert.Contains(problems, p => p.Description.Contains("temporary", StringComparison.Ordinal) && p.Explainable);
        Assert.Contains(problems, p => p.Description == "message file missing" && !p.Explainable);
        Assert.Contains(problems, p => p.Description.Contains("expected", StringComparison.Ordinal) && p.Location.EndsWith("/0/2", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Description.StartsWith("counts", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Description.StartsWith("account usage", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Description.Contains("UIDNEXT", StringComparison.Ordinal));
        Assert.All(problems, p => Assert.False(p.Fixed));

        var fixedRun = await new StoreVerifier(t.Dir).VerifyAsync(fix: true);
        Assert.True(fixedRun.Single(p => p.Description.StartsWith("counts", StringComparison.Ordinal)).Fixed);
        Assert.False(fixedRun.Single(p => p.Description == "message file missing").Fixed);

        var after = await new StoreVerifier(t.Dir).VerifyAsync();
        // Only what cannot be repaired safely remains.
        Assert.Equal(3, after.Count);
        Assert.All(after, p => Assert.False(p.Explainable));
        Assert.False(File.Exists(Path.Combine(acct, "msg", "0", "4000")));
        await t.ReopenAsync();
        Assert.Equal(4, (await t.Account.GetMailboxAsync("INBOX"))!.Messages);
    }
}
