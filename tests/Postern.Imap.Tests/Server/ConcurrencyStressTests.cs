using System.Text.RegularExpressions;
using Postern.Store;

namespace Postern.Imap.Tests.Server;

/// <summary>
/// 20 sessions do random APPEND/STORE/EXPUNGE/FETCH on one mailbox. Each keeps its own view
/// (UIDs in sequence order and flags) from the untagged responses only; every FETCH with a UID
/// must agree with that view, and at the end every view equals the store.
/// </summary>
public class ConcurrencyStressTests
{
    private sealed class View
    {
        public List<uint> Uids { get; } = [];
        public Dictionary<uint, HashSet<string>> Flags { get; } = [];
    }

    private static readonly Regex FetchLine = new(@"^\* (\d+) FETCH \((.*)\)$", RegexOptions.Singleline);

    private static void Apply(View view, string line)
    {
        if (!line.StartsWith("* ", StringComparison.Ordinal))
            return;
        string[] parts = line.Split(' ');
        if (parts.Length >= 3 && parts[2] == "EXISTS")
        {
            int n = int.Parse(parts[1]);
            Assert.True(n >= view.Uids.Count, $"EXISTS {n} shrinks view of {view.Uids.Count}");
            while (view.Uids.Count < n)
                view.Uids.Add(0);
        }
        else if (parts.Length >= 3 && parts[2] == "EXPUNGE")
        {
            int n = int.Parse(parts[1]);
            Assert.InRange(n, 1, view.Uids.Count);
            view.Flags.Remove(view.Uids[n - 1]);
            view.Uids.RemoveAt(n - 1);
        }
        else if (FetchLine.Match(line) is { Success: true } m)
        {
            int seq = int.Parse(m.Groups[1].Value);
            Assert.InRange(seq, 1, view.Uids.Count);
            string body = m.Groups[2].Value;
            var uidMatch = Regex.Match(body, @"UID (\d+)");
            uint uid = view.Uids[seq - 1];
            if (uidMatch.Success)
            {
                uint u = uint.Parse(uidMatch.Groups[1].Value);
                if (uid == 0)
                {
                    view.Uids[seq - 1] = u;
                    uid = u;
                }
                Assert.True(uid == u, $"seq {seq} is UID {uid} in the view but server says {u}");
            }
            var flagsMatch = Regex.Match(body, @"FLAGS \(([^)]*)\)");
            if (flagsMatch.Success && uid != 0)
                view.Flags[uid] = flagsMatch.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(f => f != "\\Recent").ToHashSet();
        }
    }

    private static async Task RunAsync(TestClient c, View view, string command)
    {
        foreach (string line in await c.CommandAsync(command))
            Apply(view, line);
    }

    [Fact]
    public async Task Twenty_sessions_agree_with_the_store()
    {
        await using var s = await TestServer.StartAsync();
        const int sessions = 20, operations = 25;
        string[] flags = ["\\Seen", "\\Flagged", "\\Deleted", "$Work"];
        var views = new View[sessions];
        var clients = new TestClient[sessions];
        for (int i = 0; i < sessions; i++)
        {
            clients[i] = await s.ConnectAsync();
            views[i] = new View();
            await RunAsync(clients[i], views[i], "SELECT INBOX");
        }
        await Task.WhenAll(Enumerable.Range(0, sessions).Select(async i =>
        {
            var rnd = new Random(i);
            TestClient c = clients[i];
            View v = views[i];
            for (int op = 0; op < operations; op++)
            {
                int choice = rnd.Next(10);
                if (choice < 3 || v.Uids.Count == 0)
                {
                    string msg = $"Subject: s{i} op{op}\r\n\r\nbody\r\n";
                    await RunAsync(c, v, $"APPEND INBOX {{{msg.Length}+}}\r\n{msg}");
                }
                else if (choice < 6)
                {
                    int seq = rnd.Next(1, v.Uids.Count + 1);
                    string sign = rnd.Next(2) == 0 ? "+" : "-";
                    await RunAsync(c, v, $"STORE {seq} {sign}FLAGS ({flags[rnd.Next(flags.Length)]})");
                }
                else if (choice < 7)
                {
                    await RunAsync(c, v, "EXPUNGE");
                }
                else if (choice < 9)
                {
                    await RunAsync(c, v, "FETCH 1:* (UID FLAGS)");
                }
                else
                {
                    await RunAsync(c, v, "NOOP");
                }
            }
        }));
        await using var account = await s.Store.OpenAccountAsync("alice");
        long inbox = (await account.GetMailboxAsync("INBOX"))!.Id;
        await Task.Delay(200);
        IReadOnlyList<MessageRecord> truth = await account.ListMessagesAsync(inbox);
        for (int i = 0; i < sessions; i++)
        {
            await RunAsync(clients[i], views[i], "NOOP");
            if (views[i].Uids.Count > 0)
                await RunAsync(clients[i], views[i], "FETCH 1:* (UID FLAGS)");
            Assert.Equal(truth.Select(r => r.Uid), views[i].Uids);
            foreach (MessageRecord r in truth)
            {
                var expected = Postern.Imap.Server.ImapSessionFlags.Names(r.Flags, r.Keywords).ToHashSet();
                Assert.True(expected.SetEquals(views[i].Flags[r.Uid]), $"session {i} uid {r.Uid}: {string.Join(' ', views[i].Flags[r.Uid])} vs {string.Join(' ', expected)}");
            }
            await clients[i].DisposeAsync();
        }
    }
}
