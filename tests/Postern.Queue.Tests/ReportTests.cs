using System.Text;
using Postern.Security.Dkim;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;
using Postern.Store;
using Postern.Store.Sqlite;

namespace Postern.Queue.Tests;

/// <summary>DSNs, suppression, limits and DKIM signing, with a real store for local delivery of DSNs.</summary>
public class ReportTests
{
    private sealed class Setup : IAsyncDisposable
    {
        public QueueFixture F { get; }
        public SqliteMailStore Mail { get; }
        public FakeTransport Remote { get; }

        public FakeTransport Sent => Remote;

        private Setup(QueueFixture f, SqliteMailStore mail, FakeTransport remote)
        {
            F = f;
            Mail = mail;
            Remote = remote;
        }

        public static async Task<Setup> CreateAsync(bool dkim = false, Func<QueueOptions, QueueOptions>? configure = null)
        {
            string dir = Path.Combine(Path.GetTempPath(), "postern-queue-dsn-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            if (dkim)
            {
                string keys = Path.Combine(dir, "dkim", "example.org");
                Directory.CreateDirectory(keys);
                using var ed = DkimPrivateKey.GenerateEd25519();
                File.WriteAllText(Path.Combine(keys, "2603e.pem"), ed.ToPem());
                using var rsa = DkimPrivateKey.GenerateRsa(2048);
                File.WriteAllText(Path.Combine(keys, "2603r.pem"), rsa.ToPem());
            }
            var mail = SqliteMailStore.Open(dir);
            await mail.Directory.CreateAccountAsync("alice");
            await mail.Directory.AddAddressAsync("alice@example.org", "alice");
            var remote = new FakeTransport();
            var transport = new LocalFirstTransport(mail.Directory,
                new LocalDeliveryTransport(mail, new DirectoryRecipientResolver(mail.Directory), "mail.example.org"), remote);
            var f = new QueueFixture(dir, configure, transport, dkim ? new FileDkimKeySource(dir) : null);
            return new Setup(f, mail, remote);
        }

        public async Task<List<string>> InboxAsync()
        {
            await using var acc = await Mail.OpenAccountAsync("alice");
            var inbox = (await acc.GetMailboxAsync("INBOX"))!;
            var list = new List<string>();
            foreach (var m in await acc.ListMessagesAsync(inbox.Id))
            {
                await using var s = await acc.OpenContentAsync(inbox.Id, m.Uid);
                using var r = new StreamReader(s, Encoding.UTF8);
                list.Add(await r.ReadToEndAsync());
            }
            return list;
        }

        public async ValueTask DisposeAsync()
        {
            await F.Queue.DisposeAsync();
            await Mail.DisposeAsync();
            await F.DisposeAsync();
        }
    }

    private static OutboundRecipientResult Bounce(OutboundRecipient r) => new(r.Address, 550, "5.1.1", "No such user here", true);

    [Fact]
    public async Task A_permanent_failure_sends_a_failed_dsn_to_the_local_sender_inbox()
    {
        await using var s = await Setup.CreateAsync(dkim: true);
        s.Remote.Answer = Bounce;
        long id = await s.F.EnqueueAsync(["bob@remote.example"], ret: "FULL");
        await s.F.Queue.RunDueAsync();
        var inbox = await s.InboxAsync();
        string dsn = Assert.Single(inbox);
        Assert.Contains("multipart/report", dsn, StringComparison.Ordinal);
        Assert.Contains("Action: failed", dsn, StringComparison.Ordinal);
        Assert.Contains("Status: 5.1.1", dsn, StringComparison.Ordinal);
        Assert.Contains("550 5.1.1 No such user here", dsn, StringComparison.Ordinal);
        Assert.Contains("Hi Bob.", dsn, StringComparison.Ordinal);
        Assert.Contains("Return-Path: <>", dsn, StringComparison.Ordinal);
        Assert.Contains("DKIM-Signature:", dsn, StringComparison.Ordinal);
        Assert.Contains("d=example.org", dsn, StringComparison.Ordinal);
        var d = (await s.F.Store.GetAsync(id))!;
        Assert.Contains(d.Events, e => e.Kind == "dsn-failed");
        // Only the remote attempt went through the remote transport; the DSN was delivered locally.
        Assert.Single(s.Sent.Requests);
    }

