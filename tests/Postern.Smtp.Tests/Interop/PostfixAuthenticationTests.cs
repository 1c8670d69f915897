using System.Net;
using System.Text;
using Postern.Imap.Server;
using Postern.Security.AuthResults;
using Postern.Security.Dkim;
using Postern.Smtp.Delivery;
using Postern.Smtp.Tests.Server;
using Postern.Testing;

namespace Postern.Smtp.Tests.Interop;

/// <summary>
/// A message signed for a lab domain (RSA and Ed25519), relayed by Postfix into Postern's MX,
/// whose resolver is the DNS lab's validating unbound: the stored Authentication-Results say
/// spf, dkim and dmarc pass, from DNSSEC-authentic answers, and the Received header notes it.
/// </summary>
public class PostfixAuthenticationTests
{
    private static string TxtLine(string name, string text)
    {
        // Zone-file TXT with character-strings of at most 255 octets (RFC 1035 §3.3.14).
        var parts = new List<string>();
        for (int i = 0; i < text.Length; i += 250) parts.Add("\"" + text[i..Math.Min(text.Length, i + 250)] + "\"");
        return $"{name} IN TXT {string.Join(' ', parts)}";
    }

    [Fact]
    public async Task Postfix_relays_a_signed_message_and_postern_records_passing_authentication_results()
    {
        Assert.True(PostfixInstance.Available, "postfix is not installed (scripts/test-packages.txt)");
        Assert.True(DnsLab.IsAvailable, "DNS lab tools (nsd, unbound, ldnsutils) are not installed (scripts/test-packages.txt)");
        using DkimPrivateKey rsa = DkimPrivateKey.GenerateRsa(2048);
        using DkimPrivateKey ed = DkimPrivateKey.GenerateEd25519();
        // signed.test already publishes "v=spf1 ip4:127.0.0.1 -all" (Postfix relays from 127.0.0.1).
        await using DnsLab lab = await DnsLab.StartAsync(new Dictionary<string, string>
        {
            [DnsLab.SignedZone] = string.Join('\n',
                TxtLine("rsa1._domainkey", rsa.DnsRecordText()),
                TxtLine("ed1._domainkey", ed.DnsRecordText()),
                "_dmarc IN TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@signed.test\""),
        });

        await using SmtpTestServer postern = await SmtpTestServer.StartAsync(o => o with
        {
            MessageCheckers = [new SenderAuthenticationChecker(new MessageAuthenticator(lab.CreateResolver(cacheEntries: 1000), new MessageAuthenticatorOptions { HostName = "mx.example.org" }))],
        });
        using PostfixInstance postfix = await PostfixInstance.StartAsync(postern.MxPort);

        string message = "From: Sender <sender@signed.test>\r\nTo: alice@example.org\r\nSubject: signed via postfix\r\n"
            + $"Date: {Postern.Mail.MailDate.Format(DateTimeOffset.UtcNow)}\r\nMessage-ID: <{Guid.NewGuid():N}@signed.test>\r\n\r\n"
            + "Hello Alice,\r\n\r\nthis message is DKIM-signed twice.\r\n";
        foreach ((DkimPrivateKey key, string selector) in new[] { (rsa, "rsa1"), (ed, "ed1") })
        {
            string signature = new DkimSigner(new DkimSignerOptions { Domain = DnsLab.SignedZone, Selector = selector, Key = key }).Sign(Encoding.UTF8.GetBytes(message));
            message = signature + message;
        }

        await using (SmtpTestClient c = await SmtpTestClient.ConnectAsync(postfix.Port, tls: false))
        {
            await c.EnvelopeAsync("sender@signed.test", "alice@example.org");
            await c.ExpectAsync("DATA", "354");
            await c.ExpectAsync(message + ".", "250");
            await c.ExpectAsync("QUIT", "221");
        }
        for (int i = 0; i < 600 && (await postern.MessagesAsync("alice")).Count == 0; i++)
            await Task.Delay(100);
        List<string> alice = await postern.MessagesAsync("alice");
        Assert.True(alice.Count == 1, File.Exists(postfix.MailLog) ? File.ReadAllText(postfix.MailLog) : "no maillog");
        string stored = alice[0];
        int end = stored.IndexOf("\r\nReceived: from", StringComparison.Ordinal);
        string ar = stored[stored.IndexOf("Authentication-Results: mx.example.org", StringComparison.Ordinal)..end];
        Assert.Contains("spf=pass smtp.mailfrom=sender@signed.test (DNSSEC-authentic)", ar, StringComparison.Ordinal);
        Assert.Contains("dkim=pass header.d=signed.test header.i=@signed.test header.s=rsa1 header.a=rsa-sha256", ar, StringComparison.Ordinal);
        Assert.Contains("dkim=pass header.d=signed.test header.i=@signed.test header.s=ed1 header.a=ed25519-sha256", ar, StringComparison.Ordinal);
        Assert.Contains("2048-bit key; DNSSEC-authentic key", ar, StringComparison.Ordinal);
        Assert.Contains("dmarc=pass header.from=signed.test (p=reject dis=NONE; DNSSEC-authentic)", ar, StringComparison.Ordinal);
        Assert.Contains("Received-SPF: pass", stored, StringComparison.Ordinal);
        // Postern's Received header (Postfix's own follows it) names the client as its reverse DNS confirms it
        // (unbound answers 127.0.0.1 with localhost) and notes the DNSSEC status of the sender's domain.
        Assert.Contains("Received: from relay.test (localhost [127.0.0.1]) (sender DNS signed.test DNSSEC-signed)", stored, StringComparison.Ordinal);
        Assert.Contains("by relay.test (Postfix)", stored, StringComparison.Ordinal);

        // As a mail client sees it: the header section read back over IMAP (Python's imaplib).
        await using var imap = new ImapServer(new ImapServerOptions { Listeners = [new ImapListener(new IPEndPoint(IPAddress.Loopback, 0), false)], MaxConnectionsPerIp = 10 }, postern.Store);
        imap.Start();
        const string script = """
            import imaplib, sys
            m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
            m.login('alice', sys.argv[2])
            m.select('INBOX')
            typ, data = m.fetch('1', '(BODY.PEEK[HEADER])')
            sys.stdout.write(data[0][1].decode('utf-8', 'replace'))
            m.logout()
            """;
        (int code, string header) = await PeerServers.RunAsync("python3", ["-c", script, imap.BoundEndPoints[0].Port.ToString(System.Globalization.CultureInfo.InvariantCulture), SmtpTestServer.Password]);
        Assert.True(code == 0, header);
        Assert.Contains(ar, header.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal), StringComparison.Ordinal);
    }
}
