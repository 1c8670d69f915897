using System.Text;
using Postern.Queue;
using Postern.Queue.Sqlite;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;

namespace Postern.Tests;

/// <summary>`postern queue ...` on the data folder of a stopped server.</summary>
public class QueueCommandTests
{
    private static async Task<long> EnqueueAsync(string data)
    {
        await using var store = SqliteQueueStore.Open(data);
        await using var queue = new OutgoingQueue(new QueueOptions { DataDirectory = data }, store, null);
        byte[] m = Encoding.ASCII.GetBytes("From: alice@example.org\r\nTo: bob@remote.example\r\nSubject: cli\r\n\r\nbody\r\n");
        string id = await queue.EnqueueAsync(new OutgoingMessage("alice", "alice@example.org", [new OutboundRecipient("bob@remote.example")],
            () => new MemoryStream(m), m.Length, false, false, false, null, null, null, 1), default);
        return long.Parse(id, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task List_show_hold_unhold_schedule_dump_and_drop_work_on_a_stopped_data_folder()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Directory.CreateDirectory(data);
        long id = await EnqueueAsync(data);
        string ids = id.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var r = Cli.Run("queue", "list", "--dir", data);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("remote.example", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("<alice@example.org>", r.Stdout, StringComparison.Ordinal);

        Assert.Equal(0, Cli.Run("queue", "hold", "--dir", data, ids).ExitCode);
        Assert.Contains(",held", Cli.Run("queue", "list", "--dir", data, "--held").Stdout, StringComparison.Ordinal);
        Assert.Equal(0, Cli.Run("queue", "unhold", "--dir", data, ids).ExitCode);
        Assert.Contains("queue is empty", Cli.Run("queue", "list", "--dir", data, "--held").Stdout, StringComparison.Ordinal);
        r = Cli.Run("queue", "schedule", "--dir", data, ids, "--in", "2h");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("scheduled 1", r.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, Cli.Run("queue", "schedule", "--dir", data, ids, "--in", "soon").ExitCode);

        r = Cli.Run("queue", "show", "--dir", data, ids);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("bob@remote.example: queued", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("Subject: cli", Cli.Run("queue", "dump", "--dir", data, ids).Stdout, StringComparison.Ordinal);

        Assert.Equal(0, Cli.Run("queue", "drop", "--dir", data, ids).ExitCode);
        r = Cli.Run("queue", "show", "--dir", data, ids);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no message", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("suppression list is empty", Cli.Run("queue", "suppression", "list", "--dir", data).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fail_on_a_stopped_data_folder_writes_the_dsn_with_the_configured_host_name()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Directory.CreateDirectory(data);
        // quickstart's layout: postern.conf next to the data folder.
        File.WriteAllText(tmp.Sub("postern.conf"), """
            hostname: mail.offline.test
            data-dir: data
            listeners:
              local:
                ips: [127.0.0.1]
                smtp: {enabled: true, port: 25}
            """);
        long id = await EnqueueAsync(data);
        var r = Cli.Run("queue", "fail", "--dir", data, id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        Assert.DoesNotContain("warning", r.Stderr, StringComparison.Ordinal);

        await using var store = SqliteQueueStore.Open(data);
        var dsn = (await store.ListAsync(new QueueListFilter(IncludeFinished: true))).Single(i => i.Message.MailFrom.Length == 0);
        string text = File.ReadAllText(Path.Combine(store.MessageDirectory, dsn.Message.File));
        Assert.Contains("Reporting-MTA: dns; mail.offline.test", text, StringComparison.Ordinal);
        Assert.Contains("MAILER-DAEMON@mail.offline.test", text, StringComparison.Ordinal);

        // --config names it explicitly; a missing file is an error, not a silent fallback.
        long id2 = await EnqueueAsync(data);
        r = Cli.Run("queue", "fail", "--dir", data, "--config", tmp.Sub("missing.conf"), id2.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, r.ExitCode);
    }
}
