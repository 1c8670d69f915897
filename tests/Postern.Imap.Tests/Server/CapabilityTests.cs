using System.Text;
using Postern.Security.Auth;

namespace Postern.Imap.Tests.Server;

/// <summary>One test (or more) per advertised extension, over a loopback socket.</summary>
public class CapabilityTests
{
    private const string Msg = "From: a@example.com\r\nSubject: Preview me\r\n\r\nThis is the first line of the body.\r\n";

    [Fact]
    public async Task Logindisabled_without_tls_when_plaintext_is_not_allowed()
    {
        await using var s = await TestServer.StartAsync(o => o with { AllowPlaintextAuthOnLoopback = false });
        await using var c = await s.ConnectAsync(login: false);
        Assert.Contains("LOGINDISABLED", c.Greeting);
        Assert.DoesNotContain("AUTH=", c.Greeting);
        Assert.Contains("[PRIVACYREQUIRED]", (await c.CommandAsync("LOGIN alice secret"))[^1]);
        Assert.Contains("[PRIVACYREQUIRED]", (await c.CommandAsync("AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA=="))[^1]);
        await c.ExpectOkAsync("STARTTLS");
        await c.StartTlsAsync();
        await c.ExpectOkAsync("LOGIN alice secret");
        await using var tls = await s.ConnectAsync(login: true, tls: true);
    }

    [Fact]
    public async Task Connections_per_ip_are_limited()
    {
        await using var s = await TestServer.StartAsync(o => o with { MaxConnectionsPerIp = 2 });
        await using var a = await s.ConnectAsync(login: false);
        await using var b = await s.ConnectAsync(login: false);
        await using var c = await s.ConnectAsync(login: false);
        Assert.StartsWith("* BYE Too many connections", c.Greeting);
        await a.ExpectOkAsync("NOOP");
    }

