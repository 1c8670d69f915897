using System.Net;
using System.Text;
using Postern.Smtp.Server;

namespace Postern.Smtp.Tests.Server;

public class ProtocolTests
{
    private const string Msg = "From: x@remote.example\r\nTo: alice@example.org\r\nSubject: hi\r\n\r\nHello\r\n";

    [Fact]
    public async Task Ehlo_advertises_extensions_that_work()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        Assert.StartsWith("220 mx.example.org ESMTP", c.Greeting);
        string ehlo = await c.ExpectAsync("EHLO client.example", "250");
        foreach (string ext in new[] { "PIPELINING", "SIZE 67108864", "8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8", "ENHANCEDSTATUSCODES", "STARTTLS", "LIMITS RCPTMAX=1000 MAILMAX=1000" })
            Assert.Contains(ext, ehlo.Split('\n').Select(l => l[4..]));
        Assert.DoesNotContain("AUTH", ehlo);
        Assert.DoesNotContain("REQUIRETLS", ehlo);
        await c.StartTlsAsync();
        string after = await c.ExpectAsync("EHLO client.example", "250");
        Assert.Contains("REQUIRETLS", after);
        Assert.DoesNotContain("STARTTLS", after);
    }

    [Fact]
    public async Task Delivers_with_trace_headers_and_reads_back()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("sender@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        string reply = await c.CommandAsync(Msg + "..dot line\r\n.");
        Assert.StartsWith("250 2.0.0", reply);
        await c.ExpectAsync("QUIT", "221");
        string m = Assert.Single(await s.MessagesAsync("alice"));
        Assert.StartsWith("Return-Path: <sender@remote.example>\r\nDelivered-To: alice@example.org\r\nReceived: from client.example ([127.0.0.1])\r\n\tby mx.example.org (Postern) with ESMTP id ", m);
        Assert.EndsWith("Hello\r\n.dot line\r\n", m);
        Assert.Contains("for <alice@example.org>", m);
        Assert.DoesNotContain("Authentication-Results", m);
    }

    [Fact]
    public async Task Received_header_has_tls_version_cipher_and_decryptable_id()
    {
        byte[] key = Delivery.ConnectionIdCipher.NewKey();
        await using var s = await SmtpTestServer.StartAsync(o => o with { ConnectionIdKey = key });
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.StartTlsAsync();
        await c.EnvelopeAsync("sender@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        string reply = await c.ExpectAsync(Msg + ".", "250");
        string cid = reply[(reply.IndexOf("id=", StringComparison.Ordinal) + 3)..];
        string m = Assert.Single(await s.MessagesAsync("alice"));
        Assert.Contains("with ESMTPS id " + cid, m);
        Assert.Matches(@"\(version=TLS1\.[23] cipher=TLS_\w+\)", m);
        using var cipher = new Delivery.ConnectionIdCipher(key);
        Assert.NotNull(cipher.Decrypt(cid));
        using var other = new Delivery.ConnectionIdCipher(Delivery.ConnectionIdCipher.NewKey());
        Assert.Null(other.Decrypt(cid));
    }

    [Fact]
    public async Task Pipelined_transaction_gets_all_replies_in_order()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.WriteAsync("MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
        Assert.StartsWith("250", await c.ReadReplyAsync());
        Assert.StartsWith("250", await c.ReadReplyAsync());
        Assert.StartsWith("550 5.1.1", await c.ReadReplyAsync());
        Assert.StartsWith("250", await c.ReadReplyAsync());
        Assert.StartsWith("354", await c.ReadReplyAsync());
        await c.WriteAsync(Msg + ".\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n" + Msg + ".\r\nQUIT\r\n");
        Assert.StartsWith("250 2.0.0", await c.ReadReplyAsync());
        Assert.StartsWith("250", await c.ReadReplyAsync());
        Assert.StartsWith("250", await c.ReadReplyAsync());
        Assert.StartsWith("354", await c.ReadReplyAsync());
        Assert.StartsWith("250 2.0.0", await c.ReadReplyAsync());
        Assert.StartsWith("221", await c.ReadReplyAsync());
        Assert.Single(await s.MessagesAsync("alice"));
        Assert.Equal(2, (await s.MessagesAsync("bob")).Count);
    }

    [Fact]
    public async Task Bdat_chunks_and_binarymime()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example> BODY=BINARYMIME", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org>", "250");
        byte[] part1 = Encoding.ASCII.GetBytes("Subject: bin\r\n\r\nraw\n");
        byte[] part2 = [0, 1, 2, (byte)'\r', (byte)'.', (byte)'\r', (byte)'\n'];
        await c.WriteAsync($"BDAT {part1.Length}\r\n");
        await c.WriteAsync(part1);
        Assert.StartsWith("250", await c.ReadReplyAsync());
        await c.WriteAsync($"BDAT {part2.Length} LAST\r\n");
        await c.WriteAsync(part2);
        Assert.StartsWith("250 2.0.0", await c.ReadReplyAsync());
        // DATA is refused for BINARYMIME.
        await c.ExpectAsync("MAIL FROM:<a@remote.example> BODY=BINARYMIME", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org>", "250");
        await c.ExpectAsync("DATA", "503");
        string m = Assert.Single(await s.MessagesAsync("alice"));
        Assert.EndsWith("raw\n\0\u0001\u0002\r.\r\n", m);
    }

    [Fact]
    public async Task Bdat_after_failed_transaction_still_consumes_the_chunk()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        // No MAIL: the chunk (which looks like commands) must be read and dropped, not executed.
        string chunk = "RSET\r\nMAIL FROM:<x@y.example>\r\n";
        await c.WriteAsync($"BDAT {chunk.Length} LAST\r\n{chunk}");
        Assert.StartsWith("503", await c.ReadReplyAsync());
        await c.ExpectAsync("NOOP", "250");
    }

    [Fact]
    public async Task Size_is_enforced_while_streaming()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { Limits = o.Limits with { MaxMessageSize = 1000 } });
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example> SIZE=1001", "552 5.3.4");
        await c.EnvelopeAsync("a@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        string big = string.Concat(Enumerable.Repeat("0123456789012345678901234567890123456789\r\n", 100));
        await c.ExpectAsync(big + ".", "552 5.3.4");
        await c.ExpectAsync("NOOP", "250");
        Assert.Empty(await s.MessagesAsync("alice"));
    }

    [Fact]
    public async Task Big_message_spills_to_disk_and_is_delivered_intact()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { Limits = o.Limits with { InMemoryMessageThreshold = 4096 } });
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("a@remote.example", "alice@example.org", "bob@example.org");
        await c.ExpectAsync("DATA", "354");
        var sb = new StringBuilder("Subject: big\r\n\r\n");
        for (int i = 0; i < 20000; i++)
            sb.Append("line ").Append(i).Append("\r\n");
        await c.ExpectAsync(sb + ".", "250");
        Assert.EndsWith(sb.ToString(), Assert.Single(await s.MessagesAsync("alice")));
        Assert.EndsWith(sb.ToString(), Assert.Single(await s.MessagesAsync("bob")));
        AssertNoTemporaryFiles(s);
    }

    [Fact]
    public async Task Big_message_for_one_account_is_written_once_into_its_temporary_file_and_taken_by_the_store()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { Limits = o.Limits with { InMemoryMessageThreshold = 4096 } });
        await using var c = await s.ConnectAsync();
        // Two transactions on one connection: two recipients of one account (one copy), then one recipient.
        await c.ExpectAsync("EHLO client.example", "250");
        var sb = new StringBuilder("Subject: big\r\n\r\n");
        for (int i = 0; i < 20000; i++)
            sb.Append("line ").Append(i).Append("\r\n");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org>", "250");
        await c.ExpectAsync("RCPT TO:<alice+tag@example.org>", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(sb + ".", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
        await c.ExpectAsync("RCPT TO:<bob@example.org>", "250");
        string bdat = sb.ToString();
        await c.WriteAsync("BDAT 5000\r\n" + bdat[..5000]);
        Assert.StartsWith("250", await c.ReadReplyAsync());
        await c.WriteAsync("BDAT " + (bdat.Length - 5000) + " LAST\r\n" + bdat[5000..]);
        Assert.StartsWith("250 2.0.0", await c.ReadReplyAsync());
        Assert.EndsWith(sb.ToString(), Assert.Single(await s.MessagesAsync("alice")));
        Assert.EndsWith(sb.ToString(), Assert.Single(await s.MessagesAsync("bob")));
        // No spool file of the server's own was needed.
        Assert.False(Directory.Exists(Path.Combine(s.Dir, "smtp-tmp")) && Directory.EnumerateFileSystemEntries(Path.Combine(s.Dir, "smtp-tmp")).Any());
        AssertNoTemporaryFiles(s);
    }

    [Fact]
    public async Task Big_message_refused_at_the_size_limit_leaves_no_temporary_file()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { Limits = o.Limits with { InMemoryMessageThreshold = 4096, MaxMessageSize = 50_000 } });
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("a@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        var sb = new StringBuilder("Subject: big\r\n\r\n");
        for (int i = 0; i < 20000; i++)
            sb.Append("line ").Append(i).Append("\r\n");
        await c.ExpectAsync(sb + ".", "552");
        Assert.Empty(await s.MessagesAsync("alice"));
        AssertNoTemporaryFiles(s);
    }

    private static void AssertNoTemporaryFiles(SmtpTestServer s)
    {
        string spool = Path.Combine(s.Dir, "smtp-tmp");
        if (Directory.Exists(spool))
            Assert.Empty(Directory.GetFiles(spool));
        foreach (string account in new[] { "alice", "bob" })
        {
            string tmp = Path.Combine(s.Dir, "accounts", account, "tmp");
            if (Directory.Exists(tmp))
                Assert.Empty(Directory.GetFiles(tmp));
        }
    }

    [Fact]
    public async Task Command_line_limit_and_text_line_limit()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("NOOP " + new string('x', 600), "500 5.5.2");
        await c.ExpectAsync("NOOP " + new string('x', 500), "250");
        await c.EnvelopeAsync("a@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("Subject: x\r\n\r\n" + new string('a', 5000) + "\r\n.", "554 5.6.0");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org>", "250");
        await c.ExpectAsync("DATA", "354");
        // 1,000 < length <= tolerance is accepted.
        await c.ExpectAsync("Subject: x\r\n\r\n" + new string('a', 3000) + "\r\n.", "250");
    }

    [Fact]
    public async Task Sequence_errors_and_unknown_commands()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "503");
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org>", "503");
        await c.ExpectAsync("DATA", "503");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "503");
        await c.ExpectAsync("DATA", "554");
        await c.ExpectAsync("RSET", "250");
        await c.ExpectAsync("VRFY alice", "252");
        await c.ExpectAsync("EXPN list", "252");
        await c.ExpectAsync("FOO", "500 5.5.1");
        await c.ExpectAsync("HELP", "214");
        await c.ExpectAsync("AUTH PLAIN AGFsaWNlAHNlY3JldA==", "502");
        await c.ExpectAsync("QUIT", "221");
        Assert.True(await c.IsClosedAsync());
    }

    [Fact]
    public async Task Too_many_errors_close_the_connection()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { Limits = o.Limits with { MaxErrors = 3 } });
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("FOO", "500");
        await c.ExpectAsync("FOO", "500");
        Assert.StartsWith("500", await c.CommandAsync("FOO"));
        Assert.StartsWith("421", await c.ReadReplyAsync());
        Assert.True(await c.IsClosedAsync());
    }

    [Fact]
    public async Task Http_request_closes_the_connection()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("GET / HTTP/1.1", "421");
        Assert.True(await c.IsClosedAsync());
    }

    [Fact]
    public async Task Rcpt_limit()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { Limits = o.Limits with { MaxRecipients = 2 } });
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("a@remote.example", "alice@example.org", "bob@example.org");
        await c.ExpectAsync("RCPT TO:<alice@example.org>", "452 4.5.3");
    }

    [Fact]
    public async Task Mailmax_limit()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { Limits = o.Limits with { MaxMessagesPerConnection = 1 } });
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("a@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(Msg + ".", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "421");
    }

    [Fact]
    public async Task Smtputf8_addresses_need_the_parameter()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await s.Store.Directory.AddAddressAsync("jösé@example.org", "alice");
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<ünï@remote.example>", "501");
        await c.ExpectAsync("MAIL FROM:<ünï@bücher.example> SMTPUTF8", "250");
        await c.ExpectAsync("RCPT TO:<jösé@example.org>", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("Subject: ünïcode\r\n\r\nbody\r\n.", "250");
        string m = Assert.Single(await s.MessagesAsync("alice"));
        Assert.Contains("with UTF8SMTP id", m);
        Assert.Contains("Delivered-To: jösé@example.org", m);
    }

    [Fact]
    public async Task Requiretls_only_over_tls_and_recorded()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example> REQUIRETLS", "555 5.7.10");
        await c.StartTlsAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example> REQUIRETLS", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org>", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(Msg + ".", "250");
        Assert.Contains(" requiretls)", Assert.Single(await s.MessagesAsync("alice")));
    }

    [Fact]
    public async Task Helo_gives_plain_smtp_and_refuses_parameters()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("HELO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example> BODY=8BITMIME", "555");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org>", "250");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(Msg + ".", "250");
        Assert.Contains("with SMTP id", Assert.Single(await s.MessagesAsync("alice")));
    }

    [Fact]
    public async Task A_message_starting_with_a_folded_line_is_refused_in_data_and_bdat()
    {
        // RFC 5322 §2.2.3: stored as it is, the line would continue the Received field put in front of it.
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("sender@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        string reply = await c.ExpectAsync(" (authenticated as admin)\r\n" + Msg + ".", "554");
        Assert.Contains("5.6.0", reply, StringComparison.Ordinal);
        await c.ExpectAsync("MAIL FROM:<sender@remote.example>", "250");
        await c.ExpectAsync("RCPT TO:<alice@example.org>", "250");
        string chunk = "\tx\r\n" + Msg;
        await c.WriteAsync($"BDAT {chunk.Length} LAST\r\n{chunk}");
        Assert.StartsWith("554 5.6.0", await c.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.Empty(await s.MessagesAsync("alice"));
    }

    [Fact]
    public async Task Received_writes_an_ipv6_client_as_an_ipv6_address_literal()
    {
        // RFC 5321 §4.1.3: "[IPv6:...]", as in EHLO.
        await using var s = await SmtpTestServer.StartAsync(o => o with { Listeners = [new SmtpListener(new IPEndPoint(IPAddress.IPv6Loopback, 0), SmtpListenerKind.Mx)] });
        await using var c = await SmtpTestClient.ConnectAsync(s.MxPort, tls: false, IPAddress.IPv6Loopback);
        await c.EnvelopeAsync("sender@remote.example", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(Msg + ".", "250");
        Assert.Contains("Received: from client.example ([IPv6:::1])", Assert.Single(await s.MessagesAsync("alice")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_helo_names_are_refused()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO", "501");
        await c.ExpectAsync("EHLO bad_name!", "501");
        await c.ExpectAsync("EHLO [127.0.0.1]", "250");
        await c.ExpectAsync("EHLO [IPv6:::1]", "250");
    }

    [Fact]
    public async Task Connection_limit_per_ip()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { RateLimits = SmtpRateLimits.Unlimited with { MaxConcurrentPerIp = 2 } });
        await using var c1 = await s.ConnectAsync();
        await using var c2 = await s.ConnectAsync();
        await using var c3 = await s.ConnectAsync();
        Assert.StartsWith("421 4.7.0", c3.Greeting);
        Assert.True(await c3.IsClosedAsync());
    }

    [Fact]
    public async Task Message_rate_per_ip()
    {
        await using var s = await SmtpTestServer.StartAsync(o => o with { RateLimits = SmtpRateLimits.Unlimited with { MessagesPerMinutePerIp = 2 } });
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
        await c.ExpectAsync("RSET", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
        await c.ExpectAsync("RSET", "250");
        await c.ExpectAsync("MAIL FROM:<a@remote.example>", "451 4.7.1");
    }

    [Fact]
    public async Task Shutdown_answers_421()
    {
        var s = await SmtpTestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        Task stop = s.Server.StopAsync(TimeSpan.FromSeconds(5));
        Assert.StartsWith("421", await c.ReadReplyAsync());
        await stop;
        await s.DisposeAsync();
    }
}