    [Fact]
    public async Task Ret_hdrs_returns_only_the_header()
    {
        await using var s = await Setup.CreateAsync();
        s.Remote.Answer = Bounce;
        await s.F.EnqueueAsync(["bob@remote.example"], ret: "HDRS");
        await s.F.Queue.RunDueAsync();
        string dsn = Assert.Single(await s.InboxAsync());
        Assert.Contains("text/rfc822-headers", dsn, StringComparison.Ordinal);
        Assert.Contains("Subject: hello", dsn, StringComparison.Ordinal);
        Assert.DoesNotContain("Hi Bob.", dsn, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_dsn_to_the_null_sender_nor_when_notify_never()
    {
        await using var s = await Setup.CreateAsync();
        s.Remote.Answer = Bounce;
        await s.F.EnqueueAsync(["bob@remote.example"], account: null, mailFrom: "");
        await s.F.EnqueueAsync(["carol@remote.example"], notify: "NEVER");
        await s.F.EnqueueAsync(["dave@remote.example"], notify: "SUCCESS");
        await s.F.Queue.RunDueAsync();
        Assert.Empty(await s.InboxAsync());
        Assert.Equal(3, s.Sent.Requests.Count);
    }

    [Fact]
    public async Task A_delayed_dsn_is_sent_once_after_four_hours_when_notify_allows()
    {
        await using var s = await Setup.CreateAsync(configure: o => o with { MaxAttempts = 20 });
        s.Remote.Answer = r => new OutboundRecipientResult(r.Address, 451, "4.4.1", "connection refused", false);
        await s.F.EnqueueAsync(["bob@remote.example"], notify: "FAILURE,DELAY");
        await s.F.EnqueueAsync(["carol@remote.example"], notify: "FAILURE");
        for (int i = 0; i < 8; i++)
        {
            await s.F.Queue.RunDueAsync();
            s.F.Clock.Advance(TimeSpan.FromHours(1));
        }
        string dsn = Assert.Single(await s.InboxAsync());
        Assert.Contains("Action: delayed", dsn, StringComparison.Ordinal);
        Assert.Contains("bob@remote.example", dsn, StringComparison.Ordinal);
        Assert.DoesNotContain("carol@remote.example", dsn, StringComparison.Ordinal);
        Assert.Contains("Will-Retry-Until:", dsn, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Notify_parsing_follows_rfc_3461()
    {
        Assert.True(DeliveryReports.NotifyAllows(null, DsnKind.Failed));
        Assert.True(DeliveryReports.NotifyAllows(null, DsnKind.Delayed));
        Assert.False(DeliveryReports.NotifyAllows("NEVER", DsnKind.Failed));
        Assert.True(DeliveryReports.NotifyAllows("SUCCESS,FAILURE", DsnKind.Failed));
        Assert.False(DeliveryReports.NotifyAllows("SUCCESS,FAILURE", DsnKind.Delayed));
        Assert.True(DeliveryReports.NotifyAllows("delay", DsnKind.Delayed));
        // Success only when asked for (RFC 3461 §4.1).
        Assert.False(DeliveryReports.NotifyAllows(null, DsnKind.Relayed));
        Assert.False(DeliveryReports.NotifyAllows("FAILURE,DELAY", DsnKind.Delivered));
        Assert.True(DeliveryReports.NotifyAllows("SUCCESS", DsnKind.Relayed));
        Assert.True(DeliveryReports.NotifyAllows("FAILURE,SUCCESS", DsnKind.Delivered));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Notify_success_relayed_to_a_peer_without_dsn_sends_a_relayed_dsn()
    {
        await using var s = await Setup.CreateAsync(dkim: true);
        // bob's peer does not offer DSN; carol's does (the request went on with the message); dave asked for nothing.
        s.Remote.Answer = r => new OutboundRecipientResult(r.Address, 250, "2.0.0", "Ok: queued as 4XyZ", false) { DsnPassedOn = r.Address.StartsWith("carol", StringComparison.Ordinal) };
        long id = await s.F.EnqueueAsync(["bob@remote.example"], notify: "SUCCESS,FAILURE", envid: "env-bob");
        await s.F.EnqueueAsync(["carol@other.example"], notify: "SUCCESS");
        await s.F.EnqueueAsync(["dave@third.example"]);
        await s.F.Queue.RunDueAsync();
        string dsn = Assert.Single(await s.InboxAsync());
        // RFC 3461 §5.2.2, RFC 3464 §2.3.3: Action relayed with a success status; only the header comes back.
        Assert.Contains("Action: relayed", dsn, StringComparison.Ordinal);
        Assert.Contains("Status: 2.0.0", dsn, StringComparison.Ordinal);
        Assert.Contains("Final-Recipient: rfc822;bob@remote.example", dsn, StringComparison.Ordinal);
        Assert.Contains("Remote-MTA: dns; mx.remote.example", dsn, StringComparison.Ordinal);
        Assert.Contains("Original-Envelope-Id: env-bob", dsn, StringComparison.Ordinal);
        Assert.Contains("250 2.0.0 Ok: queued as 4XyZ", dsn, StringComparison.Ordinal);
        Assert.Contains("text/rfc822-headers", dsn, StringComparison.Ordinal);
        Assert.DoesNotContain("Hi Bob.", dsn, StringComparison.Ordinal);
        Assert.DoesNotContain("carol@", dsn, StringComparison.Ordinal);
        Assert.Contains((await s.F.Store.GetAsync(id))!.Events, e => e.Kind == "dsn-relayed");
    }

    [Fact]
    public async Task Notify_success_delivered_into_a_local_mailbox_sends_a_delivered_dsn()
    {
        await using var s = await Setup.CreateAsync();
        long id = await s.F.EnqueueAsync(["alice@example.org"], notify: "SUCCESS");
        await s.F.Queue.RunDueAsync();
        var inbox = await s.InboxAsync();
        Assert.Equal(2, inbox.Count); // the message itself and the DSN about it
        string dsn = Assert.Single(inbox, m => m.Contains("multipart/report", StringComparison.Ordinal));
        Assert.Contains("Action: delivered", dsn, StringComparison.Ordinal);
        Assert.Contains("Status: 2.0.0", dsn, StringComparison.Ordinal);
        Assert.Contains((await s.F.Store.GetAsync(id))!.Events, e => e.Kind == "dsn-delivered");
        Assert.Empty(s.Sent.Requests);
    }

    [Fact]
    public async Task Hard_bounces_feed_the_suppression_list_checked_at_rcpt()
    {
        await using var s = await Setup.CreateAsync();
        s.Remote.Answer = Bounce;
        await s.F.EnqueueAsync(["Bob@remote.example"], notify: "NEVER");
        await s.F.Queue.RunDueAsync();
        var check = await s.F.Queue.CheckRecipientAsync("alice", "alice@example.org", new OutboundRecipient("bob@remote.example"), default);
        Assert.False(check.Accepted);
        Assert.Equal(550, check.Code);
        Assert.Equal("5.1.1", check.Enhanced);
        Assert.Contains("previously bounced", check.Text, StringComparison.Ordinal);
        // Another account is not affected.
        Assert.True((await s.F.Queue.CheckRecipientAsync("zed", "zed@example.org", new OutboundRecipient("bob@remote.example"), default)).Accepted);
        var list = await s.F.Store.ListSuppressionsAsync("alice");
        Assert.Equal("bob@remote.example", Assert.Single(list).Address);
        Assert.True(await s.F.Store.RemoveSuppressionAsync("alice", "BOB@remote.example"));
        Assert.True((await s.F.Queue.CheckRecipientAsync("alice", "alice@example.org", new OutboundRecipient("bob@remote.example"), default)).Accepted);
    }

    [Fact]
    public async Task Daily_limits_answer_451_and_reset_the_next_day()
    {
        await using var f = new QueueFixture(o => o with { MaxMessagesPerDay = 3, MaxFirstTimeRecipientsPerDay = 2 });
        await f.EnqueueAsync(["r1@remote.example", "r2@remote.example"]);
        var fresh = await f.Queue.CheckRecipientAsync("alice", "alice@example.org", new OutboundRecipient("r3@remote.example"), default);
        Assert.False(fresh.Accepted);
        Assert.Equal((451, "4.7.1"), (fresh.Code, fresh.Enhanced));
        Assert.True((await f.Queue.CheckRecipientAsync("alice", "alice@example.org", new OutboundRecipient("R1@remote.example"), default)).Accepted);
        await f.EnqueueAsync(["r1@remote.example"]);
        await f.EnqueueAsync(["r2@remote.example"]);
        var many = await f.Queue.CheckRecipientAsync("alice", "alice@example.org", new OutboundRecipient("r1@remote.example"), default);
        Assert.False(many.Accepted);
        Assert.Contains("3 messages", many.Text, StringComparison.Ordinal);
        f.Clock.Advance(TimeSpan.FromDays(1));
        Assert.True((await f.Queue.CheckRecipientAsync("alice", "alice@example.org", new OutboundRecipient("r3@remote.example"), default)).Accepted);
    }

    [Fact]
    public async Task Submitted_messages_are_signed_with_every_key_of_the_from_domain()
    {
        await using var s = await Setup.CreateAsync(dkim: true);
        await s.F.EnqueueAsync(["bob@remote.example"]);
        await s.F.Queue.RunDueAsync();
        string sent = Encoding.ASCII.GetString(Assert.Single(s.Sent.Messages));
        Assert.StartsWith("DKIM-Signature:", sent, StringComparison.Ordinal);
        Assert.Contains("a=ed25519-sha256", sent, StringComparison.Ordinal);
        Assert.Contains("a=rsa-sha256", sent, StringComparison.Ordinal);
        Assert.Contains("s=2603e", sent, StringComparison.Ordinal);
        Assert.Contains("s=2603r", sent, StringComparison.Ordinal);
        Assert.Equal(sent.Length, s.Sent.Requests[0].Size);
    }

    [Fact]
    public async Task An_incoming_dsn_is_linked_to_the_message_and_a_hard_bounce_suppressed()
    {
        await using var f = new QueueFixture();
        long id = await f.EnqueueAsync(["bob@remote.example"]);
        var sent = (await f.Store.GetAsync(id))!.Message;
        byte[] original = File.ReadAllBytes(Path.Combine(f.Store.MessageDirectory, sent.File));
        byte[] dsn = Postern.Mail.Dsn.DsnBuilder.Build(new Postern.Mail.Dsn.DsnReport
        {
            ReportingMta = "mx.remote.example",
            To = "alice@example.org",
            EnvelopeId = sent.EnvelopeId,
            OriginalMessage = original,
            Recipients = [new Postern.Mail.Dsn.DsnRecipient(Postern.Mail.Dsn.DsnAddress.ForMailbox("bob@remote.example"), Postern.Mail.Dsn.DsnAction.Failed, "5.1.1")
                { DiagnosticCode = "550 5.1.1 user unknown" }],
        });
        var headers = Postern.Mail.HeaderList.Parse(dsn.AsMemory(0, dsn.AsSpan().IndexOf("\r\n\r\n"u8) + 4));
        var checker = new IncomingDsnChecker(f.Queue);
        var verdict = await checker.CheckAsync(new IncomingMessage(System.Net.IPAddress.Loopback, "mx.remote.example", "", ["alice@example.org"], headers, false, null,
            () => new MemoryStream(dsn)), default);
        Assert.Null(verdict.Rejection);
        var d = (await f.Store.GetAsync(id))!;
        var e = Assert.Single(d.Events, x => x.Kind == "incoming-dsn");
        Assert.Contains("failed 5.1.1 for bob@remote.example", e.Text, StringComparison.Ordinal);
        Assert.Single(await f.Store.ListSuppressionsAsync("alice"));
        // An ordinary message passes untouched.
        byte[] plain = QueueFixture.Message();
        Assert.Same(IncomingVerdict.Accept, await checker.CheckAsync(new IncomingMessage(System.Net.IPAddress.Loopback, "x", "a@b.example", ["alice@example.org"],
            Postern.Mail.HeaderList.Parse(plain), false, null, () => new MemoryStream(plain)), default));
    }
}
