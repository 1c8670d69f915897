using System.Text;

namespace Postern.Smtp.Tests.Server;

/// <summary>SMTP smuggling, STARTTLS injection, open relay and strict parameter parsing.</summary>
public class SecurityTests
{
    private const string Head = "From: x@remote.example\r\nSubject: s\r\n\r\nfirst\r\n";
    private const string Smuggled = "MAIL FROM:<evil@remote.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n";

    /// <summary>Every end-of-data look-alike that is not CRLF.CRLF (CVE-2023-51764/51765/51766).</summary>
    public static TheoryData<string, string> Variants => new()
    {
        { "bare LF", "a\nb\r\n" },
        { "bare CR", "a\rb\r\n" },
        { @"\n.\n", "\n.\n" },
        { @"\r.\r", "\r.\r" },
        { @"\n.\r\n", "\n.\r\n" },
        { @"\r\n.\n", "\r\n.\n" },
        { @"\r\n.\r", "\r\n.\r" },
        { @"\r.\r\n", "\r.\r\n" },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task Smuggling_in_data_is_refused_and_closes(string name, string variant)
    {
        _ = name;
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("a@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        await c.WriteAsync(Head + variant + Smuggled + ".\r\n");
        string reply = await c.ReadReplyAsync();
        Assert.StartsWith("500 5.5.2 Bare", reply);
        Assert.True(await c.IsClosedAsync());
        Assert.Empty(await s.MessagesAsync("alice"));
        Assert.Empty(await s.MessagesAsync("bob"));
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task Smuggling_in_pipelined_data_is_refused(string name, string variant)
    {
        _ = name;
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        // Everything in one write, as a pipelining smuggler sends it.
        await c.WriteAsync("MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n" + Head + variant + Smuggled + ".\r\nQUIT\r\n");
        Assert.StartsWith("250", await c.ReadReplyAsync());
        Assert.StartsWith("250", await c.ReadReplyAsync());
        Assert.StartsWith("354", await c.ReadReplyAsync());
        Assert.StartsWith("500 5.5.2", await c.ReadReplyAsync());
        Assert.True(await c.IsClosedAsync());
        Assert.Empty(await s.MessagesAsync("alice"));
        Assert.Empty(await s.MessagesAsync("bob"));
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task Smuggling_in_bdat_is_refused(string name, string variant)
    {
        _ = name;
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("a@remote.example", "alice@example.org");
        byte[] chunk = Encoding.ASCII.GetBytes(Head + variant + Smuggled);
        await c.WriteAsync($"BDAT {chunk.Length} LAST\r\n");
        await c.WriteAsync(chunk);
        Assert.StartsWith("554 5.6.0 Bare", await c.ReadReplyAsync());
        // The chunk was consumed whole: the session is still framed.
        await c.ExpectAsync("NOOP", "250");
        Assert.Empty(await s.MessagesAsync("alice"));
        Assert.Empty(await s.MessagesAsync("bob"));
    }

    [Fact]
    public async Task Only_crlf_dot_crlf_ends_data_and_dot_stuffing_is_undone()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("a@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(Head + "..\r\n.. x\r\n...\r\n. \r\n.", "250");
        Assert.EndsWith("first\r\n.\r\n. x\r\n..\r\n \r\n", Assert.Single(await s.MessagesAsync("alice")));
    }

    [Fact]
    public async Task Starttls_injection_closes_the_connection()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.WriteAsync("STARTTLS\r\nRSET\r\n");
        Assert.StartsWith("554 5.5.1", await c.ReadReplyAsync());
        Assert.True(await c.IsClosedAsync());
    }

    [Fact]
    public async Task Starttls_resets_the_session()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.StartTlsAsync();
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "503");
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("STARTTLS", "503");
    }

    [Theory]
    [InlineData("someone@remote.example", "550 5.7.1")]
    [InlineData("someone%remote.example@example.org", "550 5.7.1")]
    [InlineData("remote.example!someone@example.org", "550 5.7.1")]
    [InlineData("\"someone@remote.example\"@example.org", "550 5.7.1")]
    [InlineData("@example.org:someone@remote.example", "550 5.7.1")]
    [InlineData("someone@[127.0.0.1]", "550 5.7.1")]
    [InlineData("nobody@example.org", "550 5.1.1")]
    [InlineData("@remote.example:alice@example.org", "250")]
    [InlineData("Alice@EXAMPLE.org", "250")]
    [InlineData("Postmaster", "550")]
    public async Task No_open_relay(string rcpt, string expected)
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
        await c.ExpectAsync($"RCPT TO:<{rcpt}>", expected);
    }

