using System.Text;
using Postern.Store;
using Postern.Store.Sqlite;

namespace Postern.Store.Tests;

/// <summary>A store in a fresh temporary data directory with one account "alice", removed afterwards.</summary>
public sealed class TestStore : IAsyncDisposable
{
    private TestStore(string dir, SqliteMailStore store, IAccountStore account)
    {
        Dir = dir;
        Store = store;
        Account = account;
    }

    public string Dir { get; }
    public SqliteMailStore Store { get; private set; }
    public IAccountStore Account { get; private set; }

    public static async Task<TestStore> CreateAsync(long? quota = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-store-test-" + Guid.NewGuid().ToString("N"));
        var store = SqliteMailStore.Open(dir);
        await store.Directory.CreateAccountAsync("alice", quota);
        var account = await store.OpenAccountAsync("alice");
        return new TestStore(dir, store, account);
    }

    public async Task ReopenAsync()
    {
        await Account.DisposeAsync();
        await Store.DisposeAsync();
        Store = SqliteMailStore.Open(Dir);
        Account = await Store.OpenAccountAsync("alice");
    }

    public async Task<long> InboxIdAsync() => (await Account.GetMailboxAsync("INBOX"))!.Id;

    public static NewMessage Message(string text, SystemFlags flags = SystemFlags.None, params string[] keywords) =>
        new(MessageSource.FromMemory(Encoding.ASCII.GetBytes(text)), [1, 2, 3], new MessageMeta { Subject = "s", MessageId = "<" + text.GetHashCode() + "@x>" })
        {
            Flags = flags,
            Keywords = keywords,
        };

    public static string Body(int n) => $"From: a@example.org\r\nSubject: test {n}\r\n\r\nbody {n}\r\n";

    public async Task<AppendResult> AppendAsync(long mailboxId, int count, SystemFlags flags = SystemFlags.None)
    {
        var msgs = Enumerable.Range(0, count).Select(i => Message(Body(i), flags)).ToList();
        return await Account.AppendAsync(mailboxId, msgs);
    }

    public async ValueTask DisposeAsync()
    {
        await Account.DisposeAsync();
        await Store.DisposeAsync();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
