using Postern.Mail.Dsn;
using Postern.Smtp.Tests.Server;

namespace Postern.Smtp.Tests.Interop;

/// <summary>Postfix passing RFC 3461 parameters on to Postern's MX (which offers DSN when it has a queue).</summary>
public class PostfixDsnTests
{
    [Fact]
    public async Task Postfix_passes_dsn_parameters_and_postern_queues_a_delivered_dsn()
    {
        Assert.True(PostfixInstance.Available, "postfix is not installed (scripts/test-packages.txt)");
        var queue = new RecordingQueue();
        await using var s = await SmtpTestServer.StartAsync(o => o with { OutgoingQueue = queue });
        using var postfix = await PostfixInstance.StartAsync(s.MxPort);
        string script = """
            import smtplib, sys
            msg = b"From: sender@relay.test\r\nTo: alice@example.org\r\nSubject: dsn via postfix\r\nMessage-ID: <pf-dsn-1@relay.test>\r\n\r\nhello\r\n"
            with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as c:
                c.ehlo("client.test")
                c.sendmail("sender@relay.test", ["alice@example.org"], msg,
                           mail_options=["ENVID=pf+2Benvid", "RET=HDRS"],
                           rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;Alice@Example.org"])
            print("sent")
            """;
        string file = Path.Combine(s.Dir, "send.py");
        await File.WriteAllTextAsync(file, script);
        (int code, string output) = await PeerServers.RunAsync("/usr/bin/python3", [file, postfix.Port.ToString()]);
        Assert.True(code == 0, output);
        // Postfix queues, then relays: wait for the DSN (bounded).
        for (int i = 0; i < 600 && queue.Enqueued.IsEmpty; i++)
            await Task.Delay(100);
        var (m, content) = Assert.Single(queue.Enqueued);
        Assert.Equal("", m.MailFrom);
        Assert.Equal("sender@relay.test", Assert.Single(m.Recipients).Address);
        var dsn = DsnParser.Parse(content)!;
        Assert.Equal("pf+envid", dsn.OriginalEnvelopeId);
        Assert.Equal("pf-dsn-1@relay.test", dsn.OriginalMessageId);
        var r = Assert.Single(dsn.Recipients);
        Assert.Equal(DsnAction.Delivered, r.ActionValue);
        Assert.Equal("alice@example.org", r.FinalRecipient!.Address);
        Assert.Equal(new DsnAddress("rfc822", "Alice@Example.org"), r.OriginalRecipient);
        Assert.Single(await s.MessagesAsync("alice"));
    }
}
