using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Postern.Store.Junk;

namespace Postern.Smtp.Tests.Server;

/// <summary>The junk filter at delivery: per recipient account, mail from other servers only, never holding mail back.</summary>
public class JunkDeliveryTests
{
    private const string JunkBody = "From: promo@deals.example\r\nSubject: lottery prize winner\r\n\r\nclaim your lottery prize now, winner\r\n";

    private static readonly JunkFilter Filter = new(new JunkFilterOptions { MinJunkMessages = 3, MinHamMessages = 3 });

    private static async Task TrainAsync(SmtpTestServer s, string account)
    {
        await using var a = await s.Store.OpenAccountAsync(account);
        for (int i = 0; i < 3; i++)
        {
            await Filter.TrainExternalAsync(a, Encoding.ASCII.GetBytes($"From: promo{i}@deals.example\r\nSubject: lottery prize {i}\r\n\r\nclaim your lottery prize winner {i}\r\n"), JunkClass.Junk);
            await Filter.TrainExternalAsync(a, Encoding.ASCII.GetBytes($"From: colleague@work.example\r\nSubject: agenda {i}\r\n\r\nproject meeting agenda notes {i}\r\n"), JunkClass.Ham);
        }
    }

    /// <summary>An authenticated submission by <paramref name="user"/>@example.org.</summary>
    private static async Task SubmitAsync(SmtpTestServer s, string user, string rcpt, string message)
    {
        await using var c = await s.ConnectAsync(s.SubmissionPort);
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}@example.org\0" + SmtpTestServer.Password)), "235");
        await c.ExpectAsync($"MAIL FROM:<{user}@example.org>", "250");
        await c.ExpectAsync($"RCPT TO:<{rcpt}>", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(message + ".", "250");
    }

