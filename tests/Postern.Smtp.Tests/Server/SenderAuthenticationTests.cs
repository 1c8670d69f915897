using System.Net;
using Postern.Dns;
using Postern.Security.AuthResults;
using Postern.Smtp.Delivery;

namespace Postern.Smtp.Tests.Server;

/// <summary>SPF, DKIM and DMARC in the acceptance pipeline: Authentication-Results on delivery, reject at DATA, quarantine to Junk.</summary>
public class SenderAuthenticationTests
{
    private static InMemoryDnsResolver Zone(string clientName = "localhost")
    {
        var dns = new InMemoryDnsResolver();
        // 127.0.0.1 is the test client's address: allowed by good.test, not by the others.
        dns.Zone.AddTxt("good.test", "v=spf1 ip4:127.0.0.1 -all");
        dns.Zone.AddTxt("_dmarc.good.test", "v=DMARC1; p=reject");
        dns.Zone.AddTxt("strict.test", "v=spf1 ip4:192.0.2.1 -all");
        dns.Zone.AddTxt("_dmarc.strict.test", "v=DMARC1; p=reject");
        dns.Zone.AddTxt("wary.test", "v=spf1 ip4:192.0.2.1 -all");
        dns.Zone.AddTxt("_dmarc.wary.test", "v=DMARC1; p=quarantine");
        dns.Zone.AddPtr(IPAddress.Loopback, clientName);
        dns.Zone.AddAddress(clientName, IPAddress.Loopback);
        dns.SetAuthentic("good.test");
        dns.SetAuthentic("_dmarc.good.test");
        return dns;
    }

    private static Task<SmtpTestServer> StartAsync(string clientName = "localhost") => SmtpTestServer.StartAsync(o => o with
    {
        MessageCheckers = [new SenderAuthenticationChecker(new MessageAuthenticator(Zone(clientName), new MessageAuthenticatorOptions { HostName = "mx.example.org" }))],
    });

