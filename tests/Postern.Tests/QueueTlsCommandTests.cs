using Postern.Queue.Sqlite;
using Postern.Security.MtaSts;
using Postern.Smtp.Client;

namespace Postern.Tests;

/// <summary>`postern queue tls`: what recipient domains' servers offered, and the cached MTA-STS policies.</summary>
public class QueueTlsCommandTests
{
    [Fact]
    public void A_folder_without_a_queue_is_an_error_with_a_message()
    {
        using var tmp = new TempFolder();
        var r = Cli.Run("queue", "tls", "--dir", tmp.Sub("nothing-here"));
        // The CLI's usual error exit (1, as `queue show`), and the folder in the message.
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no queue in " + tmp.Sub("nothing-here"), r.Stderr, StringComparison.Ordinal);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public async Task An_empty_queue_says_so()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Directory.CreateDirectory(data);
        await SqliteQueueStore.Open(data).DisposeAsync(); // creates queue/queue.db
        var r = Cli.Run("queue", "tls", "--dir", data);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("(no attempts recorded yet)", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("(none cached)", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recorded_domains_and_cached_policies_are_listed_and_filtered()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Directory.CreateDirectory(data);
        var when = new DateTimeOffset(2026, 11, 30, 13, 2, 0, TimeSpan.Zero);
        await using (SqliteQueueStore store = SqliteQueueStore.Open(data))
        {
            await store.RecordAsync(new RecipientDomainTls("example.org", true, false, "mx1.example.org", when), default);
            await store.RecordAsync(new RecipientDomainTls("old.example", false, false, "mail.old.example", when.AddHours(-5)), default);
            MtaStsPolicy policy = MtaStsPolicy.Parse("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: *.backup.example.org\r\nmax_age: 604800\r\n"u8, out string? error)
                ?? throw new InvalidOperationException(error);
            await store.PutAsync(new CachedMtaStsPolicy("example.org", "20261130T1302", policy, when), default);
        }

        var r = Cli.Run("queue", "tls", "--dir", data);
        Assert.Equal(0, r.ExitCode);
        string[] lines = r.Stdout.Split('\n', StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith("example.org", StringComparison.Ordinal) && l.Contains("yes       no          mx1.example.org (2026-11-30 13:02)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("old.example", StringComparison.Ordinal) && l.Contains("no        no          mail.old.example (2026-11-30 08:02)", StringComparison.Ordinal));
        Assert.Contains("MTA-STS policy cache (RFC 8461)", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("id=20261130T1302 mode=enforce mx=mx1.example.org,*.backup.example.org fetched=2026-11-30 13:02 expires=2026-12-07 13:02", r.Stdout, StringComparison.Ordinal);

        var one = Cli.Run("queue", "tls", "--dir", data, "--domain", "old.example");
        Assert.Equal(0, one.ExitCode);
        Assert.Contains("mail.old.example", one.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("mx1.example.org", one.Stdout, StringComparison.Ordinal);
        Assert.Contains("(none cached)", one.Stdout, StringComparison.Ordinal);
    }
}