    private sealed class ListLogger : ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue($"{logLevel} {formatter(state, exception)}");
    }

    [Fact]
    public async Task Each_recipient_account_decides_for_itself_and_submissions_are_not_classified()
    {
        var log = new ListLogger();
        await using var s = await SmtpTestServer.StartAsync(o => o with { JunkFilter = Filter }, logger: log);
        await TrainAsync(s, "alice"); // bob has trained nothing: his filter does not judge yet

        await using (var c = await s.ConnectAsync())
        {
            await c.ExpectAsync("EHLO remote.example", "250");
            await c.ExpectAsync("MAIL FROM:<promo@deals.example>", "250");
            await c.ExpectAsync("RCPT TO:<alice@example.org>", "250");
            await c.ExpectAsync("RCPT TO:<bob@example.org>", "250");
            await c.ExpectAsync("DATA", "354");
            await c.ExpectAsync(JunkBody + ".", "250");
        }
        Assert.Single(await s.MessagesAsync("alice", "Junk"));
        Assert.Empty(await s.MessagesAsync("alice"));
        Assert.Single(await s.MessagesAsync("bob"));
        Assert.Contains(log.Lines, l => l.Contains("junk classified", StringComparison.Ordinal) && l.Contains("account=alice", StringComparison.Ordinal) && l.Contains("junk=True", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Lines, l => l.Contains("junk classified", StringComparison.Ordinal) && l.Contains("account=bob", StringComparison.Ordinal));

        // alice turns her filter off: the same message stays in her inbox.
        await using (var a = await s.Store.OpenAccountAsync("alice"))
            await a.JunkWords.SetSettingsAsync(enabled: false, threshold: null);
        await using (var c = await s.ConnectAsync())
        {
            await c.EnvelopeAsync("promo@deals.example", "alice@example.org");
            await c.ExpectAsync("DATA", "354");
            await c.ExpectAsync(JunkBody + ".", "250");
        }
        Assert.Single(await s.MessagesAsync("alice"));
        Assert.Single(await s.MessagesAsync("alice", "Junk"));
        await using (var a = await s.Store.OpenAccountAsync("alice"))
            await a.JunkWords.SetSettingsAsync(enabled: true, threshold: null);

        // The same words from bob's own submission to alice are not judged.
        await SubmitAsync(s, "bob", "alice@example.org", JunkBody.Replace("promo@deals.example", "bob@example.org", StringComparison.Ordinal));
        Assert.Equal(2, (await s.MessagesAsync("alice")).Count);
    }

    /// <summary>Stands in for DMARC: a message with "X-Test-Dmarc: pass" has its From verified.</summary>
    private sealed class FakeDmarc : Postern.Smtp.Delivery.IIncomingMessageChecker
    {
        public ValueTask<Postern.Smtp.Delivery.IncomingVerdict> CheckAsync(Postern.Smtp.Delivery.IncomingMessage message, CancellationToken cancellationToken) =>
            ValueTask.FromResult(message.Headers.GetValue("X-Test-Dmarc") == "pass" && message.AuthenticatedAccount is null
                ? new Postern.Smtp.Delivery.IncomingVerdict { VerifiedFrom = Postern.Mail.AddressParser.ParseMailboxes(message.Headers.GetValue("From"))[0].Address.ToLowerInvariant() }
                : Postern.Smtp.Delivery.IncomingVerdict.Accept);
    }

    [Fact]
    public async Task Replies_from_verified_senders_the_account_wrote_to_are_not_judged()
    {
        var log = new ListLogger();
        await using var s = await SmtpTestServer.StartAsync(o => o with { JunkFilter = Filter, MessageCheckers = [new FakeDmarc()] }, logger: log);
        await TrainAsync(s, "alice");
        // alice writes to bob (any address she sends to counts; a local one keeps the test without a queue).
        await SubmitAsync(s, "alice", "Bob@Example.org", "From: alice@example.org\r\nSubject: hello\r\n\r\nhi\r\n");
        await using (var a = await s.Store.OpenAccountAsync("alice"))
            Assert.True(await a.JunkWords.IsContactAsync("bob@example.org"));

        async Task SendAsync(string from, bool verified)
        {
            await using var c = await s.ConnectAsync();
            await c.EnvelopeAsync(from, "alice@example.org");
            await c.ExpectAsync("DATA", "354");
            await c.ExpectAsync($"From: {from}\r\n" + (verified ? "X-Test-Dmarc: pass\r\n" : "") + "Subject: lottery prize winner\r\n\r\nclaim your lottery prize now, winner\r\n.", "250");
        }
        await SendAsync("bob@example.org", verified: true);    // a reply from bob: trusted
        await SendAsync("bob@example.org", verified: false);   // anyone can write bob's address in From: judged
        await SendAsync("promo@deals.example", verified: true); // verified, but alice never wrote there: judged
        Assert.Single(await s.MessagesAsync("alice"));
        Assert.Equal(2, (await s.MessagesAsync("alice", "Junk")).Count);
        Assert.Contains(log.Lines, l => l.Contains("junk skipped", StringComparison.Ordinal) && l.Contains("from=bob@example.org", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_broken_junk_database_delivers_the_mail_anyway_and_says_so()
    {
        var log = new ListLogger();
        await using var s = await SmtpTestServer.StartAsync(o => o with { JunkFilter = Filter }, logger: log);
        await File.WriteAllTextAsync(Path.Combine(s.Dir, "accounts", "alice", "junk.db"), "this is not a database, and it is long enough to have a header that SQLite reads and refuses.");
        await using (var c = await s.ConnectAsync())
        {
            await c.EnvelopeAsync("promo@deals.example", "alice@example.org");
            await c.ExpectAsync("DATA", "354");
            await c.ExpectAsync(JunkBody + ".", "250");
        }
        Assert.Single(await s.MessagesAsync("alice"));
        Assert.Contains(log.Lines, l => l.StartsWith("Warning junk filter failed", StringComparison.Ordinal) && l.Contains("account=alice", StringComparison.Ordinal));
    }
}
