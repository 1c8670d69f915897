using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Data.Sqlite;
using Postern.Testing;

namespace Postern.Tests;

/// <summary>
/// `postern serve` sending through its queue to a real Postfix that is the MX of far.insecure.test in the DNS lab
/// (nsd + unbound); Postern is the MX of origin.insecure.test on port 25 of another loopback address, so Postfix's
/// bounces come back to it (Postfix routes them there with a transport map: it uses the system resolver, not the
/// lab). Postfix answers 450 for tempfail@, 550 for reject@ (check_recipient_access), accepts bounceme@ and then
/// bounces it (the error transport), and delivers everything else into a maildir.
/// </summary>
public sealed class QueuePostfixFixture : IAsyncLifetime
{
    public const string Origin = "origin." + DnsLab.InsecureZone;
    public const string Far = "far." + DnsLab.InsecureZone;
    public const string Password = "queue-e2e-password";

    private readonly TempFolder _tmp = new();

    public string Data => _tmp.Sub("data");
    public DnsLab Dns { get; private set; } = null!;
    public PostfixLab Mx { get; private set; } = null!;
    public PosternServeProcess Serve { get; private set; } = null!;
    public IPAddress PosternIp { get; private set; } = null!;
    public int SubmissionPort { get; private set; }
    public int ImapPort { get; private set; }
    public string Maildir => Path.Combine(Mx.Dir, "mail", "box");
    public string AccessFile => Path.Combine(Mx.Dir, "access");

    public async Task InitializeAsync()
    {
        Assert.True(PostfixLab.Available, "postfix is not installed (scripts/test-packages.txt)");
        // Addresses picked at random in 127/8 so that parallel runs do not meet on port 25.
        int a = Random.Shared.Next(16, 250), b = Random.Shared.Next(16, 250);
        IPAddress mxIp = IPAddress.Parse($"127.{a}.{b}.2");
        PosternIp = IPAddress.Parse($"127.{a}.{b}.5");

        Ok(Cli.RunWithInput(Password + "\n", "account", "add", "alice", "--password-stdin", "--dir", Data));
        Ok(Cli.Run("config", "domain", "add", Origin, "--dir", Data));
        Ok(Cli.Run("config", "address", "add", "alice@" + Origin, "alice", "--dir", Data));
        var dkim = new StringBuilder();
        foreach (string[] type in new[] { new[] { "--type", "ed25519" }, ["--type", "rsa"] })
        {
            var r = Cli.Run(["config", "dkim", "add", Origin, .. type, "--dir", Data]);
            Ok(r);
            foreach (string line in r.Stdout.Split('\n').Where(l => l.Contains(" IN TXT ", StringComparison.Ordinal)))
                dkim.AppendLine(line.Trim());
        }

        Dns = await DnsLab.StartAsync(new Dictionary<string, string>
        {
            [DnsLab.InsecureZone] = $"""
                far IN MX 10 mx.far
                mx.far IN A {mxIp}
                origin IN MX 10 postern
                postern IN A {PosternIp}
                {dkim}
                """,
        });

        (int _, string uid) = await ChildProcess.RunAsync("id", ["-u", "postfix"]);
        (int _, string gid) = await ChildProcess.RunAsync("id", ["-g", "postfix"]);
        Mx = await PostfixLab.StartAsync(mxIp, 25, async dir =>
        {
            string mail = Path.Combine(dir, "mail");
            Directory.CreateDirectory(mail);
            await ChildProcess.RunAsync("chown", ["postfix", mail]);
            File.WriteAllText(Path.Combine(dir, "access"), $"tempfail@{Far} 450 4.2.1 Mailbox busy, try again later\nreject@{Far} 550 5.1.1 No such user here\n");
            File.WriteAllText(Path.Combine(dir, "transport"), $"bounceme@{Far} error:5.1.1 User unknown in virtual mailbox table\n{Origin} smtp:[{PosternIp}]:25\n");
            return $"""
                myhostname = mx.{Far}
                mydomain = {Far}
                myorigin = mx.{Far}
                mydestination =
                mynetworks = 127.0.0.0/8
                smtpd_relay_restrictions = permit_mynetworks, reject
                smtpd_recipient_restrictions = check_recipient_access texthash:{dir}/access, permit
                transport_maps = texthash:{dir}/transport
                # Accept bounceme@ at RCPT (smtpd would refuse a recipient routed to the error transport) and bounce it afterwards.
                smtpd_reject_unlisted_recipient = no
                smtputf8_enable = yes
                virtual_mailbox_domains = {Far}
                virtual_mailbox_base = {mail}
                virtual_mailbox_maps = static:box/
                virtual_uid_maps = static:{uid.Trim()}
                virtual_gid_maps = static:{gid.Trim()}
                virtual_minimum_uid = 1
                # Each smtpd serves one connection: a changed access table is read by the next one.
                max_use = 1
                """;
        });

        SubmissionPort = PosternServeProcess.FreePort(PosternIp);
        ImapPort = PosternServeProcess.FreePort(PosternIp);
        File.WriteAllText(_tmp.Sub("postern.conf"), $$"""
            hostname: postern.{{DnsLab.InsecureZone}}
            data-dir: data
            shutdown-grace-seconds: 2
            listeners:
              local:
                ips: [{{PosternIp}}]
                smtp: {enabled: true, port: 25}
                submission: {enabled: true, port: {{SubmissionPort}}}
                imap: {enabled: true, port: {{ImapPort}}}
            dns:
              nameservers: ["{{Dns.ResolverEndPoint}}"]
            queue:
              # Retries only when a test asks for them (queue schedule).
              first-retry-seconds: 36000
            """);
        Serve = ServeProcess.Start(_tmp.Sub("postern.conf"));
        await Serve.WaitForLogAsync("serving", 180);
    }