    [Theory]
    [InlineData("MAIL FROM:<a@remote.example> SIZE=10 SIZE=10", "501")]
    [InlineData("MAIL FROM:<a@remote.example> SIZE=abc", "501")]
    [InlineData("MAIL FROM:<a@remote.example> SIZE=", "501")]
    [InlineData("MAIL FROM:<a@remote.example> BODY=9BIT", "501")]
    [InlineData("MAIL FROM:<a@remote.example> FOO=bar", "555")]
    [InlineData("MAIL FROM:<a@remote.example> RET=FULL", "555")]
    [InlineData("MAIL FROM:<a@remote.example>  SIZE=10", "501")]
    [InlineData("MAIL FROM:<a@remote.example> SIZE=10 ", "501")]
    [InlineData("MAIL FROM:<a@remote.example> SMTPUTF8=yes", "501")]
    [InlineData("MAIL FROM:<a@remote.example> AUTH=a+2", "501")]
    [InlineData("MAIL FROM:<a@remote.example> AUTH=a+2Bb", "250")]
    [InlineData("MAIL FROM:<a@remote.example> AUTH=<>", "250")]
    [InlineData("MAIL FROM:<a@remote.example> size=10 body=8bitmime smtputf8", "250")]
    [InlineData("MAIL FROM:<a@remote.example>SIZE=10", "501")]
    [InlineData("MAIL FROM:a@remote.example", "501")]
    [InlineData("MAIL FROM:<a@remote.example", "501")]
    [InlineData("MAIL FROM:<a..b@remote.example>", "501")]
    [InlineData("MAIL FROM:<a@-remote.example>", "501")]
    [InlineData("MAIL FROM:<a@remote..example>", "501")]
    [InlineData("MAIL FROM:<>", "250")]
    [InlineData("MAIL TO:<a@remote.example>", "501")]
    public async Task Mail_parameters_are_parsed_strictly(string command, string expected)
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync(command, expected);
    }

    [Theory]
    [InlineData("RCPT TO:<alice@example.org> NOTIFY=NEVER", "555")]
    [InlineData("RCPT TO:<>", "501")]
    [InlineData("RCPT TO:<alice@example.org> ", "501")]
    [InlineData("RCPT FROM:<alice@example.org>", "501")]
    public async Task Rcpt_parameters_are_parsed_strictly(string command, string expected)
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
        await c.ExpectAsync(command, expected);
    }

    [Fact]
    public async Task Bare_lf_in_command_lines_is_refused()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.WriteAsync("EHLO client.example\n");
        Assert.StartsWith("500 5.5.2", await c.ReadReplyAsync());
        await c.ExpectAsync("EHLO client.example", "250");
    }

    [Fact]
    public async Task Oversized_bdat_chunk_closes()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { Limits = o.Limits with { MaxMessageSize = 1000 } });
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("a@remote.example", "alice@example.org");
        await c.ExpectAsync("BDAT 999999999 LAST", "552");
        Assert.True(await c.IsClosedAsync());
    }

    [Fact]
    public async Task Bdat_without_size_closes()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("a@remote.example", "alice@example.org");
        await c.ExpectAsync("BDAT x", "501");
        Assert.True(await c.IsClosedAsync());
    }

    [Fact]
    public async Task Unknown_recipients_are_delayed_after_the_free_ones()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with
        {
            RateLimits = Postern.Smtp.Server.SmtpRateLimits.Unlimited with { FreeUnknownRecipients = 1, UnknownRecipientDelay = TimeSpan.FromMilliseconds(300) },
        });
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
        await c.ExpectAsync("RCPT TO:<n1@example.org>", "550");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await c.ExpectAsync("RCPT TO:<n2@example.org>", "550");
        // A lower bound only (no upper timing threshold).
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(250));
    }
}
