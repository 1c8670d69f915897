using System.Collections.Concurrent;
using System.Text;
using Postern.Mail.Dsn;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;
using Postern.Smtp.Tests.Interop;

namespace Postern.Smtp.Tests.Server;

/// <summary>An IOutgoingQueue that records what it is given (the content is read during EnqueueAsync, as a real queue does).</summary>
public sealed class RecordingQueue : IOutgoingQueue
{
    public ConcurrentQueue<(OutgoingMessage Message, byte[] Content)> Enqueued { get; } = new();
    public ConcurrentQueue<(string Account, string MailFrom, OutboundRecipient Recipient)> Checked { get; } = new();
    public Func<OutboundRecipient, QueueRecipientCheck> Check { get; set; } = _ => QueueRecipientCheck.Accept;
    public Exception? Fail { get; set; }
    /// <summary>When set, EnqueueAsync signals Entered and waits for Release.</summary>
    public TaskCompletionSource? Entered { get; set; }
    public TaskCompletionSource? Release { get; set; }
    private int _next;

    public ValueTask<QueueRecipientCheck> CheckRecipientAsync(string account, string mailFrom, OutboundRecipient recipient, CancellationToken cancellationToken)
    {
        Checked.Enqueue((account, mailFrom, recipient));
        return ValueTask.FromResult(Check(recipient));
    }

    public async Task<string> EnqueueAsync(OutgoingMessage message, CancellationToken cancellationToken)
    {
        if (Entered is not null)
        {
            Entered.TrySetResult();
            await Release!.Task;
        }
        if (Fail is not null)
            throw Fail;
        using var ms = new MemoryStream();
        using (Stream s = message.OpenContent())
            await s.CopyToAsync(ms, cancellationToken);
        Enqueued.Enqueue((message, ms.ToArray()));
        return "Q" + Interlocked.Increment(ref _next);
    }
}

/// <summary>Submission to remote recipients through IOutgoingQueue, DSN parameters, FUTURERELEASE, success DSNs.</summary>
public class OutgoingQueueTests
{
    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static async Task<(SmtpTestServer, RecordingQueue)> StartAsync(bool withQueue = true)
    {
        var q = new RecordingQueue();
        var s = await SmtpTestServer.StartAsync(o => withQueue ? o with { OutgoingQueue = q } : o);
        return (s, q);
    }

    private static async Task<SmtpTestClient> LoggedInAsync(SmtpTestServer s)
    {
        var c = await s.ConnectAsync(s.SubmissionPort);
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice@example.org\0" + SmtpTestServer.Password), "235 2.7.0");
        return c;
    }

    private const string Body = "From: Alice <alice@example.org>\r\nTo: someone@remote.example\r\nSubject: hi\r\nMessage-ID: <m1@example.org>\r\n\r\nhello\r\n.";

    [Fact]
    public async Task Smtplib_submission_to_a_remote_address_is_enqueued_with_its_parameters()
    {
        var (s, q) = await StartAsync();
        await using var _ = s;
        string script = """
            import smtplib, sys
            msg = b"From: Alice <alice@example.org>\r\nTo: someone@remote.example\r\nSubject: hi\r\n\r\ncaf\xc3\xa9\r\n"
            with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
                s.ehlo("client.example")
                assert s.has_extn("dsn"), s.esmtp_features
                assert s.has_extn("futurerelease"), s.esmtp_features
                s.login("alice@example.org", "secret")
                s.sendmail("alice@example.org", ["someone@remote.example", "bob@example.org"], msg,
                           mail_options=["BODY=8BITMIME", "RET=HDRS", "ENVID=env+2B1"],
                           rcpt_options=["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;Someone@Remote.Example"])
            print("sent")
            """;
        string file = Path.Combine(s.Dir, "submit.py");
        await File.WriteAllTextAsync(file, script);
        (int code, string output) = await PeerServers.RunAsync("/usr/bin/python3", [file, s.SubmissionPort.ToString()]);
        Assert.True(code == 0, output);
        var (m, content) = Assert.Single(q.Enqueued);
        Assert.Equal("alice", m.Account);
        Assert.Equal("alice@example.org", m.MailFrom);
        var r = Assert.Single(m.Recipients);
        Assert.Equal(new OutboundRecipient("someone@remote.example", "FAILURE,DELAY", "rfc822;Someone@Remote.Example"), r);
        Assert.Equal("env+2B1", m.EnvelopeId);
        Assert.Equal("HDRS", m.Return);
        Assert.True(m.Needs8BitMime);
        Assert.False(m.NeedsSmtpUtf8);
        Assert.False(m.RequireTls);
        Assert.Null(m.HoldUntil);
        Assert.Equal(content.Length, m.Size);
        string text = Encoding.UTF8.GetString(content);
        Assert.StartsWith("Received: from client.example", text);
        Assert.Contains("\r\nMessage-ID: <", text); // added by the MSA for the queued copy too
        Assert.EndsWith("café\r\n", text);
        // The local recipient got its copy; the queue saw the remote recipient at RCPT.
        Assert.Single(await s.MessagesAsync("bob"));
        Assert.Equal("someone@remote.example", Assert.Single(q.Checked).Recipient.Address);
    }

