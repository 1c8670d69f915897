
namespace Postern.Smtp.Tests.Interop;

/// <summary>Postfix (a real MTA) relaying into Postern's MX listener, as it would over the internet.</summary>
public class PostfixTests
{
    [Fact]
    public async Task Postfix_relays_messages_into_postern_over_starttls()
    {
        Assert.True(PostfixInstance.Available, "postfix is not installed (scripts/test-packages.txt)");
        await using var p = await PeerServers.StartAsync();
        using var postfix = await PostfixInstance.StartAsync(p.Smtp.MxPort);
        // Three messages in one swaks session each: one for alice, one for bob and alice, one with a dot-stuffed line.
        string[][] sends =
        [
            ["--to", "alice@example.org", "--header", "Subject: via postfix 1"],
            ["--to", "bob@example.org,alice+tag@example.org", "--header", "Subject: via postfix 2"],
            ["--to", "alice@example.org", "--header", "Subject: via postfix 3", "--body", "line\n.\n..dots\nend"],
        ];
        foreach (string[] s in sends)
        {
            (int code, string output) = await PeerServers.RunAsync("swaks", ["--server", "127.0.0.1:" + postfix.Port, "--from", "sender@relay.test", "--helo", "client.test", .. s]);
            Assert.True(code == 0, output);
        }
        // Postfix queues, then relays: wait for the deliveries (bounded).
        for (int i = 0; i < 600 && ((await p.Smtp.MessagesAsync("alice")).Count < 3 || (await p.Smtp.MessagesAsync("bob")).Count < 1); i++)
            await Task.Delay(100);
        Assert.True((await p.Smtp.MessagesAsync("alice")).Count == 3, File.Exists(postfix.MailLog) ? File.ReadAllText(postfix.MailLog) : "no maillog");
        // Read back as a mail client would: over IMAP, with imaplib.
        List<string> alice = await p.ImapMessagesAsync("alice@example.org");
        Assert.Equal(3, alice.Count);
        string bob = Assert.Single(await p.ImapMessagesAsync("bob@example.org"));
        Assert.Contains("Subject: via postfix 2", bob);
        Assert.All(alice, m => Assert.Contains("with ESMTPS id", m));
        Assert.All(alice, m => Assert.Contains("Return-Path: <sender@relay.test>", m));
        Assert.Contains(alice, m => m.Contains("\r\n.\r\n..dots\r\n", StringComparison.Ordinal));
        string log = File.ReadAllText(postfix.MailLog);
        Assert.Contains("TLS connection established to 127.0.0.1", log);
        Assert.Contains("status=sent (250 2.0.0", log);
    }
}