    private static async Task<string> SendAsync(SmtpTestServer s, string mailFrom, string fromHeader, string expect)
    {
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync(mailFrom, "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        return await c.ExpectAsync($"From: {fromHeader}\r\nSubject: t\r\nMessage-ID: <{Guid.NewGuid():N}@x>\r\n\r\nbody\r\n.", expect);
    }

    [Fact]
    public async Task Aligned_spf_pass_is_delivered_with_authentication_results()
    {
        await using var s = await StartAsync();
        await SendAsync(s, "news@good.test", "news@good.test", "250");
        string msg = Assert.Single(await s.MessagesAsync("alice"));
        Assert.Contains("Received-SPF: pass", msg, StringComparison.Ordinal);
        Assert.Contains("Authentication-Results: mx.example.org", msg, StringComparison.Ordinal);
        Assert.Contains("spf=pass", msg, StringComparison.Ordinal);
        Assert.Contains("dmarc=pass", msg, StringComparison.Ordinal);
        Assert.Contains("dkim=none", msg, StringComparison.Ordinal);
        // The headers come before the original message, which is stored unchanged.
        Assert.True(msg.IndexOf("Authentication-Results", StringComparison.Ordinal) < msg.IndexOf("From: news@good.test", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Received_notes_whether_the_senders_dns_is_dnssec_signed()
    {
        await using var s = await StartAsync();
        await SendAsync(s, "news@good.test", "news@good.test", "250");
        await SendAsync(s, "bounce@wary.test", "someone@no-dmarc.test", "250");
        List<string> messages = await s.MessagesAsync("alice");
        Assert.Equal(2, messages.Count);
        string Received(string m) => m[m.IndexOf("Received: from", StringComparison.Ordinal)..m.IndexOf("\tby ", StringComparison.Ordinal)];
        Assert.Contains("(sender DNS good.test DNSSEC-signed)", Received(messages.Single(m => m.Contains("Return-Path: <news@good.test>", StringComparison.Ordinal))), StringComparison.Ordinal);
        Assert.Contains("(sender DNS wary.test not DNSSEC-signed)", Received(messages.Single(m => m.Contains("Return-Path: <bounce@wary.test>", StringComparison.Ordinal))), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Received_names_the_client_when_reverse_and_forward_dns_agree()
    {
        await using var s = await StartAsync("Relay.Good.TEST.");
        await SendAsync(s, "news@good.test", "news@good.test", "250");
        Assert.Contains("Received: from client.example (relay.good.test [127.0.0.1])", Assert.Single(await s.MessagesAsync("alice")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-forged.test")]
    [InlineData("forged-.test")]
    [InlineData("under_score.forged.test")]
    public async Task A_reverse_name_that_is_not_a_host_name_stays_out_of_the_received_header(string ptrName)
    {
        // Whoever controls the reverse zone chooses the name; only plain host names reach the Received field.
        await using var s = await StartAsync(ptrName);
        await SendAsync(s, "news@good.test", "news@good.test", "250");
        string msg = Assert.Single(await s.MessagesAsync("alice"));
        string received = msg[msg.IndexOf("Received: from", StringComparison.Ordinal)..];
        Assert.StartsWith("Received: from client.example ([127.0.0.1])", received, StringComparison.Ordinal);
        Assert.DoesNotContain("forged", received[..received.IndexOf("\r\n\r\n", StringComparison.Ordinal)], StringComparison.Ordinal);
        // The name is still reported, as a sanitised comment, in Authentication-Results.
        Assert.Contains("iprev=pass", msg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dmarc_reject_refuses_at_data()
    {
        await using var s = await StartAsync();
        string reply = await SendAsync(s, "bounce@strict.test", "ceo@strict.test", "550");
        Assert.Contains("5.7.1", reply, StringComparison.Ordinal);
        Assert.Contains("DMARC", reply, StringComparison.Ordinal);
        Assert.Empty(await s.MessagesAsync("alice"));
    }

    [Fact]
    public async Task Dmarc_quarantine_files_into_junk()
    {
        await using var s = await StartAsync();
        await SendAsync(s, "bounce@wary.test", "ceo@wary.test", "250");
        Assert.Empty(await s.MessagesAsync("alice"));
        string junk = Assert.Single(await s.MessagesAsync("alice", "Junk"));
        Assert.Contains("dmarc=fail", junk, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_contact_is_trusted_by_the_junk_filter_only_when_dmarc_passes_for_its_from()
    {
        var filter = new Postern.Store.Junk.JunkFilter(new Postern.Store.Junk.JunkFilterOptions { MinJunkMessages = 1, MinHamMessages = 1 });
        await using var s = await SmtpTestServer.StartAsync(o => o with
        {
            JunkFilter = filter,
            MessageCheckers = [new SenderAuthenticationChecker(new MessageAuthenticator(Zone(), new MessageAuthenticatorOptions { HostName = "mx.example.org" }))],
        });
        await using (var a = await s.Store.OpenAccountAsync("alice"))
        {
            for (int i = 0; i < 5; i++)
            {
                await filter.TrainExternalAsync(a, "Subject: lottery prize\r\n\r\nclaim your lottery prize winner\r\n"u8, Postern.Store.Junk.JunkClass.Junk);
                await filter.TrainExternalAsync(a, "Subject: agenda\r\n\r\nproject meeting agenda notes\r\n"u8, Postern.Store.Junk.JunkClass.Ham);
            }
            await a.JunkWords.AddContactsAsync(["news@good.test", "news@nodmarc.test"], DateTimeOffset.UtcNow);
        }
        foreach (string from in new[] { "news@good.test", "news@nodmarc.test" })
        {
            await using var c = await s.ConnectAsync();
            await c.EnvelopeAsync(from, "alice@example.org");
            await c.ExpectAsync("DATA", "354");
            await c.ExpectAsync($"From: {from}\r\nSubject: lottery prize\r\n\r\nclaim your lottery prize winner\r\n.", "250");
        }
        Assert.Contains("From: news@good.test", Assert.Single(await s.MessagesAsync("alice")), StringComparison.Ordinal); // dmarc=pass: trusted
        Assert.Contains("From: news@nodmarc.test", Assert.Single(await s.MessagesAsync("alice", "Junk")), StringComparison.Ordinal); // no DMARC: judged
    }

    [Fact]
    public async Task Authenticated_submission_is_not_checked()
    {
        await using var s = await StartAsync();
        await using var c = await s.ConnectAsync(s.SubmissionPort);
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("AUTH PLAIN " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("\0alice@example.org\0" + SmtpTestServer.Password)), "235");
        await c.ExpectAsync("MAIL FROM:<alice@example.org>", "250");
        await c.ExpectAsync("RCPT TO:<bob@example.org>", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("From: alice@example.org\r\nSubject: t\r\n\r\nbody\r\n.", "250");
        string msg = Assert.Single(await s.MessagesAsync("bob"));
        Assert.DoesNotContain("Authentication-Results", msg, StringComparison.Ordinal);
    }
}
