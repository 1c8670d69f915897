using System.Diagnostics;
using Postern.Imap.Tests.Server;

namespace Postern.Imap.Tests.Interop;

/// <summary>Debian's mbsync (isync) syncing both ways with `postern localserve` over IMAPS.</summary>
public class MbsyncTests
{
    private static async Task<string> MbsyncAsync(string config)
    {
        var psi = new ProcessStartInfo("mbsync") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "-c", config, "-a" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "mbsync hung");
        string output = await o + await e;
        Assert.True(p.ExitCode == 0, "mbsync failed: " + output);
        return output;
    }

    [Fact]
    public async Task Mbsync_syncs_both_ways()
    {
        using var server = await LocalServeProcess.StartAsync();
        string local = Path.Combine(server.Dir, "maildir");
        Directory.CreateDirectory(local);
        string config = Path.Combine(server.Dir, "mbsyncrc");
        await File.WriteAllTextAsync(config, $"""
            IMAPAccount postern
            Host 127.0.0.1
            Port {server.ImapsPort}
            User postern@localhost
            Pass postern
            SSLType IMAPS
            CertificateFile {Path.Combine(server.Dir, "localserve-cert.pem")}
            AuthMechs PLAIN

            IMAPStore remote
            Account postern

            MaildirStore local
            Path {local}/
            Inbox {local}/INBOX
            SubFolders Verbatim

            Channel sync
            Far :remote:
            Near :local:
            Patterns *
            Create Both
            Expunge Both
            SyncState *

            """);

        var imap = await TestClient.ConnectAsync(server.ImapPort, tls: false);
        await using (imap)
        {
            await imap.ExpectOkAsync("LOGIN postern@localhost postern");
            for (int i = 0; i < 3; i++)
                await ProtocolTests.AppendAsync(imap, "INBOX", $"Subject: remote {i}\r\nMessage-ID: <r{i}@x>\r\n\r\nhello {i}\r\n", i == 0 ? "(\\Flagged) " : "");
        }

        // Pull: three messages, the flagged one with F.
        await MbsyncAsync(config);
        string[] files = Directory.GetFiles(Path.Combine(local, "INBOX", "cur")).Concat(Directory.GetFiles(Path.Combine(local, "INBOX", "new"))).ToArray();
        Assert.Equal(3, files.Length);
        Assert.Single(files, f => Path.GetFileName(f).EndsWith(",F", StringComparison.Ordinal));
        Assert.True(Directory.Exists(Path.Combine(local, "Sent")));

        // Push: a new local message, a local \Seen, a local deletion, a new local folder.
        string cur = Path.Combine(local, "INBOX", "cur");
        File.WriteAllText(Path.Combine(cur, "local1.host:2,"), "Subject: from mbsync\r\nMessage-ID: <l1@x>\r\n\r\nlocal\r\n");
        string seen = files.First(f => f.Contains("U=2", StringComparison.Ordinal));
        File.Move(seen, Path.Combine(cur, Path.GetFileName(seen).Split(":2,")[0] + ":2,S"));
        File.Delete(files.First(f => f.Contains("U=3", StringComparison.Ordinal)));
        Directory.CreateDirectory(Path.Combine(local, "Projects", "cur"));
        Directory.CreateDirectory(Path.Combine(local, "Projects", "new"));
        Directory.CreateDirectory(Path.Combine(local, "Projects", "tmp"));
        File.WriteAllText(Path.Combine(local, "Projects", "cur", "p1.host:2,S"), "Subject: project\r\n\r\nx\r\n");
        await MbsyncAsync(config);

        imap = await TestClient.ConnectAsync(server.ImapPort, tls: false);
        await using (imap)
        {
            await imap.ExpectOkAsync("LOGIN postern@localhost postern");
            await imap.ExpectOkAsync("SELECT INBOX");
            var fetch = await imap.ExpectOkAsync("UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
            string all = string.Join("\n", fetch);
            Assert.Contains("Subject: remote 0", all);
            Assert.Contains("Subject: from mbsync", all);
            Assert.DoesNotContain("Subject: remote 2", all);
            Assert.Contains(fetch, l => l.Contains("UID 2 ", StringComparison.Ordinal) && l.Contains("\\Seen", StringComparison.Ordinal));
            var status = await imap.ExpectOkAsync("STATUS Projects (MESSAGES)");
            Assert.Equal("* STATUS \"Projects\" (MESSAGES 1)", status[0]);
        }
        // A second run has nothing left to do and succeeds.
        await MbsyncAsync(config);
    }
}