    [Fact]
    public async Task Failed_logins_are_counted_and_block()
    {
        var limiter = new AuthFailureLimiter(new AuthFailureLimiterOptions { FreeFailures = 10, BlockAfterAddressFailures = 3 });
        await using var s = await TestServer.StartAsync();
        var server = new Postern.Imap.Server.ImapServer(s.Server.BoundEndPoints.Count == 0 ? null! : new Postern.Imap.Server.ImapServerOptions
        {
            Listeners = [new Postern.Imap.Server.ImapListener(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0), false)],
        }, s.Store, limiter);
        server.Start();
        await using (server)
        {
            await using var c = await TestClient.ConnectAsync(server.BoundEndPoints[0].Port, false);
            for (int i = 0; i < 3; i++)
                Assert.Contains("[AUTHENTICATIONFAILED]", (await c.CommandAsync("LOGIN alice wrong"))[^1]);
            // Blocked now, even with the right password.
            Assert.Contains("[UNAVAILABLE]", (await c.CommandAsync("LOGIN alice secret"))[^1]);
            var attempts = await s.Store.Directory.ListLoginAttemptsAsync("alice");
            Assert.True(attempts.Count >= 3);
        }
    }

    [Fact]
    public async Task Unauthenticate_returns_to_not_authenticated()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectOkAsync("SELECT INBOX");
        await c.ExpectOkAsync("UNAUTHENTICATE");
        Assert.Contains("BAD SELECT needs authentication", (await c.CommandAsync("SELECT INBOX"))[^1]);
        await c.ExpectOkAsync("LOGIN alice secret");
    }

    [Fact]
    public async Task Binary_of_an_unknown_encoding_is_no_unknown_cte_without_a_half_written_fetch_line()
    {
        // RFC 3516 §4.3. Found by HostileMessageTests: the FETCH line had been started and was never ended.
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await ProtocolTests.AppendAsync(c, "INBOX", Msg);
        await ProtocolTests.AppendAsync(c, "INBOX", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: x-unheard-of\r\n\r\nAAECAw==\r\n--b--\r\n");
        await c.ExpectOkAsync("SELECT INBOX");
        foreach (string item in new[] { "BINARY.SIZE[1]", "BINARY.PEEK[1]", "UID BINARY.PEEK[1]<0.2>" })
        {
            List<string> lines = await c.CommandAsync($"FETCH 1:2 ({item})");
            Assert.StartsWith("* 1 FETCH (", lines[0], StringComparison.Ordinal);
            Assert.EndsWith(")", lines[0], StringComparison.Ordinal);
            Assert.Equal(2, lines.Count);
            Assert.Contains("NO [UNKNOWN-CTE]", lines[^1], StringComparison.Ordinal);
        }
        await c.ExpectOkAsync("NOOP");
    }

    [Fact]
    public async Task Binary_preview_savedate_within_status_size()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        string mime = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\nContent-Type: application/octet-stream\r\n\r\nAAECAw==\r\n--b--\r\n";
        await ProtocolTests.AppendAsync(c, "INBOX", Msg);
        await ProtocolTests.AppendAsync(c, "INBOX", mime);
        await c.ExpectOkAsync("SELECT INBOX");
        var b = await c.ExpectOkAsync("FETCH 2 (BINARY.PEEK[1] BINARY.SIZE[1])");
        Assert.Contains("BINARY[1] ~{4}\n\0\u0001\u0002\u0003 BINARY.SIZE[1] 4)", b[0]);
        var p = await c.ExpectOkAsync("FETCH 1 (PREVIEW SAVEDATE)");
        Assert.Matches("PREVIEW \"This is the first line of the body.\" SAVEDATE \"\\d\\d-\\w\\w\\w-\\d{4} ", p[0]);
        Assert.Equal("* SEARCH 1 2", (await c.ExpectOkAsync("SEARCH YOUNGER 3600"))[0]);
        Assert.Equal("* SEARCH", (await c.ExpectOkAsync("SEARCH OLDER 3600"))[0]);
        Assert.Equal("* SEARCH 1 2", (await c.ExpectOkAsync("SEARCH SAVEDATESUPPORTED SAVEDSINCE 1-Jan-2000"))[0]);
        var st = await c.ExpectOkAsync("STATUS INBOX (SIZE MESSAGES DELETED)");
        Assert.Equal($"* STATUS \"INBOX\" (SIZE {Encoding.UTF8.GetByteCount(Msg) + mime.Length} MESSAGES 2 DELETED 0)", st[0]);
    }

    [Fact]
    public async Task Binary_append_with_literal8()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.WriteAsync("a APPEND INBOX ~{9+}\r\nS: a\r\n\r\n\0\r\n");
        Assert.Matches(@"^a OK \[APPENDUID \d+ 1\]", (await c.ReadUntilTaggedAsync("a"))[^1]);
    }

    [Fact]
    public async Task Multiappend_uidplus_uid_expunge()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        var r = await c.ExpectOkAsync("APPEND INBOX (\\Deleted) {12+}\r\nSubject: 1\r\n (\\Deleted) {12+}\r\nSubject: 2\r\n {12+}\r\nSubject: 3\r\n");
        Assert.Matches(@"\[APPENDUID \d+ 1:3\]", r[^1]);
        await c.ExpectOkAsync("SELECT INBOX");
        var x = await c.ExpectOkAsync("UID EXPUNGE 2:3");
        Assert.Equal("* 2 EXPUNGE", x[0]);
        Assert.Equal("* SEARCH 1 3", (await c.ExpectOkAsync("UID SEARCH ALL"))[0]);
    }

    [Fact]
    public async Task Create_special_use_and_list_special_use()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        Assert.Contains("[USEATTR]", (await c.CommandAsync("CREATE Stuff (USE (\\Bogus))"))[^1]);
        await c.ExpectOkAsync("CREATE Important (USE (\\Flagged))");
        var l = await c.ExpectOkAsync("LIST (SPECIAL-USE) \"\" *");
        Assert.Contains("* LIST (\\HasNoChildren \\Flagged) \"/\" \"Important\"", l);
        Assert.DoesNotContain(l, x => x.EndsWith("\"INBOX\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Quota_with_limit()
    {
        await using var s = await TestServer.StartAsync();
        await s.Store.Directory.SetQuotaAsync("alice", 10 * 1024);
        await using var c = await s.ConnectAsync();
        await ProtocolTests.AppendAsync(c, "INBOX", Msg);
        var q = await c.ExpectOkAsync("GETQUOTA \"\"");
        Assert.Equal("* QUOTA \"\" (STORAGE 1 10)", q[0]);
        string big = "Subject: big\r\n\r\n" + new string('x', 20 * 1024) + "\r\n";
        var r = await c.CommandAsync($"APPEND INBOX {{{big.Length}+}}\r\n{big}");
        Assert.Contains("[OVERQUOTA]", r[^1]);
    }

    [Fact]
    public async Task Id_and_recent_goes_to_one_session()
    {
        await using var s = await TestServer.StartAsync();
        await using var a = await s.ConnectAsync();
        await using var b = await s.ConnectAsync();
        Assert.StartsWith("* ID (\"name\" \"Postern\"", (await a.ExpectOkAsync("ID (\"name\" \"test\")"))[0]);
        await ProtocolTests.AppendAsync(a, "INBOX", Msg);
        var first = await a.ExpectOkAsync("SELECT INBOX");
        var second = await b.ExpectOkAsync("SELECT INBOX");
        Assert.Contains("* 1 RECENT", first);
        Assert.Contains("* 0 RECENT", second);
    }

    [Fact]
    public async Task Enable_imap4rev2_gives_esearch_and_no_recent()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await ProtocolTests.AppendAsync(c, "INBOX", Msg);
        await c.ExpectOkAsync("ENABLE IMAP4rev2");
        var sel = await c.ExpectOkAsync("SELECT INBOX");
        Assert.DoesNotContain(sel, l => l.EndsWith("RECENT", StringComparison.Ordinal));
        Assert.Matches("^\\* ESEARCH \\(TAG \"t\\d+\"\\) ALL 1$", (await c.ExpectOkAsync("SEARCH ALL"))[0]);
    }
}

