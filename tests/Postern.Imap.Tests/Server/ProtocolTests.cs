using System.Text;

namespace Postern.Imap.Tests.Server;

public class ProtocolTests
{
    internal const string Sample = "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: Hello there\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <1@x>\r\n\r\nHi Bob\r\n";

    internal static async Task AppendAsync(TestClient c, string mailbox, string message, string flags = "")
    {
        int len = Encoding.UTF8.GetByteCount(message);
        await c.ExpectOkAsync($"APPEND {mailbox} {flags}{{{len}+}}\r\n{message}");
    }

    [Fact]
    public async Task Greeting_and_capabilities_before_and_after_login()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false);
        Assert.StartsWith("* OK [CAPABILITY IMAP4rev2 IMAP4rev1", c.Greeting);
        // loopback: passwords allowed without TLS, STARTTLS still offered
        Assert.Contains("AUTH=PLAIN", c.Greeting);
        Assert.Contains("STARTTLS", c.Greeting);
        var login = await c.ExpectOkAsync("LOGIN alice@example.org secret");
        Assert.Contains("[CAPABILITY IMAP4rev2", login[^1]);
        Assert.Contains("UIDPLUS", login[^1]);
    }

    [Fact]
    public async Task Wrong_password_is_refused_and_session_continues()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false);
        var r = await c.CommandAsync("LOGIN alice wrong");
        Assert.Contains("NO [AUTHENTICATIONFAILED]", r[^1]);
        await c.ExpectOkAsync("LOGIN alice secret");
    }

    [Fact]
    public async Task Authenticate_plain_with_initial_response_and_scram()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false);
        string ir = Convert.ToBase64String(Encoding.UTF8.GetBytes("\0alice\0secret"));
        await c.ExpectOkAsync("AUTHENTICATE PLAIN " + ir);

        await using var c2 = await s.ConnectAsync(login: false, tls: true);
        await c2.WriteAsync("a AUTHENTICATE CRAM-MD5\r\n");
        string challenge = await c2.ReadLineAsync();
        Assert.StartsWith("+ ", challenge);
        byte[] ch = Convert.FromBase64String(challenge[2..]);
        using var hmac = new System.Security.Cryptography.HMACMD5(Encoding.UTF8.GetBytes("secret"));
        string digest = Convert.ToHexStringLower(hmac.ComputeHash(ch));
        await c2.WriteAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes("alice " + digest)) + "\r\n");
        var done = await c2.ReadUntilTaggedAsync("a");
        Assert.StartsWith("a OK", done[^1]);
    }

    [Fact]
    public async Task Commands_in_wrong_state_get_BAD()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false);
        Assert.StartsWith("t1 BAD", (await c.CommandAsync("SELECT INBOX"))[^1]);
        await c.ExpectOkAsync("LOGIN alice secret");
        Assert.Contains("needs a selected mailbox", (await c.CommandAsync("FETCH 1 FLAGS"))[^1]);
        Assert.Contains("Unknown command", (await c.CommandAsync("FROB"))[^1]);
    }

    [Fact]
    public async Task Unauthenticated_literal_is_refused_without_continuation()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false);
        await c.WriteAsync("a APPEND INBOX {100}\r\n");
        Assert.Equal("a NO Log in first", await c.ReadLineAsync());
    }

    [Fact]
    public async Task Append_select_fetch_store_search()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await AppendAsync(c, "INBOX", Sample, "(\\Flagged) ");
        var sel = await c.ExpectOkAsync("SELECT INBOX");
        Assert.Contains("* 1 EXISTS", sel);
        Assert.Contains(sel, l => l.StartsWith("* OK [UIDVALIDITY ", StringComparison.Ordinal));
        Assert.EndsWith("OK [READ-WRITE] SELECT completed", sel[^1]);
        var f = await c.ExpectOkAsync("FETCH 1 (FLAGS ENVELOPE BODY.PEEK[TEXT])");
        Assert.Contains("ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"Hello there\" ((\"Alice\" NIL \"alice\" \"example.com\"))", f[0]);
        Assert.Contains("BODY[TEXT] {8}\nHi Bob\r\n)", f[0]);
        Assert.Contains("\\Flagged", f[0]);
        var st = await c.ExpectOkAsync("STORE 1 +FLAGS (\\Seen $Label)");
        Assert.Equal("* 1 FETCH (FLAGS (\\Seen \\Flagged \\Recent $Label))", st[0]);
        var se = await c.ExpectOkAsync("SEARCH SEEN SUBJECT hello");
        Assert.Equal("* SEARCH 1", se[0]);
        se = await c.ExpectOkAsync("UID SEARCH UNSEEN");
        Assert.Equal("* SEARCH", se[0]);
    }

    [Fact]
    public async Task Fetch_body_without_peek_sets_seen()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await AppendAsync(c, "INBOX", Sample);
        await c.ExpectOkAsync("SELECT INBOX");
        var f = await c.ExpectOkAsync("FETCH 1 BODY[HEADER.FIELDS (SUBJECT)]");
        Assert.Contains("BODY[HEADER.FIELDS (SUBJECT)] {24}\nSubject: Hello there\r\n\r\n", f[0]);
        Assert.Contains("FLAGS (\\Seen", f[0]);
    }

    [Fact]
    public async Task Esearch_and_searchres()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        for (int i = 0; i < 5; i++)
            await AppendAsync(c, "INBOX", Sample, i % 2 == 0 ? "(\\Seen) " : "");
        await c.ExpectOkAsync("SELECT INBOX");
        var r = await c.ExpectOkAsync("SEARCH RETURN (MIN MAX COUNT ALL) SEEN");
        Assert.Matches("^\\* ESEARCH \\(TAG \"t\\d+\"\\) MIN 1 MAX 5 ALL 1,3,5 COUNT 3$", r[0]);
        r = await c.ExpectOkAsync("UID SEARCH RETURN (SAVE) UNSEEN");
        Assert.Single(r);
        r = await c.ExpectOkAsync("FETCH $ (UID)");
        Assert.Equal(["* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)"], r.Take(2));
    }

    [Fact]
    public async Task Move_reports_copyuid_then_expunge()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await AppendAsync(c, "INBOX", Sample);
        await AppendAsync(c, "INBOX", Sample);
        await c.ExpectOkAsync("SELECT INBOX");
        var r = await c.ExpectOkAsync("UID MOVE 2 Archive");
        Assert.Matches(@"^\* OK \[COPYUID \d+ 2 1\] Moved$", r[0]);
        Assert.Equal("* 2 EXPUNGE", r[1]);
        Assert.EndsWith(" OK MOVE completed", r[2]);
        var copy = await c.ExpectOkAsync("COPY 1 Archive");
        Assert.Matches(@"\[COPYUID \d+ 1 2\]", copy[^1]);
        var missing = await c.CommandAsync("COPY 1 Nope");
        Assert.Contains("[TRYCREATE]", missing[^1]);
    }

    [Fact]
    public async Task Moving_into_and_out_of_junk_marks_the_messages_for_the_junk_filter()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        for (int i = 0; i < 4; i++) await AppendAsync(c, "INBOX", Sample, i == 0 ? "($NotJunk) " : "");
        await c.ExpectOkAsync("SELECT INBOX");
        await c.ExpectOkAsync("UID MOVE 1:2 Junk");   // into Junk: $Junk, and no longer $NotJunk
        await c.ExpectOkAsync("UID COPY 3 Junk");
        await c.ExpectOkAsync("UID MOVE 4 Archive");  // elsewhere: nothing changes
        await c.ExpectOkAsync("SELECT Junk");
        var f = await c.ExpectOkAsync("UID FETCH 1:* (FLAGS)");
        Assert.Equal(3, f.Count(l => l.EndsWith(" $Junk))", StringComparison.Ordinal))); // \Recent first
        await c.ExpectOkAsync("UID MOVE 1 INBOX");    // out of Junk: $NotJunk
        await c.ExpectOkAsync("UID MOVE 2 Trash");    // thrown away: no judgment
        await c.ExpectOkAsync("SELECT INBOX");
        f = await c.ExpectOkAsync("UID FETCH 1:* (FLAGS)");
        Assert.Contains(f, l => l.EndsWith(" $NotJunk))", StringComparison.Ordinal));
        Assert.DoesNotContain(f, l => l.Contains("$Junk", StringComparison.Ordinal));
        await c.ExpectOkAsync("SELECT Trash");
        f = await c.ExpectOkAsync("UID FETCH 1:* (FLAGS)");
        Assert.Contains(f, l => l.EndsWith(" $Junk))", StringComparison.Ordinal));
        await c.ExpectOkAsync("SELECT Archive");
        f = await c.ExpectOkAsync("UID FETCH 1:* (FLAGS)");
        Assert.DoesNotContain(f, l => l.Contains("Junk", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Condstore_unchangedsince_conflict()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await AppendAsync(c, "INBOX", Sample);
        await AppendAsync(c, "INBOX", Sample);
        var sel = await c.ExpectOkAsync("SELECT INBOX (CONDSTORE)");
        Assert.Contains(sel, l => l.StartsWith("* OK [HIGHESTMODSEQ ", StringComparison.Ordinal));
        var f = await c.ExpectOkAsync("FETCH 1:2 (MODSEQ)");
        long m1 = long.Parse(System.Text.RegularExpressions.Regex.Match(f[0], @"MODSEQ \((\d+)\)").Groups[1].Value);
        await c.ExpectOkAsync("STORE 2 +FLAGS.SILENT (\\Flagged)");
        var r = await c.ExpectOkAsync($"STORE 1:2 (UNCHANGEDSINCE {m1 + 1}) +FLAGS (\\Seen)");
        Assert.Matches(@"^t\d+ OK \[MODIFIED 2\]", r[^1]);
        Assert.Matches(@"^\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)$", r[0]);
    }

    [Fact]
    public async Task Idle_sees_append_from_another_session()
    {
        await using var s = await TestServer.StartAsync();
        await using var idler = await s.ConnectAsync();
        await using var other = await s.ConnectAsync();
        await idler.ExpectOkAsync("SELECT INBOX");
        await idler.WriteAsync("i IDLE\r\n");
        Assert.Equal("+ idling", await idler.ReadLineAsync());
        await AppendAsync(other, "INBOX", Sample);
        Assert.Equal("* 1 EXISTS", await idler.ReadLineAsync());
        await idler.WriteAsync("DONE\r\n");
        var rest = await idler.ReadUntilTaggedAsync("i");
        Assert.Equal("i OK IDLE terminated", rest[^1]);
    }

    [Fact]
    public async Task No_expunge_during_fetch_but_at_noop()
    {
        await using var s = await TestServer.StartAsync();
        await using var a = await s.ConnectAsync();
        await using var b = await s.ConnectAsync();
        await AppendAsync(a, "INBOX", Sample);
        await AppendAsync(a, "INBOX", Sample);
        await a.ExpectOkAsync("SELECT INBOX");
        await b.ExpectOkAsync("SELECT INBOX");
        await b.ExpectOkAsync("STORE 1 +FLAGS.SILENT (\\Deleted)");
        await b.ExpectOkAsync("EXPUNGE");
        await Task.Delay(100);
        var f = await a.ExpectOkAsync("FETCH 2 (UID)");
        Assert.DoesNotContain(f, l => l.EndsWith("EXPUNGE", StringComparison.Ordinal));
        Assert.Contains("* 2 FETCH (UID 2)", f);
        var n = await a.ExpectOkAsync("NOOP");
        Assert.Contains("* 1 EXPUNGE", n);
        var f2 = await a.ExpectOkAsync("FETCH 1 (UID)");
        Assert.Equal("* 1 FETCH (UID 2)", f2[0]);
    }

    [Fact]
    public async Task Literals_synchronising_and_nonsync()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false);
        await c.WriteAsync("a LOGIN {5}\r\n");
        Assert.Equal("+ Ready for literal data", await c.ReadLineAsync());
        await c.WriteAsync("alice {6+}\r\nsecret\r\n");
        Assert.StartsWith("a OK", (await c.ReadUntilTaggedAsync("a"))[^1]);
    }

    [Fact]
    public async Task Bad_input_does_not_kill_the_session()
    {
        await using var s = await TestServer.StartAsync(o => o with { Limits = o.Limits with { MaxLineLength = 1000 } });
        await using var c = await s.ConnectAsync();
        await c.WriteAsync("x1 NOOP " + new string('a', 5000) + "\r\n");
        Assert.StartsWith("x1 BAD Line longer", await c.ReadLineAsync());
        await c.WriteAsync(new byte[] { (byte)'x', (byte)'2', (byte)' ', (byte)'S', (byte)'E', (byte)'L', (byte)'E', (byte)'C', (byte)'T', (byte)' ', 0xC3, 0x28, 13, 10 });
        Assert.StartsWith("x2 BAD", await c.ReadLineAsync());
        Assert.StartsWith("t2 BAD", (await c.CommandAsync("FETCH ((("))[^1]);
        await c.ExpectOkAsync("NOOP");
    }

    [Fact]
    public async Task Starttls_then_login()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false);
        await c.ExpectOkAsync("STARTTLS");
        await c.StartTlsAsync();
        var caps = await c.ExpectOkAsync("CAPABILITY");
        Assert.DoesNotContain("STARTTLS", caps[0]);
        Assert.Contains("AUTH=SCRAM-SHA-256-PLUS", caps[0]);
        await c.ExpectOkAsync("LOGIN alice secret");
    }

    [Fact]
    public async Task List_status_quota_namespace_enable()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectOkAsync("CREATE Projects/Postern (USE (\\Flagged))");
        var l = await c.ExpectOkAsync("LIST \"\" \"Projects/%\"");
        Assert.Equal("* LIST (\\HasNoChildren \\Flagged) \"/\" \"Projects/Postern\"", l[0]);
        var st = await c.ExpectOkAsync("STATUS INBOX (MESSAGES UIDNEXT SIZE)");
        Assert.Equal("* STATUS \"INBOX\" (MESSAGES 0 UIDNEXT 1 SIZE 0)", st[0]);
        var q = await c.ExpectOkAsync("GETQUOTAROOT INBOX");
        Assert.Equal("* QUOTAROOT \"INBOX\" \"\"", q[0]);
        var ns = await c.ExpectOkAsync("NAMESPACE");
        Assert.Equal("* NAMESPACE ((\"\" \"/\")) NIL NIL", ns[0]);
        var en = await c.ExpectOkAsync("ENABLE UTF8=ACCEPT CONDSTORE");
        Assert.Equal("* ENABLED UTF8=ACCEPT CONDSTORE", en[0]);
        await c.ExpectOkAsync("CREATE \"Entwürfe\"");
        var lu = await c.ExpectOkAsync("LIST \"\" Entw*");
        Assert.Equal("* LIST (\\HasNoChildren) \"/\" \"Entwürfe\"", lu[0]);
    }

    [Fact]
    public async Task Modified_utf7_names_for_legacy_clients()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectOkAsync("CREATE Entw&APw-rfe");
        var l = await c.ExpectOkAsync("LIST \"\" Entw*");
        Assert.Equal("* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\"", l[0]);
    }

    [Fact]
    public async Task Compress_deflate_keeps_working()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync();
        await c.ExpectOkAsync("COMPRESS DEFLATE");
        await c.EnableDeflateAsync();
        var caps = await c.ExpectOkAsync("CAPABILITY");
        Assert.DoesNotContain("COMPRESS=DEFLATE", caps[0]);
        await c.ExpectOkAsync("SELECT INBOX");
    }
}
