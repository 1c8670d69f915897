using System.Globalization;
using System.Text;
using Postern.Queue;
using Postern.Queue.Sqlite;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;

namespace Postern.Tests;

/// <summary>
/// Kills `postern serve` with SIGKILL while its queue delivers to a slow scripted peer, at points chosen by the
/// peer's progress (the n-th transaction of a run: before DATA, after the peer accepted but before its 250, or
/// right after the 250), restarts it, and checks that nothing is lost: every message reaches the peer at least
/// once, a message is delivered again only after a crash (never twice in one run), a message the peer accepted
/// just before a crash is delivered again (the documented duplicate), and the queue never marks delivered what
/// the peer did not get.
/// </summary>
public class QueueCrashTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Messages = 100;
    private const int Kills = 10;

    [Fact]
    public async Task Killed_deliveries_lose_nothing_and_duplicate_only_across_a_crash()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Cli.AddAccount(data, "alice");
        await using var peer = new ScriptedSmtpPeer();
        await EnqueueAsync(data, Messages);
        string conf = WriteConfig(tmp, peer.Port);

        int seed = int.TryParse(Environment.GetEnvironmentVariable("POSTERN_CRASH_SEED"), out var sv) ? sv : Random.Shared.Next();
        var rnd = new Random(seed);
        var log = new StringBuilder($"seed {seed} (POSTERN_CRASH_SEED to replay)\n");
        var acceptedThenKilled = new List<int>();
        int kills = 0;
        for (int run = 0; run < Kills; run++)
        {
            var phase = (PeerTrapPhase)rnd.Next(0, 3);
            int transaction = rnd.Next(1, 5);
            int extraMs = phase == PeerTrapPhase.AfterReply ? rnd.Next(0, 80) : 0;
            peer.BeginRun(run, phase, transaction);
            using var serve = ServeProcess.Start(conf);
            Task finished = WaitAllDeliveredAsync(peer);
            Task first = await Task.WhenAny(peer.Triggered, finished, serve.Process.WaitForExitAsync()).WaitAsync(TimeSpan.FromMinutes(5));
            Assert.True(!serve.Process.HasExited, $"{log}run {run}: serve exited:\n{serve.Log}");
            if (first != peer.Triggered)
            {
                // Everything was delivered before the trap: no more kills to place.
                serve.Kill();
                log.Append(CultureInfo.InvariantCulture, $"run {run}: all delivered before the trap\n");
                break;
            }
            int message = await peer.Triggered;
            if (extraMs > 0) await Task.Delay(extraMs);
            serve.Kill();
            peer.Release();
            kills++;
            if (phase == PeerTrapPhase.AcceptedBeforeReply) acceptedThenKilled.Add(message);
            log.Append(CultureInfo.InvariantCulture, $"run {run}: killed at {phase} of transaction {transaction} (message {message}) +{extraMs} ms\n");
            await CheckNothingLostAsync(data, peer, log.ToString() + $"after run {run}: ");
        }

        // The last run is left alone: everything must arrive and the queue empty.
        peer.BeginRun(Kills);
        using (var serve = ServeProcess.Start(conf))
        {
            await WaitAllDeliveredAsync(peer).WaitAsync(TimeSpan.FromMinutes(5));
            for (int i = 0; ; i++)
            {
                var r = Cli.Run("queue", "list", "--dir", data);
                if (r.Stdout.Contains("queue is empty", StringComparison.Ordinal)) break;
                Assert.True(i < 600, $"{log}queue not empty at the end:\n{r.Stdout}{r.Stderr}\n{serve.Log}");
                await Task.Delay(200);
            }
            serve.Kill();
        }
        await CheckNothingLostAsync(data, peer, log.ToString() + "at the end: ", final: true);

        List<(int Message, int Run)> accepted = peer.Accepted();
        foreach (var group in accepted.GroupBy(a => a.Message))
        {
            // A second delivery needs a crash in between: never twice in one run, at most once more per kill.
            Assert.True(group.Select(a => a.Run).Distinct().Count() == group.Count(), $"{log}message {group.Key} delivered twice in one run: {string.Join(",", group.Select(a => a.Run))}");
            Assert.True(group.Count() <= 1 + kills, $"{log}message {group.Key} delivered {group.Count()} times");
        }
        // The peer had accepted these when Postern died before hearing the 250: they must have come again.
        foreach (int m in acceptedThenKilled)
            Assert.True(accepted.Count(a => a.Message == m) >= 2, $"{log}message {m} (accepted, then killed before the 250) was not delivered again");
        Assert.True(kills >= Kills / 2, $"{log}only {kills} kills hit a delivery");
        int twice = accepted.GroupBy(a => a.Message).Count(g => g.Count() > 1);
        output.WriteLine(log.ToString() + $"{kills} kills; {accepted.Count} deliveries of {Messages} messages, {twice} delivered more than once");
    }

    private static async Task EnqueueAsync(string data, int count)
    {
        await using var store = SqliteQueueStore.Open(data);
        await using var queue = new OutgoingQueue(new QueueOptions { DataDirectory = data }, store, null);
        for (int i = 0; i < count; i++)
        {
            byte[] m = Encoding.ASCII.GetBytes($"From: alice@example.org\r\nTo: bob@remote.test\r\nSubject: crash {i}\r\nMessage-ID: <crash{i}@example.org>\r\n\r\n{new string('x', 200 + i)}\r\n");
            await queue.EnqueueAsync(new OutgoingMessage("alice", "alice@example.org", [new OutboundRecipient("bob@remote.test")],
                () => new MemoryStream(m), m.Length, false, false, false, null, null, null, 1), default);
        }
    }

    private static string WriteConfig(TempFolder tmp, int peerPort)
    {
        int smtp = Postern.Testing.PosternServeProcess.FreePort();
        File.WriteAllText(tmp.Sub("postern.conf"), $$"""
            hostname: mail.test
            data-dir: data
            shutdown-grace-seconds: 2
            listeners:
              local:
                ips: [127.0.0.1]
                smtp: {enabled: true, port: {{smtp}}}
            dns:
              nameservers: ["127.0.0.1:9"]
            queue:
              first-retry-seconds: 1
              max-attempts: 60
              max-concurrent-per-domain: 4
            transports:
              peer:
                type: relay
                host: 127.0.0.1
                port: {{peerPort}}
                tls: none
            routes:
              - transport: peer
            """);
        return tmp.Sub("postern.conf");
    }

    private static async Task WaitAllDeliveredAsync(ScriptedSmtpPeer peer)
    {
        while (peer.Accepted().Select(a => a.Message).Distinct().Count() < Messages)
            await Task.Delay(100);
    }

    /// <summary>With the server dead: every message is still in the queue, none failed, and none is marked delivered that the peer did not get.</summary>
    private static async Task CheckNothingLostAsync(string data, ScriptedSmtpPeer peer, string context, bool final = false)
    {
        var got = peer.Accepted().Select(a => a.Message).ToHashSet();
        await using var store = SqliteQueueStore.Open(data);
        var items = await store.ListAsync(new QueueListFilter(IncludeFinished: true, Limit: 10_000));
        Assert.True(items.Count == Messages, $"{context}{items.Count} of {Messages} messages in the queue");
        foreach (var item in items)
        {
            var details = await store.GetAsync(item.Message.Id);
            int number = int.Parse(System.Text.RegularExpressions.Regex.Match(details!.Message.MessageIdHeader ?? "", @"crash(\d+)@").Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.True(item.Delivery.State != DeliveryState.Failed, $"{context}message {number} failed: {item.Delivery.LastError}");
            if (item.Delivery.State == DeliveryState.Delivered)
                Assert.True(got.Contains(number), $"{context}message {number} is marked delivered but the peer never accepted it");
            if (final)
                Assert.True(item.Delivery.State == DeliveryState.Delivered, $"{context}message {number} is {item.Delivery.State}");
        }
    }
}