public class ListExtendedTests
{
    [Fact]
    public async Task List_extended_selection_return_and_status()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectOkAsync("CREATE Foo/Bar");
        await c.ExpectOkAsync("CREATE Baz");
        await c.ExpectOkAsync("SUBSCRIBE Foo/Bar");
        await c.ExpectOkAsync("SUBSCRIBE Gone");
        await c.ExpectOkAsync("SUBSCRIBE Baz");
        var sub = await c.ExpectOkAsync("LIST (SUBSCRIBED) \"\" *");
        Assert.Contains("* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Baz\"", sub);
        Assert.Contains("* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Foo/Bar\"", sub);
        Assert.Contains("* LIST (\\NonExistent \\Subscribed) \"/\" \"Gone\"", sub);
        Assert.DoesNotContain(sub, l => l.EndsWith("\"Foo\"", StringComparison.Ordinal));
        var rec = await c.ExpectOkAsync("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %");
        Assert.Contains("* LIST (\\HasChildren) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))", rec);
        var multi = await c.ExpectOkAsync("LIST \"\" (INBOX Baz) RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UIDNEXT))");
        Assert.Equal("* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"", multi[0]);
        Assert.Equal("* STATUS \"INBOX\" (MESSAGES 0 UIDNEXT 1)", multi[1]);
        Assert.Equal("* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Baz\"", multi[2]);
        Assert.Equal("* STATUS \"Baz\" (MESSAGES 0 UIDNEXT 1)", multi[3]);
        Assert.StartsWith("t", (await c.CommandAsync("LIST (RECURSIVEMATCH) \"\" *"))[^1]);
        Assert.Contains("BAD", (await c.CommandAsync("LIST (RECURSIVEMATCH) \"\" *"))[^1]);
    }
}