    private static void Ok((int ExitCode, string Stdout, string Stderr) r) => Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);

    /// <summary>Submits a message as alice with Python's smtplib (AUTH over loopback); returns its Message-ID tag.</summary>
    public async Task<string> SubmitAsync(string to, string subject, string? notify = null)
    {
        string tag = "e2e" + Guid.NewGuid().ToString("N")[..16];
        const string script = """
            import smtplib, sys
            host, port, password, sender, to, subject, tag, notify = sys.argv[1:9]
            msg = ("From: Alice <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@origin>\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n\r\nHello from the queue test.\r\n" % (sender, to, subject, tag))
            with smtplib.SMTP(host, int(port), timeout=120) as s:
                s.ehlo("client.test")
                s.login("alice", password)
                opts = ["NOTIFY=" + notify] if notify != "-" else []
                s.sendmail(sender, [to], msg.encode("ascii"), rcpt_options=opts)
            """;
        (int code, string output) = await ChildProcess.RunAsync("/usr/bin/python3", ["-c", script, PosternIp.ToString(), SubmissionPort.ToString(CultureInfo.InvariantCulture),
            Password, "alice@" + Origin, to, subject, tag, notify ?? "-"]);
        Assert.True(code == 0, "smtplib: " + output + "\n" + Serve.Log);
        return tag;
    }

    /// <summary>The queue id of the message with this Message-ID tag (read-only look at queue.db).</summary>
    public long QueueId(string tag)
    {
        using var c = new SqliteConnection($"Data Source={Path.Combine(Data, "queue", "queue.db")};Mode=ReadOnly");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id FROM message WHERE message_id LIKE $tag";
        cmd.Parameters.AddWithValue("$tag", "%" + tag + "%");
        return (long)(cmd.ExecuteScalar() ?? throw new InvalidOperationException("no queued message " + tag));
    }

    /// <summary>`postern queue show ID` through the running server's control socket.</summary>
    public string Show(long id)
    {
        var r = Cli.Run("queue", "show", "--dir", Data, id.ToString(CultureInfo.InvariantCulture));
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        return r.Stdout;
    }

    /// <summary>Polls (generously bounded) until <paramref name="check"/> gives a value.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T?>> check, Func<string> explain, int seconds = 240) where T : class
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            if (await check() is { } v) return v;
            Assert.True(DateTime.UtcNow < until, explain());
            await Task.Delay(500);
        }
    }

    /// <summary>The Postfix maildir message with this subject, or null.</summary>
    public string? Delivered(string subject)
    {
        foreach (string sub in new[] { "new", "cur" })
        {
            string d = Path.Combine(Maildir, sub);
            if (!Directory.Exists(d)) continue;
            foreach (string f in Directory.GetFiles(d))
            {
                string text = File.ReadAllText(f);
                if (text.Contains("Subject: " + subject + "\n", StringComparison.Ordinal)) return f;
            }
        }
        return null;
    }

    /// <summary>alice's INBOX as Python's imaplib reads it.</summary>
    public async Task<List<string>> InboxAsync()
    {
        const string script = """
            import base64, imaplib, sys
            host, port, password = sys.argv[1], sys.argv[2], sys.argv[3]
            with imaplib.IMAP4(host, int(port)) as i:
                i.login("alice", password)
                typ, data = i.select("INBOX", readonly=True)
                assert typ == "OK", data
                if int(data[0]) > 0:
                    typ, data = i.fetch("1:*", "(BODY.PEEK[])")
                    assert typ == "OK", data
                    for part in data:
                        if isinstance(part, tuple):
                            print("MESSAGE " + base64.b64encode(part[1]).decode("ascii"))
            """;
        (int code, string output) = await ChildProcess.RunAsync("/usr/bin/python3", ["-c", script, PosternIp.ToString(), ImapPort.ToString(CultureInfo.InvariantCulture), Password]);
        Assert.True(code == 0, "imaplib: " + output);
        return output.Split('\n').Where(l => l.StartsWith("MESSAGE ", StringComparison.Ordinal))
            .Select(l => Encoding.UTF8.GetString(Convert.FromBase64String(l["MESSAGE ".Length..].Trim()))).ToList();
    }

    public async Task DisposeAsync()
    {
        Serve?.Dispose();
        Mx?.Dispose();
        if (Dns is not null) await Dns.DisposeAsync();
        _tmp.Dispose();
    }
}