    [Fact]
    public async Task The_250_comes_only_after_enqueue_returned_and_names_the_queue_id()
    {
        var (s, q) = await StartAsync();
        await using var _ = s;
        q.Entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        q.Release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var c = await LoggedInAsync(s);
        await c.ExpectAsync("MAIL FROM:<alice@example.org>", "250");
        await c.ExpectAsync("RCPT TO:<someone@remote.example>", "250");
        await c.ExpectAsync("DATA", "354");
        await c.WriteAsync(Body + "\r\n");
        Task<string> reply = c.ReadReplyAsync();
        await q.Entered.Task;
        Assert.False(reply.IsCompleted);
        Assert.Empty(q.Enqueued);
        q.Release.SetResult();
        string r = await reply;
        Assert.StartsWith("250 2.0.0", r);
        Assert.Contains("queued as Q1", r);
        Assert.Single(q.Enqueued);
    }

    [Fact]
    public async Task Enqueue_failure_gives_451_and_the_retry_does_not_store_local_copies_twice()
    {
        var (s, q) = await StartAsync();
        await using var _ = s;
        q.Fail = new IOException("disk full");
        await using var c = await LoggedInAsync(s);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            await c.ExpectAsync("MAIL FROM:<alice@example.org>", "250");
            await c.ExpectAsync("RCPT TO:<someone@remote.example>", "250");
            await c.ExpectAsync("RCPT TO:<bob@example.org>", "250");
            await c.ExpectAsync("DATA", "354");
            await c.ExpectAsync(Body, attempt == 0 ? "451 4.3.0" : "250");
            q.Fail = null;
        }
        Assert.Single(q.Enqueued);
        Assert.Single(await s.MessagesAsync("bob"));
    }

    [Fact]
    public async Task Queue_refusal_at_rcpt_is_the_reply()
    {
        var (s, q) = await StartAsync();
        await using var _ = s;
        q.Check = r => r.Address.StartsWith("blocked", StringComparison.Ordinal) ? new QueueRecipientCheck(false, 550, "5.7.1", "Recipient is on the suppression list") : QueueRecipientCheck.Accept;
        await using var c = await LoggedInAsync(s);
        await c.ExpectAsync("MAIL FROM:<alice@example.org>", "250");
        string reply = await c.ExpectAsync("RCPT TO:<blocked@remote.example>", "550 5.7.1");
        Assert.Contains("suppression list", reply);
        await c.ExpectAsync("DATA", "554");
    }

    [Fact]
    public async Task Without_a_queue_remote_is_refused_and_nothing_is_advertised()
    {
        var (s, _) = await StartAsync(withQueue: false);
        await using var _s = s;
        await using var c = await s.ConnectAsync(s.SubmissionPort);
        string ehlo = await c.ExpectAsync("EHLO client.example", "250");
        Assert.DoesNotContain("DSN", ehlo);
        Assert.DoesNotContain("FUTURERELEASE", ehlo);
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice@example.org\0" + SmtpTestServer.Password), "235");
        await c.ExpectAsync("MAIL FROM:<alice@example.org> HOLDFOR=60", "555");
        await c.ExpectAsync("MAIL FROM:<alice@example.org> RET=FULL", "555");
        await c.ExpectAsync("MAIL FROM:<alice@example.org>", "250");
        await c.ExpectAsync("RCPT TO:<someone@remote.example>", "550 5.7.0");
        await c.ExpectAsync("RCPT TO:<bob@example.org> NOTIFY=NEVER", "555");
    }

    [Fact]
    public async Task Mx_never_queues_and_does_not_offer_futurerelease()
    {
        var (s, q) = await StartAsync();
        await using var _ = s;
        await using var c = await s.ConnectAsync(s.MxPort);
        string ehlo = await c.ExpectAsync("EHLO client.example", "250");
        Assert.Contains("DSN", ehlo);
        Assert.DoesNotContain("FUTURERELEASE", ehlo);
        await c.ExpectAsync("MAIL FROM:<x@remote.example> HOLDFOR=60", "555");
        await c.ExpectAsync("MAIL FROM:<x@remote.example> RET=HDRS ENVID=abc", "250");
        await c.ExpectAsync("RCPT TO:<someone@elsewhere.example> NOTIFY=NEVER", "550 5.7.1");
        Assert.Empty(q.Checked);
    }

    [Fact]
    public async Task Notify_success_on_local_delivery_queues_a_delivered_dsn_to_the_sender()
    {
        var (s, q) = await StartAsync();
        await using var _ = s;
        await using var c = await s.ConnectAsync(s.MxPort);
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<sender@remote.example> ENVID=QQ314159", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Alice@Example.org", "250");
        await c.ExpectAsync("RCPT TO:<bob@example.org> NOTIFY=NEVER", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("From: sender@remote.example\r\nMessage-ID: <orig@remote.example>\r\nSubject: x\r\n\r\nsecret body\r\n.", "250");
        var (m, content) = Assert.Single(q.Enqueued);
        Assert.Equal("", m.MailFrom);
        Assert.Null(m.Account);
        Assert.Equal("sender@remote.example", Assert.Single(m.Recipients).Address);
        var dsn = DsnParser.Parse(content)!;
        Assert.Equal("QQ314159", dsn.OriginalEnvelopeId);
        Assert.Equal("mx.example.org", dsn.ReportingMta);
        Assert.Equal("orig@remote.example", dsn.OriginalMessageId);
        var r = Assert.Single(dsn.Recipients);
        Assert.Equal(DsnAction.Delivered, r.ActionValue);
        Assert.Equal("2.0.0", r.Status);
        Assert.Equal("alice@example.org", r.FinalRecipient!.Address);
        Assert.Equal("Alice@Example.org", r.OriginalRecipient!.Address);
        Assert.DoesNotContain("secret body", Encoding.UTF8.GetString(content));
        Assert.Single(await s.MessagesAsync("alice"));
    }

    [Fact]
    public async Task No_dsn_for_the_null_sender_or_without_notify_success()
    {
        var (s, q) = await StartAsync();
        await using var _ = s;
        await using var c = await s.ConnectAsync(s.MxPort);
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<>", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org> NOTIFY=SUCCESS", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("Subject: bounce\r\n\r\nx\r\n.", "250");
        await c.ExpectAsync("MAIL FROM:<sender@remote.example>", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org> NOTIFY=FAILURE,DELAY", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("Subject: plain\r\n\r\nx\r\n.", "250");
        Assert.Empty(q.Enqueued);
        Assert.Equal(2, (await s.MessagesAsync("alice")).Count);
    }

    [Fact]
    public async Task Futurerelease_is_advertised_on_submission_and_holds_every_recipient()
    {
        var (s, q) = await StartAsync();
        await using var _ = s;
        await using var c = await s.ConnectAsync(s.SubmissionPort);
        string ehlo = await c.ExpectAsync("EHLO client.example", "250");
        Assert.Matches(@"250-FUTURERELEASE 604800 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ehlo);
        Assert.Contains("250-DSN", ehlo);
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice@example.org\0" + SmtpTestServer.Password), "235");
        await c.ExpectAsync("MAIL FROM:<alice@example.org> HOLDFOR=604801", "554 5.5.4");
        await c.ExpectAsync("MAIL FROM:<alice@example.org> HOLDUNTIL=2000-01-01T00:00:00Z", "554 5.5.4");
        await c.ExpectAsync("MAIL FROM:<alice@example.org> HOLDUNTIL=" + DateTimeOffset.UtcNow.AddDays(8).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), "554 5.5.4");
        await c.ExpectAsync("MAIL FROM:<alice@example.org> HOLDFOR=abc", "501 5.5.4");
        DateTimeOffset before = DateTimeOffset.UtcNow;
        await c.ExpectAsync("MAIL FROM:<alice@example.org> HOLDFOR=3600", "250");
        await c.ExpectAsync("RCPT TO:<someone@remote.example>", "250");
        await c.ExpectAsync("RCPT TO:<bob@example.org> NOTIFY=SUCCESS", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(Body, "250");
        var (m, _) = Assert.Single(q.Enqueued);
        Assert.Equal(["someone@remote.example", "bob@example.org"], m.Recipients.Select(r => r.Address));
        Assert.Equal("SUCCESS", m.Recipients[1].Notify);
        Assert.InRange(m.HoldUntil!.Value, before.AddSeconds(3599), DateTimeOffset.UtcNow.AddSeconds(3601));
        // Held: nothing is delivered locally now.
        Assert.Empty(await s.MessagesAsync("bob"));

        DateTimeOffset until = DateTimeOffset.UtcNow.AddDays(2);
        await c.ExpectAsync("MAIL FROM:<alice@example.org> HOLDUNTIL=" + until.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), "250");
        await c.ExpectAsync("RCPT TO:<someone@remote.example>", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(Body, "250");
        Assert.Equal(until.ToUnixTimeSeconds(), q.Enqueued.Last().Message.HoldUntil!.Value.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task Smtputf8_remote_recipient_needs_smtputf8()
    {
        var (s, q) = await StartAsync();
        await using var _ = s;
        await using var c = await LoggedInAsync(s);
        await c.ExpectAsync("MAIL FROM:<alice@example.org> SMTPUTF8", "250");
        await c.ExpectAsync("RCPT TO:<jörg@remote.example> ORCPT=utf-8;jörg@remote.example", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(Body, "250");
        var (m, _) = Assert.Single(q.Enqueued);
        Assert.True(m.NeedsSmtpUtf8);
        Assert.Equal("utf-8;jörg@remote.example", m.Recipients[0].OriginalRecipient);
    }
}
