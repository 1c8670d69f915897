using Postern.Testing;

namespace Postern.Smtp.Tests.Interop;

/// <summary>`postern localserve` as a process: SMTP accepts any address, test addresses simulate failures, mail is read over IMAP.</summary>
public class LocalServeSmtpTests
{
    private static string PosternDll() => PosternServeProcess.PosternDll("Postern.Smtp.Tests");

    [Fact]
    public async Task Localserve_accepts_any_address_and_simulates_failures()
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-localserve-smtp-" + Guid.NewGuid().ToString("N"));
        int imap = PostfixInstance.FreePort(), imaps = PostfixInstance.FreePort(), smtp = PostfixInstance.FreePort(), sub = PostfixInstance.FreePort(), subs = PostfixInstance.FreePort();
        using var p = PosternServeProcess.Start(PosternDll(), "localserve", "--dir", dir, "--imap-port", imap.ToString(), "--imaps-port", imaps.ToString(),
            "--smtp-port", smtp.ToString(), "--submission-port", sub.ToString(), "--submissions-port", subs.ToString());
        try
        {
            Assert.True(await p.TryWaitForLogAsync("Press Ctrl-C", 60), "localserve did not start:\n" + p.Log);
            string banner = p.Log;
            Assert.Contains($"SMTP   127.0.0.1:{smtp}", banner);
            Assert.Contains("user550@example.com", banner);

            // `postern dane makerecord` and `dane dial` against localserve's certificate, STARTTLS and implicit TLS.
            (int rc, string record) = await PeerServers.RunAsync("dotnet", [PosternDll(), "dane", "makerecord", "3", "1", "1", Path.Combine(dir, "localserve-cert.pem")]);
            Assert.True(rc == 0, record);
            (rc, string dial) = await PeerServers.RunAsync("dotnet", [PosternDll(), "dane", "dial", "127.0.0.1:" + sub, "--tlsa", record.Trim()]);
            Assert.True(rc == 0, dial);
            Assert.Contains("DANE: Verified", dial, StringComparison.Ordinal);
            (rc, dial) = await PeerServers.RunAsync("dotnet", [PosternDll(), "dane", "dial", "127.0.0.1:" + subs, "--implicit-tls", "--tlsa", "3 1 1 " + new string('0', 64)]);
            Assert.True(rc == 1, dial);
            Assert.Contains("DANE: Failed", dial, StringComparison.Ordinal);

            string[] common = ["--server", "127.0.0.1:" + smtp, "--from", "app@test.example", "--helo", "client.test"];
            (int code, string o) = await PeerServers.RunAsync("swaks", [.. common, "--to", "anyone@any.example", "--header", "Subject: localserve any"]);
            Assert.True(code == 0, o);
            // `postern cid` turns the id of the 250 reply (the one in the Received header) into the log id.
            string cid = System.Text.RegularExpressions.Regex.Match(o, "id=([0-9a-f]{32})").Groups[1].Value;
            (code, string plain) = await PeerServers.RunAsync("dotnet", [PosternDll(), "cid", "--dir", Path.Combine(dir, "data"), cid]);
            Assert.True(code == 0, plain);
            // The console logger writes in the background: wait for the line (bounded).
            Assert.True(await p.TryWaitForLogAsync("smtp delivered id=" + plain.Trim() + " ", 10), p.Log);
            (code, _) = await PeerServers.RunAsync("dotnet", [PosternDll(), "cid", "--dir", Path.Combine(dir, "data"), new string('0', 32)]);
            Assert.NotEqual(0, code);
            (code, o) = await PeerServers.RunAsync("swaks", [.. common, "--to", "user550@example.com"]);
            Assert.Contains("550 5.0.0", o);
            (code, o) = await PeerServers.RunAsync("swaks", [.. common, "--to", "xtemperror@example.com"]);
            Assert.Contains("451 4.0.0", o);
            (code, o) = await PeerServers.RunAsync("swaks", [.. common, "--to", "xpermerror@example.com"]);
            Assert.Contains("550 5.0.0", o);
            // Submission on loopback: AUTH without TLS is allowed there, From is not restricted.
            (code, o) = await PeerServers.RunAsync("swaks", ["--server", "127.0.0.1:" + sub, "--from", "app@test.example", "--to", "x@y.example",
                "--auth", "PLAIN", "--auth-user", "postern@localhost", "--auth-password", "postern", "--header", "Subject: localserve submit"]);
            Assert.True(code == 0, o);

            string py = $"""
                import imaplib
                i = imaplib.IMAP4('127.0.0.1', {imap}); i.login('postern@localhost', 'postern'); i.select('INBOX')
                t, d = i.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
                print(b''.join(x[1] for x in d if isinstance(x, tuple)).decode())
                """;
            (code, o) = await PeerServers.RunAsync("/usr/bin/python3", ["-c", py]);
            Assert.True(code == 0, o);
            Assert.Contains("Subject: localserve any", o);
            Assert.Contains("Subject: localserve submit", o);
        }
        finally
        {
            p.Stop();
            try
            {
                Directory.Delete(dir, true);
            }
            catch (IOException)
            {
            }
        }
    }
}
