using System.Text;
using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using Postern.Tests.Shared;

namespace Postern.Smtp.Tests.Server;

/// <summary>
/// Mutated SMTP conversations (commands, DATA and BDAT bodies, STARTTLS, smuggling attempts) sent
/// to a running server in one write each, then the client's half of the connection closed: every
/// reply is a well-formed SMTP reply, the server closes the connection once the client has gone
/// (it never waits forever for more), no session ends in an unexpected exception, and the server
/// still serves a normal session afterwards.
/// </summary>
public class SessionFuzzTests
{
    private static readonly string[] Scripts =
    [
        "EHLO client.example\r\nMAIL FROM:<a@remote.example> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n..dot\r\n.\r\nQUIT\r\n",
        "EHLO c.example\r\nMAIL FROM:<a@b.example> BODY=BINARYMIME\r\nRCPT TO:<alice@example.org>\r\nBDAT 12\r\nSubject: y\r\nBDAT 8 LAST\r\n\r\nhello\r\nQUIT\r\n",
        "HELO x.example\r\nRSET\r\nNOOP\r\nVRFY alice\r\nEXPN staff\r\nHELP\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.org> NOTIFY=NEVER\r\nRCPT TO:<nobody@elsewhere.example>\r\nDATA\r\n.\r\n",
        "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nx\n.\nMAIL FROM:<evil@b.example>\r\n\r\n.\r\n",
        "EHLO c.example\r\nMAIL FROM:<jörg@bücher.example> SMTPUTF8\r\nRCPT TO:<alice@example.org> ORCPT=rfc822;alice@example.org\r\nDATA\r\nFrom: jörg@bücher.example\r\n\r\nü\r\n.\r\n",
        "EHLO c.example\r\nSTARTTLS\r\n\u0016\u0003\u0001\u0000\u0005hello",
        "EHLO c.example\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@b.example> AUTH=<> REQUIRETLS\r\nQUIT\r\n",
        "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.org>\r\nBDAT 0 LAST\r\nDATA\r\n",
    ];

    private static readonly Regex ReplyLine = new(@"^[2-5][0-9][0-9]([ -]|$)", RegexOptions.CultureInvariant);

    [Fact]
    public async Task Mutated_conversations_get_well_formed_replies_and_a_closed_connection()
    {
        var logger = new ErrorLog();
        await using var s = await SmtpTestServer.StartAsync(authLimiter: FuzzServers.NoAuthDelays(), logger: logger);
        Prop.ForAll(Mutations.Of(Scripts), input => Converse(s.MxPort, input).GetAwaiter().GetResult())
            .Check(Config.QuickThrowOnFailure.WithMaxTest(Mutations.Runs(300)));
        Assert.Empty(logger.Errors);
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("after@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("Subject: still fine\r\n\r\nyes\r\n.", "250");
    }

    private static async Task<bool> Converse(int port, byte[] input)
    {
        string text = Encoding.UTF8.GetString(await FuzzConnection.SendAndCloseAsync(port, input));
        string[] lines = text.Split("\r\n");
        // After STARTTLS the server speaks TLS: only the clear-text part is SMTP.
        int tls = Array.FindIndex(lines, l => l.StartsWith("220 2.0.0", StringComparison.Ordinal) && l.Contains("TLS", StringComparison.OrdinalIgnoreCase));
        IEnumerable<string> smtp = tls >= 0 ? lines.Take(tls + 1) : lines.SkipLast(1);
        foreach (string line in smtp)
        {
            if (!ReplyLine.IsMatch(line))
                throw new InvalidOperationException($"not an SMTP reply: \"{line}\"; input {Mutations.Show(input)}");
        }
        return lines.Length > 0 && lines[0].StartsWith("220 ", StringComparison.Ordinal);
    }
}
