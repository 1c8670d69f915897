using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Postern.Security.Sasl;

namespace Postern.Smtp.Tests.Server;

/// <summary>Submission: AUTH (every mechanism), TLS requirements, From rules, remote recipients.</summary>
public class SubmissionTests
{
    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static async Task<SmtpTestClient> LoggedInAsync(SmtpTestServer s, bool implicitTls = false)
    {
        var c = await s.ConnectAsync(implicitTls ? s.SubmissionsPort : s.SubmissionPort, implicitTls);
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice@example.org\0" + SmtpTestServer.Password), "235 2.7.0");
        return c;
    }

    [Theory]
    [InlineData("PLAIN", false)]
    [InlineData("LOGIN", false)]
    [InlineData("CRAM-MD5", false)]
    [InlineData("SCRAM-SHA-1", false)]
    [InlineData("SCRAM-SHA-256", false)]
    [InlineData("SCRAM-SHA-1-PLUS", true)]
    [InlineData("SCRAM-SHA-256-PLUS", true)]
    [InlineData("SCRAM-SHA-256-PLUS", true, "tls-exporter")]
    public async Task Every_mechanism_authenticates(string mechanism, bool tls, string binding = "tls-server-end-point")
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync(tls ? s.SubmissionsPort : s.SubmissionPort, tls);
        string ehlo = await c.ExpectAsync("EHLO client.example", "250");
        Assert.Contains(" " + mechanism, ehlo.Split('\n').Single(l => l.Contains("AUTH", StringComparison.Ordinal)) + " ");
        ISaslClientMechanism client = mechanism switch
        {
            "PLAIN" => new PlainClient("alice@example.org", SmtpTestServer.Password),
            "CRAM-MD5" => new CramMd5Client("alice", SmtpTestServer.Password),
            "LOGIN" => new LoginClient("alice", SmtpTestServer.Password),
            _ => new ScramClient(mechanism.Contains("SHA-1", StringComparison.Ordinal) ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256, "alice", SmtpTestServer.Password,
                mechanism.EndsWith("-PLUS", StringComparison.Ordinal) ? binding : null,
                mechanism.EndsWith("-PLUS", StringComparison.Ordinal) ? Postern.Security.Tls.TlsChannelBinding.Get(c.Tls!, binding) : null,
                clientSupportsChannelBinding: tls),
        };
        byte[]? ir = client.GetInitialResponse();
        string reply = await c.CommandAsync("AUTH " + mechanism + (ir is null ? "" : " " + (ir.Length == 0 ? "=" : Convert.ToBase64String(ir))));
        while (reply.StartsWith("334", StringComparison.Ordinal))
        {
            byte[] challenge = Convert.FromBase64String(reply[4..]);
            byte[] answer = client.Respond(challenge);
            reply = await c.CommandAsync(Convert.ToBase64String(answer));
        }
        Assert.StartsWith("235 2.7.0", reply);
        Assert.True(client.ServerAuthenticated);
        await c.ExpectAsync("AUTH PLAIN", "503");
    }

    [Fact]
    public async Task Wrong_password_cancel_and_malformed()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync(s.SubmissionPort);
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice\0wrong"), "535 5.7.8");
        await c.ExpectAsync("AUTH LOGIN", "334");
        await c.ExpectAsync("*", "501");
        await c.ExpectAsync("AUTH PLAIN !!!", "501");
        await c.ExpectAsync("AUTH NOPE", "504");
        Assert.Contains((await s.Store.Directory.ListLoginAttemptsAsync()), a => a.Protocol == "submission" && a.Result != "ok");
    }

    [Fact]
    public async Task Failed_auth_is_delayed_then_blocked()
    {
        var limiter = new Postern.Security.Auth.AuthFailureLimiter(new Postern.Security.Auth.AuthFailureLimiterOptions
        {
            FreeFailures = 1, BaseDelay = TimeSpan.FromMilliseconds(300), MaxDelay = TimeSpan.FromMilliseconds(300), BlockAfterAddressFailures = 3,
        });
        await using var s = await SmtpTestServer.StartAsync(authLimiter: limiter);
        await using var c = await s.ConnectAsync(s.SubmissionPort);
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice\0wrong"), "535 5.7.8");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice\0wrong"), "535 5.7.8");
        // A lower bound only (no upper timing threshold).
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(250), sw.Elapsed.ToString());
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice\0wrong"), "535");
        // Blocked now, even with the right password.
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice\0" + SmtpTestServer.Password), "454 4.7.0");
    }

    [Fact]
    public async Task Submission_needs_auth()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync(s.SubmissionPort);
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<alice@example.org>", "530 5.7.0");
    }

    [Fact]
    public async Task Auth_needs_tls_off_loopback()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { AllowPlaintextAuthOnLoopback = false });
        await using var c = await s.ConnectAsync(s.SubmissionPort);
        string ehlo = await c.ExpectAsync("EHLO client.example", "250");
        Assert.DoesNotContain("AUTH", ehlo);
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice\0secret"), "530 5.7.0");
        await c.StartTlsAsync();
        ehlo = await c.ExpectAsync("EHLO client.example", "250");
        Assert.Contains("AUTH SCRAM-SHA-256-PLUS", ehlo);
        await c.ExpectAsync("AUTH PLAIN " + B64("\0alice\0secret"), "235");
    }

    [Fact]
    public async Task Submitted_local_mail_is_delivered_with_added_message_id_and_date()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await LoggedInAsync(s, implicitTls: true);
        await c.ExpectAsync("MAIL FROM:<alice@example.org>", "250");
        await c.ExpectAsync("RCPT TO:<bob@example.org>", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("From: Alice <alice+x@example.org>\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n.", "250");
        string m = Assert.Single(await s.MessagesAsync("bob"));
        Assert.Contains("with ESMTPSA id", m);
        Assert.Matches(@"Message-ID: <[0-9a-f]{32}@mx\.example\.org>\r\n", m);
        Assert.Contains("\r\nDate: ", m);
    }

    [Fact]
    public async Task Existing_message_id_and_date_are_kept()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await LoggedInAsync(s);
        await c.EnvelopeAsync("alice@example.org", "bob@example.org");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("From: alice@example.org\r\nMessage-ID: <a@b>\r\nDate: Mon, 30 Nov 2026 07:00:00 +0000\r\n\r\nx\r\n.", "250");
        string m = Assert.Single(await s.MessagesAsync("bob"));
        Assert.Equal(1, m.Split("Message-ID:").Length - 1);
        Assert.Equal(1, m.Split("\nDate:").Length - 1);
    }

    [Theory]
    [InlineData("From: bob@example.org\r\n", "550 5.7.1")]
    [InlineData("From: alice@example.org\r\nFrom: alice@example.org\r\n", "550 5.7.1")]
    [InlineData("Subject: no from\r\n", "550 5.7.1")]
    [InlineData("From: alice@example.org, bob@example.org\r\n", "550 5.7.1")]
    [InlineData("From: \"Alice\" <ALICE@example.org>\r\n", "250")]
    public async Task From_must_belong_to_the_account(string header, string expected)
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await LoggedInAsync(s);
        await c.EnvelopeAsync("alice@example.org", "bob@example.org");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(header + "\r\nbody\r\n.", expected);
    }

    [Fact]
    public async Task Envelope_sender_must_belong_to_the_account()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await LoggedInAsync(s);
        await c.ExpectAsync("MAIL FROM:<bob@example.org>", "550 5.7.1");
        await c.ExpectAsync("MAIL FROM:<>", "250");
    }

    [Fact]
    public async Task Alias_may_be_used_as_from_when_allowed()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await s.Store.Directory.AddAliasAsync("team@example.org", ["alice@example.org", "bob@example.org"], membersMaySend: true);
        await s.Store.Directory.AddAliasAsync("closed@example.org", ["alice@example.org"], membersMaySend: false);
        await using var c = await LoggedInAsync(s);
        await c.ExpectAsync("MAIL FROM:<team@example.org>", "250");
        await c.ExpectAsync("RSET", "250");
        await c.ExpectAsync("MAIL FROM:<closed@example.org>", "550 5.7.1");
    }

    [Fact]
    public async Task Remote_recipients_are_refused_until_the_queue_exists()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await LoggedInAsync(s);
        await c.ExpectAsync("MAIL FROM:<alice@example.org>", "250");
        await c.ExpectAsync("RCPT TO:<someone@remote.example>", "550 5.7.0");
    }
}
