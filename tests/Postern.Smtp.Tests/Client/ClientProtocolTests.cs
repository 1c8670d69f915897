using System.Text;
using Postern.Smtp.Client;
using static Postern.Smtp.Tests.Client.ClientTestSupport;

namespace Postern.Smtp.Tests.Client;

/// <summary>The SMTP client against scripted peers that behave well.</summary>
public class ClientProtocolTests
{
    [Fact]
    public async Task Pipelines_mail_rcpt_data_and_dot_stuffs_the_message()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior());
        string body = "line one\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n";
        OutboundResult r = await SendAsync(peer, Request(Message(body), "a@example.test", "b@example.test"));
        Assert.All(r.Recipients, x => Assert.True(x.Delivered, x.Text));
        Assert.Equal("mx.fake.test", r.RemoteHost);
        Assert.Equal("127.0.0.1", r.RemoteIp);
        Assert.Equal(Message(body), Encoding.UTF8.GetString(Assert.Single(peer.Messages)));
        string[] t = [.. peer.Transcript];
        Assert.Equal("EHLO client.test", t[0]);
        Assert.StartsWith("MAIL FROM:<sender@origin.test> SIZE=", t[1]);
        Assert.Equal(["RCPT TO:<a@example.test>", "RCPT TO:<b@example.test>", "DATA"], t[2..5]);
        Assert.Equal("QUIT", t[^1]);
    }

    [Fact]
    public async Task Without_pipelining_each_command_waits_for_its_reply()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Extensions = ["8BITMIME"] });
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test"));
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.DoesNotContain(peer.Transcript, l => l.Contains("SIZE=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Helo_is_used_when_ehlo_is_refused()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { RefuseEhlo = true });
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test"));
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Contains("HELO client.test", peer.Transcript);
    }

    [Fact]
    public async Task Chunking_sends_bdat_and_the_message_unchanged()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Extensions = ["PIPELINING", "CHUNKING", "8BITMIME"] });
        string body = string.Concat(Enumerable.Repeat(".dot line\r\n", 50_000)); // > one 256 KiB chunk
        OutboundResult r = await SendAsync(peer, Request(Message(body), "a@example.test"));
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal(Message(body), Encoding.UTF8.GetString(Assert.Single(peer.Messages)));
        Assert.Contains(peer.Transcript, l => l.StartsWith("BDAT ", StringComparison.Ordinal) && l.EndsWith(" LAST", StringComparison.Ordinal));
        Assert.Contains(peer.Transcript, l => l.StartsWith("BDAT 262144", StringComparison.Ordinal) && !l.EndsWith("LAST", StringComparison.Ordinal));
        Assert.DoesNotContain("DATA", peer.Transcript);
    }

    [Fact]
    public async Task Each_recipient_gets_its_own_result()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior
        {
            RcptReply = a => a.StartsWith("gone", StringComparison.Ordinal) ? "550 5.1.1 no such user" : a.StartsWith("full", StringComparison.Ordinal) ? "452 4.2.2 mailbox full" : "250 2.1.5 ok",
        });
        OutboundResult r = await SendAsync(peer, Request(Message(), "ok@example.test", "gone@example.test", "full@example.test"));
        Assert.True(r.Recipients[0].Delivered);
        Assert.Equal((550, "5.1.1", true), (r.Recipients[1].Code, r.Recipients[1].Enhanced, r.Recipients[1].Permanent));
        Assert.Equal((452, "4.2.2", false), (r.Recipients[2].Code, r.Recipients[2].Enhanced, r.Recipients[2].Permanent));
        Assert.Single(peer.Messages);
    }

    [Fact]
    public async Task A_5xx_to_mail_fails_every_recipient_permanently()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { MailReply = "550 5.7.1 sender refused" });
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test", "b@example.test"));
        Assert.All(r.Recipients, x => Assert.True(x.Permanent && x.Code == 550 && x.Enhanced == "5.7.1", x.Text));
        Assert.Empty(peer.Messages);
    }

    [Fact]
    public async Task A_5xx_after_data_fails_every_recipient_permanently_and_4xx_temporarily()
    {
        await using (var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { DataReply = "554 5.6.0 content refused" }))
        {
            OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test", "b@example.test"));
            Assert.All(r.Recipients, x => Assert.True(x.Permanent && x.Code == 554, x.Text));
        }
        await using (var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { DataReply = "451 4.3.0 try later" }))
        {
            OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test"));
            Assert.True(!r.Recipients[0].Permanent && r.Recipients[0].Code == 451, r.Recipients[0].Text);
        }
    }

    [Fact]
    public async Task Recipients_beyond_rcptmax_go_in_further_transactions_on_the_same_connection()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Extensions = ["PIPELINING", "LIMITS RCPTMAX=2 MAILMAX=10"] });
        string[] rcpts = Enumerable.Range(1, 5).Select(i => $"r{i}@example.test").ToArray();
        OutboundResult r = await SendAsync(peer, Request(Message(), rcpts));
        Assert.All(r.Recipients, x => Assert.True(x.Delivered, x.Text));
        Assert.Equal(rcpts, r.Recipients.Select(x => x.Address));
        Assert.Equal(3, peer.Transcript.Count(l => l.StartsWith("MAIL ", StringComparison.Ordinal)));
        Assert.Equal(3, peer.Messages.Count);
        Assert.Equal(1, peer.Connections);
    }

    [Fact]
    public async Task Mailmax_opens_a_new_connection_for_the_rest()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Extensions = ["LIMITS RCPTMAX=1 MAILMAX=2"] });
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test", "b@example.test", "c@example.test"));
        Assert.All(r.Recipients, x => Assert.True(x.Delivered, x.Text));
        Assert.Equal(2, peer.Connections);
    }

    [Fact]
    public async Task Too_many_recipients_452_moves_the_rest_to_the_next_transaction()
    {
        int count = 0;
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior
        {
            Extensions = [],
            RcptReply = _ => Interlocked.Increment(ref count) % 2 == 0 ? "452 4.5.3 too many recipients" : "250 ok",
        });
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test", "b@example.test"));
        Assert.All(r.Recipients, x => Assert.True(x.Delivered, x.Text));
        Assert.Equal(2, peer.Messages.Count);
    }

    [Fact]
    public async Task An_8bit_message_is_refused_permanently_when_the_peer_lacks_8bitmime()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Extensions = ["PIPELINING"] });
        OutboundResult r = await SendAsync(peer, Request(Encoding.UTF8.GetBytes(Message("caf\u00e9\r\n")), ["a@example.test"], eightBit: true));
        Assert.True(r.Recipients[0].Permanent && r.Recipients[0].Enhanced == "5.6.3", r.Recipients[0].Text);
        Assert.DoesNotContain(peer.Transcript, l => l.StartsWith("MAIL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_utf8_address_is_refused_permanently_when_the_peer_lacks_smtputf8()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior());
        OutboundResult r = await SendAsync(peer, Request(Encoding.UTF8.GetBytes(Message()), ["j\u00f6rg@example.test"], utf8: true));
        Assert.True(r.Recipients[0].Permanent && r.Recipients[0].Enhanced == "5.6.7", r.Recipients[0].Text);
        Assert.DoesNotContain(peer.Transcript, l => l.StartsWith("MAIL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Smtputf8_body_8bitmime_and_dsn_parameters_are_passed_when_offered()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Extensions = ["PIPELINING", "8BITMIME", "SMTPUTF8", "DSN"] });
        var req = Request(Encoding.UTF8.GetBytes(Message("caf\u00e9\r\n")), ["j\u00f6rg@example.test"], eightBit: true, utf8: true) with
        {
            EnvelopeId = "id+2B1", Return = "HDRS",
            Recipients = [new OutboundRecipient("j\u00f6rg@example.test", "FAILURE,DELAY", "utf-8;j\u00f6rg@example.test")],
        };
        OutboundResult r = await SendAsync(peer, req);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Contains("MAIL FROM:<sender@origin.test> BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1", peer.Transcript);
        Assert.Contains("RCPT TO:<j\u00f6rg@example.test> NOTIFY=FAILURE,DELAY ORCPT=utf-8;j\u00f6rg@example.test", peer.Transcript);
        // The peer took the DSN request over (RFC 3461 §5.2.1): the queue sends no "relayed" DSN.
        Assert.True(r.Recipients[0].DsnPassedOn);
    }

    [Fact]
    public async Task Dsn_parameters_are_left_out_when_the_peer_does_not_offer_dsn()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior());
        var req = Request(Message(), "a@example.test") with { EnvelopeId = "x", Return = "FULL", Recipients = [new OutboundRecipient("a@example.test", "NEVER", "rfc822;a@example.test")] };
        OutboundResult r = await SendAsync(peer, req);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Contains("RCPT TO:<a@example.test>", peer.Transcript);
        Assert.DoesNotContain(peer.Transcript, l => l.Contains("ENVID", StringComparison.Ordinal));
        // Not passed on: a NOTIFY=SUCCESS is answered by the queue with a "relayed" DSN (RFC 3461 §5.2.2).
        Assert.False(r.Recipients[0].DsnPassedOn);
    }

    [Fact]
    public async Task A_message_larger_than_the_peers_size_is_refused_permanently()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Extensions = ["SIZE 100"] });
        OutboundResult r = await SendAsync(peer, Request(Message(new string('x', 200) + "\r\n"), "a@example.test"));
        Assert.True(r.Recipients[0].Permanent && r.Recipients[0].Enhanced == "5.3.4", r.Recipients[0].Text);
    }

    [Fact]
    public async Task Opportunistic_starttls_delivers_and_records_an_unverified_certificate()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test"));
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.True(r.Tls.Used);
        Assert.False(r.Tls.CertificateVerified);
        Assert.Equal("opportunistic", r.Tls.Policy);
        Assert.StartsWith("TLSv1.", r.Tls.Version);
        Assert.NotNull(r.Tls.Error);
        Assert.Equal(2, peer.Transcript.Count(l => l.StartsWith("EHLO", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Required_tls_with_a_pinned_certificate_verifies_it()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        var policy = new FixedTlsPolicy(new OutboundTlsDecision(OutboundTlsMode.Required, "test", new PinnedVerifier(PeerBehavior.TestCertificate)));
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test"), policy);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.True(r.Tls.CertificateVerified);
        Assert.Equal("test", r.Tls.Policy);
    }

    [Fact]
    public async Task Required_tls_refuses_an_unverified_certificate_temporarily()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        var policy = new FixedTlsPolicy(new OutboundTlsDecision(OutboundTlsMode.Required, "test", SystemCaVerifier.Instance));
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test"), policy);
        Assert.False(r.Recipients[0].Delivered);
        Assert.False(r.Recipients[0].Permanent);
        Assert.Equal("4.7.5", r.Recipients[0].Enhanced);
        Assert.Empty(peer.Messages);
    }

    [Fact]
    public async Task Required_tls_without_starttls_is_not_delivered()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior());
        var policy = new FixedTlsPolicy(new OutboundTlsDecision(OutboundTlsMode.Required, "test", SystemCaVerifier.Instance));
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test"), policy);
        Assert.False(r.Recipients[0].Delivered);
        Assert.False(r.Recipients[0].Permanent);
        Assert.Contains("does not offer STARTTLS", r.Recipients[0].Text);
    }

    [Fact]
    public async Task A_failed_opportunistic_handshake_is_retried_without_tls_and_recorded()
    {
        // The peer offers STARTTLS, says 220, then talks plain text: the handshake fails.
        int connection = 0;
        await using var peer = FakeSmtpPeer.Start(async s =>
        {
            bool first = Interlocked.Increment(ref connection) == 1;
            if (!first)
            {
                await FakeSmtpPeer.StandardAsync(s, new PeerBehavior());
                return;
            }
            await s.WriteAsync("220 fake.test ESMTP");
            await s.ReadLineAsync();
            await s.WriteAsync("250-fake.test\r\n250 STARTTLS");
            await s.ReadLineAsync();
            await s.WriteAsync("220 go ahead");
            await s.ReadExactAsync(5);
            await s.WriteAsync("this is not TLS at all, sorry about that");
        });
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test"));
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.False(r.Tls.Used);
        Assert.NotNull(r.Tls.Error);
        Assert.Contains("retrying without TLS", r.Log);
        Assert.Equal(2, peer.Connections);
    }

    private sealed class PinnedVerifier(System.Security.Cryptography.X509Certificates.X509Certificate2 pinned) : IServerCertificateVerifier
    {
        public string? Verify(string host, System.Security.Cryptography.X509Certificates.X509Certificate? certificate, System.Security.Cryptography.X509Certificates.X509Chain? chain, System.Net.Security.SslPolicyErrors errors) =>
            certificate is not null && certificate.GetCertHashString() == pinned.GetCertHashString() ? null : "not the pinned certificate";
    }
}