/// <summary>The outgoing queue end to end against a real Postfix MX found through real DNS.</summary>
public class QueuePostfixTests(QueuePostfixFixture f) : IClassFixture<QueuePostfixFixture>
{
    private string Explain(string what, long? id = null) => what + "\n" + (id is { } i ? f.Show(i) : "") + "\npostfix log:\n" + f.Mx.Log() + "\npostern log:\n" + f.Serve.Log;

    [Fact]
    public async Task A_4xx_answer_is_retried_and_the_retry_succeeds()
    {
        string tag = await f.SubmitAsync("tempfail@" + QueuePostfixFixture.Far, "temporary failure first");
        long id = f.QueueId(tag);
        await QueuePostfixFixture.EventuallyAsync(() => Task.FromResult(f.Show(id) is var s && s.Contains("450 4.2.1", StringComparison.Ordinal) ? s : null),
            () => Explain("no 450 recorded", id));
        Assert.Contains(": queued", f.Show(id), StringComparison.Ordinal);

        // Postfix now accepts the recipient; the operator asks for the retry now instead of in 10 hours.
        File.WriteAllText(f.AccessFile, $"reject@{QueuePostfixFixture.Far} 550 5.1.1 No such user here\n");
        var r = Cli.Run("queue", "schedule", "--dir", f.Data, id.ToString(CultureInfo.InvariantCulture));
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        await QueuePostfixFixture.EventuallyAsync(() => Task.FromResult(f.Delivered("temporary failure first")), () => Explain("not delivered after the retry", id));
        string show = await QueuePostfixFixture.EventuallyAsync(() => Task.FromResult(f.Show(id) is var s && s.Contains("delivered, 2 attempt(s)", StringComparison.Ordinal) ? s : null),
            () => Explain("not recorded as delivered on the second attempt", id));
        Assert.Contains("mx.far.insecure.test", show, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_5xx_answer_sends_a_failure_dsn_to_the_senders_inbox()
    {
        string tag = await f.SubmitAsync("reject@" + QueuePostfixFixture.Far, "permanent failure");
        long id = f.QueueId(tag);
        string dsn = await QueuePostfixFixture.EventuallyAsync(async () => (await f.InboxAsync()).FirstOrDefault(m =>
                m.Contains("reject@" + QueuePostfixFixture.Far, StringComparison.Ordinal) && m.Contains("Action: failed", StringComparison.Ordinal)),
            () => Explain("no failure DSN in alice's inbox", id));
        Assert.Contains("multipart/report", dsn, StringComparison.Ordinal);
        Assert.Contains("550 5.1.1", dsn, StringComparison.Ordinal);
        Assert.Contains("Status: 5.1.1", dsn, StringComparison.Ordinal);
        Assert.Contains("Remote-MTA: dns; mx.far.insecure.test", dsn, StringComparison.Ordinal);
        Assert.Contains("Subject: permanent failure", dsn, StringComparison.Ordinal); // the returned message
        Assert.Contains("DKIM-Signature:", dsn, StringComparison.Ordinal); // signed for origin's domain
        Assert.Contains("failed", f.Show(id), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postfixs_bounce_for_an_unknown_user_comes_back_and_is_matched_to_the_queue_entry()
    {
        string tag = await f.SubmitAsync("bounceme@" + QueuePostfixFixture.Far, "accepted then bounced");
        long id = f.QueueId(tag);
        // Postfix took it (250), so the queue counts it delivered; then its bounce arrives at Postern's MX.
        string show = await QueuePostfixFixture.EventuallyAsync(() => Task.FromResult(f.Show(id) is var s && s.Contains("incoming-dsn", StringComparison.Ordinal) ? s : null),
            () => Explain("the bounce was not linked to the queue entry", id));
        Assert.Contains("bounceme@" + QueuePostfixFixture.Far, show, StringComparison.Ordinal);
        Assert.Contains("5.1.1", show, StringComparison.Ordinal);
        Assert.Contains("mx.far.insecure.test", show, StringComparison.Ordinal);
        // A hard bounce puts the address on alice's suppression list.
        var r = Cli.Run("queue", "suppression", "list", "--dir", f.Data);
        Assert.Contains("bounceme@" + QueuePostfixFixture.Far, r.Stdout, StringComparison.Ordinal);
        // And alice got Postfix's bounce in her inbox.
        Assert.Contains(await f.InboxAsync(), m => m.Contains("bounceme@" + QueuePostfixFixture.Far, StringComparison.Ordinal) && m.Contains("MAILER-DAEMON", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task A_submitted_message_read_on_postfixs_side_has_dkim_signatures_dkimpy_verifies()
    {
        await f.SubmitAsync("dkim@" + QueuePostfixFixture.Far, "signed by postern");
        string file = await QueuePostfixFixture.EventuallyAsync(() => Task.FromResult(f.Delivered("signed by postern")), () => Explain("not delivered to postfix"));
        // dkimpy checks every signature, with the selector's TXT record from the DNS lab (dnspython at unbound).
        const string script = """
            import sys, dkim, dns.resolver
            path, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
            r = dns.resolver.Resolver(configure=False)
            r.nameservers = [host]
            r.port = port
            def dnsfunc(name, timeout=5):
                n = name.decode() if isinstance(name, bytes) else name
                return b"".join(b"".join(rd.strings) for rd in r.resolve(n, "TXT"))
            import re
            msg = open(path, "rb").read()
            header = re.split(rb"\r?\n\r?\n", msg, maxsplit=1)[0]
            unfolded = re.sub(rb"\r?\n[ \t]+", b" ", header)
            sigs = [l for l in unfolded.split(b"\n") if l.lower().startswith(b"dkim-signature:")]
            assert len(sigs) >= 2, sigs
            for i, sig in enumerate(sigs):
                alg = re.search(rb"\ba=\s*([A-Za-z0-9-]+)", sig).group(1).decode()
                ok = dkim.DKIM(msg).verify(idx=i, dnsfunc=dnsfunc)
                print("signature", i, alg, ok)
                assert ok, (i, alg)
            """;
        (int code, string output) = await ChildProcess.RunAsync("/usr/bin/python3", ["-c", script, file, f.Dns.ResolverEndPoint.Address.ToString(),
            f.Dns.ResolverEndPoint.Port.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(code == 0, "dkimpy: " + output + "\n" + File.ReadAllText(file));
        Assert.Contains("ed25519-sha256", output, StringComparison.Ordinal);
        Assert.Contains("rsa-sha256", output, StringComparison.Ordinal);
    }
}
